import { TtsApiClient } from '../tts/api/client';
import { setUpWebhook, type WebhookSetupResult } from '../tts/api/webhook-setup';
import { WebhookConfigError } from '../tts/api/webhook-request';
import type { ActiveProfile } from './profile-registry';

/**
 * "Create / update webhook in TTS" for a deployed profile: its server, application ID, webhook
 * ID, API key and webhook token, and the public URL of a webhook-in node. What is missing is
 * reported before anything is sent.
 */
export async function setUpProfileWebhook(
  profile: ActiveProfile,
  baseUrl: string,
  clientOptions: { timeoutMs?: number } = {},
): Promise<WebhookSetupResult> {
  const { settings } = profile;
  if (!settings.server) throw new WebhookConfigError('set the profile\'s TTS server (e.g. eu1.cloud.thethings.network) and deploy');
  if (!settings.applicationId) throw new WebhookConfigError('the Default profile serves any application: give the profile an application ID to create its webhook');
  if (!settings.webhookId) throw new WebhookConfigError('set the profile\'s webhook ID (e.g. node-red) and deploy');
  if (!profile.apiKey) throw new WebhookConfigError('set the profile\'s TTS API key (with rights to manage webhooks and API keys) and deploy');
  if (!profile.webhookToken) throw new WebhookConfigError('set or generate the profile\'s webhook token and deploy');
  const client = new TtsApiClient({ server: settings.server, apiKey: profile.apiKey, timeoutMs: clientOptions.timeoutMs });
  return setUpWebhook(client, {
    applicationId: settings.applicationId,
    webhookId: settings.webhookId,
    baseUrl,
    webhookToken: profile.webhookToken,
  });
}
