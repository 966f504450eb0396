import type { ActiveProfile } from '../profile/profile-registry';
import type { DownlinkOrigin } from '../registry/registry';
import type { DeviceRecord } from '../store/types';
import type { DownlinkItem, QueueOperation } from '../tts/api/api-types';
import { TtsApiClient } from '../tts/api/client';
import { downlinkItemProblem, LORAWAN_MAX_DOWNLINK_BYTES } from '../tts/api/downlink-validation';
import type { RetryInfo } from '../tts/api/http';
import type { RetryPolicy } from '../tts/api/retry';
import type { DownlinkTarget } from '../tts/downlink-targets';
import { DOWNLINK_EVENT_TYPES, type Priority } from '../tts/types';
import { resolveDownlinkDevice, type DeviceLookup } from './device-target';
import type { DownlinkEncoder } from './encoder';
import { chooseEndpoint } from './endpoint';
import { DownlinkInputError } from './errors';
import { newCorrelationId, type DownlinkLifecycleTracker } from './lifecycle-tracker';
import { resolveSettings } from './settings';

/** The registry calls the sender uses: lookup, and the stored `downlink` property. */
export interface DownlinkRegistry extends DeviceLookup {
  /** `origin` 'downlink': the value is being sent, so it must not trigger a downlink on property change. */
  setDownlink(id: string, value: unknown, origin?: DownlinkOrigin): Promise<boolean>;
}

/** The message properties the downlink node reads. */
export interface DownlinkMessage {
  _msgid?: string;
  payload?: unknown;
  /** Only save payload as the device's `downlink` property (see storeDownlinkOnly). */
  storeOnly?: unknown;
  device?: unknown;
  tts?: unknown;
  fPort?: unknown;
  confirmed?: unknown;
  priority?: unknown;
  queue?: unknown;
}

export interface DownlinkSenderOptions {
  profiles: { select(applicationId: string, fallbackId?: string): ActiveProfile | undefined };
  targets: { get(applicationId: string): DownlinkTarget | undefined };
  registry?: DownlinkRegistry;
  encoder: DownlinkEncoder;
  tracker: DownlinkLifecycleTracker;
  /** The node's profile: used for applications without a profile of their own. */
  fallbackProfileId?: string;
  /** The node's fixed device. */
  configuredDevice?: string;
  /** Per attempt, ms. */
  requestTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  onRetry?: (info: RetryInfo) => void;
  now?: () => number;
}

/** What was queued: goes to msg.downlink. Holds no secret. */
export interface DownlinkResult {
  correlationId: string;
  applicationId: string;
  deviceId: string;
  /** Registry id, when the device is in the store. */
  device?: string;
  queue: QueueOperation;
  fPort: number;
  confirmed: boolean;
  priority: Priority;
  /** Base64 bytes sent, or… */
  frm_payload?: string;
  /** …the object left for TTS's downlink formatter. */
  decoded_payload?: Record<string, unknown>;
  /** Where the data came from. */
  data: 'msg.payload' | 'stored';
  /** msg.payload was saved as the device's `downlink` property. */
  stored: boolean;
  /** Why saving it failed (the downlink was still sent). */
  storeError?: string;
  endpoint: 'webhook-headers' | 'profile';
  /** The URL posted to (no key in it). */
  url: string;
  attempts: number;
  warnings: string[];
  logs: string[];
  /** When the request was made (ms since epoch). */
  requestedAt: number;
}

const present = (value: unknown): boolean => value !== undefined && value !== null;

/**
 * One downlink from a message: device → profile → settings and overrides → data (msg.payload or
 * the stored property) → encoding → guard-rails → store → track → POST push/replace.
 */
export class DownlinkSender {
  private readonly clients = new Map<string, TtsApiClient>();
  private readonly now: () => number;

  constructor(private readonly options: DownlinkSenderOptions) {
    this.now = options.now ?? Date.now;
  }

  async send(msg: DownlinkMessage, signal?: AbortSignal): Promise<DownlinkResult> {
    const o = this.options;
    const ttsType = (msg.tts as { type?: unknown } | undefined)?.type;
    if (typeof ttsType === 'string' && (DOWNLINK_EVENT_TYPES as readonly string[]).includes(ttsType)) {
      // Answering TTS's own downlink events with downlinks would loop (each one causes more events).
      throw new DownlinkInputError(
        `the message is a TTS ${ttsType} event, not sent as a downlink (it would loop): route only uplinks to this node, e.g. webhook-in with routing by type, or delete msg.tts`,
      );
    }
    const target = await resolveDownlinkDevice({ device: msg.device, tts: msg.tts, configured: o.configuredDevice }, o.registry);
    const { applicationId, deviceId, record } = target;
    const profile = o.profiles.select(applicationId, o.fallbackProfileId);
    if (!profile) {
      throw new DownlinkInputError(`no profile serves application "${applicationId}": deploy a profile with that application ID, or a Default profile (empty application ID)`);
    }
    const settings = resolveSettings(profile.settings, msg);

    const fromMessage = present(msg.payload);
    if (!fromMessage && target.lookupError) {
      throw new DownlinkInputError(`msg.payload is empty and the stored downlink of ${applicationId}/${deviceId} cannot be read: ${target.lookupError}`);
    }
    const data = fromMessage ? msg.payload : storedDownlink(record, applicationId, deviceId);
    const encoded = o.encoder.encode({ data, fPort: settings.fPort, device: record ?? { applicationId, deviceId } });
    const payload = encoded.payload;

    const correlationId = newCorrelationId();
    const fPort = settings.fPortFromMessage ? settings.fPort : (payload.fPort ?? settings.fPort);
    const item: DownlinkItem = {
      f_port: fPort,
      ...(payload.kind === 'bytes' ? { frm_payload: Buffer.from(payload.bytes).toString('base64') } : { decoded_payload: payload.decoded }),
      priority: settings.priority,
      confirmed: settings.confirmed,
      correlation_ids: [correlationId],
    };
    const problem = downlinkItemProblem(item, LORAWAN_MAX_DOWNLINK_BYTES);
    if (problem) throw new DownlinkInputError(`downlink to ${applicationId}/${deviceId} not sent: ${problem}`);
    if (payload.kind === 'bytes' && payload.bytes.length === 0) throw new DownlinkInputError(`downlink to ${applicationId}/${deviceId} not sent: the payload is empty`);

    // The data is valid: it becomes the device's stored configuration, whatever TTS answers, so a
    // later message without payload sends it again.
    let stored = false;
    let storeError = fromMessage ? target.lookupError : undefined;
    if (fromMessage && record && o.registry) {
      try {
        stored = await o.registry.setDownlink(record.id, msg.payload, 'downlink');
      } catch (err) {
        storeError = (err as Error).message;
      }
    }

    const endpoint = chooseEndpoint(o.targets.get(applicationId), applicationId, deviceId, settings.queue, {
      server: profile.settings.server,
      webhookId: profile.settings.webhookId,
      apiKey: profile.apiKey,
    });
    const client = this.client(profile.settings.server, profile.apiKey);
    const requestedAt = this.now();
    o.tracker.track({
      correlationId,
      ...(msg._msgid ? { msgid: msg._msgid } : {}),
      applicationId,
      deviceId,
      ...(record ? { device: record.id } : {}),
      confirmed: settings.confirmed,
      fPort,
      priority: settings.priority,
      queue: settings.queue,
      requestedAt,
    });
    let answer;
    try {
      answer = await client.queueDownlinks(
        {
          operation: settings.queue,
          applicationId,
          deviceId,
          ...(endpoint.source === 'webhook-headers' ? { url: endpoint.url, apiKey: endpoint.apiKey } : { webhookId: profile.settings.webhookId }),
          downlinks: [item],
        },
        { signal },
      );
    } catch (err) {
      o.tracker.forget(correlationId);
      throw err;
    }
    return {
      correlationId,
      applicationId,
      deviceId,
      ...(record ? { device: record.id } : {}),
      queue: settings.queue,
      fPort,
      confirmed: settings.confirmed,
      priority: settings.priority,
      ...(item.frm_payload !== undefined ? { frm_payload: item.frm_payload } : { decoded_payload: item.decoded_payload }),
      data: fromMessage ? 'msg.payload' : 'stored',
      stored,
      ...(storeError ? { storeError } : {}),
      endpoint: endpoint.source,
      url: answer.url,
      attempts: answer.attempts,
      warnings: encoded.warnings,
      logs: encoded.logs,
      requestedAt,
    };
  }

  /** One client (one axios instance) per server and key; keys stay in memory only. */
  private client(server: string, apiKey: string): TtsApiClient {
    const key = `${server}\n${apiKey}`;
    let client = this.clients.get(key);
    if (!client) {
      client = new TtsApiClient({
        server,
        apiKey,
        ...(this.options.requestTimeoutMs !== undefined ? { timeoutMs: this.options.requestTimeoutMs } : {}),
        ...(this.options.retry ? { retry: this.options.retry } : {}),
        ...(this.options.onRetry ? { onRetry: this.options.onRetry } : {}),
      });
      this.clients.set(key, client);
    }
    return client;
  }
}

function storedDownlink(record: DeviceRecord | undefined, applicationId: string, deviceId: string): unknown {
  if (!record) {
    throw new DownlinkInputError(`msg.payload is empty and ${applicationId}/${deviceId} is not in the device registry, so there is no stored downlink to send`);
  }
  if (!present(record.downlink)) {
    throw new DownlinkInputError(`msg.payload is empty and device "${record.id}" has no stored downlink property (set one by sending a payload, or with the profile's initial downlink data)`);
  }
  return record.downlink;
}
