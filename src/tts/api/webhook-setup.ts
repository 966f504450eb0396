import type { MessageType } from '../types';
import { RIGHT_TRAFFIC_DOWN_WRITE, type ApplicationWebhook } from './api-types';
import type { CallOptions, TtsApiClient } from './client';
import { buildWebhookRequest, WEBHOOK_MESSAGE_TYPES, type WebhookRequestOptions } from './webhook-request';

export interface WebhookSetupOptions extends Omit<WebhookRequestOptions, 'downlinkApiKey'> {
  /**
   * `auto` (default): create a downlink API key only when the webhook has none yet;
   * `create`: always create a fresh one; `keep`: never create one.
   */
  downlinkKey?: 'auto' | 'create' | 'keep';
}

/** A stored webhook as it may be shown in the browser: secrets replaced by markers. */
export interface PublicWebhook extends Omit<ApplicationWebhook, 'downlink_api_key' | 'headers'> {
  has_downlink_api_key: boolean;
  /** Header names; every value is replaced by "(hidden)". */
  headers: Record<string, string>;
}

export interface WebhookSetupResult {
  /** true when the webhook did not exist before. */
  created: boolean;
  webhook: PublicWebhook;
  /** The downlink key created for it (id, name and rights only; the key itself stays in TTS). */
  downlinkKey?: { id: string; name?: string; rights?: string[] };
  messageTypes: MessageType[];
}

export const DOWNLINK_KEY_RIGHTS = [RIGHT_TRAFFIC_DOWN_WRITE];

/**
 * Creates or updates this package's webhook in TTS with the profile's API key, creating a
 * downlink-only API key first when needed. The answer carries no secret, so an admin route can
 * return it to the browser as is.
 */
export async function setUpWebhook(client: TtsApiClient, options: WebhookSetupOptions, callOptions: CallOptions = {}): Promise<WebhookSetupResult> {
  // Validate everything locally before the first call changes anything in TTS.
  buildWebhookRequest(options);
  const existing = await client.findWebhook(options.applicationId, options.webhookId, ['base_url', 'downlink_api_key'], callOptions);
  const mode = options.downlinkKey ?? 'auto';
  const createKey = mode === 'create' || (mode === 'auto' && !existing?.downlink_api_key);

  let downlinkApiKey: string | undefined;
  let downlinkKey: WebhookSetupResult['downlinkKey'];
  if (createKey) {
    const key = await client.createApiKey(
      options.applicationId,
      { name: `node-red downlink ${options.webhookId}`.slice(0, 50), rights: DOWNLINK_KEY_RIGHTS },
      callOptions,
    );
    downlinkApiKey = key.key;
    downlinkKey = { id: key.id, name: key.name, rights: key.rights };
  }
  const request = buildWebhookRequest({ ...options, downlinkApiKey });
  const stored = await client.setWebhook(request, existing ? 'PUT' : 'POST', callOptions);
  return {
    created: !existing,
    webhook: publicWebhook(stored ?? request.webhook),
    downlinkKey,
    messageTypes: [...(options.messageTypes ?? WEBHOOK_MESSAGE_TYPES)],
  };
}

export function publicWebhook(webhook: ApplicationWebhook): PublicWebhook {
  const { downlink_api_key: downlinkApiKey, headers, ...rest } = webhook;
  const hidden: Record<string, string> = {};
  for (const name of Object.keys(headers ?? {})) hidden[name] = '(hidden)';
  return { ...rest, headers: hidden, has_downlink_api_key: typeof downlinkApiKey === 'string' && downlinkApiKey !== '' };
}
