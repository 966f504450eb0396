import type { QueueOperation } from '../tts/api/api-types';
import type { DownlinkTarget } from '../tts/downlink-targets';
import { DownlinkInputError } from './errors';

/** Where one downlink is posted and with which key. */
export interface DownlinkEndpoint {
  /** `webhook-headers`: URL and key TTS announced in X-Downlink-*; `profile`: server + webhook ID + apiKey. */
  source: 'webhook-headers' | 'profile';
  /** Absolute URL (headers) — for the profile the client builds it from server and webhookId. */
  url?: string;
  /** Only for `webhook-headers`: the X-Downlink-Apikey (a secret: never copied into messages). */
  apiKey?: string;
}

// …/as/applications/{app}/webhooks/{webhook}/devices/{device}/down/{push|replace}
const DOWNLINK_URL = /^(.*\/as\/applications\/)([^/?#]+)(\/webhooks\/[^/?#]+\/devices\/)([^/?#]+)(\/down\/)(push|replace)$/;

/**
 * TTS announces the push/replace URL of the device whose message carried the headers; the same
 * webhook serves every device of the application, so the device segment (and the operation) is
 * swapped. Undefined when the URL does not have TTS's shape or names another application.
 */
export function downlinkUrlFor(announced: string, applicationId: string, deviceId: string, operation: QueueOperation): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(announced);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
  const m = DOWNLINK_URL.exec(`${parsed.origin}${parsed.pathname}`);
  if (!m) return undefined;
  let app: string;
  try {
    app = decodeURIComponent(m[2]);
  } catch {
    return undefined;
  }
  if (app !== applicationId) return undefined;
  return `${m[1]}${m[2]}${m[3]}${encodeURIComponent(deviceId)}${m[5]}${operation}`;
}

export interface ProfileEndpointSettings {
  server: string;
  webhookId: string;
  apiKey: string;
}

/**
 * The captured X-Downlink-* headers of the application when there are usable ones (URL of TTS's
 * shape and a key), else the profile's server, webhook ID and API key.
 */
export function chooseEndpoint(
  captured: DownlinkTarget | undefined,
  applicationId: string,
  deviceId: string,
  operation: QueueOperation,
  profile: ProfileEndpointSettings,
): DownlinkEndpoint {
  if (captured?.apiKey) {
    const announced = operation === 'replace' ? (captured.replaceUrl ?? captured.pushUrl) : (captured.pushUrl ?? captured.replaceUrl);
    const url = announced ? downlinkUrlFor(announced, applicationId, deviceId, operation) : undefined;
    if (url) return { source: 'webhook-headers', url, apiKey: captured.apiKey };
  }
  if (!profile.server) {
    throw new DownlinkInputError(
      `no downlink address for application "${applicationId}" yet: TTS sends it (X-Downlink-* headers) with its webhook requests once the webhook has a downlink API key; until then set the profile's server URL, webhook ID and API key`,
    );
  }
  if (!profile.apiKey) throw new DownlinkInputError(`the profile for application "${applicationId}" has no API key, and TTS has not sent a downlink key (X-Downlink-Apikey) yet`);
  return { source: 'profile' };
}
