import { PRIORITIES } from '../types';
import type { DownlinkItem } from './api-types';

/**
 * Largest application payload we let through: the LoRaWAN MACPayload of the fastest data rate in
 * EU868/US915 (250 bytes) minus the 8-byte frame header = 242 bytes, which is what the Network
 * Server accepts at queue time. Slower data rates and dwell-time regions allow less; TTS then
 * reports `downlink_failed` (application_downlink_too_long) when it tries to transmit.
 */
export const LORAWAN_MAX_DOWNLINK_BYTES = 242;
export const MAX_CORRELATION_ID_LENGTH = 100;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function isBase64(text: string): boolean {
  return BASE64.test(text);
}

/** Bytes a standard, padded base64 string decodes to. */
export function base64ByteLength(text: string): number {
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return (text.length / 4) * 3 - padding;
}

/**
 * The guard-rails applied before a downlink leaves this process; returns a message for the
 * first problem, undefined when the item is fine.
 */
export function downlinkItemProblem(item: DownlinkItem, maxBytes = LORAWAN_MAX_DOWNLINK_BYTES): string | undefined {
  if (!item || typeof item !== 'object') return 'a downlink must be an object';
  const port = item.f_port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 223) {
    return `FPort must be a whole number from 1 to 223 (got ${JSON.stringify(port)})`;
  }
  const hasBytes = item.frm_payload !== undefined;
  const hasDecoded = item.decoded_payload !== undefined;
  if (!hasBytes && !hasDecoded) return 'a downlink needs frm_payload (base64) or decoded_payload';
  if (hasBytes) {
    if (typeof item.frm_payload !== 'string' || !isBase64(item.frm_payload)) return 'frm_payload must be standard base64 text';
    const size = base64ByteLength(item.frm_payload);
    if (size > maxBytes) return `payload is ${size} bytes, more than the ${maxBytes}-byte LoRaWAN downlink maximum`;
  } else if (typeof item.decoded_payload !== 'object' || item.decoded_payload === null || Array.isArray(item.decoded_payload)) {
    return 'decoded_payload must be a JSON object';
  }
  if (item.priority !== undefined && !(PRIORITIES as readonly string[]).includes(item.priority)) {
    return `priority must be one of ${PRIORITIES.join(', ')}`;
  }
  if (item.confirmed !== undefined && typeof item.confirmed !== 'boolean') return 'confirmed must be true or false';
  if (item.correlation_ids !== undefined) {
    if (!Array.isArray(item.correlation_ids) || item.correlation_ids.some((id) => typeof id !== 'string' || id.length > MAX_CORRELATION_ID_LENGTH)) {
      return `correlation_ids must be strings of at most ${MAX_CORRELATION_ID_LENGTH} characters`;
    }
  }
  return undefined;
}
