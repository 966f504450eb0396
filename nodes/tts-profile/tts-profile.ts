import { parseProfileConfig } from '../../src/profile/profile-settings';
import { profileRegistry } from '../../src/runtime';
import { resolveEnvReference } from '../../src/util/env-reference';
import { onClose } from '../shared/input';
import { needsPermission, registerNode, type NodeAPI } from '../shared/red-types';
import { setUpProfileWebhook } from '../../src/profile/profile-webhook-setup';
import { sendError } from '../shared/errors';

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

  registerNode(RED, 'tts-profile', TtsProfile, {
    credentials: {
      webhookToken: { type: 'password' },
      apiKey: { type: 'password' },
    },
  });

  // "Create / update webhook in TTS" in the profile dialog. Uses the deployed profile's
  // credentials, which never travel to the browser; the answer carries no secret either.
  RED.httpAdmin.post('/tts/profile/:id/webhook', needsPermission(RED, 'tts-profile.write'), (req, res) => {
    const profile = profileRegistry.get(String(req.params.id));
    if (!profile) {
      sendError(res, 404, 'not_deployed', RED._('tts-profile.setup.not-deployed'));
      return;
    }
    const body = (req.body ?? {}) as { baseUrl?: unknown };
    const baseUrl = typeof body.baseUrl === 'string' ? body.baseUrl : '';
    setUpProfileWebhook(profile, baseUrl)
      .then((result) => res.json(result))
      .catch((err: unknown) => sendError(res, err));
  });
};
