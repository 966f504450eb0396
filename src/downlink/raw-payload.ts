import { bytesFromBase64, hexDigits, PayloadInputError } from '../codec/payload-input';
import { DownlinkInputError } from './errors';

/** How a raw string payload is read: `auto` takes hex when it can only be hex, else base64. */
export type RawFormat = 'auto' | 'base64' | 'hex';

/** What a payload becomes before it is put into a push/replace item. */
export type EncodedPayload =
  | { kind: 'bytes'; bytes: Uint8Array; fPort?: number }
  /** Left for the TTS-side downlink formatter to encode. */
  | { kind: 'decoded'; decoded: Record<string, unknown>; fPort?: number };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

/** Array of whole numbers 0..255 (a JSON byte array or a Buffer / typed array). */
export function toBytes(value: unknown, what: string): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice();
  // A Buffer that went through JSON (a msg copy, a stored property) looks like this.
  if (isPlainObject(value) && value.type === 'Buffer' && Array.isArray(value.data)) return toBytes(value.data, what);
  if (!Array.isArray(value)) throw new DownlinkInputError(`${what} must be an array of bytes`);
  const out = new Uint8Array(value.length);
  value.forEach((b, i) => {
    if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b > 255) {
      throw new DownlinkInputError(`${what}[${i}] is ${JSON.stringify(b)}: every byte must be a whole number 0..255`);
    }
    out[i] = b;
  });
  return out;
}

/** Base64 (URL-safe and unpadded accepted, as TTS accepts it), read by the codec's one parser. */
function base64Bytes(text: string, what: string): Uint8Array {
  try {
    return Uint8Array.from(bytesFromBase64(text));
  } catch (err) {
    if (err instanceof PayloadInputError) throw new DownlinkInputError(`${what} is neither hex nor base64`);
    throw err;
  }
}

function hexBytes(text: string): Uint8Array | undefined {
  const digits = hexDigits(text);
  return digits === undefined || digits === '' ? undefined : new Uint8Array(Buffer.from(digits, 'hex'));
}

/**
 * A string as bytes. `auto`: hex when it is hex text (0x prefixes, spaces, colons, commas or
 * dashes between pairs allowed) with an even count of digits; otherwise base64. A base64 text made only of
 * hex digits (e.g. "ABCD") is read as hex in auto mode: choose `base64` on the node to avoid that.
 */
export function stringBytes(text: string, format: RawFormat, what = 'msg.payload'): Uint8Array {
  if (text.trim() === '') throw new DownlinkInputError(`${what} is an empty string`);
  if (format === 'base64') return base64Bytes(text, what);
  const hex = hexBytes(text);
  if (format === 'hex') {
    if (!hex) throw new DownlinkInputError(`${what} is not hex text (pairs of 0-9/a-f)`);
    return hex;
  }
  return hex ?? base64Bytes(text, what);
}

function portOf(obj: Record<string, unknown>): number | undefined {
  const port = obj.f_port ?? obj.fPort;
  return typeof port === 'number' ? port : undefined;
}

/**
 * The `raw` codec: bytes passed through (base64 or hex text, byte arrays, Buffers), an object
 * naming `frm_payload` / `bytes` / `decoded_payload`, or any other object left as
 * decoded_payload for TTS's downlink formatter.
 */
export function rawPayload(payload: unknown, format: RawFormat): EncodedPayload {
  if (typeof payload === 'string') return { kind: 'bytes', bytes: stringBytes(payload, format) };
  if (Array.isArray(payload) || ArrayBuffer.isView(payload)) return { kind: 'bytes', bytes: toBytes(payload, 'msg.payload') };
  if (isPlainObject(payload)) {
    if (payload.type === 'Buffer' && Array.isArray(payload.data)) return { kind: 'bytes', bytes: toBytes(payload, 'msg.payload') };
    const fPort = portOf(payload);
    if (payload.frm_payload !== undefined) {
      if (typeof payload.frm_payload !== 'string') throw new DownlinkInputError('msg.payload.frm_payload must be base64 text');
      return { kind: 'bytes', bytes: base64Bytes(payload.frm_payload, 'msg.payload.frm_payload'), fPort };
    }
    if (payload.bytes !== undefined) return { kind: 'bytes', bytes: toBytes(payload.bytes, 'msg.payload.bytes'), fPort };
    if (payload.decoded_payload !== undefined) {
      if (!isPlainObject(payload.decoded_payload)) throw new DownlinkInputError('msg.payload.decoded_payload must be an object');
      return { kind: 'decoded', decoded: payload.decoded_payload, fPort };
    }
    return { kind: 'decoded', decoded: payload };
  }
  throw new DownlinkInputError(`a raw downlink payload must be base64 or hex text, a byte array or an object, not ${payload === null ? 'null' : typeof payload}`);
}
