import type { NodeDef } from 'node-red';
import type { RoutingMode } from '../../src/webhook/output-routing';

/** tts-webhook-in's stored config: shared by the runtime, the tests and the flow factories. */
export interface TtsWebhookInDef extends NodeDef {
  path: string;
  profile?: string;
  routing?: RoutingMode;
  /** Body size limit in KiB (the editor stores text). */
  maxBody?: string | number;
}
