import { randomBytes } from 'node:crypto';
import { CompletionTracker, type Holder } from './completion-tracker';
import { DurableLog, type EntryMeta, type LogEntry, type LogOptions } from './durable-log';
import { TtsError, UNAVAILABLE } from '../util/errors';
import { ChurnSet } from '../util/churn-map';

export interface InboxLimits {
  /** Unfinished messages at most; past it webhooks are answered 503 (default 100,000). */
  maxMessages?: number;
  /** Unfinished body bytes at most (default 256 MiB). */
  maxBytes?: number;
  /** Replayed messages in the flow at once, per webhook node (default 100). */
  replayWindow?: number;
  /** First and longest wait before a held message is fed again, ms (default 1,000 and 30,000). */
  retryMin?: number;
  retryMax?: number;
}

/** The inbox cannot take a message: full, or its disk failed. Webhooks answer 503. */
export class InboxUnavailableError extends TtsError {
  constructor(message: string) {
    super(message, UNAVAILABLE('inbox_unavailable'));
    this.name = 'InboxUnavailableError';
  }
}

/**
 * Feeds one stored message into a flow again; returns the `_msgid` it was sent with (tracked),
 * or undefined when it can no longer be processed (it is then finished, with the reason logged
 * by the feeder).
 */
export type Feeder = (entry: LogEntry, body: string) => string | undefined;

interface NodeFeed {
  feeder: Feeder;
  queue: number[];
  inFlight: number;
  held: number[];
  retryDelay: number;
  retryTimer: NodeJS.Timeout | undefined;
  onError: (err: Error) => void;
  /** Told when a node hands one of this node's messages back, with the node's reason. */
  onHeld: ((reason: string) => void) | undefined;
  /** A body is being read back; feeding continues when it is in. */
  reading: boolean;
}

// 16 hex digits like Node-RED's own ids: a random prefix per 2^32 messages, then a counter (the
// randomBytes call per message cost more than the rest of tracking it).
let idPrefix = randomBytes(4).toString('hex');
let idCounter = 0;

export function newMessageId(): string {
  idCounter = (idCounter + 1) >>> 0;
  if (idCounter === 0) idPrefix = randomBytes(4).toString('hex');
  return idPrefix + idCounter.toString(16).padStart(8, '0');
}

/**
 * The durable inbox of one Node-RED instance: accepted webhook messages on disk until the flow
 * has finished with them, replays of the unfinished ones for the node that accepted them, and
 * redelivery of messages a node handed back.
 */
export class Inbox {
  readonly tracker: CompletionTracker<number>;
  private readonly feeds = new Map<string, NodeFeed>();
  private readonly inFlight = new ChurnSet<number>();
  private readonly replays = new ChurnSet<number>();
  private finishing: number[] = [];
  private finishScheduled = false;
  private readonly maxMessages: number;
  private readonly maxBytes: number;
  private readonly replayWindow: number;
  private readonly retryMin: number;
  private readonly retryMax: number;

  private constructor(
    private readonly log: DurableLog,
    limits: InboxLimits,
  ) {
    this.maxMessages = limits.maxMessages ?? 100_000;
    this.maxBytes = limits.maxBytes ?? 256 * 1024 * 1024;
    this.replayWindow = limits.replayWindow ?? 100;
    this.retryMin = limits.retryMin ?? 1_000;
    this.retryMax = limits.retryMax ?? 30_000;
    this.tracker = new CompletionTracker<number>((_msgid, seq, held) => this.finished(seq, held));
  }

  static async open(directory: string, limits: InboxLimits = {}, logOptions: LogOptions = {}): Promise<Inbox> {
    const { log } = await DurableLog.open(directory, logOptions);
    return new Inbox(log, limits);
  }

  get directory(): string {
    return this.log.directory;
  }

  /** Accepted messages the flow has not finished with. */
  get unfinished(): number {
    return this.log.unfinished;
  }

  /** Messages handed back and waiting to be fed again, for one node. */
  heldFor(node: string): number {
    return this.feeds.get(node)?.held.length ?? 0;
  }

  /** Stored messages of one node still to be replayed (not yet fed). */
  queuedFor(node: string): number {
    return this.feeds.get(node)?.queue.length ?? 0;
  }

  /**
   * Records a message durably. Resolves with its sequence number once it is synced; rejects with
   * InboxUnavailableError when over a bound or when the disk failed.
   */
  async accept(body: string, meta: EntryMeta, acceptedAt = Date.now()): Promise<number> {
    const { seq, synced } = this.acceptNow(body, meta, acceptedAt);
    await synced;
    return seq;
  }

  /**
   * Records a message: its sequence number at once (so it can go into the flow while the disk
   * write runs) and `synced`, which settles once it is durable and rejects with
   * InboxUnavailableError when the disk failed. Throws InboxUnavailableError when over a bound.
   */
  acceptNow(body: string, meta: EntryMeta, acceptedAt = Date.now()): { seq: number; synced: Promise<void> } {
    if (this.log.error) throw new InboxUnavailableError(`inbox cannot write: ${this.log.error.message}`);
    if (this.log.unfinished >= this.maxMessages) {
      throw new InboxUnavailableError(`inbox holds ${this.log.unfinished} unfinished messages, its limit`);
    }
    if (this.log.unfinishedBytes + Buffer.byteLength(body) > this.maxBytes) {
      throw new InboxUnavailableError(`inbox holds ${this.log.unfinishedBytes} bytes of unfinished messages, its limit is ${this.maxBytes}`);
    }
    const unavailable = (err: unknown): InboxUnavailableError => new InboxUnavailableError(`inbox cannot write: ${(err as Error).message}`);
    let appended: { seq: number; synced: Promise<void> };
    try {
      appended = this.log.appendNow(body, meta, acceptedAt);
    } catch (err) {
      throw unavailable(err);
    }
    return {
      seq: appended.seq,
      synced: appended.synced.catch((err: unknown) => {
        throw unavailable(err);
      }),
    };
  }

  /** Starts tracking a message about to be sent into the flow; call `sent` after send(). */
  track(msgid: string, seq: number): void {
    this.inFlight.add(seq);
    this.tracker.track(msgid, seq);
  }

  sent(msgid: string): void {
    this.tracker.sent(msgid);
  }

  /** The stored sequence number of a tracked message. */
  seqOf(msg: { _msgid?: unknown }): number | undefined {
    return this.tracker.valueOf(msg._msgid);
  }

  /** A node hands a tracked message back, to be fed again later; false when not tracked. */
  hold(msg: { _msgid?: unknown }, reason: string): boolean {
    const seq = this.seqOf(msg);
    if (seq === undefined || !this.tracker.hold(msg._msgid)) return false;
    const node = this.log.entry(seq)?.node;
    const feed = node === undefined ? undefined : this.feeds.get(node);
    feed?.onHeld?.(reason);
    return true;
  }

  /** Whether an effect (e.g. a downlink sent by a node) was recorded for the stored message. */
  hasEffect(msg: { _msgid?: unknown }, key: string): boolean | undefined {
    const seq = this.seqOf(msg);
    if (seq === undefined) return undefined;
    return this.log.entry(seq)?.effects?.has(key) ?? false;
  }

  recordEffect(msg: { _msgid?: unknown }, key: string): Promise<void> {
    const seq = this.seqOf(msg);
    return seq === undefined ? Promise.resolve() : this.log.recordEffect(seq, key);
  }

  /**
   * Connects a webhook node: its unfinished messages that are not in a flow now are replayed
   * through `feeder`, oldest first, at most `replayWindow` at a time.
   */
  attach(node: string, feeder: Feeder, onError: (err: Error) => void, onHeld?: (reason: string) => void): void {
    this.detach(node);
    const queue = this.log.entriesOf(node).map((e) => e.seq).filter((seq) => !this.inFlight.has(seq));
    const feed: NodeFeed = { feeder, queue, inFlight: 0, held: [], retryDelay: this.retryMin, retryTimer: undefined, onError, onHeld, reading: false };
    this.feeds.set(node, feed);
    this.pump(node, feed);
  }

  /** Disconnects a closing webhook node; what it had in the flow stays unfinished on disk. */
  detach(node: string): void {
    const feed = this.feeds.get(node);
    if (feed?.retryTimer) clearTimeout(feed.retryTimer);
    this.feeds.delete(node);
    for (const msgid of this.tracker.where((seq) => this.log.entry(seq)?.node === node)) {
      const seq = this.tracker.forget(msgid);
      if (seq !== undefined) {
        this.inFlight.delete(seq);
        this.replays.delete(seq);
      }
    }
  }

  /** Feeds again the messages that a redeployed node was holding when it was stopped. */
  replayOrphans(isLive: (node: Holder) => boolean): number {
    let count = 0;
    for (const msgid of this.tracker.orphans(isLive)) {
      const seq = this.tracker.forget(msgid);
      if (seq === undefined) continue;
      this.inFlight.delete(seq);
      const node = this.log.entry(seq)?.node;
      const feed = node === undefined ? undefined : this.feeds.get(node);
      if (!feed) continue;
      if (this.replays.delete(seq)) feed.inFlight -= 1;
      this.requeue(node!, feed, [seq]);
      count += 1;
    }
    return count;
  }

  async close(): Promise<void> {
    for (const node of [...this.feeds.keys()]) this.detach(node);
    this.flushFinished();
    await this.log.close();
  }

  private finished(seq: number, held: boolean): void {
    this.inFlight.delete(seq);
    const node = this.log.entry(seq)?.node;
    const feed = node === undefined ? undefined : this.feeds.get(node);
    if (feed && this.replays.delete(seq)) feed.inFlight -= 1;
    if (held) {
      if (feed) {
        feed.held.push(seq);
        this.scheduleRetry(node!, feed);
      }
      // Without a feed (its node is gone) it stays on disk for the next start.
    } else {
      if (feed) feed.retryDelay = this.retryMin;
      this.finishing.push(seq);
      if (!this.finishScheduled) {
        this.finishScheduled = true;
        setImmediate(() => this.flushFinished());
      }
    }
    if (feed && feed.queue.length > 0) this.pump(node!, feed);
  }

  /** Puts stored messages back in the node's queue, keeping acceptance order, and feeds on. */
  private requeue(node: string, feed: NodeFeed, seqs: number[]): void {
    feed.queue.push(...seqs);
    feed.queue.sort((a, b) => a - b);
    this.pump(node, feed);
  }

  private flushFinished(): void {
    this.finishScheduled = false;
    if (this.finishing.length === 0) return;
    const seqs = this.finishing;
    this.finishing = [];
    this.log.finish(seqs);
  }

  private scheduleRetry(node: string, feed: NodeFeed): void {
    if (feed.retryTimer) return;
    const delay = feed.retryDelay;
    feed.retryDelay = Math.min(feed.retryDelay * 2, this.retryMax);
    feed.retryTimer = setTimeout(() => {
      feed.retryTimer = undefined;
      if (this.feeds.get(node) !== feed) return;
      const held = feed.held;
      feed.held = [];
      this.requeue(node, feed, held);
    }, delay);
    feed.retryTimer.unref?.();
  }

  /**
   * Feeds queued messages while the window has room. Bodies are read back one at a time, so
   * messages enter the flow in the order they were accepted.
   */
  private pump(node: string, feed: NodeFeed): void {
    if (feed.reading) return;
    feed.reading = true;
    void (async () => {
      while (this.feeds.get(node) === feed && feed.inFlight < this.replayWindow && feed.queue.length > 0) {
        const seq = feed.queue.shift()!;
        const entry = this.log.entry(seq);
        if (!entry || this.inFlight.has(seq)) continue;
        feed.inFlight += 1;
        this.replays.add(seq);
        this.inFlight.add(seq);
        let body: string;
        try {
          body = await this.log.body(seq);
        } catch (err) {
          this.replays.delete(seq);
          this.inFlight.delete(seq);
          feed.inFlight -= 1;
          feed.onError(err instanceof Error ? err : new Error(String(err)));
          continue;
        }
        if (this.feeds.get(node) !== feed || !this.replays.has(seq)) break;
        let msgid: string | undefined;
        try {
          msgid = feed.feeder(entry, body);
        } catch (err) {
          feed.onError(err instanceof Error ? err : new Error(String(err)));
        }
        if (msgid === undefined) this.finished(seq, false);
      }
      feed.reading = false;
      // Room may have opened while the last body was read.
      if (this.feeds.get(node) === feed && feed.inFlight < this.replayWindow && feed.queue.length > 0) this.pump(node, feed);
    })();
  }
}
