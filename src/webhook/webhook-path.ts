/** `tts` → `/tts`, `/tts/` → `/tts`; '' and '/' stay '/'. */
export function normaliseWebhookPath(path: string | undefined): string {
  let text = (path ?? '').trim();
  if (!text.startsWith('/')) text = `/${text}`;
  text = text.replace(/\/+$/, '');
  return text === '' ? '/' : text;
}

export function validateWebhookPath(path: string): string | undefined {
  if (!/^\/[A-Za-z0-9._~\-/]*$/.test(path)) return `webhook path "${path}" may only contain letters, digits, "-", "_", ".", "~" and "/"`;
  if (path.includes('//')) return `webhook path "${path}" contains an empty segment`;
  return undefined;
}

/**
 * The route pattern: the path itself plus any sub-path, since TTS appends a per-message-type
 * path (`/tts/uplink`, `/tts/join`). A RegExp works the same in express 4 and 5.
 */
export function webhookRoutePattern(path: string): RegExp {
  const base = path === '/' ? '' : path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${base}(?:/[^?#]*)?/?$`);
}
