import type { ApplicationUp, MessageType, Priority } from '../types';

/** One item of a push/replace request (tts-protocol.md §3.2). */
export interface DownlinkItem {
  f_port: number;
  /** Standard base64. Takes precedence over decoded_payload at TTS. */
  frm_payload?: string;
  /** Encoded by TTS's downlink formatter when frm_payload is absent. */
  decoded_payload?: Record<string, unknown>;
  priority?: Priority;
  confirmed?: boolean;
  correlation_ids?: string[];
  confirmed_retry?: { max_attempts?: number };
  class_b_c?: { gateways?: Array<{ gateway_ids: { gateway_id: string }; antenna_index?: number; group_index?: number }>; absolute_time?: string };
}

export type QueueOperation = 'push' | 'replace';

export interface QueueDownlinksRequest {
  operation: QueueOperation;
  applicationId: string;
  deviceId: string;
  /** With a webhook ID the webhook path is used (…/webhooks/{id}/devices/…), else the plain AS path. */
  webhookId?: string;
  /**
   * Absolute push or replace URL as TTS announced it in X-Downlink-Push / -Replace. When it is
   * on another origin than the client's server, `apiKey` must be given too, so the profile's key
   * is never sent to an address that only a webhook request named.
   */
  url?: string;
  /** Key for this call (e.g. X-Downlink-Apikey); defaults to the client's key. */
  apiKey?: string;
  downlinks: DownlinkItem[];
}

/** A message type's settings on a webhook; `{}` enables it and posts to base_url itself. */
export interface WebhookMessageSettings {
  path?: string;
}

export type WebhookMessageFields = { [K in MessageType]?: WebhookMessageSettings };

export interface ApplicationWebhookIds {
  application_ids: { application_id: string };
  webhook_id: string;
}

export interface ApplicationWebhook extends WebhookMessageFields {
  ids: ApplicationWebhookIds;
  base_url?: string;
  format?: string;
  headers?: Record<string, string>;
  downlink_api_key?: string;
  created_at?: string;
  updated_at?: string;
  paused?: boolean;
  health_status?: Record<string, unknown>;
  template_ids?: Record<string, unknown>;
  template_fields?: Record<string, string>;
  field_mask?: { paths?: string[] };
  queue?: { enabled?: boolean };
}

export interface SetApplicationWebhookRequest {
  webhook: ApplicationWebhook;
  field_mask: { paths: string[] };
}

export interface CreateApiKeyRequest {
  name: string;
  rights: string[];
  expires_at?: string;
}

export interface ApiKey {
  id: string;
  /** The full key; TTS shows it only in the creation answer. */
  key?: string;
  name?: string;
  rights?: string[];
  created_at?: string;
  updated_at?: string;
  expires_at?: string;
}

export const RIGHT_TRAFFIC_DOWN_WRITE = 'RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE';

/**
 * A Storage Integration query (GetStoredApplicationUpRequest, served at
 * `GET /as/applications/{app}[/devices/{dev}]/packages/storage/{type}`).
 */
export interface StoredMessagesQuery {
  /** Message type (the path segment); default `uplink_message`. TTS Cloud stores only uplinks. */
  type?: MessageType;
  /** One device instead of the whole application. */
  deviceId?: string;
  /** RFC 3339 bounds on received_at; not together with `last`. */
  after?: string;
  before?: string;
  /** A protobuf duration (`3600s`): messages of the last hour. Deprecated by TTS. */
  last?: string;
  limit?: number;
  order?: 'received_at' | '-received_at';
  fPort?: number;
  /** Paths such as `end_device_ids`, `received_at`, `up.uplink_message.decoded_payload`. */
  fieldMask?: string[];
}

/** One line of a streamed TTS answer (grpc-gateway): a result, or an error that ends the stream. */
export interface StreamedLine<T> {
  result?: T;
  error?: { code?: number; message?: string; details?: Array<Record<string, unknown>> };
}

export type StoredMessage = ApplicationUp;
