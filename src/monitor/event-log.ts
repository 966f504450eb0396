import { EventEmitter } from 'node:events';
import { registerRuntimeState } from '../runtime';

/** What an entry is about; the editor's Logs filter offers these. */
export type LogKind = 'webhook' | 'provision' | 'decode' | 'downlink';

export const LOG_KINDS: readonly LogKind[] = ['webhook', 'provision', 'decode', 'downlink'];

/** What was recorded, before the log numbers and stamps it. */
export interface LogInput {
  kind: LogKind;
  /** The step: accepted, refused, created, online, offline, location, failed, requested, queued, sent, ack, nack, unconfirmed… */
  outcome: string;
  /** A failure or refusal (shown in red). */
  error?: boolean;
  /** Profile id; '' when none could be chosen (e.g. a webhook refused before its application was known). */
  profile: string;
  applicationId?: string;
  deviceId?: string;
  /** Registry id, when known. */
  device?: string;
  /** Why, for refusals and failures; never holds a secret (callers pass texts made safe for logs). */
  reason?: string;
  /** Short facts worth showing (message type, HTTP status, f_port, correlation id…), flat and small. */
  detail?: Record<string, string | number | boolean>;
  /** When it happened (ms); default now. */
  at?: number;
}

export interface LogEvent extends LogInput {
  /** Increasing over the log's life: the editor asks for events after the last it has. */
  seq: number;
  at: number;
}

export interface LogQuery {
  profile?: string;
  kind?: string;
  /** Matches `device`, `deviceId` or `applicationId/deviceId`. */
  device?: string;
  /** Only events with a higher seq. */
  after?: number;
  /** At most this many (newest first); default and cap: the per-profile capacity × profiles. */
  limit?: number;
}

/** A fixed-size buffer that overwrites its oldest entry. */
class Ring<T> {
  private readonly items: Array<T | undefined>;
  private next = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  /** When the newest item was pushed (the log's sequence number). */
  lastSeq = 0;

  push(item: T): void {
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size += 1;
  }

  /** Newest first. */
  newestFirst(): T[] {
    const out: T[] = [];
    for (let i = 1; i <= this.size; i++) out.push(this.items[(this.next - i + this.capacity) % this.capacity] as T);
    return out;
  }
}

export const DEFAULT_LOG_CAPACITY = 300;
/**
 * Profiles with a ring of their own, at most. Entries name the profile of a device's record, which
 * may be one removed long ago: without a bound every such name would keep a ring for good.
 */
export const MAX_LOG_PROFILES = 64;

/**
 * The per-profile event log behind the editor's Logs page: the last `capacity` events of each
 * profile (webhooks accepted and refused, provisioning, decode errors, downlinks and their
 * outcomes). Each profile has its own ring, so a flood of refused requests for an unknown
 * application cannot push a real profile's history out; at most `maxProfiles` rings are kept (the
 * one that logged last longest ago goes), so the log holds at most capacity × maxProfiles entries.
 * Emits `event` (LogEvent) for each entry.
 */
export class EventLog extends EventEmitter {
  private readonly rings = new Map<string, Ring<LogEvent>>();
  private seq = 0;

  constructor(
    readonly capacity = DEFAULT_LOG_CAPACITY,
    readonly maxProfiles = MAX_LOG_PROFILES,
  ) {
    super();
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a whole number ≥ 1');
    if (!Number.isInteger(maxProfiles) || maxProfiles < 1) throw new RangeError('maxProfiles must be a whole number ≥ 1');
  }

  record(input: LogInput): LogEvent {
    const event: LogEvent = { ...input, seq: ++this.seq, at: input.at ?? Date.now() };
    let ring = this.rings.get(event.profile);
    if (!ring) {
      if (this.rings.size >= this.maxProfiles) this.dropQuietestRing();
      ring = new Ring<LogEvent>(this.capacity);
      this.rings.set(event.profile, ring);
    }
    ring.push(event);
    ring.lastSeq = event.seq;
    if (this.listenerCount('event') > 0) this.emit('event', event);
    return event;
  }

  /** Forgets the history of the profile that logged last longest ago. */
  private dropQuietestRing(): void {
    let quietest: string | undefined;
    let oldest = Number.POSITIVE_INFINITY;
    for (const [profile, ring] of this.rings) {
      if (ring.lastSeq < oldest) {
        oldest = ring.lastSeq;
        quietest = profile;
      }
    }
    if (quietest !== undefined) this.rings.delete(quietest);
  }

  /** The profiles that have events. */
  profiles(): string[] {
    return [...this.rings.keys()];
  }

  /** Events matching the query, newest first. */
  list(query: LogQuery = {}): LogEvent[] {
    const rings = query.profile !== undefined ? [this.rings.get(query.profile)].filter((r): r is Ring<LogEvent> => !!r) : [...this.rings.values()];
    const device = query.device?.trim().toLowerCase();
    const limit = query.limit !== undefined && query.limit > 0 ? query.limit : Number.POSITIVE_INFINITY;
    const matches = (e: LogEvent): boolean =>
      (query.kind === undefined || query.kind === '' || e.kind === query.kind) &&
      (query.after === undefined || e.seq > query.after) &&
      (!device || [e.device, e.deviceId, e.applicationId && e.deviceId ? `${e.applicationId}/${e.deviceId}` : undefined].some((v) => v?.toLowerCase().includes(device)));
    const merged: LogEvent[] = [];
    for (const ring of rings) for (const e of ring.newestFirst()) if (matches(e)) merged.push(e);
    merged.sort((a, b) => b.seq - a.seq);
    return merged.length > limit ? merged.slice(0, limit) : merged;
  }

  clear(): void {
    this.rings.clear();
  }
}

/** One log per runtime: every node module of this package loads this same module instance. */
export const eventLog = new EventLog();
eventLog.setMaxListeners(0);
registerRuntimeState('event log', () => {
  eventLog.clear();
  eventLog.removeAllListeners();
});
