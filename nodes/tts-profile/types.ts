import type { Node, NodeDef } from 'node-red';
import type { ProfileConfig } from '../../src/profile/profile-settings';
import type { ActiveProfile } from '../../src/profile/profile-registry';

/** tts-profile's stored config: shared by the runtime, the tests and the flow factories. */
export type TtsProfileDef = NodeDef & ProfileConfig;

export interface TtsProfileCredentials {
  webhookToken?: string;
  apiKey?: string;
}

export interface TtsProfileNode extends Node<TtsProfileCredentials> {
  profile: ActiveProfile;
  /** Configuration errors found at start. */
  configErrors: string[];
}
