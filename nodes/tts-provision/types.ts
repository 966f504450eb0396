import type { NodeDef } from 'node-red';

/** tts-provision's stored config: shared by the runtime, the tests and the flow factories. */
export interface TtsProvisionDef extends NodeDef {
  /** Fallback profile (used for applications without a profile of their own). */
  profile?: string;
  store: string;
}
