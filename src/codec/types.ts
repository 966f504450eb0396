// Public types of the codec engine. Results follow the LoRaWAN codec API that TTS and the device
// repository use ({data, warnings, errors} / {bytes, fPort, warnings, errors}), with two additions
// every caller needs: the script's console output (`logs`) and a structured `error`.
import type { DecodeResult, EncodeResult } from './sandbox/results';

// The results are defined beside the sandbox that produces them, so that it needs nothing from this folder.
export type { CodecError, CodecErrorKind, DecodeResult, EncodeResult } from './sandbox/results';

/** How a user script was written (detected from what it defines). */
export type ScriptForm = 'tts' | 'plugin' | 'ttn-v2';

/** Input of an uplink decode. Extra keys are handed to the script as given (TTS does the same). */
export interface UplinkInput {
  bytes: ArrayLike<number>;
  fPort?: number;
  recvTime?: Date;
  /** Plugin form: the object TTS already decoded (passed instead of the base64 payload). */
  decodedPayload?: Record<string, unknown>;
  /** Plugin form: the TTS message handed to `uplink(payload, message)`. */
  message?: unknown;
  [key: string]: unknown;
}

/** Input of a downlink encode. Extra keys are handed to the script as given. */
export interface DownlinkEncodeInput {
  data: unknown;
  fPort?: number;
  /** Plugin form: the device record handed to `downlink(payload, device)`. */
  device?: unknown;
  [key: string]: unknown;
}

export interface DownlinkDecodeInput {
  bytes: ArrayLike<number>;
  fPort?: number;
  [key: string]: unknown;
}

export interface CodecOptions {
  /** Time limit per call in ms (default 100, as in TTS). */
  timeout?: number;
  /** Name used in stack traces and error messages (e.g. the node id). */
  filename?: string;
  /**
   * Evaluate the script's top level afresh for every message, as TTS does (default true).
   * `false` keeps one instance, so top-level state survives between messages.
   */
  freshScope?: boolean;
  /** Largest output accepted, counted in JSON characters (default 1 MiB). */
  maxOutputSize?: number;
  /** Longest time one protected batch keeps taking new messages, in ms (default min(timeout, 10)). */
  batchSliceMs?: number;
}

/** The TTS-codec-API-shaped engine: the same whatever form the script was written in. */
export interface Codec {
  readonly form: ScriptForm | 'cayennelpp' | 'passthrough';
  /** Which operations the source defines. */
  readonly capabilities: { decodeUplink: boolean; encodeDownlink: boolean; decodeDownlink: boolean };
  /** One protected call. */
  decodeUplink(input: UplinkInput): DecodeResult;
  encodeDownlink(input: DownlinkEncodeInput): EncodeResult;
  decodeDownlink(input: DownlinkDecodeInput): DecodeResult;
  /** Many inputs under as few protected runs as the time limit allows. */
  decodeUplinkBatch(inputs: UplinkInput[]): DecodeResult[];
  /** Queues the input and decodes everything queued in the same event-loop turn in one batch (in the codec thread). */
  decodeUplinkQueued(input: UplinkInput): Promise<DecodeResult>;
  /** Frees what queued decodes hold (the script's copy in the codec thread). */
  close(): void;
}
