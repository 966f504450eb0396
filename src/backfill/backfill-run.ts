import type { TtsApiClient } from '../tts/api/client';
import { TtsApiError } from '../tts/api/errors';
import { nanosToTimestamp, timestampNanos } from '../tts/timestamps';
import type { GapTracker } from './gap-tracker';
import { identityOfStored, uplinkKeys } from './uplink-keys';

/** Where fetched uplinks go: a deployed tts-webhook-in (webhookInputs in src/inbox/inputs.ts). */
export interface BackfillTarget {
  inject(body: string, source: 'backfill'): Promise<void>;
}

export interface BackfillRunOptions {
  client: TtsApiClient;
  applicationId: string;
  /** RFC 3339 bounds of the window: `after` and `before` of the query. */
  from: string;
  to: string;
  /** Uplinks asked for per request (`limit`). */
  pageSize: number;
  tracker: GapTracker;
  target: BackfillTarget;
  /** Holds the keys of the uplink being fed in, for as long as that takes. */
  injecting?: Set<string>;
  /** Move the application's open gap forward with the progress (default true). */
  advanceGap?: boolean;
  signal?: AbortSignal;
  /** A stream cut off mid-way is asked for again from where it stopped, this often. Default 3. */
  maxResumes?: number;
  /** Consecutive refused injections before the run stops (the inbox is full or gone). Default 3. */
  maxInjectFailures?: number;
}

export interface BackfillOutcome {
  /** Uplinks TTS returned (a page's first may be the previous page's last, counted once). */
  fetched: number;
  /** Already received live (or fed in before): not fed again. */
  skipped: number;
  /** Fed into the flow as replays. */
  injected: number;
  /** Refused by webhook-in (not a valid TTS message): logged, not retried. */
  refused: number;
  /** The first refusal's reason. */
  refusal?: string;
  requests: number;
}

/** The run stopped because webhook-in refused several uplinks in a row. */
export class InjectFailure extends Error {}

/** The run was cancelled (Node-RED stopping or redeploying); its gap stays open. */
export class BackfillCancelled extends Error {}

/**
 * Fills one window of an application's gap: pages through the uplinks TTS's Storage Integration
 * kept (ascending received_at, `limit` per request, the next page starting at the last
 * received_at seen), skips those that reached the flow already and feeds the others, one at a
 * time and in order, to webhook-in, which records each durably before the next is asked for.
 * Progress moves the gap's start forward, so an interrupted run resumes where it stopped.
 *
 * TTS does not document whether `after` includes its bound; paging on the last received_at
 * and skipping what was seen works either way (an exclusive bound could only miss uplinks that
 * share the very same nanosecond across a page boundary).
 */
export async function runBackfill(options: BackfillRunOptions): Promise<BackfillOutcome> {
  const { client, applicationId, tracker, target, signal } = options;
  const maxResumes = options.maxResumes ?? 3;
  const maxInjectFailures = options.maxInjectFailures ?? 3;
  const outcome: BackfillOutcome = { fetched: 0, skipped: 0, injected: 0, refused: 0, requests: 0 };
  // Keys of the uplinks at the newest received_at handled so far: the next page starts there.
  let boundary = { nanos: -1n, keys: new Set<string>() };
  let cursor = options.from;
  let resumes = 0;
  let failuresInRow = 0;

  for (;;) {
    let inPage = 0;
    let newInPage = 0;
    let lastAt: string | undefined;
    outcome.requests += 1;
    try {
      for await (const up of client.storedMessages(applicationId, { type: 'uplink_message', after: cursor, before: options.to, limit: options.pageSize, order: 'received_at' }, { signal })) {
        inPage += 1;
        const id = identityOfStored(up);
        if (!id) continue;
        lastAt = id.receivedAt;
        const keys = uplinkKeys(id);
        const nanos = timestampNanos(id.receivedAt)!;
        if (nanos === boundary.nanos && keys.some((k) => boundary.keys.has(k))) continue; // asked for again
        if (nanos > boundary.nanos) boundary = { nanos, keys: new Set() };
        keys.forEach((k) => boundary.keys.add(k));
        newInPage += 1;
        outcome.fetched += 1;
        if (tracker.seen(applicationId, keys)) {
          outcome.skipped += 1;
        } else {
          keys.forEach((k) => options.injecting?.add(k));
          try {
            await target.inject(JSON.stringify(up), 'backfill');
            outcome.injected += 1;
            failuresInRow = 0;
            tracker.received(applicationId, id);
          } catch (err) {
            outcome.refused += 1;
            outcome.refusal ??= (err as Error).message;
            failuresInRow += 1;
            if (failuresInRow >= maxInjectFailures) throw new InjectFailure(`tts-webhook-in refused ${failuresInRow} uplinks in a row: ${(err as Error).message}`);
          } finally {
            keys.forEach((k) => options.injecting?.delete(k));
          }
        }
        if (options.advanceGap !== false) tracker.advanceGap(applicationId, id.receivedAt, keys);
        if (signal?.aborted) throw new BackfillCancelled('cancelled');
      }
    } catch (err) {
      if (signal?.aborted) throw new BackfillCancelled('cancelled');
      const cut = err instanceof TtsApiError && (err.kind === 'network' || err.kind === 'timeout') && inPage > 0;
      if (!cut || resumes >= maxResumes) throw err;
      resumes += 1;
      if (lastAt !== undefined) cursor = lastAt;
      continue;
    }
    if (inPage < options.pageSize || lastAt === undefined) return outcome;
    const lastNanos = timestampNanos(lastAt)!;
    // A full page that brought nothing new (all in one nanosecond): step past it.
    cursor = newInPage === 0 || timestampNanos(cursor) === lastNanos ? nanosToTimestamp(lastNanos + 1n) : lastAt;
  }
}
