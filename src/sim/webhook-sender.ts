import type { ApplicationWebhook } from '../tts/api/api-types';
import type { ApplicationUp, MessageType } from '../tts/types';

export interface WebhookPostResult {
  webhookId: string;
  type: MessageType;
  url: string;
  deviceId: string;
  /** HTTP status, absent when the request failed before an answer. */
  status?: number;
  /** Network error / timeout text. */
  error?: string;
  ok: boolean;
  body: ApplicationUp;
  durationMs: number;
}

/** Template variables TTS expands in base URLs and paths (tts-protocol.md §2). */
export function templateVariables(up: ApplicationUp): Record<string, string> {
  const ids = up.end_device_ids;
  const app = ids.application_ids.application_id;
  return {
    appID: app,
    applicationID: app,
    devID: ids.device_id,
    deviceID: ids.device_id,
    devEUI: ids.dev_eui ?? '',
    joinEUI: ids.join_eui ?? '',
    appEUI: ids.join_eui ?? '',
    devAddr: ids.dev_addr ?? '',
  };
}

/** RFC 6570 level-1 `{var}` and path-segment `{/var,…}` expansion, enough for TTS templates. */
export function expandTemplate(template: string, vars: Record<string, string>): string {
  return template.replace(/\{([/+]?)([A-Za-z0-9_,]+)\}/g, (_whole, op: string, names: string) => {
    const values = names.split(',').map((n) => vars[n]).filter((v): v is string => v !== undefined && v !== '');
    if (op === '/') return values.map((v) => `/${encodeURIComponent(v)}`).join('');
    if (op === '+') return values.join(',');
    return values.map((v) => encodeURIComponent(v)).join(',');
  });
}

/** base_url joined with a message type's path the way TTS joins them. */
export function webhookUrl(baseUrl: string, path: string | undefined, vars: Record<string, string>): string {
  const base = expandTemplate(baseUrl, vars);
  const p = expandTemplate(path ?? '', vars);
  if (p === '') return base;
  if (p.startsWith('?')) return base + p;
  return `${base.replace(/\/+$/, '')}/${p.replace(/^\/+/, '')}`;
}

export interface SendContext {
  /** `http://127.0.0.1:<port>/api/v3` — what X-Downlink-Push/-Replace are built on. */
  publicApiAddress: string;
  /** X-Tts-Domain value. */
  domain: string;
  timeoutMs: number;
}

/** Headers TTS puts on a webhook request: custom ones first, then its own overrides. */
export function webhookHeaders(hook: ApplicationWebhook, up: ApplicationUp, ctx: SendContext): Record<string, string> {
  const headers: Record<string, string> = { ...(hook.headers ?? {}) };
  const has = (name: string): boolean => Object.keys(headers).some((h) => h.toLowerCase() === name.toLowerCase());
  if (hook.downlink_api_key) {
    const app = encodeURIComponent(up.end_device_ids.application_ids.application_id);
    const dev = encodeURIComponent(up.end_device_ids.device_id);
    const base = `${ctx.publicApiAddress}/as/applications/${app}/webhooks/${encodeURIComponent(hook.ids.webhook_id)}/devices/${dev}/down`;
    headers['X-Downlink-Apikey'] = hook.downlink_api_key;
    headers['X-Downlink-Push'] = `${base}/push`;
    headers['X-Downlink-Replace'] = `${base}/replace`;
  }
  if (ctx.domain) headers['X-Tts-Domain'] = ctx.domain;
  for (const name of Object.keys(headers)) if (name.toLowerCase() === 'content-type') delete headers[name];
  headers['Content-Type'] = 'application/json';
  if (!has('user-agent')) headers['User-Agent'] = 'TheThingsStack/3.32.1-sim (linux/amd64)';
  return headers;
}

/** One POST as TTS makes it: one message, any 2xx is success, the answer body is ignored. */
export async function postWebhook(hook: ApplicationWebhook, type: MessageType, up: ApplicationUp, ctx: SendContext): Promise<WebhookPostResult> {
  const url = webhookUrl(hook.base_url ?? '', hook[type]?.path, templateVariables(up));
  const started = Date.now();
  const result = { webhookId: hook.ids.webhook_id, type, url, deviceId: up.end_device_ids.device_id, body: up };
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: webhookHeaders(hook, up, ctx),
      body: JSON.stringify(up),
      redirect: 'manual',
      signal: AbortSignal.timeout(ctx.timeoutMs),
    });
    await res.arrayBuffer().catch(() => undefined); // drained and ignored, like TTS
    return { ...result, status: res.status, ok: res.status >= 200 && res.status < 300, durationMs: Date.now() - started };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const reason = e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.message);
    return { ...result, error: reason, ok: false, durationMs: Date.now() - started };
  }
}
