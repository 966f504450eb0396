import { CayenneLppError, CodecLoadError, cayenneLpp, createCodec, type Codec } from '../codec';
import { DownlinkEncodeError, DownlinkInputError } from './errors';
import { rawPayload, toBytes, type EncodedPayload, type RawFormat } from './raw-payload';

export type DownlinkCodecKind = 'script' | 'cayennelpp' | 'raw';
export const DOWNLINK_CODECS: readonly DownlinkCodecKind[] = ['script', 'cayennelpp', 'raw'];

export interface DownlinkEncoderConfig {
  codec: DownlinkCodecKind;
  /** The user's encoder (any script form the codec engine knows). */
  script?: string;
  /** How raw strings are read. */
  rawFormat?: RawFormat;
  /** Script time limit per call, ms (codec engine default 100). */
  timeout?: number;
  /** Name in script stack traces (the node id). */
  filename?: string;
}

export interface EncodeInput {
  /** The downlink data: msg.payload or the device's stored `downlink` property. */
  data: unknown;
  /** The port the downlink would use (msg.fPort or the profile's); the script may choose another. */
  fPort: number;
  /** Plugin form's second argument: the device record. */
  device?: unknown;
}

export interface EncodeOutput {
  payload: EncodedPayload;
  warnings: string[];
  /** console.* output of the script. */
  logs: string[];
}

/**
 * Turns downlink data into bytes (or a decoded_payload for TTS to encode) with the node's
 * codec. A script is compiled once, when the encoder is made; a script that does not compile
 * makes the constructor throw DownlinkEncodeError with the position in the script.
 */
export class DownlinkEncoder {
  readonly codec: DownlinkCodecKind;
  private readonly script?: Codec;
  private readonly rawFormat: RawFormat;

  constructor(config: DownlinkEncoderConfig) {
    if (!DOWNLINK_CODECS.includes(config.codec)) throw new DownlinkEncodeError(`unknown codec "${String(config.codec)}" (expected ${DOWNLINK_CODECS.join(', ')})`);
    this.codec = config.codec;
    this.rawFormat = config.rawFormat ?? 'auto';
    if (config.codec === 'script') {
      const source = config.script ?? '';
      if (source.trim() === '') throw new DownlinkEncodeError('the encoder script is empty');
      try {
        this.script = createCodec(source, {
          ...(config.timeout !== undefined ? { timeout: config.timeout } : {}),
          ...(config.filename ? { filename: config.filename } : {}),
        });
      } catch (err) {
        if (err instanceof CodecLoadError) throw new DownlinkEncodeError(err.message, err.codecError.line, err.codecError.column);
        throw new DownlinkEncodeError((err as Error).message);
      }
      if (!this.script.capabilities.encodeDownlink) {
        throw new DownlinkEncodeError('the script defines no downlink encoder: expected module.exports.downlink, encodeDownlink or Encoder');
      }
    }
  }

  encode(input: EncodeInput): EncodeOutput {
    if (input.data === undefined || input.data === null) throw new DownlinkInputError('there is no downlink data to encode');
    switch (this.codec) {
      case 'raw':
        return { payload: rawPayload(input.data, this.rawFormat), warnings: [], logs: [] };
      case 'cayennelpp':
        return { payload: { kind: 'bytes', bytes: encodeLpp(input.data) }, warnings: [], logs: [] };
      case 'script':
        return this.runScript(input);
    }
  }

  private runScript(input: EncodeInput): EncodeOutput {
    const result = this.script!.encodeDownlink({ data: input.data, fPort: input.fPort, ...(input.device !== undefined ? { device: input.device } : {}) });
    if (result.errors.length > 0 || result.error) {
      const first = result.error?.message ?? result.errors[0];
      const more = result.errors.length > 1 ? ` (and ${result.errors.length - 1} more)` : '';
      throw new DownlinkEncodeError(`encoder script: ${first}${more}`, result.error?.line, result.error?.column, result.logs);
    }
    const fPort = result.fPort;
    if (fPort !== undefined && typeof fPort !== 'number') throw new DownlinkEncodeError(`encoder script returned fPort ${JSON.stringify(fPort)}, not a number`);
    let payload: EncodedPayload;
    if (result.decodedPayload !== undefined) {
      const decoded = result.decodedPayload;
      if (decoded === null || typeof decoded !== 'object' || Array.isArray(decoded)) throw new DownlinkEncodeError('encoder script returned a decoded_payload that is not an object');
      payload = { kind: 'decoded', decoded, ...(fPort !== undefined ? { fPort } : {}) };
    } else if (result.bytes !== undefined) {
      try {
        payload = { kind: 'bytes', bytes: toBytes(result.bytes, 'bytes returned by the encoder script'), ...(fPort !== undefined ? { fPort } : {}) };
      } catch (err) {
        throw new DownlinkEncodeError((err as Error).message);
      }
    } else {
      throw new DownlinkEncodeError('encoder script returned no bytes');
    }
    return { payload, warnings: result.warnings, logs: result.logs };
  }
}

/**
 * Cayenne LPP: `{ value_<channel>: number }` objects are encoded the way TTS's CayenneLPP
 * downlink formatter does ([channel][int16 × 100]); typed keys (`digital_out_3`,
 * `analog_out_4` …) become a regular LPP frame.
 */
export function encodeLpp(data: unknown): Uint8Array {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new DownlinkInputError('Cayenne LPP needs an object such as { "value_1": 12.5 } or { "digital_out_3": 1 }');
  const keys = Object.keys(data);
  if (keys.length === 0) throw new DownlinkInputError('Cayenne LPP: the object has no values to encode');
  try {
    const valueForm = keys.every((k) => /^value_\d{1,3}$/.test(k));
    const bytes = valueForm ? cayenneLpp.encodeDownlink(data as Record<string, unknown>) : cayenneLpp.encode(data as Record<string, unknown>);
    if (bytes.length === 0) throw new DownlinkInputError('Cayenne LPP: no numeric value_<channel> entries to encode');
    return Uint8Array.from(bytes);
  } catch (err) {
    if (err instanceof CayenneLppError) throw new DownlinkInputError(`Cayenne LPP: ${err.message}`);
    throw err;
  }
}
