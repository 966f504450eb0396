// Cayenne LPP exactly as The Things Stack decodes it (tts-protocol.md §6.2, go-cayenne-lib v1.2.0):
// frames of [channel][type][big-endian value], output keys `<name>_<channel>`, TTS's signedness
// (barometric pressure signed), any unknown type or truncated value fails the whole frame, a
// repeated channel+type overwrites. Downlinks use the `value_<channel>` form: [channel][int16 BE of
// trunc(value × 100)], decoded until the end or a 0xFF channel byte.
import { TtsError } from '../util/errors';


export class CayenneLppError extends TtsError {
  constructor(message: string) {
    super(message, { code: 'cayenne_lpp', httpStatus: 422, statusKey: 'invalid' });
    this.name = 'CayenneLppError';
  }
}

type Scalar = { kind: 'scalar'; size: number; signed: boolean; divisor: number };
type Vector = { kind: 'xyz'; divisor: number };
type Gps = { kind: 'gps' };
type LppType = { code: number; name: string } & (Scalar | Vector | Gps);

const TYPES: LppType[] = [
  { code: 0x00, name: 'digital_in', kind: 'scalar', size: 1, signed: false, divisor: 1 },
  { code: 0x01, name: 'digital_out', kind: 'scalar', size: 1, signed: false, divisor: 1 },
  { code: 0x02, name: 'analog_in', kind: 'scalar', size: 2, signed: true, divisor: 100 },
  { code: 0x03, name: 'analog_out', kind: 'scalar', size: 2, signed: true, divisor: 100 },
  { code: 0x65, name: 'luminosity', kind: 'scalar', size: 2, signed: false, divisor: 1 },
  { code: 0x66, name: 'presence', kind: 'scalar', size: 1, signed: false, divisor: 1 },
  { code: 0x67, name: 'temperature', kind: 'scalar', size: 2, signed: true, divisor: 10 },
  { code: 0x68, name: 'relative_humidity', kind: 'scalar', size: 1, signed: false, divisor: 2 },
  { code: 0x71, name: 'accelerometer', kind: 'xyz', divisor: 1000 },
  { code: 0x73, name: 'barometric_pressure', kind: 'scalar', size: 2, signed: true, divisor: 10 },
  { code: 0x86, name: 'gyrometer', kind: 'xyz', divisor: 100 },
  { code: 0x88, name: 'gps', kind: 'gps' },
];
const BY_CODE = new Map(TYPES.map((t) => [t.code, t]));
const BY_NAME = new Map(TYPES.map((t) => [t.name, t]));

export interface LppXyz { x: number; y: number; z: number }
export interface LppGps { latitude: number; longitude: number; altitude: number }
export type LppValue = number | LppXyz | LppGps;
export type LppObject = Record<string, LppValue>;

function valueSize(type: LppType): number {
  return type.kind === 'scalar' ? type.size : type.kind === 'xyz' ? 6 : 9;
}

function readBE(bytes: ArrayLike<number>, offset: number, size: number, signed: boolean): number {
  let v = 0;
  for (let i = 0; i < size; i++) v = v * 256 + bytes[offset + i];
  if (signed && v >= 2 ** (8 * size - 1)) v -= 2 ** (8 * size);
  return v;
}

function writeBE(out: number[], value: number, size: number): void {
  const unsigned = value < 0 ? value + 2 ** (8 * size) : value;
  for (let i = size - 1; i >= 0; i--) out.push(Math.floor(unsigned / 2 ** (8 * i)) % 256);
}

function checkBytes(bytes: ArrayLike<number>): void {
  if (bytes === null || typeof bytes !== 'object' || typeof bytes.length !== 'number') {
    throw new CayenneLppError('Cayenne LPP input must be an array of bytes');
  }
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (!Number.isInteger(b) || b < 0 || b > 255) throw new CayenneLppError(`byte ${i} is ${String(b)}, not 0..255`);
  }
}

/** Decodes an uplink frame into `{ <name>_<channel>: value }`. Throws CayenneLppError. */
export function decode(bytes: ArrayLike<number>): LppObject {
  checkBytes(bytes);
  const out: LppObject = {};
  let pos = 0;
  while (pos < bytes.length) {
    if (pos + 2 > bytes.length) throw new CayenneLppError(`truncated frame: channel ${bytes[pos]} has no type byte at offset ${pos + 1}`);
    const channel = bytes[pos];
    const code = bytes[pos + 1];
    const type = BY_CODE.get(code);
    if (!type) throw new CayenneLppError(`unknown Cayenne LPP type 0x${code.toString(16).padStart(2, '0')} on channel ${channel} at offset ${pos + 1}`);
    const size = valueSize(type);
    const at = pos + 2;
    if (at + size > bytes.length) {
      throw new CayenneLppError(`truncated frame: ${type.name} on channel ${channel} needs ${size} bytes at offset ${at}, ${bytes.length - at} left`);
    }
    const key = `${type.name}_${channel}`;
    if (type.kind === 'scalar') {
      out[key] = readBE(bytes, at, type.size, type.signed) / type.divisor;
    } else if (type.kind === 'xyz') {
      out[key] = {
        x: readBE(bytes, at, 2, true) / type.divisor,
        y: readBE(bytes, at + 2, 2, true) / type.divisor,
        z: readBE(bytes, at + 4, 2, true) / type.divisor,
      };
    } else {
      out[key] = {
        latitude: readBE(bytes, at, 3, true) / 10000,
        longitude: readBE(bytes, at + 3, 3, true) / 10000,
        altitude: readBE(bytes, at + 6, 3, true) / 100,
      };
    }
    pos = at + size;
  }
  return out;
}

/** True when the bytes form a complete, known Cayenne LPP frame (used by the `auto` codec). */
export function isLpp(bytes: ArrayLike<number>): boolean {
  if (bytes.length === 0) return false;
  try {
    decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function scaled(value: unknown, divisor: number, size: number, signed: boolean, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new CayenneLppError(`${what} must be a finite number`);
  // Rounding (not truncation) so that decode(encode(x)) returns x for every representable value.
  const raw = Math.round(value * divisor);
  const min = signed ? -(2 ** (8 * size - 1)) : 0;
  const max = signed ? 2 ** (8 * size - 1) - 1 : 2 ** (8 * size) - 1;
  if (raw < min || raw > max) throw new CayenneLppError(`${what} = ${value} is out of range for Cayenne LPP (${min / divisor}..${max / divisor})`);
  return raw;
}

/** Encodes `{ <name>_<channel>: value }` into an uplink frame. Throws CayenneLppError. */
export function encode(object: Record<string, unknown>): number[] {
  if (object === null || typeof object !== 'object' || Array.isArray(object)) throw new CayenneLppError('Cayenne LPP encode needs an object');
  const out: number[] = [];
  for (const [key, value] of Object.entries(object)) {
    const match = /^([a-z_]+)_(\d{1,3})$/.exec(key);
    const type = match ? BY_NAME.get(match[1]) : undefined;
    const channel = match ? Number(match[2]) : NaN;
    if (!type || !(channel <= 255)) throw new CayenneLppError(`"${key}" is not a Cayenne LPP key (<type>_<channel 0..255>)`);
    out.push(channel, type.code);
    if (type.kind === 'scalar') {
      writeBE(out, scaled(value, type.divisor, type.size, type.signed, key), type.size);
    } else if (type.kind === 'xyz') {
      const v = (value ?? {}) as Record<string, unknown>;
      for (const axis of ['x', 'y', 'z']) writeBE(out, scaled(v[axis], type.divisor, 2, true, `${key}.${axis}`), 2);
    } else {
      const v = (value ?? {}) as Record<string, unknown>;
      writeBE(out, scaled(v.latitude, 10000, 3, true, `${key}.latitude`), 3);
      writeBE(out, scaled(v.longitude, 10000, 3, true, `${key}.longitude`), 3);
      writeBE(out, scaled(v.altitude, 100, 3, true, `${key}.altitude`), 3);
    }
  }
  return out;
}

/**
 * Downlink encode as TTS's CayenneLPP formatter does it: `value_<channel>` keys with numbers
 * become [channel][int16 BE of trunc(value × 100)]; other keys are ignored.
 */
export function encodeDownlink(object: Record<string, unknown>): number[] {
  if (object === null || typeof object !== 'object' || Array.isArray(object)) throw new CayenneLppError('Cayenne LPP downlink encode needs an object');
  const out: number[] = [];
  for (const [key, value] of Object.entries(object)) {
    const match = /^value_(\d{1,3})$/.exec(key);
    if (!match || typeof value !== 'number') continue;
    const channel = Number(match[1]);
    if (channel > 254) throw new CayenneLppError(`${key}: channel must be 0..254 (255 ends a downlink frame)`);
    const raw = Math.trunc(value * 100);
    if (!Number.isFinite(raw) || raw < -32768 || raw > 32767) throw new CayenneLppError(`${key} = ${value} is out of range (-327.68..327.67)`);
    out.push(channel);
    writeBE(out, raw, 2);
  }
  return out;
}

/** Downlink decode: [channel][int16 BE] pairs until the end or a 0xFF channel byte. */
export function decodeDownlink(bytes: ArrayLike<number>): Record<string, number> {
  checkBytes(bytes);
  const out: Record<string, number> = {};
  let pos = 0;
  while (pos < bytes.length && bytes[pos] !== 0xff) {
    if (pos + 3 > bytes.length) throw new CayenneLppError(`truncated downlink frame: channel ${bytes[pos]} needs 2 value bytes at offset ${pos + 1}`);
    out[`value_${bytes[pos]}`] = readBE(bytes, pos + 1, 2, true) / 100;
    pos += 3;
  }
  return out;
}

export const cayenneLpp = { decode, encode, encodeDownlink, decodeDownlink, isLpp };
