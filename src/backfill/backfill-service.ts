import { storageUnavailable, TtsApiClient } from '../tts/api/client';
import { TtsApiError } from '../tts/api/errors';
import type { RetryPolicy } from '../tts/api/retry';
import { ttsMessageBus } from '../runtime';
import type { TtsEnvelope } from '../tts/envelope-types';
import { msToNanos, nanosToTimestamp, timestampNanos } from '../tts/timestamps';
import { BackfillCancelled, runBackfill, type BackfillOutcome, type BackfillTarget } from './backfill-run';
import { GapTracker } from './gap-tracker';
import { identityOfEnvelope, uplinkKeys } from './uplink-keys';

const CLOCK_MARGIN_MS = 5000;

/** What a profile with backfill enabled contributes. */
export interface BackfillProfile {
  profileId: string;
  server: string;
  apiKey: string;
  /** Longest gap fetched; older uplinks are left out (and said so). */
  maxHours: number;
}

export type BackfillEvent =
  | { kind: 'started'; applicationId: string; profileId: string; from: string; to: string; trimmedFrom?: string }
  | {
      kind: 'finished';
      applicationId: string;
      profileId: string;
      from: string;
      to: string;
      outcome: BackfillOutcome;
      ms: number;
      /** The second look at the end of a gap (see settleMs). */
      recheck: boolean;
    }
  | {
      kind: 'failed';
      applicationId: string;
      profileId: string;
      /** Already free of secrets (TtsApiError redacts the key). */
      reason: string;
      /** The Storage Integration is not activated for the application (404). */
      notActivated: boolean;
      /** When the next attempt is made; undefined = at the next start or deploy. */
      retryInMs?: number;
    }
  | { kind: 'no-input'; applicationId: string; profileId: string }
  | { kind: 'incomplete-profile'; applicationId: string; profileId: string; missing: 'server' | 'apiKey' }
  | { kind: 'state-error'; message: string };

export interface BackfillEnvironment {
  /** The profile that serves the application, when it enables backfill. */
  profileFor(applicationId: string): BackfillProfile | undefined;
  /** The deployed webhook-in that takes the application's uplinks. */
  targetFor(applicationId: string): BackfillTarget | undefined;
  report(event: BackfillEvent): void;
}

export interface BackfillServiceOptions {
  stateFile: string;
  /** Uplinks per Storage Integration request. Default 500. */
  pageSize?: number;
  /**
   * Live uplinks this far apart (ms) mean deliveries stopped for a while (TTS could not reach
   * Node-RED): the time between is fetched. Default 10 minutes.
   */
  reconnectGapMs?: number;
  /** Waits before retrying a failed backfill (then it waits for the next start or deploy). */
  retryDelaysMs?: number[];
  /** Passed to the API client (tests shorten them). */
  requestTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  stateWriteIntervalMs?: number;
  /**
   * TTS writes to its storage in batches, so the last uplinks of a gap may not be stored yet
   * when it is filled: this long after (ms), the end of the gap is asked for once more.
   * Default 60 000; 0 = no second look.
   */
  settleMs?: number;
  now?: () => number;
}

interface Window {
  from: string;
  to: string;
}

/**
 * Backfill from TTS's Storage Integration: follows the uplinks that reach the flow (every
 * message webhook-in accepts is published on ttsMessageBus), keeps the gap state, and fills
 * each gap (after a start, a deploy, or a long silence in the deliveries) through the deployed
 * webhook-in, one run per application at a time.
 */
export class BackfillService {
  readonly tracker: GapTracker;
  private readonly pageSize: number;
  private readonly reconnectGapNanos: bigint;
  private readonly retryDelaysMs: number[];
  private readonly now: () => number;
  private readonly running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private readonly again = new Map<string, { lastSeen: string; edge: Array<{ at: string; keys: string[] }> } | true>();
  private readonly attempts = new Map<string, number>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private readonly settleTimers = new Map<string, NodeJS.Timeout>();
  private readonly settleMs: number;
  /** Keys of uplinks being fed in right now: their echo on the bus is not live traffic. */
  private readonly injecting = new Set<string>();
  private unsubscribe?: () => void;

  constructor(
    private readonly env: BackfillEnvironment,
    private readonly options: BackfillServiceOptions,
  ) {
    this.pageSize = options.pageSize ?? 500;
    this.reconnectGapNanos = msToNanos(options.reconnectGapMs ?? 10 * 60_000);
    this.retryDelaysMs = options.retryDelaysMs ?? [30_000, 120_000, 600_000];
    this.now = options.now ?? Date.now;
    this.settleMs = options.settleMs ?? 60_000;
    this.tracker = new GapTracker({
      file: options.stateFile,
      writeIntervalMs: options.stateWriteIntervalMs,
      onWriteError: (err) => env.report({ kind: 'state-error', message: err.message }),
    });
    // What happened while Node-RED was not running starts at each application's edge.
    this.tracker.openGapsFromFile();
    this.unsubscribe = ttsMessageBus.subscribe((envelope) => this.onMessage(envelope));
  }

  /** Flows (re)started: fill every open gap. */
  flowsStarted(): void {
    for (const appId of this.tracker.applications()) if (this.tracker.gap(appId)) this.request(appId);
  }

  /** Resolves when no run is in progress (tests, close). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()].map((r) => r.done));
  }

  flush(): void {
    this.tracker.flush();
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.cancelAll();
    await this.idle();
    this.tracker.close();
  }

  /** Starts a backfill of the application's open gap, or queues one more after the current run. */
  request(appId: string, reopen?: { lastSeen: string; edge: Array<{ at: string; keys: string[] }> }): void {
    if (this.running.has(appId)) {
      if (!this.again.has(appId) || reopen) this.again.set(appId, reopen ?? true);
      return;
    }
    const timer = this.retryTimers.get(appId);
    if (timer) clearTimeout(timer);
    this.retryTimers.delete(appId);
    this.start(appId);
  }

  private start(appId: string, recheck?: Window): void {
    const abort = new AbortController();
    const done = this.run(appId, abort.signal, recheck).finally(() => {
      this.running.delete(appId);
      const next = this.again.get(appId);
      this.again.delete(appId);
      if (next && !abort.signal.aborted) {
        if (next !== true) this.tracker.openGap(appId, next);
        if (this.tracker.gap(appId)) this.request(appId);
      }
    });
    this.running.set(appId, { abort, done });
  }

  /** The second look at the end of a filled gap; skipped when a run is going on (it makes its own). */
  private scheduleRecheck(appId: string, window: Window): void {
    if (this.settleMs <= 0) return;
    const previous = this.settleTimers.get(appId);
    if (previous) clearTimeout(previous);
    const timer = setTimeout(() => {
      this.settleTimers.delete(appId);
      if (!this.running.has(appId)) this.start(appId, window);
    }, this.settleMs);
    timer.unref();
    this.settleTimers.set(appId, timer);
  }

  private onMessage(envelope: TtsEnvelope): void {
    if (envelope.type !== 'uplink_message') return;
    const appId = envelope.application_id;
    if (!this.env.profileFor(appId)) return;
    const id = identityOfEnvelope(envelope);
    const keys = uplinkKeys(id);
    // A replay (from the inbox or a backfill) is not live traffic: it says nothing about gaps.
    const replay = (envelope as { replay?: boolean }).replay === true;
    if (replay || keys.some((k) => this.injecting.has(k)) || this.tracker.seen(appId, keys)) {
      this.tracker.received(appId, id);
      return;
    }
    const before = this.tracker.snapshot(appId);
    this.tracker.received(appId, id);
    const nanos = timestampNanos(id.receivedAt);
    const previous = before ? timestampNanos(before.lastSeen) : undefined;
    if (before && nanos !== undefined && previous !== undefined && nanos - previous > this.reconnectGapNanos) {
      // Deliveries resumed after a long silence: fetch what TTS kept in between.
      if (this.running.has(appId)) this.request(appId, before);
      else if (this.tracker.openGap(appId, before)) this.request(appId);
    }
  }

  private async run(appId: string, signal: AbortSignal, recheck?: Window): Promise<void> {
    const profile = this.env.profileFor(appId);
    const gap = recheck ? undefined : this.tracker.gap(appId);
    if (!profile || (!gap && !recheck)) return;
    if (!profile.server || !profile.apiKey) {
      this.env.report({ kind: 'incomplete-profile', applicationId: appId, profileId: profile.profileId, missing: profile.server ? 'apiKey' : 'server' });
      return;
    }
    const target = this.env.targetFor(appId);
    if (!target) {
      this.env.report({ kind: 'no-input', applicationId: appId, profileId: profile.profileId });
      return;
    }
    // A little past now: the server's clock may be ahead of ours; what arrives live meanwhile is skipped.
    const toNanos = recheck ? timestampNanos(recheck.to)! : msToNanos(this.now() + CLOCK_MARGIN_MS);
    const to = nanosToTimestamp(toNanos);
    let from = recheck?.from ?? gap!.from;
    let trimmedFrom: string | undefined;
    const earliest = msToNanos(this.now() - profile.maxHours * 3_600_000);
    if ((timestampNanos(from) ?? 0n) < earliest) {
      trimmedFrom = from;
      from = nanosToTimestamp(earliest);
      if (!recheck) this.tracker.advanceGap(appId, from, []);
    }
    if ((timestampNanos(from) ?? 0n) >= toNanos) {
      if (!recheck) this.tracker.closeGap(appId);
      return;
    }
    if (!recheck) this.env.report({ kind: 'started', applicationId: appId, profileId: profile.profileId, from, to, trimmedFrom });
    const started = this.now();
    const client = new TtsApiClient({ server: profile.server, apiKey: profile.apiKey, timeoutMs: this.options.requestTimeoutMs, retry: this.options.retry });
    try {
      const outcome = await runBackfill({ client, applicationId: appId, from, to, pageSize: this.pageSize, tracker: this.tracker, target, injecting: this.injecting, advanceGap: !recheck, signal });
      if (!recheck) {
        this.tracker.closeGap(appId);
        this.attempts.delete(appId);
        this.scheduleRecheck(appId, { from: nanosToTimestamp(toNanos - msToNanos(this.settleMs + 2 * CLOCK_MARGIN_MS)), to });
      }
      this.env.report({ kind: 'finished', applicationId: appId, profileId: profile.profileId, from, to, outcome, ms: this.now() - started, recheck: recheck !== undefined });
    } catch (err) {
      if (err instanceof BackfillCancelled || signal.aborted) return;
      if (recheck) {
        this.env.report({ kind: 'failed', applicationId: appId, profileId: profile.profileId, reason: (err as Error).message, notActivated: storageUnavailable(err) });
        return;
      }
      const notActivated = storageUnavailable(err);
      // A missing integration or a key without rights is not cured by waiting: the next deploy retries.
      const configProblem = notActivated || (err instanceof TtsApiError && (err.status === 401 || err.status === 403 || err.kind === 'invalid-request'));
      const attempt = (this.attempts.get(appId) ?? 0) + 1;
      const retryInMs = configProblem ? undefined : this.retryDelaysMs[attempt - 1];
      this.attempts.set(appId, retryInMs === undefined ? 0 : attempt);
      this.env.report({ kind: 'failed', applicationId: appId, profileId: profile.profileId, reason: (err as Error).message, notActivated, retryInMs });
      if (retryInMs !== undefined) {
        const timer = setTimeout(() => {
          this.retryTimers.delete(appId);
          this.request(appId);
        }, retryInMs);
        timer.unref();
        this.retryTimers.set(appId, timer);
      }
    } finally {
      this.tracker.flush();
    }
  }

  private cancelAll(): void {
    for (const run of this.running.values()) run.abort.abort();
    for (const timer of this.retryTimers.values()) clearTimeout(timer);
    this.retryTimers.clear();
    for (const timer of this.settleTimers.values()) clearTimeout(timer);
    this.settleTimers.clear();
    this.again.clear();
  }
}
