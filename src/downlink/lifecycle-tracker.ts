import { randomUUID } from 'node:crypto';
import type { TtsEnvelope } from '../tts/envelope-types';
import type { ApplicationDownlink, Priority, TtsErrorDetails } from '../tts/types';

/** What became of a downlink. `unconfirmed`: no final outcome within the time limit. */
export type LifecycleEventName = 'queued' | 'sent' | 'ack' | 'nack' | 'failed' | 'unconfirmed';

const EVENT_OF_TYPE: Partial<Record<TtsEnvelope['type'], LifecycleEventName>> = {
  downlink_queued: 'queued',
  downlink_sent: 'sent',
  downlink_ack: 'ack',
  downlink_nack: 'nack',
  downlink_failed: 'failed',
};

/** Prefix of the correlation ids this package puts on its downlinks (TTS echoes them in events). */
export const CORRELATION_PREFIX = 'nodered:downlink:';

export function newCorrelationId(): string {
  return `${CORRELATION_PREFIX}${randomUUID()}`;
}

/** A downlink being followed. */
export interface TrackedDownlink {
  correlationId: string;
  /** The triggering message's id, so outcomes can be joined to it. */
  msgid?: string;
  applicationId: string;
  deviceId: string;
  /** Registry id, when the device is in the store. */
  device?: string;
  confirmed: boolean;
  fPort: number;
  priority: Priority;
  queue: 'push' | 'replace';
  /** When the request was made (ms since epoch). */
  requestedAt: number;
}

/** One lifecycle step of a tracked downlink. */
export interface LifecycleReport {
  event: LifecycleEventName;
  /** No more reports follow for this downlink. */
  final: boolean;
  downlink: TrackedDownlink;
  /** When it was seen (ms since epoch). */
  at: number;
  /** ms from the request to this event. */
  elapsedMs: number;
  /** ms from the request to each event seen so far (including this one). */
  timeline: Partial<Record<LifecycleEventName, number>>;
  /** AFCntDown TTS assigned, when the event carries it. */
  fCnt?: number;
  /** Transmission attempt of a confirmed downlink (1-based). */
  attempt?: number;
  /** For `failed`: TTS's error. */
  error?: { name?: string; namespace?: string; message?: string; code?: number; attributes?: Record<string, unknown> };
  /** The TTS message that reported it (absent for `unconfirmed`). */
  envelope?: TtsEnvelope;
}

export interface TrackerOptions {
  /** How long a downlink may go without a final outcome before it is reported unconfirmed. */
  timeoutMs: number;
  onReport(report: LifecycleReport): void;
  now?: () => number;
}

interface Entry {
  downlink: TrackedDownlink;
  timeline: Partial<Record<LifecycleEventName, number>>;
  timer?: NodeJS.Timeout;
}

/** message_format with `{name}` placeholders filled from attributes, as TTS renders it. */
function renderError(error: TtsErrorDetails | undefined): LifecycleReport['error'] {
  if (!error) return undefined;
  const attrs = error.attributes ?? {};
  const message = error.message_format?.replace(/[`']?\{(\w+)\}[`']?/g, (whole, key: string) => (key in attrs ? String(attrs[key]) : whole));
  return { name: error.name, namespace: error.namespace, message, code: error.code, attributes: error.attributes };
}

/** The correlation ids anywhere in a downlink event: top level and on the downlink itself. */
export function correlationIdsOf(envelope: TtsEnvelope): string[] {
  const message = envelope.message as { correlation_ids?: unknown; downlink?: ApplicationDownlink };
  const fromDownlink = envelope.type === 'downlink_failed' ? message.downlink?.correlation_ids : message.correlation_ids;
  return [...((envelope.correlation_ids as unknown[] | undefined) ?? []), ...(Array.isArray(fromDownlink) ? (fromDownlink as unknown[]) : [])].filter((id): id is string => typeof id === 'string');
}

/**
 * Matches the downlink events TTS posts back (through webhook-in) to the downlinks this node
 * sent, by the correlation id each downlink carries. A downlink ends with `ack` or `failed`, or
 * with `sent` when it is unconfirmed; one that has not ended within the time limit is reported
 * `unconfirmed` and forgotten. `nack` is not an end: TTS sends the downlink again.
 */
export class DownlinkLifecycleTracker {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(private readonly options: TrackerOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Starts following a downlink; call before the request goes out (events may beat its answer). */
  track(downlink: TrackedDownlink): void {
    const entry: Entry = { downlink, timeline: {} };
    if (this.options.timeoutMs > 0) {
      entry.timer = setTimeout(() => this.expire(downlink.correlationId), this.options.timeoutMs);
      entry.timer.unref?.();
    }
    this.entries.set(downlink.correlationId, entry);
  }

  /** Stops following a downlink without a report (its request failed). */
  forget(correlationId: string): void {
    const entry = this.entries.get(correlationId);
    if (entry?.timer) clearTimeout(entry.timer);
    this.entries.delete(correlationId);
  }

  /** Handles one TTS message; true when it belonged to a tracked downlink. */
  handle(envelope: TtsEnvelope): boolean {
    const event = EVENT_OF_TYPE[envelope.type];
    if (!event) return false;
    const id = correlationIdsOf(envelope).find((c) => this.entries.has(c));
    if (id === undefined) return false;
    const entry = this.entries.get(id)!;
    const downlink = (envelope.type === 'downlink_failed' ? (envelope.message as { downlink?: ApplicationDownlink }).downlink : envelope.message) as ApplicationDownlink | undefined;
    const final = event === 'ack' || event === 'failed' || (event === 'sent' && !entry.downlink.confirmed);
    const report = this.report(entry, event, final, envelope);
    if (typeof downlink?.f_cnt === 'number') report.fCnt = downlink.f_cnt;
    const attempt = downlink?.confirmed_retry?.attempt;
    if (typeof attempt === 'number') report.attempt = attempt;
    if (event === 'failed') report.error = renderError((envelope.message as { error?: TtsErrorDetails }).error);
    if (final) this.forget(id);
    this.options.onReport(report);
    return true;
  }

  /** Clears every timer; nothing more is reported. */
  close(): void {
    for (const entry of this.entries.values()) if (entry.timer) clearTimeout(entry.timer);
    this.entries.clear();
  }

  private expire(correlationId: string): void {
    const entry = this.entries.get(correlationId);
    if (!entry) return;
    this.entries.delete(correlationId);
    this.options.onReport(this.report(entry, 'unconfirmed', true));
  }

  private report(entry: Entry, event: LifecycleEventName, final: boolean, envelope?: TtsEnvelope): LifecycleReport {
    const at = this.now();
    const elapsedMs = Math.max(0, at - entry.downlink.requestedAt);
    // A nacked downlink is sent again: keep the first time of each step.
    if (entry.timeline[event] === undefined) entry.timeline[event] = elapsedMs;
    return { event, final, downlink: entry.downlink, at, elapsedMs, timeline: { ...entry.timeline }, ...(envelope ? { envelope } : {}) };
  }
}
