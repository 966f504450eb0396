import { isTtsId } from '../protocol';
import type {
  ApiKey,
  ApplicationWebhook,
  CreateApiKeyRequest,
  QueueDownlinksRequest,
  SetApplicationWebhookRequest,
  StoredMessage,
  StoredMessagesQuery,
  StreamedLine,
} from './api-types';
import { jsonLines, JsonLineError } from './json-lines';
import { downlinkItemProblem, LORAWAN_MAX_DOWNLINK_BYTES } from './downlink-validation';
import { GRPC_HTTP_STATUS, TtsApiError, type TtsErrorBody } from './errors';
import { TtsHttp, type HttpMethod, type TtsHttpOptions, type TtsResponse } from './http';
import type { RetryPolicy } from './retry';

export interface TtsApiClientOptions extends TtsHttpOptions {
  /** Server base URL (`https://eu1.cloud.thethings.network`, optionally ending in /api/v3). */
  server: string;
  /** The profile's API key, used when a call names no key of its own. */
  apiKey?: string;
  /** Payload limit for the downlink guard-rails (default LORAWAN_MAX_DOWNLINK_BYTES). */
  maxDownlinkBytes?: number;
}

/** Per-call options. */
export interface CallOptions {
  signal?: AbortSignal;
  retry?: Partial<RetryPolicy>;
}

export interface QueueDownlinksResult {
  /** The URL posted to (no secret in it). */
  url: string;
  attempts: number;
}

/**
 * Typed client for the parts of the TTS HTTP API this package uses. Create one per server /
 * profile: it owns one axios instance. The key lives in a private field, so logging the client
 * shows none.
 */
export class TtsApiClient {
  readonly server: string;
  readonly maxDownlinkBytes: number;
  readonly #apiKey: string;
  private readonly http: TtsHttp;

  constructor(options: TtsApiClientOptions) {
    this.server = options.server.trim().replace(/\/+$/, '');
    this.#apiKey = options.apiKey ?? '';
    this.maxDownlinkBytes = options.maxDownlinkBytes ?? LORAWAN_MAX_DOWNLINK_BYTES;
    this.http = new TtsHttp(options);
  }

  /** `/as/webhooks/x` → `<server>/api/v3/as/webhooks/x`. */
  apiUrl(path: string): string {
    const base = /\/api\/v3$/.test(this.server) ? this.server : `${this.server}/api/v3`;
    return `${base}${path.startsWith('/') ? path : `/${path}`}`;
  }

  /** Queues downlinks with push (append) or replace (swap the device's whole queue). */
  async queueDownlinks(req: QueueDownlinksRequest, options: CallOptions = {}): Promise<QueueDownlinksResult> {
    const operation = `downlink ${req.operation} for ${req.applicationId}/${req.deviceId}`;
    const invalid = (message: string): TtsApiError => new TtsApiError({ kind: 'invalid-request', operation, attempts: 0, body: { message }, secrets: this.secrets(req.apiKey) });
    if (req.operation !== 'push' && req.operation !== 'replace') throw invalid('queue operation must be "push" or "replace"');
    if (!Array.isArray(req.downlinks)) throw invalid('downlinks must be a list');
    if (req.operation === 'push' && req.downlinks.length === 0) throw invalid('nothing to push');
    req.downlinks.forEach((item, index) => {
      const problem = downlinkItemProblem(item, this.maxDownlinkBytes);
      if (problem) throw invalid(req.downlinks.length > 1 ? `downlink ${index + 1}: ${problem}` : problem);
    });

    let url: string;
    if (req.url) {
      url = req.url;
      if (!req.apiKey && !this.sameOrigin(url)) throw invalid('a downlink URL from webhook headers needs the API key from the same headers');
    } else {
      if (!isTtsId(req.applicationId) || !isTtsId(req.deviceId)) throw invalid('application and device IDs must be valid TTS IDs');
      if (req.webhookId !== undefined && req.webhookId !== '' && !isTtsId(req.webhookId)) throw invalid('webhook ID must be a valid TTS ID');
      if (!this.server) throw invalid('no TTS server URL configured in the profile');
      const app = encodeURIComponent(req.applicationId);
      const dev = encodeURIComponent(req.deviceId);
      url = this.apiUrl(
        req.webhookId
          ? `/as/applications/${app}/webhooks/${encodeURIComponent(req.webhookId)}/devices/${dev}/down/${req.operation}`
          : `/as/applications/${app}/devices/${dev}/down/${req.operation}`,
      );
    }
    const response = await this.send('POST', url, operation, { body: { downlinks: req.downlinks }, apiKey: req.apiKey, ...options });
    return { url, attempts: response.attempts };
  }

  pushDownlinks(req: Omit<QueueDownlinksRequest, 'operation'>, options?: CallOptions): Promise<QueueDownlinksResult> {
    return this.queueDownlinks({ ...req, operation: 'push' }, options);
  }

  replaceDownlinks(req: Omit<QueueDownlinksRequest, 'operation'>, options?: CallOptions): Promise<QueueDownlinksResult> {
    return this.queueDownlinks({ ...req, operation: 'replace' }, options);
  }

  /** `{json: "JSON", protobuf: "Protocol Buffers"}`; also a cheap reachability and key check. */
  async getWebhookFormats(options: CallOptions = {}): Promise<Record<string, string>> {
    const res = await this.send<{ formats?: Record<string, string> }>('GET', this.apiUrl('/as/webhook-formats'), 'webhook formats query', options);
    return res.data?.formats ?? {};
  }

  async listWebhooks(applicationId: string, fieldMask: string[] = [], options: CallOptions = {}): Promise<ApplicationWebhook[]> {
    const res = await this.send<{ webhooks?: ApplicationWebhook[] }>(
      'GET',
      this.apiUrl(`/as/webhooks/${encodeURIComponent(applicationId)}`),
      `webhook list of ${applicationId}`,
      { ...options, query: maskQuery(fieldMask) },
    );
    return res.data?.webhooks ?? [];
  }

  async getWebhook(applicationId: string, webhookId: string, fieldMask: string[] = [], options: CallOptions = {}): Promise<ApplicationWebhook> {
    const res = await this.send<ApplicationWebhook>('GET', this.webhookUrl(applicationId, webhookId), `webhook ${applicationId}/${webhookId} query`, {
      ...options,
      query: maskQuery(fieldMask),
    });
    return res.data;
  }

  /** Like getWebhook, but undefined when TTS answers 404. */
  async findWebhook(applicationId: string, webhookId: string, fieldMask: string[] = [], options: CallOptions = {}): Promise<ApplicationWebhook | undefined> {
    try {
      return await this.getWebhook(applicationId, webhookId, fieldMask, options);
    } catch (err) {
      if (err instanceof TtsApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /**
   * Creates or updates a webhook. TTS treats POST (collection) and PUT (item) alike as an
   * upsert; `method` picks which one is sent.
   */
  async setWebhook(request: SetApplicationWebhookRequest, method: 'POST' | 'PUT' = 'PUT', options: CallOptions = {}): Promise<ApplicationWebhook> {
    const appId = request.webhook.ids.application_ids.application_id;
    const webhookId = request.webhook.ids.webhook_id;
    const url = method === 'PUT' ? this.webhookUrl(appId, webhookId) : this.apiUrl(`/as/webhooks/${encodeURIComponent(appId)}`);
    const res = await this.send<ApplicationWebhook>(method, url, `webhook ${appId}/${webhookId} update`, { ...options, body: request });
    return res.data;
  }

  async deleteWebhook(applicationId: string, webhookId: string, options: CallOptions = {}): Promise<void> {
    await this.send('DELETE', this.webhookUrl(applicationId, webhookId), `webhook ${applicationId}/${webhookId} deletion`, options);
  }

  /** Creates an application API key; the answer's `key` is the only time TTS shows it. */
  async createApiKey(applicationId: string, request: CreateApiKeyRequest, options: CallOptions = {}): Promise<ApiKey> {
    const res = await this.send<ApiKey>('POST', this.apiUrl(`/applications/${encodeURIComponent(applicationId)}/api-keys`), `API key creation for ${applicationId}`, {
      ...options,
      body: request,
    });
    return res.data;
  }

  /**
   * Messages TTS's Storage Integration kept for an application (or one device), read as they
   * stream in: TTS answers one `{"result": ApplicationUp}` object per line, so a large answer is
   * never held whole. The key needs RIGHT_APPLICATION_TRAFFIC_READ. Failures before the answer
   * starts are retried like every call (5xx, 429, network); a stream cut off later throws, and the
   * caller resumes with `after` set to the last received_at it handled. 404 means the Storage
   * Integration is not available for the application (see storageUnavailable).
   */
  async *storedMessages(applicationId: string, query: StoredMessagesQuery = {}, options: CallOptions = {}): AsyncGenerator<StoredMessage> {
    const type = query.type ?? 'uplink_message';
    const operation = `Storage Integration query (${type}) for ${applicationId}${query.deviceId ? `/${query.deviceId}` : ''}`;
    const secrets = this.secrets();
    const invalid = (message: string): TtsApiError => new TtsApiError({ kind: 'invalid-request', operation, attempts: 0, body: { message }, secrets });
    if (!isTtsId(applicationId) || (query.deviceId !== undefined && !isTtsId(query.deviceId))) throw invalid('application and device IDs must be valid TTS IDs');
    if (!this.server) throw invalid('no TTS server URL configured in the profile');
    if (query.last !== undefined && (query.after !== undefined || query.before !== undefined)) throw invalid('"last" cannot be combined with "after" or "before"');
    const app = encodeURIComponent(applicationId);
    const path = query.deviceId
      ? `/as/applications/${app}/devices/${encodeURIComponent(query.deviceId)}/packages/storage/${type}`
      : `/as/applications/${app}/packages/storage/${type}`;
    const params: Record<string, string> = {};
    if (query.after !== undefined) params.after = query.after;
    if (query.before !== undefined) params.before = query.before;
    if (query.last !== undefined) params.last = query.last;
    if (query.limit !== undefined) params.limit = String(query.limit);
    if (query.order !== undefined) params.order = query.order;
    if (query.fPort !== undefined) params.f_port = String(query.fPort);
    if (query.fieldMask && query.fieldMask.length > 0) params.field_mask = query.fieldMask.join(',');

    const response = await this.http.stream({ method: 'GET', url: this.apiUrl(path), operation, apiKey: this.#apiKey, query: params, signal: options.signal, retry: options.retry });
    const failed = (init: { kind: 'http' | 'network' | 'timeout' | 'aborted'; status?: number; body?: TtsErrorBody; causeCode?: string }): TtsApiError =>
      new TtsApiError({ ...init, operation, attempts: response.attempts, secrets });
    const lines = jsonLines(response.data);
    try {
      for (;;) {
        let next: IteratorResult<unknown>;
        try {
          next = await lines.next();
        } catch (err) {
          if (options.signal?.aborted) throw failed({ kind: 'aborted' });
          if (err instanceof JsonLineError) throw failed({ kind: 'http', status: response.status, body: { message: err.message } });
          const code = (err as { code?: unknown }).code;
          const causeCode = typeof code === 'string' ? code : 'answer cut off';
          throw failed({ kind: causeCode === 'ETIMEDOUT' || causeCode === 'ECONNABORTED' ? 'timeout' : 'network', causeCode });
        }
        if (next.done) return;
        const line = next.value as StreamedLine<StoredMessage> | null;
        if (line && typeof line === 'object' && line.result && typeof line.result === 'object') {
          yield line.result;
        } else if (line && typeof line === 'object' && line.error) {
          // An error after the 200: TTS ends the stream with it (grpc-gateway's stream error form).
          const body = { code: line.error.code, message: line.error.message, details: line.error.details as TtsErrorBody['details'] };
          throw failed({ kind: 'http', status: grpcCodeToHttp(line.error.code), body });
        } else {
          throw failed({ kind: 'http', status: response.status, body: { message: 'the answer holds a line that is neither a result nor an error' } });
        }
      }
    } finally {
      await lines.return(undefined);
    }
  }

  private webhookUrl(applicationId: string, webhookId: string): string {
    return this.apiUrl(`/as/webhooks/${encodeURIComponent(applicationId)}/${encodeURIComponent(webhookId)}`);
  }

  private sameOrigin(url: string): boolean {
    try {
      return this.server !== '' && new URL(url).origin === new URL(this.server).origin;
    } catch {
      return false;
    }
  }

  private secrets(extra?: string): string[] {
    return [this.#apiKey, extra ?? ''].filter((s) => s !== '');
  }

  private send<T>(
    method: HttpMethod,
    url: string,
    operation: string,
    options: CallOptions & { body?: unknown; apiKey?: string; query?: Record<string, string> },
  ): Promise<TtsResponse<T>> {
    return this.http.request<T>({
      method,
      url,
      operation,
      apiKey: options.apiKey || this.#apiKey,
      body: options.body,
      query: options.query,
      signal: options.signal,
      retry: options.retry,
    });
  }
}

/** A gRPC status code (from a streamed error) as the HTTP status TTS's gateway would answer. */
function grpcCodeToHttp(code: number | undefined): number {
  return (code !== undefined && GRPC_HTTP_STATUS[code]) || 500;
}

/** True when a Storage Integration query failed because the integration is not there for the application. */
export function storageUnavailable(err: unknown): boolean {
  return err instanceof TtsApiError && err.kind === 'http' && err.status === 404;
}

function maskQuery(fieldMask: string[]): Record<string, string> | undefined {
  return fieldMask.length > 0 ? { field_mask: fieldMask.join(',') } : undefined;
}
