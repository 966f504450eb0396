import { EventEmitter } from 'node:events';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { CreateDeviceResult, StoreBackend } from './backend';
import { QueueFullError, StoreInputError, StoreUnavailableError, describeError } from './errors';
import { isDataError } from './postgres-backend';
import { toJsonText } from './rows';
import { WriteQueue, type QueuedColumns, type WriteOutcome } from './write-queue';
import {
  DEFAULT_PAGE,
  MAX_PAGE,
  type BucketRecord,
  type BucketStats,
  type DevicePage,
  type DeviceRecord,
  type DeviceSighting,
  type NewDevice,
  type Reading,
  type ReadingPage,
  type ReadingQuery,
  type Retention,
  type SightingResult,
  type StoredReading,
} from './types';

export interface StoreOptions {
  /** Readings waiting for the store, at most (default 10,000). Past it, writes fail with QueueFullError. */
  maxQueue?: number;
  /** Readings per transaction, at most (default 5,000). */
  batchSize?: number;
  /** First and longest wait between reconnect attempts, ms (default 500 and 30,000). */
  retryMin?: number;
  retryMax?: number;
  /** How often retention is enforced, ms (default 60,000; 0 = never in the background). */
  retentionInterval?: number;
  /** Rows deleted per statement when enforcing retention (default 5,000). */
  retentionChunk?: number;
}

export type StoreState =
  | { status: 'connecting' }
  | { status: 'ready'; queued: number }
  | { status: 'unavailable'; error: string; queued: number }
  | { status: 'closed' };

export type { WriteOutcome };

const BUCKET_ID_MAX = 200;

export function checkBucketId(id: unknown): string {
  if (typeof id !== 'string' || id.trim() === '') throw new StoreInputError('bucket id must be a non-empty string');
  if (id.length > BUCKET_ID_MAX) throw new StoreInputError(`bucket id is longer than ${BUCKET_ID_MAX} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(id)) throw new StoreInputError('bucket id must not contain control characters');
  return id;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return true;
  // An object literal of another realm: a Node-RED function node runs in its own vm context.
  return Object.getPrototypeOf(proto) === null && Object.prototype.toString.call(value) === '[object Object]' && (proto as { constructor?: { name?: unknown } }).constructor?.name === 'Object';
}

/**
 * The store everything in this package talks to: devices, buckets and readings over one backend.
 *
 * Writes are queued and flushed as soon as the event loop is free (setImmediate), so a single
 * reading is written without delay while a burst becomes a few large transactions. When the
 * backend fails, readings stay queued (bounded) and the store retries with backoff; callers are
 * told their reading is queued, and get a QueueFullError once the bound is reached.
 *
 * Events: `state` (StoreState) on every change of reachability.
 */
export class TtsStore extends EventEmitter {
  private readonly maxQueue: number;
  private readonly batchSize: number;
  private readonly retryMin: number;
  private readonly retryMax: number;
  private readonly retentionInterval: number;
  private readonly retentionChunk: number;

  private readonly queue: WriteQueue;
  private readonly bucketKeys = new Map<string, number>();
  private flushing: Promise<void> | undefined;
  private flushScheduled = false;
  private opened = false;
  private opening: Promise<void> | undefined;
  private closed = false;
  private lastError: string | undefined;
  private retryDelay: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;
  private retentionRunning: Promise<number> | undefined;
  private stateValue: StoreState = { status: 'connecting' };

  constructor(
    readonly backend: StoreBackend,
    options: StoreOptions = {},
  ) {
    super();
    this.maxQueue = options.maxQueue ?? 10_000;
    this.batchSize = options.batchSize ?? 5_000;
    this.retryMin = options.retryMin ?? 500;
    this.retryMax = options.retryMax ?? 30_000;
    this.retentionInterval = options.retentionInterval ?? 60_000;
    this.retentionChunk = options.retentionChunk ?? 5_000;
    this.retryDelay = this.retryMin;
    this.queue = new WriteQueue(this.batchSize);
  }

  get dialect(): 'sqlite' | 'postgres' {
    return this.backend.dialect;
  }

  get state(): StoreState {
    return this.stateValue;
  }

  /** Readings accepted and not yet written. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Opens (connects and migrates). Resolves once open; on failure the store stays usable for
   * writes (they queue), retries in the background and the returned promise rejects.
   */
  async start(): Promise<void> {
    if (this.closed) throw new StoreUnavailableError('store is closed');
    await this.tryOpen();
    if (!this.opened) throw new StoreUnavailableError(this.lastError ?? 'not open');
  }

  private tryOpen(): Promise<void> {
    if (this.opened) return Promise.resolve();
    this.opening ??= (async () => {
      try {
        await this.backend.open();
        this.opened = true;
        this.lastError = undefined;
        this.retryDelay = this.retryMin;
        this.setState({ status: 'ready', queued: this.queue.length });
        this.startRetention();
        if (this.queue.length > 0) this.scheduleFlush();
      } catch (err) {
        this.failed(err);
      } finally {
        this.opening = undefined;
      }
    })();
    return this.opening;
  }

  private setState(state: StoreState): void {
    this.stateValue = state;
    this.emit('state', state);
  }

  private failed(err: unknown): void {
    // Everything waiting stays queued; callers learn their reading is accepted but not yet written.
    this.queue.reportAllQueued();
    this.lastError = describeError(err);
    this.setState({ status: 'unavailable', error: this.lastError, queued: this.queue.length });
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    const delay = this.retryDelay;
    this.retryDelay = Math.min(this.retryDelay * 2, this.retryMax);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.retry();
    }, delay);
    this.retryTimer.unref?.();
  }

  private async retry(): Promise<void> {
    if (this.closed) return;
    if (!this.opened) {
      await this.tryOpen();
      return;
    }
    this.lastError = undefined;
    await this.flush();
    if (this.lastError === undefined) {
      this.retryDelay = this.retryMin;
      this.setState({ status: 'ready', queued: this.queue.length });
    }
  }

  /** Waits for an open in progress; throws when the store is not reachable. */
  private async backendReady(): Promise<StoreBackend> {
    if (this.closed) throw new StoreUnavailableError('store is closed');
    if (!this.opened) await (this.opening ?? this.tryOpen());
    if (!this.opened) throw new StoreUnavailableError(this.lastError ?? 'not open');
    return this.backend;
  }

  // ---- readings -------------------------------------------------------------------------

  /**
   * Accepts one reading. Resolves when it is committed, or (store unreachable) when it is queued
   * in memory; rejects with StoreInputError for bad input and QueueFullError when the queue is full.
   */
  write(reading: Reading): Promise<WriteOutcome> {
    // Checked field by field and queued as columns, so an accepted reading allocates only its JSON.
    let bucketKey: number;
    let data: string;
    let radio: string | null;
    const { bucket, ts, fCnt, fPort } = reading;
    try {
      // A bucket with a known key was checked when it was first seen.
      bucketKey = typeof bucket === 'string' ? (this.bucketKeys.get(bucket) ?? -1) : -1;
      if (bucketKey < 0) checkBucketId(bucket);
      if (typeof ts !== 'number' || !Number.isFinite(ts)) throw new StoreInputError('reading time is not a valid time');
      if (!isPlainObject(reading.data)) throw new StoreInputError('a reading must be a JSON object (msg.payload)');
      if (fCnt !== undefined && !(Number.isInteger(fCnt) && fCnt >= 0)) throw new StoreInputError('f_cnt must be a whole number ≥ 0');
      if (fPort !== undefined && !(Number.isInteger(fPort) && fPort >= 0 && fPort <= 255)) {
        throw new StoreInputError('f_port must be a whole number from 0 to 255');
      }
      try {
        data = JSON.stringify(reading.data);
        radio = toJsonText(reading.radio);
      } catch (err) {
        throw new StoreInputError(`reading cannot be stored as JSON: ${(err as Error).message}`);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.closed) return Promise.reject(new StoreUnavailableError('store is closed'));
    if (this.queue.length >= this.maxQueue) {
      return Promise.reject(new QueueFullError(this.maxQueue, this.lastError));
    }
    const unavailable = this.stateValue.status === 'unavailable';
    if (!unavailable) this.scheduleFlush();
    else if (!this.opened && !this.opening && !this.retryTimer) this.scheduleRetry();
    return this.queue.push(
      bucket,
      bucketKey,
      Math.trunc(ts),
      // Readings without an uplink get a random negative counter, so two of them never collide.
      fCnt ?? -1 - Math.floor(Math.random() * 2 ** 31),
      fPort ?? null,
      data,
      radio,
      unavailable,
    );
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.flushing || !this.opened) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  /** Writes everything queued, batch by batch. Resolves when the queue is empty or the store failed. */
  flush(): Promise<void> {
    this.flushing ??= this.runFlush().finally(() => {
      this.flushing = undefined;
      // Readings that arrived during the last batch.
      if (this.queue.length > 0 && this.stateValue.status !== 'unavailable') this.scheduleFlush();
    });
    return this.flushing;
  }

  private async runFlush(): Promise<void> {
    while (this.queue.length > 0 && this.opened && !this.closed) {
      const batch = this.queue.take(this.batchSize);
      try {
        await this.resolveBucketKeys(batch.rows);
        await this.backend.insertReadings(batch.rows);
      } catch (err) {
        if (isDataError(err)) {
          const lost = this.queue.refused(batch, new Error(`readings not stored: ${describeError(err)}`));
          if (lost > 0) this.emit('warning', `${lost} queued readings not stored: ${describeError(err)}`);
          continue;
        }
        this.failed(err);
        return;
      }
      this.queue.committed(batch);
      if (this.stateValue.status === 'ready' && this.stateValue.queued > 0) this.setState({ status: 'ready', queued: this.queue.length });
      if (this.queue.length > 0) await yieldToLoop();
    }
  }

  /** Fills in the keys of buckets first seen in this batch, creating the buckets that are new. */
  private async resolveBucketKeys(rows: QueuedColumns): Promise<void> {
    const { bucket, bucketKey } = rows;
    let missing: Set<string> | undefined;
    for (let i = 0; i < bucketKey.length; i++) {
      if (bucketKey[i] >= 0) continue;
      const key = this.bucketKeys.get(bucket[i]);
      if (key !== undefined) bucketKey[i] = key;
      else (missing ??= new Set()).add(bucket[i]);
    }
    if (!missing) return;
    // Sorted, so two instances creating the same buckets lock them in the same order.
    for (const [id, key] of await this.backend.ensureBuckets([...missing].sort(), Date.now())) this.bucketKeys.set(id, key);
    for (let i = 0; i < bucketKey.length; i++) if (bucketKey[i] < 0) bucketKey[i] = this.bucketKeys.get(bucket[i])!;
  }

  /** One page of readings. Unknown buckets are an error (a typo should not look like "no data"). */
  async query(query: ReadingQuery): Promise<ReadingPage> {
    const backend = await this.backendReady();
    const bucket = await this.bucketKey(query.bucket);
    const limit = query.limit ?? DEFAULT_PAGE;
    if (!Number.isInteger(limit) || limit < 1) throw new StoreInputError('limit must be a whole number ≥ 1');
    if (query.from !== undefined && !Number.isFinite(query.from)) throw new StoreInputError('"from" is not a valid time');
    if (query.to !== undefined && !Number.isFinite(query.to)) throw new StoreInputError('"to" is not a valid time');
    if (query.order !== undefined && query.order !== 'asc' && query.order !== 'desc') {
      throw new StoreInputError('order must be "asc" or "desc"');
    }
    const size = Math.min(limit, MAX_PAGE);
    const page = await backend.queryReadings(bucket, { ...query, limit: size });
    const result: ReadingPage = { rows: page.rows };
    if (page.rows.length === size && page.last) result.next = page.last;
    return result;
  }

  /** Every reading in a range, page by page, yielding to the event loop between pages. */
  async *readAll(query: Omit<ReadingQuery, 'after' | 'limit'>, pageSize = DEFAULT_PAGE): AsyncGenerator<StoredReading[]> {
    let after: ReadingQuery['after'];
    for (;;) {
      const page = await this.query({ ...query, limit: pageSize, ...(after ? { after } : {}) });
      if (page.rows.length > 0) yield page.rows;
      if (!page.next) return;
      after = page.next;
      await yieldToLoop();
    }
  }

  private async bucketKey(id: string): Promise<number> {
    checkBucketId(id);
    const cached = this.bucketKeys.get(id);
    if (cached !== undefined) return cached;
    const bucket = await this.backend.getBucket(id);
    if (!bucket) throw new StoreInputError(`bucket "${id}" does not exist`);
    this.bucketKeys.set(id, bucket.key);
    return bucket.key;
  }

  // ---- buckets --------------------------------------------------------------------------

  async ensureBucket(id: string, device?: string): Promise<void> {
    checkBucketId(id);
    const backend = await this.backendReady();
    this.bucketKeys.set(id, await backend.ensureBucket(id, device, Date.now()));
  }

  async getBucket(id: string): Promise<BucketRecord | undefined> {
    const bucket = await (await this.backendReady()).getBucket(id);
    if (!bucket) return undefined;
    const { key: _key, ...record } = bucket;
    return record;
  }

  async listBuckets(): Promise<BucketRecord[]> {
    return (await this.backendReady()).listBuckets();
  }

  async bucketStats(id: string): Promise<BucketStats | undefined> {
    return (await this.backendReady()).bucketStats(id);
  }

  async setRetention(id: string, retention: Retention): Promise<void> {
    for (const [name, value] of Object.entries(retention)) {
      if (value !== undefined && !(Number.isInteger(value) && value >= 0)) {
        throw new StoreInputError(`retention ${name} must be a whole number ≥ 0`);
      }
    }
    await this.ensureBucket(id);
    await (await this.backendReady()).setRetention(id, retention);
  }

  /**
   * Enforces every bucket's retention now, in short steps with the event loop free between them;
   * returns the rows deleted (0 when another instance on the same PostgreSQL is doing it).
   */
  enforceRetention(now = Date.now()): Promise<number> {
    this.retentionRunning ??= (async () => {
      const backend = await this.backendReady();
      const deleted = await backend.withRetentionLock(async (run) => {
        let total = 0;
        for (const bucket of await run.buckets()) {
          for (;;) {
            if (this.closed) return total;
            const n = await run.trim(bucket, now, this.retentionChunk);
            total += n;
            await yieldToLoop();
            if (n < this.retentionChunk) break;
          }
        }
        return total;
      });
      return deleted ?? 0;
    })().finally(() => {
      this.retentionRunning = undefined;
    });
    return this.retentionRunning;
  }

  private startRetention(): void {
    if (this.retentionInterval <= 0 || this.retentionTimer) return;
    this.retentionTimer = setInterval(() => {
      this.enforceRetention().catch((err: unknown) => this.emit('warning', `retention: ${describeError(err)}`));
    }, this.retentionInterval);
    this.retentionTimer.unref?.();
  }

  // ---- devices --------------------------------------------------------------------------

  async createDevice(device: NewDevice): Promise<CreateDeviceResult> {
    checkBucketId(device.bucket);
    const result = await (await this.backendReady()).createDevice(device);
    return result;
  }

  async getDevice(id: string): Promise<DeviceRecord | undefined> {
    return (await this.backendReady()).getDevice(id);
  }

  async findDevice(applicationId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    return (await this.backendReady()).findDevice(applicationId, deviceId);
  }

  async listDevices(options: { after?: string; limit?: number } = {}): Promise<DevicePage> {
    const limit = Math.min(options.limit ?? DEFAULT_PAGE, MAX_PAGE);
    const devices = await (await this.backendReady()).listDevices(options.after, limit);
    const page: DevicePage = { devices };
    if (devices.length === limit) page.next = devices[devices.length - 1].id;
    return page;
  }

  async recordSighting(id: string, sighting: DeviceSighting): Promise<SightingResult | undefined> {
    return (await this.backendReady()).recordSighting(id, sighting);
  }

  async setDownlink(id: string, value: unknown): Promise<boolean> {
    if (value !== undefined) {
      try {
        JSON.stringify(value);
      } catch (err) {
        throw new StoreInputError(`downlink cannot be stored as JSON: ${(err as Error).message}`);
      }
    }
    return (await this.backendReady()).setDownlink(id, value ?? null, Date.now());
  }

  async markOffline(now = Date.now()): Promise<DeviceRecord[]> {
    return (await this.backendReady()).markOffline(now);
  }

  // ---- lifecycle ------------------------------------------------------------------------

  /**
   * Stops timers, writes what is queued (if the store is reachable) and closes the backend.
   * Readings that cannot be written are rejected, or counted in the returned `lost` when they
   * had already been reported as queued.
   */
  async close(): Promise<{ lost: number }> {
    if (this.closed) return { lost: 0 };
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    this.retryTimer = undefined;
    this.retentionTimer = undefined;
    if (this.opening) await this.opening;
    if (this.flushing) await this.flushing;
    if (this.opened && this.queue.length > 0 && this.stateValue.status !== 'unavailable') await this.flush();
    this.closed = true;
    if (this.retentionRunning) await this.retentionRunning.catch(() => 0);
    const lost = this.queue.drain(new StoreUnavailableError('store closed before the reading could be written'));
    this.opened = false;
    await this.backend.close();
    this.setState({ status: 'closed' });
    return { lost };
  }
}
