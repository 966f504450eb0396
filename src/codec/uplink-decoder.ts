// What tts-uplink-decode does with one message, without Node-RED: choose the decoder for the
// node's `codec` setting, build the codec input from the message, decode.
import { cayenneLpp } from './cayenne-lpp';
import { CodecLoadError, cayenneLppCodec, createCodec, passthroughCodec } from './create-codec';
import { bytesFromValue, PayloadInputError } from './payload-input';
import type { Codec, CodecError, DecodeResult, UplinkInput } from './types';
import type { TtsEnvelope } from '../tts/envelope-types';

export type DecoderMode = 'auto' | 'script' | 'cayennelpp' | 'passthrough';
export const DECODER_MODES: readonly DecoderMode[] = ['auto', 'script', 'cayennelpp', 'passthrough'];

export interface UplinkDecoderOptions {
  mode: DecoderMode;
  script: string;
  timeout: number;
  filename?: string;
}

export interface DecodeOutcome extends DecodeResult {
  /** Which decoder produced the result. */
  decoder: 'script' | 'cayennelpp' | 'passthrough' | 'none';
}

/** The parts of a Node-RED message the decoder reads. */
export interface DecodableMessage {
  tts?: Partial<TtsEnvelope>;
  payload?: unknown;
  fPort?: unknown;
}

export function isDecoderMode(value: unknown): value is DecoderMode {
  return typeof value === 'string' && (DECODER_MODES as readonly string[]).includes(value);
}

/**
 * Codec input from a message: from `msg.tts` (what tts-webhook-in sends) when present, else from
 * `msg.payload` (Buffer, byte array or base64) and `msg.fPort`. Throws PayloadInputError.
 */
export function uplinkInputFromMessage(msg: DecodableMessage): UplinkInput {
  const tts = msg.tts;
  if (tts && typeof tts === 'object') {
    if (tts.type !== undefined && tts.type !== 'uplink_message') {
      throw new PayloadInputError(`msg.tts is a ${String(tts.type)} message; only uplink_message carries a payload to decode`);
    }
    const bytes = tts.frm_payload === undefined ? [] : bytesFromValue(tts.frm_payload);
    const input: UplinkInput = { bytes, fPort: typeof tts.f_port === 'number' ? tts.f_port : 0 };
    const received = tts.received_at ? new Date(tts.received_at) : undefined;
    if (received && !Number.isNaN(received.getTime())) input.recvTime = received;
    if (tts.decoded_payload && typeof tts.decoded_payload === 'object') input.decodedPayload = tts.decoded_payload;
    if (tts.message && typeof tts.message === 'object') input.message = tts.message;
    return input;
  }
  const fPort = msg.fPort === undefined ? 0 : Number(msg.fPort);
  if (!Number.isInteger(fPort) || fPort < 0 || fPort > 255) throw new PayloadInputError(`msg.fPort must be an integer 0..255, got ${JSON.stringify(msg.fPort)}`);
  return { bytes: bytesFromValue(msg.payload), fPort };
}

function failed(error: CodecError, decoder: DecodeOutcome['decoder']): DecodeOutcome {
  return { warnings: [], errors: [error.message], error, logs: [], decoder };
}

export class UplinkDecoder {
  /** Set when the script did not load; every message then fails with it. */
  readonly loadError: CodecLoadError | undefined;
  /** The form the script was written in, when the mode uses a script. */
  get form(): Codec['form'] | undefined {
    return this.script?.form;
  }
  private readonly script: Codec | undefined;

  constructor(private readonly options: UplinkDecoderOptions) {
    const source = options.script ?? '';
    const needsScript = options.mode === 'script' || (options.mode === 'auto' && source.trim() !== '');
    if (!needsScript) return;
    try {
      this.script = createCodec(source, {
        timeout: options.timeout,
        filename: options.filename ?? 'codec.js',
      });
      if (!this.script.capabilities.decodeUplink) {
        throw new CodecLoadError({ kind: 'form', message: 'the script defines no uplink decoder (decodeUplink, module.exports.uplink or Decoder)' });
      }
    } catch (err) {
      this.script = undefined;
      this.loadError = err instanceof CodecLoadError ? err : new CodecLoadError({ kind: 'compile', message: String(err) });
    }
  }

  close(): void {
    this.script?.close();
  }

  /** Decodes one input (script decodes go to the codec thread, with the others of the same turn). */
  async decode(input: UplinkInput): Promise<DecodeOutcome> {
    const outcome = this.withoutScript(input);
    if (outcome) return outcome;
    return { ...(await this.script!.decodeUplinkQueued(input)), decoder: 'script' };
  }

  /** Decodes one input here and now: for the edit dialog's test tool, whose timing the user reads. */
  decodeNow(input: UplinkInput): DecodeOutcome {
    return this.withoutScript(input) ?? { ...this.script!.decodeUplink(input), decoder: 'script' };
  }

  /** The outcome of every case but a loaded script's decode (undefined: the script decodes). */
  private withoutScript(input: UplinkInput): DecodeOutcome | undefined {
    const mode = this.options.mode;
    const hasTtsDecode = input.decodedPayload !== undefined;
    if (mode === 'passthrough' || (mode === 'auto' && hasTtsDecode)) return { ...passthroughCodec.decodeUplink(input), decoder: 'passthrough' };
    if (mode === 'cayennelpp') return { ...cayenneLppCodec.decodeUplink(input), decoder: 'cayennelpp' };
    if (this.loadError) return failed(this.loadError.codecError, 'script');
    if (this.script) return undefined;
    // auto without a script
    if (cayenneLpp.isLpp(input.bytes)) return { ...cayenneLppCodec.decodeUplink(input), decoder: 'cayennelpp' };
    return failed(
      { kind: 'form', message: 'nothing to decode with: TTS sent no decoded_payload, the node has no script, and the bytes are not Cayenne LPP' },
      'none',
    );
  }
}
