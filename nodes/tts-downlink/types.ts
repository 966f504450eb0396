import type { NodeDef } from 'node-red';
import type { DownlinkCodecKind, RawFormat } from '../../src/downlink';

/** tts-downlink's stored config: shared by the runtime, the editor, the tests and the examples. */
export interface TtsDownlinkDef extends NodeDef {
  /** Fallback profile (for applications without a profile of their own). */
  profile?: string;
  /** Where devices and their stored `downlink` property live (optional). */
  store?: string;
  codec?: DownlinkCodecKind;
  /** Encoder script (codec `script`). */
  script?: string;
  /** Fixed device: a registry id or `application-id/device-id` (optional). */
  device?: string;
  /** How raw strings are read (codec `raw`): auto, base64, hex. */
  rawFormat?: RawFormat;
  /** Seconds without a final outcome before a downlink is reported unconfirmed (text in the editor). */
  outcomeTimeout?: number | string;
  /** Second output: every lifecycle step (`all`, default) or only the final outcome (`final`). */
  report?: 'all' | 'final';
  /** Send the device's stored `downlink` property when it changes (sidebar, admin API, flows); needs a store. */
  onPropertyChange?: boolean;
  /** Script time limit per call, ms (text in the editor). */
  timeout?: number | string;
}
