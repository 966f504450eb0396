/**
 * TTS timestamps carry up to nine fraction digits (Go's RFC 3339 nano format), more than a JS
 * Date holds. Backfill and the simulator's Storage Integration compare and page on them, so they
 * are compared at full precision here.
 */
const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

/** Nanoseconds since the epoch, or undefined when the text is not an RFC 3339 timestamp. */
export function timestampNanos(text: string): bigint | undefined {
  const m = RFC3339.exec(text.trim());
  if (!m) return undefined;
  const seconds = Date.parse(`${m[1]}${m[3].toUpperCase()}`);
  if (Number.isNaN(seconds)) return undefined;
  return BigInt(seconds) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** Nanoseconds → RFC 3339 UTC with nine fraction digits. */
export function nanosToTimestamp(nanos: bigint): string {
  const ms = nanos / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString().slice(0, 19);
  const fraction = String(nanos - (nanos / 1_000_000_000n) * 1_000_000_000n).padStart(9, '0');
  return `${iso}.${fraction}Z`;
}

export function msToNanos(ms: number): bigint {
  return BigInt(Math.floor(ms)) * 1_000_000n;
}
