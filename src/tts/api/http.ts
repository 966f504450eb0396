import { Readable } from 'node:stream';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import { TtsApiError, type TtsErrorBody } from './errors';
import { DEFAULT_RETRY_POLICY, backoffDelay, delay, isRetryableStatus, retryAfterFromHeaders, type RetryPolicy } from './retry';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface TtsHttpOptions {
  /** Request timeout per attempt (ms). */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Called before each retry (for logs, status and tests); never receives a secret. */
  onRetry?: (info: RetryInfo) => void;
  userAgent?: string;
}

export interface RetryInfo {
  operation: string;
  /** The attempt that just failed (1-based). */
  attempt: number;
  delayMs: number;
  /** `HTTP 503`, `timeout`, `ECONNRESET` … */
  reason: string;
}

export interface TtsRequest {
  method: HttpMethod;
  /** Absolute http(s) URL. */
  url: string;
  apiKey: string;
  /** Human description used in errors: "downlink push for app/dev". */
  operation: string;
  body?: unknown;
  query?: Record<string, string>;
  signal?: AbortSignal;
  retry?: Partial<RetryPolicy>;
}

export interface TtsResponse<T> {
  status: number;
  data: T;
  headers: Record<string, string>;
  attempts: number;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_RESPONSE_BYTES = 5 * 1024 * 1024;
const MAX_ERROR_BODY_BYTES = 64 * 1024;

// A header value may hold visible ASCII only; checked here so Node never throws about it later.
const HEADER_SAFE = /^[\x21-\x7e]+$/;

/**
 * One axios instance with TTS's conventions: bearer auth, JSON bodies, bounded retries with
 * back-off on network errors, timeouts, 5xx and 429 (honouring its retry headers), never on
 * other 4xx. Responses are read as text and parsed here so a proxy's HTML error page is still
 * reported sensibly. The key is passed per request and never stored on the axios instance, so
 * inspecting the instance or an error shows no secret.
 */
export class TtsHttp {
  private readonly axios: AxiosInstance;
  private readonly policy: RetryPolicy;
  private readonly onRetry?: (info: RetryInfo) => void;

  constructor(options: TtsHttpOptions = {}) {
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.onRetry = options.onRetry;
    this.axios = axios.create({
      timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxRedirects: 0, // a redirect must not carry the Authorization header elsewhere
      maxContentLength: MAX_RESPONSE_BYTES,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
      headers: { Accept: 'application/json', 'User-Agent': options.userAgent ?? 'node-red-contrib-the-things-stack' },
    });
  }

  async request<T>(req: TtsRequest): Promise<TtsResponse<T>> {
    const response = await this.exchange(req, 'text');
    return { status: response.status, data: parseJson(response.data) as T, headers: response.headers, attempts: response.attempts };
  }

  /**
   * Like request, but a 2xx answer's body is handed over unread, as a stream (for TTS's
   * server-streaming calls such as the Storage Integration). Retries follow the same rules up to
   * the moment an answer's headers arrive; a body cut off later is the caller's to resume.
   * Destroy the stream when done with it early.
   */
  async stream(req: TtsRequest): Promise<TtsResponse<Readable>> {
    return this.exchange(req, 'stream');
  }

  private async exchange<K extends 'text' | 'stream'>(req: TtsRequest, responseType: K): Promise<TtsResponse<K extends 'text' ? string : Readable>> {
    type Body = K extends 'text' ? string : Readable;
    const policy = { ...this.policy, ...req.retry };
    const secrets = [req.apiKey];
    const fail = (init: Omit<ConstructorParameters<typeof TtsApiError>[0], 'operation' | 'secrets'>): TtsApiError =>
      new TtsApiError({ ...init, operation: req.operation, secrets });

    if (!req.apiKey) throw fail({ kind: 'invalid-request', attempts: 0, body: { message: 'no API key configured' } });
    if (!HEADER_SAFE.test(req.apiKey)) {
      throw fail({ kind: 'invalid-request', attempts: 0, body: { message: 'the API key contains spaces or characters not allowed in an HTTP header' } });
    }
    let url: URL;
    try {
      url = new URL(req.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
    } catch {
      throw fail({ kind: 'invalid-request', attempts: 0, body: { message: 'the TTS URL is not a valid http(s) address' } });
    }
    for (const [name, value] of Object.entries(req.query ?? {})) url.searchParams.set(name, value);

    for (let attempt = 1; ; attempt++) {
      let response: AxiosResponse<Body>;
      try {
        response = await this.axios.request<Body>({
          method: req.method,
          url: url.toString(),
          data: req.body === undefined ? undefined : JSON.stringify(req.body),
          headers: {
            Authorization: `Bearer ${req.apiKey}`,
            ...(req.body === undefined ? {} : { 'Content-Type': 'application/json' }),
          },
          signal: req.signal,
          responseType,
        });
      } catch (err) {
        const failure = classifyTransportError(err);
        if (failure.kind === 'aborted' || req.signal?.aborted) throw fail({ kind: 'aborted', attempts: attempt });
        if (attempt >= policy.maxAttempts) throw fail({ kind: failure.kind, causeCode: failure.code, attempts: attempt });
        await this.pause(req, attempt, backoffDelay(attempt, policy), failure.kind === 'timeout' ? 'timeout' : failure.code, () =>
          fail({ kind: 'aborted', attempts: attempt }),
        );
        continue;
      }

      const headers = flattenHeaders(response.headers);
      if (response.status >= 200 && response.status < 300) {
        return { status: response.status, data: response.data, headers, attempts: attempt };
      }
      const text = response.data instanceof Readable ? await readBounded(response.data, MAX_ERROR_BODY_BYTES) : response.data;
      const body = errorBody(text, response.status);
      if (!isRetryableStatus(response.status) || attempt >= policy.maxAttempts) {
        throw fail({ kind: 'http', status: response.status, body, attempts: attempt, retryAfterMs: retryAfterFromHeaders(headers) });
      }
      const asked = retryAfterFromHeaders(headers);
      if (asked !== undefined && asked > policy.maxRetryAfterMs) {
        // Waiting that long would hold the flow for minutes; report it and let the caller decide.
        throw fail({ kind: 'http', status: response.status, body, attempts: attempt, retryAfterMs: asked });
      }
      const wait = asked !== undefined ? asked : backoffDelay(attempt, policy);
      await this.pause(req, attempt, wait, `HTTP ${response.status}`, () => fail({ kind: 'aborted', attempts: attempt }));
    }
  }

  private async pause(req: TtsRequest, attempt: number, delayMs: number, reason: string, aborted: () => TtsApiError): Promise<void> {
    this.onRetry?.({ operation: req.operation, attempt, delayMs, reason });
    try {
      await delay(delayMs, req.signal);
    } catch {
      throw aborted();
    }
  }
}

function classifyTransportError(err: unknown): { kind: 'timeout' | 'network' | 'aborted'; code: string } {
  if (axios.isCancel(err)) return { kind: 'aborted', code: 'ERR_CANCELED' };
  const code = (err as { code?: unknown })?.code;
  const text = typeof code === 'string' ? code : 'network error';
  if (text === 'ECONNABORTED' || text === 'ETIMEDOUT') return { kind: 'timeout', code: text };
  return { kind: 'network', code: text };
}

/** An error answer's body as text, at most `limit` bytes (the rest is discarded). */
async function readBounded(stream: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      chunks.push(buf.subarray(0, Math.max(0, limit - size)));
      size += buf.length;
      if (size >= limit) break;
    }
  } catch {
    // A body cut off mid-way still tells what arrived.
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).toString('utf8');
}

function flattenHeaders(raw: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw ?? {})) {
    if (value === undefined || value === null) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}

function parseJson(text: unknown): unknown {
  if (typeof text !== 'string' || text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** TTS's {code, message, details}; anything else (a proxy page, empty body) becomes a short message. */
function errorBody(text: unknown, status: number): TtsErrorBody {
  const parsed = parseJson(text);
  if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
    const obj = parsed as Record<string, unknown>;
    return {
      code: typeof obj.code === 'number' ? obj.code : undefined,
      message: typeof obj.message === 'string' ? obj.message : undefined,
      details: Array.isArray(obj.details) ? (obj.details.filter((d) => d && typeof d === 'object') as TtsErrorBody['details']) : undefined,
    };
  }
  if (typeof parsed === 'string' && parsed.trim() !== '') {
    const snippet = parsed.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200);
    return { message: snippet || `empty answer (HTTP ${status})` };
  }
  return {};
}
