import type { TtsEnvelope } from '../tts/envelope-types';
import type { ApplicationUp } from '../tts/types';
import { timestampNanos } from '../tts/timestamps';

/** What identifies one uplink, whether it came as a webhook or from the Storage Integration. */
export interface UplinkIdentity {
  deviceId: string;
  fCnt: number;
  /** The AS's received_at (top level of the ApplicationUp). */
  receivedAt: string;
  correlationIds: readonly string[];
}

/**
 * The keys under which an uplink counts as seen: device + FCnt + received_at (at full precision,
 * so `…53.5Z` and `…53.500000000Z` agree), and device + each Gateway Server uplink correlation
 * id, which TTS assigns once per uplink. Either key matching means the same uplink.
 */
export function uplinkKeys(id: UplinkIdentity): string[] {
  const nanos = timestampNanos(id.receivedAt);
  const keys = [`${id.deviceId}|${id.fCnt}|${nanos ?? id.receivedAt}`];
  for (const cid of id.correlationIds) if (cid.startsWith('gs:uplink:')) keys.push(`${id.deviceId}|${cid}`);
  return keys;
}

export function identityOfEnvelope(envelope: TtsEnvelope): UplinkIdentity {
  return { deviceId: envelope.device_id, fCnt: envelope.f_cnt ?? 0, receivedAt: envelope.received_at, correlationIds: envelope.correlation_ids };
}

/** Undefined for a message without the fields a stored uplink must have. */
export function identityOfStored(up: ApplicationUp): UplinkIdentity | undefined {
  const deviceId = up.end_device_ids?.device_id;
  if (typeof deviceId !== 'string' || typeof up.received_at !== 'string' || !up.uplink_message) return undefined;
  return {
    deviceId,
    fCnt: up.uplink_message.f_cnt ?? 0,
    receivedAt: up.received_at,
    correlationIds: Array.isArray(up.correlation_ids) ? up.correlation_ids.filter((c): c is string => typeof c === 'string') : [],
  };
}
