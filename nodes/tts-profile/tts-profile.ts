import type { NodeAPI } from '../shared/red-types';
import { parseProfileConfig } from '../../src/profile/profile-settings';
import { profileRegistry } from '../../src/profile/profile-registry';
import { resolveEnvReference } from '../../src/util/env-reference';
import { onClose } from '../shared/input';

import type { TtsProfileDef, TtsProfileNode } from './types';

export = (RED: NodeAPI): void => {
  function TtsProfile(this: TtsProfileNode, config: TtsProfileDef): void {
    RED.nodes.createNode(this, config);
    const lookup = (name: string): unknown => RED.util.getSetting(this, name);
    const { settings, errors } = parseProfileConfig(this.id, config);
    this.profile = {
      settings,
      webhookToken: resolveEnvReference(this.credentials?.webhookToken, lookup),
      apiKey: resolveEnvReference(this.credentials?.apiKey, lookup),
    };
    this.configErrors = errors;
    if (this.profile.webhookToken === '') errors.push('no webhook token is set: TTS requests cannot be authenticated');
    profileRegistry.add(this.profile);
    const conflict = profileRegistry.conflictFor(this.profile);
    if (conflict) errors.push(conflict);
    for (const error of errors) this.error(RED._('tts-profile.errors.config', { error }));

    onClose(this, () => profileRegistry.remove(this.id, this.profile));
  }

  RED.nodes.registerType('tts-profile', TtsProfile as unknown as Parameters<NodeAPI['nodes']['registerType']>[1], {
    credentials: {
      webhookToken: { type: 'password' },
      apiKey: { type: 'password' },
    },
  });
};
