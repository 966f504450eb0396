// Turns what users hand the engine (a TTS envelope, a Buffer, base64 or hex text, a byte array)
// into bytes, with a clear error for anything else.
import { INVALID_INPUT, TtsError } from '../util/errors';


export class PayloadInputError extends TtsError {
  constructor(message: string) {
    super(message, INVALID_INPUT);
    this.name = 'PayloadInputError';
  }
}

export type PayloadFormat = 'base64' | 'hex' | 'bytes' | 'json';

function checkByteArray(values: unknown[]): number[] {
  values.forEach((b, i) => {
    if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b > 255) throw new PayloadInputError(`byte ${i} is ${JSON.stringify(b)}, not an integer 0..255`);
  });
  return values as number[];
}

// The one reader of hex and base64 text (the decode node, its test tool, the downlink encoder):
// whitespace anywhere; hex may use 0x prefixes and `:`, `,` or `-` between bytes; base64 may be
// the URL-safe alphabet and may leave out its padding.

/** The hex digits of a hex text, or undefined when it is not hex (an odd count is not). */
export function hexDigits(text: string): string | undefined {
  const clean = text.replace(/0x/gi, '').replace(/[\s,:-]+/g, '');
  return clean.length % 2 === 0 && /^[0-9a-fA-F]*$/.test(clean) ? clean : undefined;
}

export function bytesFromHex(text: string): number[] {
  const digits = hexDigits(text);
  if (digits === undefined) throw new PayloadInputError('not valid hex (pairs of 0-9, a-f)');
  return [...Buffer.from(digits, 'hex')];
}

export function bytesFromBase64(text: string): number[] {
  const clean = text.replace(/\s+/g, '').replace(/-/g, '+').replace(/_/g, '/');
  const data = clean.replace(/={1,2}$/, '');
  if (!/^[A-Za-z0-9+/]*$/.test(data) || data.length % 4 === 1 || (clean.length > data.length && clean.length % 4 !== 0)) {
    throw new PayloadInputError('not valid base64');
  }
  return [...Buffer.from(data, 'base64')];
}

/** Bytes from a byte-array text such as "[1, 2, 0x1f]" or "1 2 31". */
export function bytesFromArrayText(text: string): number[] {
  const trimmed = text.trim().replace(/^\[/, '').replace(/\]$/, '').trim();
  if (trimmed === '') return [];
  return checkByteArray(trimmed.split(/[\s,]+/).map((part) => (/^0x[0-9a-f]+$/i.test(part) ? parseInt(part, 16) : /^\d+$/.test(part) ? Number(part) : part)));
}

/** Bytes from a value found in a message: Buffer, Uint8Array, number[] or base64 text. */
export function bytesFromValue(value: unknown): number[] {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return [...value];
  if (Array.isArray(value)) return checkByteArray(value);
  if (typeof value === 'string') return bytesFromBase64(value);
  if (value && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return checkByteArray((value as { data: unknown[] }).data);
  }
  throw new PayloadInputError(`expected bytes (Buffer, byte array or base64 text), got ${value === null ? 'null' : typeof value}`);
}

export function bytesFromText(text: string, format: Exclude<PayloadFormat, 'json'>): number[] {
  if (format === 'hex') return bytesFromHex(text);
  if (format === 'bytes') return bytesFromArrayText(text);
  return bytesFromBase64(text);
}
