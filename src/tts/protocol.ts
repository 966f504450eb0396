// The rules of The Things Stack's protocol this package relies on (tts-protocol.md), in one
// place. This file imports nothing: the build also serves it to the editor as
// resources/tts-protocol.js (window.TtsProtocol), so the dialogs check what the runtime checks.

/** Application, device and webhook IDs: 3–36 lower-case letters and digits, single dashes between. */
export const TTS_ID_PATTERN = /^[a-z0-9](?:[-]?[a-z0-9]){2,}$/;
export const TTS_ID_MAX = 36;

export function isTtsId(value: string): boolean {
  return value.length <= TTS_ID_MAX && TTS_ID_PATTERN.test(value);
}

/** Downlink priorities, lowest first (their index is TTS's enum number). */
export const PRIORITIES = ['LOWEST', 'LOW', 'BELOW_NORMAL', 'NORMAL', 'ABOVE_NORMAL', 'HIGH', 'HIGHEST'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** The eleven ApplicationUp message keys, in the order tts-protocol.md lists them. */
export const MESSAGE_TYPES = [
  'uplink_message',
  'uplink_normalized',
  'join_accept',
  'downlink_queued',
  'downlink_sent',
  'downlink_ack',
  'downlink_nack',
  'downlink_failed',
  'downlink_queue_invalidated',
  'location_solved',
  'service_data',
] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

export const DOWNLINK_EVENT_TYPES: readonly MessageType[] = MESSAGE_TYPES.filter((t) => t.startsWith('downlink_'));

/**
 * The per-type path suggested for each message type of a TTS webhook (appended to its base
 * URL; tts-webhook-in serves every sub-path of its own path), in the order the console lists them.
 */
export const MESSAGE_TYPE_PATHS: ReadonlyArray<readonly [MessageType, string]> = [
  ['uplink_message', '/uplink'],
  ['join_accept', '/join'],
  ['downlink_ack', '/down/ack'],
  ['downlink_nack', '/down/nack'],
  ['downlink_sent', '/down/sent'],
  ['downlink_failed', '/down/failed'],
  ['downlink_queued', '/down/queued'],
  ['downlink_queue_invalidated', '/down/invalidated'],
  ['location_solved', '/location'],
  ['service_data', '/service'],
  ['uplink_normalized', '/uplink/normalized'],
];

/** Output labels of tts-webhook-in with `routing: by-type`, in output order. */
export const BY_TYPE_OUTPUTS = ['uplink', 'join', 'downlink events', 'location & service', 'other'] as const;

/** Which by-type output a message type leaves on. */
export function outputIndexFor(type: MessageType): number {
  switch (type) {
    case 'uplink_message':
      return 0;
    case 'join_accept':
      return 1;
    case 'downlink_queued':
    case 'downlink_sent':
    case 'downlink_ack':
    case 'downlink_nack':
    case 'downlink_failed':
    case 'downlink_queue_invalidated':
      return 2;
    case 'location_solved':
    case 'service_data':
      return 3;
    default:
      return 4;
  }
}

/** `tts` → `/tts`, `/tts/` → `/tts`; '' and '/' stay '/'. */
export function normaliseWebhookPath(path: string | undefined): string {
  let text = (path ?? '').trim();
  if (!text.startsWith('/')) text = `/${text}`;
  text = text.replace(/\/+$/, '');
  return text === '' ? '/' : text;
}

/** The characters a webhook path may use (before normalisation: the leading slash is optional). */
export const WEBHOOK_PATH_PATTERN = /^\/?[A-Za-z0-9._~\-/]*$/;

/** Why a normalised webhook path is not acceptable, or undefined. */
export function validateWebhookPath(path: string): string | undefined {
  if (!WEBHOOK_PATH_PATTERN.test(path) || !path.startsWith('/')) return `webhook path "${path}" may only contain letters, digits, "-", "_", ".", "~" and "/"`;
  if (path.includes('//')) return `webhook path "${path}" contains an empty segment`;
  return undefined;
}
