import path from 'node:path';
import { parseProfileConfig } from '../../src/profile/profile-settings';
import { profileRegistry, webhookInputs } from '../../src/runtime';
import { resolveEnvReference } from '../../src/util/env-reference';
import { onClose } from '../shared/input';
import { needsPermission, registerNode, type NodeAPI } from '../shared/red-types';
import { setUpProfileWebhook } from '../../src/profile/profile-webhook-setup';
import { sendError } from '../shared/errors';
import { NOT_FOUND, TtsError } from '../../src/util/errors';
import { BackfillService, type BackfillEvent } from '../../src/backfill';

import type { TtsProfileDef, TtsProfileNode } from './types';

export = (RED: NodeAPI): void => {
  // Backfill is one service per runtime, alive while a deployed profile enables it. It fills
  // gaps once every node runs (webhook-in registered as an input): on 'flows:started'.
  const profileNodes = new Map<string, TtsProfileNode>();
  const backfillUsers = new Set<TtsProfileNode>();
  let backfill: { service: BackfillService; stop: () => void } | undefined;
  const startBackfill = (): void => {
    if (backfill) return;
    const service = new BackfillService(
      {
        profileFor: (applicationId) => {
          const profile = profileRegistry.select(applicationId);
          if (!profile?.settings.backfill) return undefined;
          return { profileId: profile.settings.id, server: profile.settings.server, apiKey: profile.apiKey, maxHours: profile.settings.backfillMaxHours };
        },
        targetFor: (applicationId) => webhookInputs.forApplication(applicationId),
        report: (event) => reportBackfill(event),
      },
      { stateFile: path.join((RED.settings.userDir as string | undefined) ?? process.cwd(), 'tts-backfill.json') },
    );
    const onStarted = (): void => service.flowsStarted();
    RED.events.on('flows:started', onStarted);
    backfill = { service, stop: () => RED.events.removeListener('flows:started', onStarted) };
  };

  function reportBackfill(event: BackfillEvent): void {
    const node = 'profileId' in event ? profileNodes.get(event.profileId) : undefined;
    const log = (text: string): void => (node ? node.log(text) : RED.log.info(text));
    const warn = (text: string): void => (node ? node.warn(text) : RED.log.warn(text));
    switch (event.kind) {
      case 'started':
        log(RED._('tts-profile.backfill.started', { app: event.applicationId, from: event.from, to: event.to }));
        if (event.trimmedFrom) warn(RED._('tts-profile.backfill.trimmed', { app: event.applicationId, since: event.trimmedFrom, from: event.from }));
        break;
      case 'finished': {
        const { injected, skipped, refused, requests } = event.outcome;
        if (event.recheck && injected === 0 && refused === 0) break; // a second look that found nothing
        log(RED._('tts-profile.backfill.finished', { app: event.applicationId, injected, skipped, requests, seconds: (event.ms / 1000).toFixed(1) }));
        if (refused > 0) warn(RED._('tts-profile.backfill.refused', { app: event.applicationId, count: refused, reason: event.outcome.refusal ?? '' }));
        break;
      }
      case 'failed':
        if (event.notActivated) warn(RED._('tts-profile.backfill.not-activated', { app: event.applicationId }));
        else if (event.retryInMs !== undefined) warn(RED._('tts-profile.backfill.failed-retry', { app: event.applicationId, error: event.reason, seconds: Math.round(event.retryInMs / 1000) }));
        else warn(RED._('tts-profile.backfill.failed', { app: event.applicationId, error: event.reason }));
        break;
      case 'no-input':
        warn(RED._('tts-profile.backfill.no-input', { app: event.applicationId }));
        break;
      case 'incomplete-profile':
        warn(RED._(event.missing === 'server' ? 'tts-profile.backfill.no-server' : 'tts-profile.backfill.no-api-key', { app: event.applicationId }));
        break;
      case 'state-error':
        RED.log.warn(RED._('tts-profile.backfill.state-error', { error: event.message }));
        break;
    }
  }

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
    profileNodes.set(this.id, this);
    if (settings.backfill) {
      backfillUsers.add(this);
      startBackfill();
    }

    onClose(this, async () => {
      profileRegistry.remove(this.id, this.profile);
      if (profileNodes.get(this.id) === this) profileNodes.delete(this.id);
      backfillUsers.delete(this);
      if (backfill && backfillUsers.size === 0) {
        // Stopped or redeployed: the state is written; the next start opens the gap from it.
        const { service, stop } = backfill;
        backfill = undefined;
        stop();
        await service.close();
      } else {
        backfill?.service.flush();
      }
    });
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
      sendError(res, new TtsError(RED._('tts-profile.setup.not-deployed'), NOT_FOUND('not_deployed')));
      return;
    }
    const body = (req.body ?? {}) as { baseUrl?: unknown };
    const baseUrl = typeof body.baseUrl === 'string' ? body.baseUrl : '';
    setUpProfileWebhook(profile, baseUrl)
      .then((result) => res.json(result))
      .catch((err: unknown) => sendError(res, err));
  });
};
