import { isTtsId } from '../profile/profile-settings';
import type { ApplicationWebhook, SetApplicationWebhookRequest } from '../tts/api/api-types';
import { MESSAGE_TYPES, type MessageType } from '../tts/types';
import { timestamp } from './ids';
import { errors, type SimApiError } from './tts-errors';

const SCALAR_FIELDS = ['base_url', 'format', 'headers', 'downlink_api_key', 'paused', 'queue', 'field_mask', 'template_ids', 'template_fields'] as const;
const SETTABLE = new Set<string>([...SCALAR_FIELDS, ...MESSAGE_TYPES]);
const FORMATS = ['json', 'protobuf'];

type WebhookRecord = Record<string, unknown> & ApplicationWebhook;

/**
 * The simulated Application Server's webhook registry: upserts with field-mask semantics (only
 * listed fields are written; listed but absent fields are cleared), validation as TTS does it.
 */
export class WebhookStore {
  private readonly hooks = new Map<string, WebhookRecord>();

  private static key(applicationId: string, webhookId: string): string {
    return `${applicationId}/${webhookId}`;
  }

  get(applicationId: string, webhookId: string): ApplicationWebhook | undefined {
    return this.hooks.get(WebhookStore.key(applicationId, webhookId));
  }

  list(applicationId: string): ApplicationWebhook[] {
    return [...this.hooks.values()].filter((h) => h.ids.application_ids.application_id === applicationId);
  }

  delete(applicationId: string, webhookId: string): boolean {
    return this.hooks.delete(WebhookStore.key(applicationId, webhookId));
  }

  /** Validates and stores; throws SimApiError with TTS's status and body on invalid input. */
  set(applicationId: string, request: unknown, pathWebhookId?: string): ApplicationWebhook {
    const req = request as Partial<SetApplicationWebhookRequest> | undefined;
    if (!req || typeof req !== 'object' || !req.webhook || typeof req.webhook !== 'object') throw errors.decodeBody('missing `webhook`');
    const incoming = req.webhook as WebhookRecord;
    const webhookId = incoming.ids?.webhook_id;
    const bodyAppId = incoming.ids?.application_ids?.application_id;
    if (typeof webhookId !== 'string' || !isTtsId(webhookId)) throw errors.validateBody('webhook.ids.webhook_id', 'must match ^[a-z0-9](?:[-]?[a-z0-9]){2,}$ and be at most 36 characters');
    if (bodyAppId !== applicationId) throw errors.validateBody('webhook.ids.application_ids', 'does not match the application in the path');
    if (pathWebhookId !== undefined && pathWebhookId !== webhookId) throw errors.validateBody('webhook.ids.webhook_id', 'does not match the webhook in the path');
    const paths = req.field_mask?.paths;
    if (!Array.isArray(paths) || paths.some((p) => typeof p !== 'string')) throw errors.validateBody('field_mask', 'paths must be a list of field names');
    for (const path of paths) {
      const top = path.split('.')[0];
      if (!SETTABLE.has(top)) throw errors.validateBody('field_mask', `unknown field "${path}"`);
    }

    const key = WebhookStore.key(applicationId, webhookId);
    const existing = this.hooks.get(key);
    const now = timestamp();
    const next: WebhookRecord = existing ? structuredClone(existing) : { ids: { application_ids: { application_id: applicationId }, webhook_id: webhookId }, created_at: now };
    for (const path of paths) {
      const [top, sub] = path.split('.');
      const value = incoming[top];
      if (sub !== undefined) {
        const target = (next[top] ?? {}) as Record<string, unknown>;
        const source = (value ?? {}) as Record<string, unknown>;
        if (source[sub] === undefined) delete target[sub];
        else target[sub] = source[sub];
        next[top] = target;
      } else if (value === undefined || value === null) {
        delete next[top];
      } else {
        next[top] = structuredClone(value);
      }
    }
    const problem = validate(next);
    if (problem) throw problem;
    next.updated_at = now;
    this.hooks.set(key, next);
    return structuredClone(next);
  }
}

function validate(hook: WebhookRecord): SimApiError | undefined {
  if (typeof hook.base_url !== 'string' || !/^https?:\/\/[^\s/]+/.test(hook.base_url)) return errors.validateBody('webhook.base_url', 'must be an absolute http(s) URI');
  if (hook.format === undefined || hook.format === '') hook.format = 'json';
  if (typeof hook.format !== 'string' || !FORMATS.includes(hook.format)) return errors.validateBody('webhook.format', `must be one of ${FORMATS.join(', ')}`);
  const headers = hook.headers ?? {};
  if (typeof headers !== 'object' || Array.isArray(headers)) return errors.validateBody('webhook.headers', 'must be a map of strings');
  const entries = Object.entries(headers);
  if (entries.length > 50) return errors.validateBody('webhook.headers', 'at most 50 headers');
  for (const [name, value] of entries) {
    if (name.length > 64 || typeof value !== 'string' || value.length > 4096) return errors.validateBody('webhook.headers', 'names ≤ 64 and values ≤ 4096 characters');
  }
  if (hook.downlink_api_key !== undefined && (typeof hook.downlink_api_key !== 'string' || hook.downlink_api_key.length > 128)) {
    return errors.validateBody('webhook.downlink_api_key', 'at most 128 characters');
  }
  for (const type of MESSAGE_TYPES) {
    const settings = hook[type];
    if (settings === undefined) continue;
    if (typeof settings !== 'object' || settings === null) return errors.validateBody(`webhook.${type}`, 'must be an object');
    const path = (settings as { path?: unknown }).path;
    if (path !== undefined && (typeof path !== 'string' || path.length > 64)) return errors.validateBody(`webhook.${type}.path`, 'at most 64 characters');
  }
  return undefined;
}

/** Applies a GET field mask: ids, base_url and format always, plus the listed fields. */
export function maskWebhook(hook: ApplicationWebhook, mask: string[] | undefined): ApplicationWebhook {
  if (!mask || mask.length === 0) return structuredClone(hook);
  const source = hook as WebhookRecord;
  const out: WebhookRecord = { ids: hook.ids, base_url: hook.base_url, format: hook.format };
  for (const path of mask) {
    const top = path.split('.')[0];
    if (source[top] !== undefined) out[top] = structuredClone(source[top]);
  }
  return out;
}

/** The message types a webhook has enabled. */
export function enabledTypes(hook: ApplicationWebhook): MessageType[] {
  return MESSAGE_TYPES.filter((t) => hook[t] !== undefined);
}
