// Load generator shared by the bench and the process tests: posts unique TTS uplinks (built by
// the simulator, each with its own device, f_cnt and received_at) to one or more webhook URLs,
// closed loop (a fixed number in flight) or open loop (a fixed rate), always bounded by a count
// and a time limit, and records which requests were acknowledged (2xx) and which were not.
import { RawHttpPool } from './raw-http';
import { performance } from 'node:perf_hooks';
import { createDevice, type SimDevice } from '../../src/sim/devices';
import { buildUplink } from '../../src/sim/messages';
import type { PayloadKind } from '../../src/sim/payloads';

/** One prepared request: its body and the key it must be stored under. */
export interface Uplink {
  deviceId: string;
  fCnt: number;
  receivedAt: string;
  body: string;
}

export interface FleetOptions {
  devices: number;
  applicationId: string;
  prefix?: string;
  payload?: PayloadKind;
  /** received_at of the first uplink (ms); each next uplink is 1 ms later, so all differ. */
  startAt?: number;
}

/**
 * Simulated devices that report in turn: `next()` is the next device's next uplink (its f_cnt
 * advanced), serialised once so that posting costs the generator as little as possible.
 */
export class UplinkFleet {
  private readonly devices: SimDevice[];
  private index = 0;
  private clock: number;

  constructor(private readonly options: FleetOptions) {
    const prefix = options.prefix ?? 'bench-device';
    this.devices = Array.from({ length: options.devices }, (_, i) =>
      createDevice(
        {
          deviceId: `${prefix}-${i}`,
          devEui: (0x70b3d57ed0000000n + BigInt(i)).toString(16).toUpperCase().padStart(16, '0'),
          payload: options.payload ?? 'temperature-humidity',
        },
        i,
      ),
    );
    this.clock = options.startAt ?? Date.now();
  }

  get size(): number {
    return this.devices.length;
  }

  next(): Uplink {
    const device = this.devices[this.index];
    this.index = (this.index + 1) % this.devices.length;
    const now = new Date(this.clock++);
    const message = buildUplink(device, this.options.applicationId, now);
    return { deviceId: device.deviceId, fCnt: message.uplink_message!.f_cnt ?? 0, receivedAt: message.received_at ?? now.toISOString(), body: JSON.stringify(message) };
  }

  /** `count` next uplinks, built before any is posted. */
  take(count: number): Uplink[] {
    return Array.from({ length: count }, () => this.next());
  }
}

export interface LoadOptions {
  /** Webhook URLs, used in turn (several Node-RED instances behind one "load balancer"). */
  urls: string[];
  token: string;
  uplinks: Uplink[];
  /** Hard limit on the whole run; requests not started by then are not sent. */
  timeLimitMs: number;
  /** Closed loop: this many requests in flight (default 20). Ignored when `rate` is set. */
  concurrency?: number;
  /** Open loop: requests started at this fixed rate per second, whatever the answers. */
  rate?: number;
  /** Open loop: at most this many in flight; a request due while at the bound counts as not sent (default 500). */
  maxInFlight?: number;
  /** Per request (default 5 s: what TTS waits). */
  requestTimeoutMs?: number;
  /** Called after each acknowledged request, with the number acknowledged so far. */
  onAck?: (acked: number, uplink: Uplink) => void;
  /** Stops starting requests once this returns true (checked before each request). */
  stopWhen?: () => boolean;
}

export interface Refused {
  uplink: Uplink;
  /** HTTP status, or the network error's code. */
  reason: number | string;
}

export interface LoadResult {
  acked: Uplink[];
  refused: Refused[];
  /** Not sent: time limit, stop condition or the open-loop bound. */
  unsent: number;
  /** Acknowledgement latencies (ms) of the acked requests, in completion order. */
  latencies: number[];
  /** From the first request to the last answer. */
  elapsedMs: number;
  /** Acknowledged per second over elapsedMs. */
  ackRate: number;
  /** The number of requests started. */
  started: number;
  /** The open loop could not keep up with its schedule (it started late by more than 100 ms). */
  fellBehind: boolean;
}

export const percentile = (sorted: number[], p: number): number => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);

/** Posts `uplinks` (each at most once) and reports what was acknowledged. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const urls = options.urls.map((u) => new URL(u));
  const concurrency = options.concurrency ?? 20;
  const maxInFlight = options.maxInFlight ?? 500;
  const maxSockets = options.rate ? maxInFlight : concurrency;
  const pools = urls.map((u) => new RawHttpPool(u, { Authorization: `Bearer ${options.token}` }, maxSockets));
  const timeoutMs = options.requestTimeoutMs ?? 5_000;
  const result: LoadResult = { acked: [], refused: [], unsent: 0, latencies: [], elapsedMs: 0, ackRate: 0, started: 0, fellBehind: false };
  const t0 = performance.now();
  const deadline = t0 + options.timeLimitMs;
  let nextIndex = 0;
  let inFlight = 0;

  const one = async (uplink: Uplink, i: number): Promise<void> => {
    result.started += 1;
    inFlight += 1;
    const started = performance.now();
    const reason = await pools[i % pools.length].post(uplink.body, timeoutMs);
    inFlight -= 1;
    if (typeof reason === 'number' && reason >= 200 && reason < 300) {
      result.acked.push(uplink);
      result.latencies.push(performance.now() - started);
      options.onAck?.(result.acked.length, uplink);
    } else {
      result.refused.push({ uplink, reason });
    }
  };
  const mayStart = (): boolean => nextIndex < options.uplinks.length && performance.now() < deadline && !options.stopWhen?.();

  try {
    if (options.rate) {
      const interval = 1000 / options.rate;
      const pending: Promise<void>[] = [];
      while (mayStart()) {
        const due = t0 + nextIndex * interval;
        const wait = due - performance.now();
        if (wait < -100) result.fellBehind = true;
        // Always give the event loop a turn: spinning until the next one is due (0 < wait ≤ 1)
        // would keep every request of the burst from being written or answered.
        await new Promise((r) => setTimeout(r, Math.max(0, wait)));
        // Start everything that is due now (timers fire in 1 ms steps at best).
        while (mayStart() && t0 + nextIndex * interval <= performance.now()) {
          const i = nextIndex++;
          if (inFlight >= maxInFlight) {
            result.unsent += 1;
            continue;
          }
          pending.push(one(options.uplinks[i], i));
        }
      }
      await Promise.all(pending);
    } else {
      const worker = async (): Promise<void> => {
        while (mayStart()) {
          const i = nextIndex++;
          await one(options.uplinks[i], i);
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
    }
  } finally {
    for (const pool of pools) pool.destroy();
  }
  result.unsent += options.uplinks.length - nextIndex;
  result.elapsedMs = performance.now() - t0;
  result.ackRate = result.acked.length / (result.elapsedMs / 1000);
  return result;
}
