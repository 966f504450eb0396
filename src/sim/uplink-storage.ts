import type { ApplicationUp, MessageType } from '../tts/types';
import { MESSAGE_TYPES } from '../tts/types';
import { msToNanos, timestampNanos } from '../tts/timestamps';
import { errors, ttsError } from './tts-errors';

/**
 * TTS's Storage Integration as the simulator offers it: every upstream message of an
 * application whose integration is activated is kept (the last `limit`, oldest dropped first),
 * whether or not its webhook was delivered, and queried with the semantics of
 * `GET /as/applications/{app}/packages/storage/{type}` (GetStoredApplicationUpRequest).
 *
 * Where TTS's documentation leaves the semantics open the simulator picks one and says so:
 * `after` is inclusive and `before` exclusive (so a client paging on the last received_at sees
 * that message again and must skip it), the default order is ascending by received_at, and an
 * application without the integration answers 404 `storage_not_activated`.
 */
export interface StoredQuery {
  type: string;
  deviceId?: string;
  after?: string;
  before?: string;
  last?: string;
  limit?: string;
  order?: string;
  fPort?: string;
  fieldMask?: string[];
}

interface StoredUp {
  nanos: bigint;
  type: MessageType;
  up: ApplicationUp;
}

export const DEFAULT_STORAGE_LIMIT = 10_000;

export class UplinkStorage {
  private readonly apps = new Map<string, { limit: number; messages: StoredUp[] }>();

  /** Activates (or deactivates) the integration for an application; keeps the last `limit` messages. */
  configure(applicationId: string, enabled: boolean, limit = DEFAULT_STORAGE_LIMIT): void {
    if (!enabled) {
      this.apps.delete(applicationId);
      return;
    }
    const existing = this.apps.get(applicationId);
    if (existing) existing.limit = limit;
    else this.apps.set(applicationId, { limit, messages: [] });
  }

  isActivated(applicationId: string): boolean {
    return this.apps.has(applicationId);
  }

  /** Keeps a generated message (before its webhook is posted, so failures are kept too). */
  record(up: ApplicationUp): void {
    const app = this.apps.get(up.end_device_ids?.application_ids?.application_id ?? '');
    const type = MESSAGE_TYPES.find((t) => up[t] !== undefined);
    if (!app || !type) return;
    const nanos = timestampNanos(up.received_at ?? '') ?? msToNanos(Date.now());
    app.messages.push({ nanos, type, up: structuredClone(up) });
    // Generated in time order, but received_at has random sub-millisecond digits: keep it sorted.
    for (let i = app.messages.length - 1; i > 0 && app.messages[i - 1].nanos > app.messages[i].nanos; i--) {
      [app.messages[i - 1], app.messages[i]] = [app.messages[i], app.messages[i - 1]];
    }
    if (app.messages.length > app.limit) app.messages.splice(0, app.messages.length - app.limit);
  }

  /** Stored messages of an application, oldest first (for tests). */
  stored(applicationId: string): ApplicationUp[] {
    return (this.apps.get(applicationId)?.messages ?? []).map((m) => m.up);
  }

  /** The matching messages in the requested order; throws a SimApiError for a bad query. */
  query(applicationId: string, q: StoredQuery, now = Date.now()): ApplicationUp[] {
    const app = this.apps.get(applicationId);
    if (!app) throw notActivated(applicationId);
    if (!STORED_TYPES.includes(q.type)) throw errors.validateBody('type', `must be one of ${STORED_TYPES.join(', ')}`);
    if (q.last !== undefined && (q.after !== undefined || q.before !== undefined)) {
      throw errors.validateBody('last', 'cannot be used in conjunction with after and before');
    }
    const after = q.after !== undefined ? timeParam('after', q.after) : q.last !== undefined ? msToNanos(now) - durationParam(q.last) : undefined;
    const before = q.before !== undefined ? timeParam('before', q.before) : undefined;
    const limit = q.limit !== undefined ? uintParam('limit', q.limit) : undefined;
    const fPort = q.fPort !== undefined ? uintParam('f_port', q.fPort) : undefined;
    const order = q.order ?? '';
    if (!['', 'received_at', '-received_at'].includes(order)) throw errors.validateBody('order', 'must be "received_at" or "-received_at"');

    let found = app.messages.filter(
      (m) =>
        (q.type === '' || m.type === q.type) &&
        (q.deviceId === undefined || m.up.end_device_ids.device_id === q.deviceId) &&
        (after === undefined || m.nanos >= after) &&
        (before === undefined || m.nanos < before) &&
        (fPort === undefined || (m.up.uplink_message?.f_port ?? 0) === fPort),
    );
    if (order === '-received_at') found = [...found].reverse();
    if (limit !== undefined && limit > 0) found = found.slice(0, limit);
    return found.map((m) => (q.fieldMask && q.fieldMask.length > 0 ? maskUp(m.up, m.type, q.fieldMask) : m.up));
  }
}

const STORED_TYPES = ['', ...MESSAGE_TYPES];

function notActivated(applicationId: string) {
  return ttsError(5, 'pkg/applicationserver/io/packages/storage', 'storage_not_activated', 'storage integration is not activated for application `{application_id}`', {
    application_id: applicationId,
  });
}

function timeParam(name: string, value: string): bigint {
  const nanos = timestampNanos(value);
  if (nanos === undefined) throw errors.validateBody(name, 'not an RFC 3339 timestamp');
  return nanos;
}

function uintParam(name: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n > 0xffff_ffff) throw errors.validateBody(name, 'not an unsigned 32-bit integer');
  return n;
}

/** A protobuf Duration as JSON writes it: decimal seconds with an `s` suffix (`3600s`, `1.5s`). */
function durationParam(value: string): bigint {
  const m = /^(\d+)(?:\.(\d{1,9}))?s$/.exec(value);
  if (!m) throw errors.validateBody('last', 'not a duration such as "3600s"');
  return BigInt(m[1]) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/**
 * Applies a field mask the way the storage API names fields: top-level fields by name
 * (`end_device_ids`, `received_at`), message fields with the `up.<type>.` prefix
 * (`up.uplink_message.decoded_payload`). The message type's key stays so a result still says
 * what it is.
 */
function maskUp(up: ApplicationUp, type: MessageType, paths: string[]): ApplicationUp {
  const out: Record<string, unknown> = { [type]: {} };
  for (const path of paths) {
    const parts = path.split('.');
    if (parts[0] === 'up') parts.shift();
    copyPath(up as unknown as Record<string, unknown>, out, parts);
  }
  return out as unknown as ApplicationUp;
}

function copyPath(from: Record<string, unknown>, to: Record<string, unknown>, parts: string[]): void {
  const [head, ...rest] = parts;
  if (head === undefined || !(head in from)) return;
  const value = from[head];
  if (rest.length === 0 || value === null || typeof value !== 'object' || Array.isArray(value)) {
    to[head] = structuredClone(value);
    return;
  }
  const target = (to[head] && typeof to[head] === 'object' ? to[head] : (to[head] = {})) as Record<string, unknown>;
  copyPath(value as Record<string, unknown>, target, rest);
}
