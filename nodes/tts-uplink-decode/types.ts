import type { NodeDef } from 'node-red';
import type { DecoderMode } from '../../src/codec/uplink-decoder';

/** tts-uplink-decode's stored config: shared by the runtime, the tests and the flow factories. */
export interface TtsUplinkDecodeDef extends NodeDef {
  codec: DecoderMode;
  script: string;
  /** Time limit per message in ms; empty = RED.settings.ttsUplinkDecodeTimeout, then 100. */
  timeout?: string | number;
  /** Editor only: syntax errors Monaco found when the dialog was saved. */
  noerr?: number;
}
