/**
 * Lets one report per key through per interval and counts the ones it held back, so a flood of
 * bad requests makes one warning a minute instead of one per request.
 */
export class RateLimitedReporter {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly intervalMs: number, private readonly now: () => number = Date.now) {}

  report(key: string, emit: (suppressed: number) => void): void {
    const entry = this.last.get(key);
    const now = this.now();
    if (entry && now - entry.at < this.intervalMs) {
      entry.suppressed += 1;
      return;
    }
    this.last.set(key, { at: now, suppressed: 0 });
    emit(entry?.suppressed ?? 0);
  }
}
