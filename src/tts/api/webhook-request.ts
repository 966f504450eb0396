import { isTtsId } from '../protocol';
import { MESSAGE_TYPES, type MessageType } from '../types';
import type { ApplicationWebhook, SetApplicationWebhookRequest } from './api-types';
import { TtsError } from '../../util/errors';

/**
 * The message types this package handles. `uplink_normalized` is left out: TTS would post it once
 * per normalized measurement in addition to the uplink itself, doubling the traffic.
 */
export const WEBHOOK_MESSAGE_TYPES: readonly MessageType[] = MESSAGE_TYPES.filter((t) => t !== 'uplink_normalized');

export interface WebhookRequestOptions {
  applicationId: string;
  webhookId: string;
  /** Public URL of this Node-RED's webhook endpoint (e.g. `https://nodered.example.net/tts`). */
  baseUrl: string;
  /** Sent by TTS as `Authorization: Bearer <token>` and checked by tts-webhook-in. */
  webhookToken?: string;
  /** Key TTS hands back in X-Downlink-Apikey; omitted = keep the webhook's current key. */
  downlinkApiKey?: string;
  messageTypes?: readonly MessageType[];
  /** Per-type path appended to baseUrl; default none (every type posts to baseUrl itself). */
  paths?: Partial<Record<MessageType, string>>;
}

const HEADER_SAFE = /^[\x20-\x7e]+$/;

/** A webhook definition that cannot be sent; its message never contains the token or key. */
export class WebhookConfigError extends TtsError {
  constructor(message: string) {
    super(message, { code: 'webhook_config', httpStatus: 400, statusKey: 'invalid' });
    this.name = 'WebhookConfigError';
  }
}

/**
 * Builds the SetApplicationWebhookRequest for this package. The field mask names every message
 * type, so types not enabled here are switched off on an existing webhook, and it names
 * `headers`, which replaces the webhook's whole header map.
 */
export function buildWebhookRequest(options: WebhookRequestOptions): SetApplicationWebhookRequest {
  const applicationId = options.applicationId?.trim() ?? '';
  const webhookId = options.webhookId?.trim() ?? '';
  if (!isTtsId(applicationId)) throw new WebhookConfigError('the profile needs a valid application ID to create a webhook (the Default profile cannot)');
  if (!isTtsId(webhookId)) throw new WebhookConfigError('webhook ID must be 3-36 lower-case letters, digits and dashes');
  const baseUrl = checkBaseUrl(options.baseUrl);

  const headers: Record<string, string> = {};
  if (options.webhookToken !== undefined && options.webhookToken !== '') {
    const value = `Bearer ${options.webhookToken}`;
    if (!HEADER_SAFE.test(value) || value.length > 4096) throw new WebhookConfigError('the webhook token contains characters not allowed in a header, or is too long');
    headers.Authorization = value;
  }

  const types = options.messageTypes ?? WEBHOOK_MESSAGE_TYPES;
  for (const type of types) if (!(MESSAGE_TYPES as readonly string[]).includes(type)) throw new WebhookConfigError(`unknown message type "${type}"`);

  const webhook: ApplicationWebhook = {
    ids: { application_ids: { application_id: applicationId }, webhook_id: webhookId },
    base_url: baseUrl,
    format: 'json',
    headers,
  };
  const paths = ['base_url', 'format', 'headers'];
  if (options.downlinkApiKey !== undefined) {
    if (options.downlinkApiKey.length > 128 || !HEADER_SAFE.test(options.downlinkApiKey)) throw new WebhookConfigError('the downlink API key is not a valid key');
    webhook.downlink_api_key = options.downlinkApiKey;
    paths.push('downlink_api_key');
  }
  for (const type of MESSAGE_TYPES) {
    paths.push(type);
    if (!types.includes(type)) continue;
    const path = options.paths?.[type];
    if (path !== undefined && path !== '') {
      if (path.length > 64) throw new WebhookConfigError(`path for ${type} is longer than 64 characters`);
      webhook[type] = { path };
    } else {
      webhook[type] = {};
    }
  }
  return { webhook, field_mask: { paths } };
}

function checkBaseUrl(input: string | undefined): string {
  const text = (input ?? '').trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new WebhookConfigError('the webhook base URL must be an absolute http(s) address, e.g. https://nodered.example.net/tts');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new WebhookConfigError('the webhook base URL must use https (or http)');
  if (url.username || url.password) throw new WebhookConfigError('the webhook base URL must not contain a user or password');
  if (url.hash) throw new WebhookConfigError('the webhook base URL must not contain a fragment');
  return text;
}
