import type { TtsEnvelope } from './envelope-types';
import { MESSAGE_TYPES, type ApplicationUp, type MessageType } from './types';
import { isTtsId } from './protocol';
import { TtsError } from '../util/errors';

export type { TtsEnvelope } from './envelope-types';

/** Why a body is not a TTS message; `field` names the offending path for the error body. */
export class InvalidTtsMessage extends TtsError {
  constructor(readonly field: string, readonly reason: string) {
    super(`not a TTS message: ${field}: ${reason}`, { code: 'invalid_message', httpStatus: 422, statusKey: 'invalid' });
    this.name = 'InvalidTtsMessage';
  }
}

const HEX_PATTERN = /^[0-9A-Fa-f]*$/;
const BASE64_PATTERN = /^[A-Za-z0-9+/_-]*={0,2}$/;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optional<T>(body: Json, key: string, path: string, check: (v: unknown) => v is T, expected: string): T | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (!check(value)) throw new InvalidTtsMessage(`${path}${key}`, `expected ${expected}, got ${describe(value)}`);
  return value;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'string' ? `the string "${value.slice(0, 40)}"` : `a ${typeof value}`;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
const isArray = (v: unknown): v is unknown[] => Array.isArray(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
const isBase64 = (v: unknown): v is string => typeof v === 'string' && BASE64_PATTERN.test(v);
const isHex = (v: unknown): v is string => typeof v === 'string' && HEX_PATTERN.test(v) && v.length % 2 === 0;
const isTimestamp = (v: unknown): v is string => typeof v === 'string' && !Number.isNaN(Date.parse(v));

/** Which message key the body carries: exactly one of the eleven is required. */
export function messageTypeOf(body: Json): MessageType {
  const present = MESSAGE_TYPES.filter((key) => body[key] !== undefined && body[key] !== null);
  if (present.length === 0) {
    throw new InvalidTtsMessage('(body)', `no known message type; expected one of ${MESSAGE_TYPES.join(', ')}`);
  }
  if (present.length > 1) throw new InvalidTtsMessage('(body)', `more than one message type (${present.join(', ')})`);
  const type = present[0];
  if (!isObject(body[type])) throw new InvalidTtsMessage(type, `expected an object, got ${describe(body[type])}`);
  return type;
}

/** Fields every uplink-like and downlink-like object may carry, type-checked. */
function frameFields(frame: Json, path: string): Partial<TtsEnvelope> {
  return {
    f_port: optional(frame, 'f_port', path, isUint, 'an unsigned integer'),
    f_cnt: optional(frame, 'f_cnt', path, isUint, 'an unsigned integer'),
    frm_payload: optional(frame, 'frm_payload', path, isBase64, 'a base64 string'),
    decoded_payload: optional(frame, 'decoded_payload', path, isObject, 'an object'),
  };
}

function checkRxMetadata(value: unknown[] | undefined, path: string): void {
  value?.forEach((entry, i) => {
    if (!isObject(entry)) throw new InvalidTtsMessage(`${path}rx_metadata[${i}]`, `expected an object, got ${describe(entry)}`);
  });
}

/**
 * Validates a parsed webhook body as a TTS ApplicationUp and normalises it into the envelope
 * flows receive as `msg.tts`. Throws InvalidTtsMessage naming the first wrong field.
 * `now` (ms) stands in for a missing received_at.
 */
export function parseApplicationUp(body: unknown, now = Date.now()): TtsEnvelope {
  if (!isObject(body)) throw new InvalidTtsMessage('(body)', `expected a JSON object, got ${describe(body)}`);
  const ids = body.end_device_ids;
  if (!isObject(ids)) throw new InvalidTtsMessage('end_device_ids', ids === undefined ? 'missing' : `expected an object, got ${describe(ids)}`);
  const deviceId = ids.device_id;
  if (!isString(deviceId) || !isTtsId(deviceId)) {
    throw new InvalidTtsMessage('end_device_ids.device_id', deviceId === undefined ? 'missing' : 'not a valid TTS device ID');
  }
  const appIds = ids.application_ids;
  const applicationId = isObject(appIds) ? appIds.application_id : undefined;
  if (!isString(applicationId) || !isTtsId(applicationId)) {
    throw new InvalidTtsMessage(
      'end_device_ids.application_ids.application_id',
      applicationId === undefined ? 'missing' : 'not a valid TTS application ID',
    );
  }
  const idPath = 'end_device_ids.';
  const devEui = optional(ids, 'dev_eui', idPath, isHex, 'a hex string');
  const joinEui = optional(ids, 'join_eui', idPath, isHex, 'a hex string');
  const devAddr = optional(ids, 'dev_addr', idPath, isHex, 'a hex string');

  const type = messageTypeOf(body);
  const message = body[type] as Json;
  const correlationIds = optional(body, 'correlation_ids', '', isStringArray, 'an array of strings') ?? [];
  const receivedAt = optional(body, 'received_at', '', isTimestamp, 'an RFC 3339 timestamp');
  const simulated = optional(body, 'simulated', '', isBoolean, 'a boolean') ?? false;

  const envelope: TtsEnvelope = {
    type,
    application_id: applicationId,
    device_id: deviceId,
    dev_eui: devEui?.toUpperCase(),
    join_eui: joinEui?.toUpperCase(),
    dev_addr: devAddr?.toUpperCase(),
    // A replay must get the same time as the first delivery: `now` is when it was accepted.
    received_at: receivedAt ?? new Date(now).toISOString(),
    correlation_ids: correlationIds,
    simulated,
    message,
    raw: body as unknown as ApplicationUp,
  };

  const path = `${type}.`;
  switch (type) {
    case 'uplink_message': {
      Object.assign(envelope, frameFields(message, path));
      envelope.f_port ??= 0;
      envelope.f_cnt ??= 0;
      const rx = optional(message, 'rx_metadata', path, isArray, 'an array');
      checkRxMetadata(rx, path);
      envelope.rx_metadata = (rx as TtsEnvelope['rx_metadata']) ?? [];
      envelope.settings = optional(message, 'settings', path, isObject, 'an object') as TtsEnvelope['settings'];
      envelope.locations = optional(message, 'locations', path, isObject, 'an object') as TtsEnvelope['locations'];
      envelope.version_ids = optional(message, 'version_ids', path, isObject, 'an object');
      optional(message, 'received_at', path, isTimestamp, 'an RFC 3339 timestamp');
      break;
    }
    case 'uplink_normalized': {
      Object.assign(envelope, frameFields(message, path));
      const rx = optional(message, 'rx_metadata', path, isArray, 'an array');
      checkRxMetadata(rx, path);
      envelope.rx_metadata = rx as TtsEnvelope['rx_metadata'];
      break;
    }
    case 'downlink_queued':
    case 'downlink_sent':
    case 'downlink_ack':
    case 'downlink_nack':
      Object.assign(envelope, frameFields(message, path));
      optional(message, 'correlation_ids', path, isStringArray, 'an array of strings');
      break;
    case 'downlink_failed': {
      const downlink = optional(message, 'downlink', path, isObject, 'an object');
      if (downlink) Object.assign(envelope, frameFields(downlink, `${path}downlink.`));
      optional(message, 'error', path, isObject, 'an object');
      break;
    }
    case 'downlink_queue_invalidated':
      optional(message, 'downlinks', path, isArray, 'an array');
      break;
    case 'location_solved': {
      const location = optional(message, 'location', path, isObject, 'an object');
      if (location) {
        const service = optional(message, 'service', path, isString, 'a string') ?? 'unknown';
        envelope.locations = { [service]: location };
      }
      break;
    }
    case 'service_data':
      optional(message, 'service', path, isString, 'a string');
      optional(message, 'data', path, isObject, 'an object');
      break;
    case 'join_accept':
      optional(message, 'session_key_id', path, isBase64, 'a base64 string');
      break;
  }
  // Undefined keys would show up as noise in debug output; drop them.
  for (const key of Object.keys(envelope) as (keyof TtsEnvelope)[]) {
    if (envelope[key] === undefined) delete envelope[key];
  }
  return envelope;
}

/** What `msg.payload` carries: the decoded reading for uplinks TTS decoded, else the frame. */
export function payloadOf(envelope: TtsEnvelope): unknown {
  if (envelope.type === 'uplink_message') return envelope.decoded_payload ?? envelope.frm_payload ?? '';
  return envelope.message;
}

export function topicOf(envelope: TtsEnvelope): string {
  return `${envelope.application_id}/${envelope.device_id}/${envelope.type}`;
}
