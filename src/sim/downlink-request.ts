import { PRIORITIES, type Priority } from '../tts/types';
import { errors } from './tts-errors';

/** One push/replace item after TTS's JSON decoding and schema validation. */
export interface ParsedDownlink {
  fPort: number;
  bytes?: Buffer;
  decoded?: Record<string, unknown>;
  priority: Priority;
  confirmed: boolean;
  correlationIds: string[];
  maxAttempts?: number;
}

const B64 = /^[A-Za-z0-9+/\-_]*={0,2}$/;

function pick(item: Record<string, unknown>, snake: string, camel: string): unknown {
  return item[snake] !== undefined ? item[snake] : item[camel];
}

/** uint32 as protojson reads it: a number or a decimal string. */
function uint(value: unknown, field: string): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) throw errors.decodeBody(`invalid value for uint32 field \`${field}\``);
  return n;
}

/**
 * Decodes and validates `{downlinks: [...]}` like TTS: JSON/type errors are `decode_body`,
 * schema rules (f_port 224 or > 255, payload > 255 bytes, long correlation ids) `validate_body`.
 * camelCase aliases are accepted; enums by name or number.
 */
export function parseDownlinkBody(body: unknown): ParsedDownlink[] {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw errors.decodeBody('expected a JSON object');
  const list = (body as Record<string, unknown>).downlinks;
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw errors.decodeBody('`downlinks` must be a list');
  return list.map((raw, index) => {
    const field = (name: string): string => `downlinks[${index}].${name}`;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw errors.decodeBody(`${field('')} must be an object`);
    const item = raw as Record<string, unknown>;
    const portValue = pick(item, 'f_port', 'fPort');
    const fPort = portValue === undefined ? 0 : uint(portValue, field('f_port'));
    if (fPort === 224 || fPort > 255) throw errors.validateBody(field('f_port'), 'value must be less than or equal to 255 and not 224');

    let bytes: Buffer | undefined;
    const payload = pick(item, 'frm_payload', 'frmPayload');
    if (payload !== undefined && payload !== null && payload !== '') {
      if (typeof payload !== 'string' || !B64.test(payload)) throw errors.decodeBody(`invalid base64 in \`${field('frm_payload')}\``);
      bytes = Buffer.from(payload.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
      if (bytes.length > 255) throw errors.validateBody(field('frm_payload'), 'length must be at most 255 bytes');
    }
    const decodedValue = pick(item, 'decoded_payload', 'decodedPayload');
    let decoded: Record<string, unknown> | undefined;
    if (decodedValue !== undefined && decodedValue !== null) {
      if (typeof decodedValue !== 'object' || Array.isArray(decodedValue)) throw errors.decodeBody(`\`${field('decoded_payload')}\` must be an object`);
      decoded = decodedValue as Record<string, unknown>;
    }

    let priority: Priority = 'LOWEST';
    const p = item.priority;
    if (p !== undefined && p !== null) {
      if (typeof p === 'number' && Number.isInteger(p) && p >= 0 && p < PRIORITIES.length) priority = PRIORITIES[p];
      else if (typeof p === 'string' && (PRIORITIES as readonly string[]).includes(p)) priority = p as Priority;
      else throw errors.decodeBody(`invalid value for enum field \`${field('priority')}\``);
    }
    const confirmed = item.confirmed ?? false;
    if (typeof confirmed !== 'boolean') throw errors.decodeBody(`\`${field('confirmed')}\` must be a boolean`);

    const ids = pick(item, 'correlation_ids', 'correlationIds') ?? [];
    if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string')) throw errors.decodeBody(`\`${field('correlation_ids')}\` must be a list of strings`);
    if ((ids as string[]).some((id) => id.length > 100)) throw errors.validateBody(field('correlation_ids'), 'each item must be at most 100 characters');

    let maxAttempts: number | undefined;
    const retry = pick(item, 'confirmed_retry', 'confirmedRetry');
    if (retry !== undefined && retry !== null) {
      if (typeof retry !== 'object') throw errors.decodeBody(`\`${field('confirmed_retry')}\` must be an object`);
      const max = pick(retry as Record<string, unknown>, 'max_attempts', 'maxAttempts');
      if (max !== undefined) {
        maxAttempts = uint(max, field('confirmed_retry.max_attempts'));
        if (maxAttempts < 1 || maxAttempts > 100) throw errors.validateBody(field('confirmed_retry.max_attempts'), 'value must be between 1 and 100');
      }
    }
    return { fPort, bytes, decoded, priority, confirmed, correlationIds: ids as string[], maxAttempts };
  });
}
