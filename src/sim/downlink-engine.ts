import type { ApplicationDownlink, ApplicationUp, Priority } from '../tts/types';
import { maxPayloadAtDataRate, type SimDevice } from './devices';
import type { DownlinkOutcome } from './downlink-outcome';
import type { ParsedDownlink } from './downlink-request';
import { ulid } from './ids';
import { buildDownlinkEvent, buildDownlinkFailed, type DownlinkEventType } from './messages';
import { decodeLppDownlink, encodeLppDownlink } from './payloads';
import { errors, failureDetails } from './tts-errors';

/** Largest payload the simulated NS accepts at queue time (EU868 fastest data rate). */
export const QUEUE_MAX_PAYLOAD = 242;
export const QUEUE_CAPACITY = 10_000;
/** TTS's default number of transmissions of a confirmed downlink. */
export const DEFAULT_MAX_ATTEMPTS = 8;

export interface DownlinkTiming {
  /** Queue head → downlink_sent. */
  sentDelayMs: number;
  /** downlink_sent → ack / nack. */
  answerDelayMs: number;
}

export type DownlinkFormatter = 'cayennelpp' | 'none';

/** A downlink in a device's queue. */
interface QueueEntry {
  downlink: ApplicationDownlink;
  bytes: Buffer;
  attempt: number;
  maxAttempts: number;
}

interface DeviceQueue {
  entries: QueueEntry[];
  timer?: NodeJS.Timeout;
  busy: boolean;
}

export interface DownlinkEngineHooks {
  /** Deliver a downlink event to the application's webhooks. */
  deliver(up: ApplicationUp, device: SimDevice): void;
  outcomeFor(device: SimDevice): DownlinkOutcome;
  timing(): DownlinkTiming;
}

/**
 * The simulated AS + NS downlink path: encodes and checks push/replace items, assigns FCnts,
 * and plays each queued downlink through sent → ack / nack (re-queued with confirmed_retry) /
 * failed, posting the events TTS would post.
 */
export class DownlinkEngine {
  private readonly queues = new Map<string, DeviceQueue>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly applicationId: string,
    private readonly hooks: DownlinkEngineHooks,
    private readonly formatter: DownlinkFormatter = 'cayennelpp',
  ) {}

  /**
   * Validates the whole request first (all or nothing, like TTS), then queues. Returns the
   * downlinks as queued (with FCnt and the AS's correlation id).
   */
  enqueue(device: SimDevice, operation: 'push' | 'replace', items: ParsedDownlink[]): ApplicationDownlink[] {
    if (!device.sessionKeyId) throw errors.noDeviceSession();
    const prepared = items.map((item) => this.prepare(item));
    const queue = this.queueOf(device);
    const kept = operation === 'replace' ? [] : queue.entries;
    if (kept.length + prepared.length > QUEUE_CAPACITY) throw errors.queueCapacity(QUEUE_CAPACITY);
    queue.entries = kept;

    const queued: ApplicationDownlink[] = [];
    for (const p of prepared) {
      device.fCntDown += 1;
      const downlink: ApplicationDownlink = {
        session_key_id: device.sessionKeyId,
        f_port: p.fPort,
        f_cnt: device.fCntDown,
        frm_payload: p.bytes.length > 0 ? p.bytes.toString('base64') : undefined,
        decoded_payload: this.formatter === 'cayennelpp' ? decodeLppDownlink(p.bytes) : undefined,
        confirmed: p.confirmed,
        priority: p.priority === 'LOWEST' ? undefined : (p.priority), // enum default: omitted
        correlation_ids: [`as:downlink:${ulid()}`, ...p.correlationIds],
        confirmed_retry: p.confirmed ? { attempt: 1, max_attempts: p.maxAttempts } : undefined,
      };
      queue.entries.push({ downlink, bytes: p.bytes, attempt: 1, maxAttempts: p.maxAttempts ?? DEFAULT_MAX_ATTEMPTS });
      queued.push(structuredClone(downlink));
      this.event('downlink_queued', device, downlink);
    }
    this.schedule(device);
    return queued;
  }

  /** Queued, not yet transmitted downlinks of a device. */
  pending(deviceId: string): ApplicationDownlink[] {
    return (this.queues.get(deviceId)?.entries ?? []).map((e) => structuredClone(e.downlink));
  }

  /** A (re)join drops the old session's queue. */
  clearDevice(deviceId: string): void {
    const queue = this.queues.get(deviceId);
    if (!queue) return;
    queue.entries = [];
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.queues.clear();
  }

  private prepare(item: ParsedDownlink): { fPort: number; bytes: Buffer; confirmed: boolean; priority: Priority; correlationIds: string[]; maxAttempts?: number } {
    let bytes = item.bytes;
    let fPort = item.fPort;
    if (!bytes) {
      if (!item.decoded) throw errors.noPayload();
      // TTS runs the downlink formatter (encodeDownlink); without one nothing is encoded.
      bytes = this.formatter === 'cayennelpp' ? encodeLppDownlink(item.decoded) : Buffer.alloc(0);
      if (fPort === 0) fPort = 1;
    }
    if (fPort === 0) throw errors.noFPort();
    if (bytes.length > QUEUE_MAX_PAYLOAD) throw errors.downlinkTooLong(bytes.length, QUEUE_MAX_PAYLOAD);
    return { fPort, bytes, confirmed: item.confirmed, priority: item.priority, correlationIds: item.correlationIds, maxAttempts: item.maxAttempts };
  }

  private queueOf(device: SimDevice): DeviceQueue {
    let queue = this.queues.get(device.deviceId);
    if (!queue) {
      queue = { entries: [], busy: false };
      this.queues.set(device.deviceId, queue);
    }
    return queue;
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  /** Transmits the head of the device's queue after the sent delay, one downlink at a time. */
  private schedule(device: SimDevice): void {
    const queue = this.queueOf(device);
    if (queue.busy || queue.entries.length === 0) return;
    const outcome = this.hooks.outcomeFor(device);
    if (outcome === 'queued-only') return;
    queue.busy = true;
    this.later(this.hooks.timing().sentDelayMs, () => {
      const entry = queue.entries.shift();
      if (!entry) {
        queue.busy = false;
        return;
      }
      this.transmit(device, queue, entry, outcome);
    });
  }

  private transmit(device: SimDevice, queue: DeviceQueue, entry: QueueEntry, outcome: DownlinkOutcome): void {
    const done = (): void => {
      queue.busy = false;
      this.schedule(device);
    };
    const max = maxPayloadAtDataRate(device.spreadingFactor);
    if (entry.bytes.length > max) {
      this.failed(device, entry, failureDetails('pkg/networkserver', 'application_downlink_too_long', 'application downlink payload length `{length}` exceeds maximum `{max}`', { length: entry.bytes.length, max }));
      done();
      return;
    }
    if (outcome === 'failed') {
      // Simulator choice: the NS found no gateway path to the device.
      this.failed(device, entry, failureDetails('pkg/networkserver', 'no_downlink_path', 'no downlink path available', undefined, 9));
      done();
      return;
    }
    this.event('downlink_sent', device, entry.downlink);
    if (!entry.downlink.confirmed || outcome === 'sent-only') {
      done();
      return;
    }
    this.later(this.hooks.timing().answerDelayMs, () => {
      const nacks = outcome === 'nack' ? Infinity : typeof outcome === 'object' ? outcome.nacks : 0;
      if (entry.attempt > nacks) {
        this.event('downlink_ack', device, entry.downlink);
      } else {
        this.event('downlink_nack', device, entry.downlink);
        if (entry.attempt >= entry.maxAttempts) {
          // Simulator choice for the error name of an exhausted confirmed downlink.
          this.failed(device, entry, failureDetails('pkg/applicationserver', 'confirmed_downlink_max_attempts', 'confirmed downlink not acknowledged after `{attempts}` attempts', { attempts: entry.attempt }, 4));
        } else {
          // AS re-queues a nacked downlink at the front with the next attempt number and a new FCnt.
          device.fCntDown += 1;
          const retry: QueueEntry = {
            ...entry,
            attempt: entry.attempt + 1,
            downlink: { ...entry.downlink, f_cnt: device.fCntDown, confirmed_retry: { ...entry.downlink.confirmed_retry, attempt: entry.attempt + 1 } },
          };
          queue.entries.unshift(retry);
        }
      }
      done();
    });
  }

  private event(type: DownlinkEventType, device: SimDevice, downlink: ApplicationDownlink): void {
    this.hooks.deliver(buildDownlinkEvent(type, device, this.applicationId, structuredClone(downlink)), device);
  }

  private failed(device: SimDevice, entry: QueueEntry, error: ReturnType<typeof failureDetails>): void {
    this.hooks.deliver(buildDownlinkFailed(device, this.applicationId, structuredClone(entry.downlink), error), device);
  }
}
