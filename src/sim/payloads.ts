/**
 * Uplink payloads the simulated devices send:
 * - `temperature-humidity`: DESIGN.md's example, temperature and humidity as signed 16-bit
 *   little-endian integers ×100 (4 bytes), no TTS-side decoding;
 * - `cayenne-lpp`: the same readings plus pressure as a Cayenne LPP frame, left for Node-RED to
 *   decode;
 * - `tts-decoded`: a Cayenne LPP frame with a GPS channel, decoded by TTS's CayenneLPP formatter
 *   (decoded_payload present, keys `<name>_<channel>`).
 */
export const PAYLOAD_KINDS = ['temperature-humidity', 'cayenne-lpp', 'tts-decoded'] as const;
export type PayloadKind = (typeof PAYLOAD_KINDS)[number];

export interface Reading {
  temperature: number;
  humidity: number;
  pressure: number;
  latitude: number;
  longitude: number;
  altitude: number;
}

export interface EncodedUplink {
  fPort: number;
  bytes: Buffer;
  decoded?: Record<string, unknown>;
}

/** Moves a reading a small random step, within plausible bounds. */
export function nextReading(prev: Reading, random: () => number = Math.random): Reading {
  const step = (value: number, size: number, min: number, max: number): number => Math.min(max, Math.max(min, value + (random() - 0.5) * 2 * size));
  return {
    temperature: round(step(prev.temperature, 0.4, -20, 45), 2),
    humidity: round(step(prev.humidity, 1.5, 5, 99), 1),
    pressure: round(step(prev.pressure, 0.6, 950, 1050), 1),
    latitude: round(step(prev.latitude, 0.0002, -89, 89), 4),
    longitude: round(step(prev.longitude, 0.0002, -179, 179), 4),
    altitude: round(step(prev.altitude, 0.5, 0, 500), 1),
  };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function encodeUplink(kind: PayloadKind, r: Reading): EncodedUplink {
  switch (kind) {
    case 'temperature-humidity': {
      const bytes = Buffer.alloc(4);
      bytes.writeInt16LE(Math.round(r.temperature * 100), 0);
      bytes.writeInt16LE(Math.round(r.humidity * 100), 2);
      return { fPort: 1, bytes };
    }
    case 'cayenne-lpp':
      return { fPort: 2, bytes: lpp(r, false) };
    case 'tts-decoded': {
      const bytes = lpp(r, true);
      return { fPort: 2, bytes, decoded: decodeLppAsTts(bytes) };
    }
  }
}

// Cayenne LPP frame: ch1 temperature (0x67), ch2 humidity (0x68), ch3 pressure (0x73), and
// optionally ch4 GPS (0x88).
function lpp(r: Reading, withGps: boolean): Buffer {
  const parts: Buffer[] = [];
  const temp = Buffer.alloc(4);
  temp.writeUInt8(1, 0);
  temp.writeUInt8(0x67, 1);
  temp.writeInt16BE(Math.round(r.temperature * 10), 2);
  parts.push(temp);
  parts.push(Buffer.from([2, 0x68, Math.round(r.humidity * 2) & 0xff]));
  const press = Buffer.alloc(4);
  press.writeUInt8(3, 0);
  press.writeUInt8(0x73, 1);
  press.writeUInt16BE(Math.round(r.pressure * 10), 2);
  parts.push(press);
  if (withGps) {
    const gps = Buffer.alloc(11);
    gps.writeUInt8(4, 0);
    gps.writeUInt8(0x88, 1);
    gps.writeIntBE(Math.round(r.latitude * 10_000), 2, 3);
    gps.writeIntBE(Math.round(r.longitude * 10_000), 5, 3);
    gps.writeIntBE(Math.round(r.altitude * 100), 8, 3);
    parts.push(gps);
  }
  return Buffer.concat(parts);
}

/** What TTS's CayenneLPP formatter outputs for the frames built above (tts-protocol.md §6.2). */
function decodeLppAsTts(bytes: Buffer): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let i = 0;
  while (i < bytes.length) {
    const channel = bytes[i];
    const type = bytes[i + 1];
    i += 2;
    if (type === 0x67) {
      out[`temperature_${channel}`] = bytes.readInt16BE(i) / 10;
      i += 2;
    } else if (type === 0x68) {
      out[`relative_humidity_${channel}`] = bytes[i] / 2;
      i += 1;
    } else if (type === 0x73) {
      out[`barometric_pressure_${channel}`] = bytes.readInt16BE(i) / 10;
      i += 2;
    } else if (type === 0x88) {
      out[`gps_${channel}`] = { latitude: bytes.readIntBE(i, 3) / 10_000, longitude: bytes.readIntBE(i + 3, 3) / 10_000, altitude: bytes.readIntBE(i + 6, 3) / 100 };
      i += 9;
    } else {
      throw new Error(`unsupported LPP type ${type}`);
    }
  }
  return out;
}

/**
 * TTS's CayenneLPP downlink formatter: `value_<channel>` numbers → `[channel][int16 BE of
 * trunc(value × 100)]`; other keys are ignored.
 */
export function encodeLppDownlink(data: Record<string, unknown>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of Object.entries(data)) {
    const m = /^value_(\d{1,3})$/.exec(key);
    if (!m || typeof value !== 'number' || !Number.isFinite(value) || Number(m[1]) > 255) continue;
    const part = Buffer.alloc(3);
    part.writeUInt8(Number(m[1]), 0);
    part.writeInt16BE(Math.max(-32768, Math.min(32767, Math.trunc(value * 100))), 1);
    parts.push(part);
  }
  return Buffer.concat(parts);
}

/** The matching downlink decoder: `[channel][int16]` pairs until the end or channel 0xFF. */
export function decodeLppDownlink(bytes: Buffer): Record<string, number> | undefined {
  const out: Record<string, number> = {};
  let i = 0;
  while (i < bytes.length && bytes[i] !== 0xff) {
    if (i + 3 > bytes.length) return undefined;
    out[`value_${bytes[i]}`] = bytes.readInt16BE(i + 1) / 100;
    i += 3;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
