export { normaliseWebhookPath, validateWebhookPath } from '../tts/protocol';

/**
 * The route pattern: the path itself plus any sub-path, since TTS appends a per-message-type
 * path (`/tts/uplink`, `/tts/join`). A RegExp works the same in express 4 and 5.
 */
export function webhookRoutePattern(path: string): RegExp {
  const base = path === '/' ? '' : path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${base}(?:/[^?#]*)?/?$`);
}
