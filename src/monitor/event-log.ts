import { EventEmitter } from 'node:events';
import { registerRuntimeState } from '../runtime';
import { LogRing } from './log-ring';
import type { LogEvent, LogInput, LogQuery } from './log-types';

export { LOG_KINDS, type LogEvent, type LogInput, type LogKind, type LogQuery } from './log-types';

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
  private readonly rings = new Map<string, LogRing>();
  private seq = 0;

  constructor(
    readonly capacity = DEFAULT_LOG_CAPACITY,
    readonly maxProfiles = MAX_LOG_PROFILES,
  ) {
    super();
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a whole number ≥ 1');
    if (!Number.isInteger(maxProfiles) || maxProfiles < 1) throw new RangeError('maxProfiles must be a whole number ≥ 1');
  }

  /** Keeps an entry; returns its sequence number. The `event` listeners get it as a new object. */
  record(input: LogInput): number {
    const seq = ++this.seq;
    const at = input.at ?? Date.now();
    let ring = this.rings.get(input.profile);
    if (!ring) {
      if (this.rings.size >= this.maxProfiles) this.dropQuietestRing();
      ring = new LogRing(this.capacity, input.profile);
      this.rings.set(input.profile, ring);
    }
    ring.push(input, seq, at);
    if (this.listenerCount('event') > 0) this.emit('event', { ...input, seq, at } satisfies LogEvent);
    return seq;
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
    const rings = query.profile !== undefined ? [this.rings.get(query.profile)].filter((r): r is LogRing => !!r) : [...this.rings.values()];
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
