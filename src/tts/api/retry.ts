/** How a TTS API call is retried. Every bound is finite so a call always ends. */
export interface RetryPolicy {
  /** Total attempts including the first (1 = no retry). */
  maxAttempts: number;
  /** Back-off before retry n is baseDelayMs × 2^(n-1), with ±20 % jitter, capped at maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * Longest wait a 429/503 may ask for (x-rate-limit-retry / Retry-After). A longer request ends
   * the call with the error instead of parking it for minutes.
   */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 30_000,
};

/** Statuses worth another attempt: rate limiting and server-side failures. Never other 4xx. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599);
}

export function backoffDelay(retryNumber: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const exponential = policy.baseDelayMs * 2 ** Math.max(0, retryNumber - 1);
  const jitter = 0.8 + 0.4 * random();
  return Math.min(policy.maxDelayMs, Math.round(exponential * jitter));
}

type HeaderValue = string | string[] | number | undefined | null;

function headerText(value: HeaderValue): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text = Array.isArray(value) ? value[0] : String(value);
  return text === undefined || text.trim() === '' ? undefined : text.trim();
}

/**
 * The delay a response asks for, in ms: TTS's `x-rate-limit-retry` (seconds) first, then the
 * standard `Retry-After` (seconds or an HTTP date). Undefined when neither is usable.
 */
export function retryAfterFromHeaders(headers: Record<string, HeaderValue>, now = Date.now()): number | undefined {
  const lower: Record<string, HeaderValue> = {};
  for (const [name, value] of Object.entries(headers)) lower[name.toLowerCase()] = value;
  const ttsRetry = headerText(lower['x-rate-limit-retry']);
  if (ttsRetry !== undefined && /^\d+(\.\d+)?$/.test(ttsRetry)) return Math.round(Number(ttsRetry) * 1000);
  const retryAfter = headerText(lower['retry-after']);
  if (retryAfter === undefined) return undefined;
  if (/^\d+(\.\d+)?$/.test(retryAfter)) return Math.round(Number(retryAfter) * 1000);
  const date = Date.parse(retryAfter);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Waits ms, or rejects as soon as the signal aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new Error('aborted'));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new Error('aborted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
