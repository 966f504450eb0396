import { EventEmitter } from 'node:events';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { DeviceWrite, DeviceWriteResult, LoadedDevice, StoreBackend } from './backend';
import { withState } from './device-state';
import { QueueFullError, StoreDataError, StoreInputError, StoreUnavailableError, asStoreError, describeError } from './errors';
import { toJsonText } from './rows';
import { WriteQueue, type Batch, type QueuedColumns, type WriteOutcome } from './write-queue';
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

const GATHER_MS = 2;
// A queue this long already makes a transaction worth its cost: no waiting.
const GATHER_BELOW = 64;

export interface StoreOptions {
  /** Writes waiting for the store, at most (default 10,000 readings and as many device writes). Past it, writes fail with QueueFullError. */
  maxQueue?: number;
  /** Readings (and device writes) per transaction, at most (default 5,000). */
  batchSize?: number;
  /**
   * How long a small queue waits for more writes before its transaction, ms (default 2; 0 = the
   * next turn of the event loop). A transaction's fixed cost (BEGIN, COMMIT, the pages a commit
   * writes, a round trip to PostgreSQL) is then shared by the writes of a few milliseconds.
   */
  gatherMs?: number;
  /**
   * Whether every transaction of fewer than 64 writes gathers for gatherMs, not only the first
   * after an idle spell (default false: the writes that came in during a transaction go at once).
   * Worth it where a transaction's fixed cost is large beside its rows (a round trip and a commit
   * on PostgreSQL): under load transactions grow and there are fewer of them, while a write to an
   * idle store waits no longer than before. Reads of devices never wait for it.
   */
  gatherEach?: boolean;
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
/** Reading times the store keeps: within ±2^53 ms (both backends use 64-bit integers). */
const TS_LIMIT = Number.MAX_SAFE_INTEGER;

export function checkBucketId(id: unknown): string {
  if (typeof id !== 'string' || id.trim() === '') throw new StoreInputError('bucket id must be a non-empty string');
  if (id.length > BUCKET_ID_MAX) throw new StoreInputError(`bucket id is longer than ${BUCKET_ID_MAX} characters`);
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
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
 * Writes (readings, device creations and sightings) are queued and flushed as soon as the event
 * loop is free (setImmediate), all of a flush in one transaction: a single write goes out without
 * delay while a burst becomes a few large transactions. A write resolves only when its
 * transaction has committed. When the store is unreachable, writes are refused at once with
 * StoreUnavailableError (the caller hands its message back to the durable inbox) and the store
 * reconnects with backoff; a full queue refuses with QueueFullError. A transaction the database
 * refuses because of its data is split until only the writes it refuses fail (StoreDataError).
 *
 * Events: `state` (StoreState) on every change of reachability; `warning` (text).
 */
export class TtsStore extends EventEmitter {
  private readonly maxQueue: number;
  private readonly batchSize: number;
  private readonly gatherMs: number;
  private readonly gatherEach: boolean;
  private readonly retryMin: number;
  private readonly retryMax: number;
  private readonly retentionInterval: number;
  private readonly retentionChunk: number;

  private readonly queue = new WriteQueue();
  private readonly bucketKeys = new Map<string, number>();
  private flushing: Promise<void> | undefined;
  private flushScheduled = false;
  /** Set while someone waits for the queue to be empty (a device read, close): no gathering. */
  private draining = false;
  private opened = false;
  private opening: Promise<void> | undefined;
  private closed = false;
  private closing = false;
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
    this.gatherMs = options.gatherMs ?? GATHER_MS;
    this.gatherEach = options.gatherEach ?? false;
    this.retryMin = options.retryMin ?? 500;
    this.retryMax = options.retryMax ?? 30_000;
    this.retentionInterval = options.retentionInterval ?? 60_000;
    this.retentionChunk = options.retentionChunk ?? 5_000;
    this.retryDelay = this.retryMin;
  }

  get dialect(): 'sqlite' | 'postgres' {
    return this.backend.dialect;
  }

  get state(): StoreState {
    return this.stateValue;
  }

  /** Writes accepted and not yet committed. */
  get queued(): number {
    return this.queue.length + this.queue.deviceLength;
  }

  /** Whether a write now would be refused at once (unreachable, closing or closed); a reason, or undefined. */
  get refusal(): string | undefined {
    if (this.closed || this.closing) return 'store is closing';
    if (this.stateValue.status === 'unavailable') return this.lastError ?? 'unreachable';
    return undefined;
  }

  /**
   * Opens (connects and migrates). Resolves once open; on failure the store retries in the
   * background and the returned promise rejects.
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
        this.back();
        this.startRetention();
      } catch (err) {
        this.failed(err);
      } finally {
        this.opening = undefined;
      }
    })();
    return this.opening;
  }

  private back(): void {
    this.lastError = undefined;
    this.retryDelay = this.retryMin;
    this.setState({ status: 'ready', queued: this.queued });
    if (!this.queue.empty) this.scheduleFlush();
  }

  private setState(state: StoreState): void {
    this.stateValue = state;
    this.emit('state', state);
  }

  /** The store is unreachable: what waits is refused (its callers hold their messages), and a reconnect is scheduled. */
  private failed(err: unknown): void {
    this.lastError = describeError(err);
    this.queue.drain(new StoreUnavailableError(this.lastError));
    if (this.stateValue.status !== 'unavailable' || this.stateValue.error !== this.lastError) {
      this.setState({ status: 'unavailable', error: this.lastError, queued: 0 });
    }
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.closing || this.retryTimer) return;
    const delay = this.retryDelay;
    this.retryDelay = Math.min(this.retryDelay * 2, this.retryMax);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.retry();
    }, delay);
    this.retryTimer.unref?.();
  }

  private async retry(): Promise<void> {
    if (this.closed || this.closing) return;
    if (!this.opened) {
      await this.tryOpen();
      return;
    }
    try {
      await this.backend.schemaVersion();
    } catch (err) {
      this.failed(err);
      return;
    }
    this.back();
  }

  /** Waits for an open in progress; throws when the store is not reachable. */
  private async backendReady(): Promise<StoreBackend> {
    if (this.closed) throw new StoreUnavailableError('store is closed');
    if (!this.opened) await (this.opening ?? this.tryOpen());
    if (!this.opened) throw new StoreUnavailableError(this.lastError ?? 'not open');
    return this.backend;
  }

  /** Why a write must be refused now, as an error; undefined when it may be queued. */
  private refuse(pending: number): Error | undefined {
    if (this.closed || this.closing) return new StoreUnavailableError('store is closing');
    if (this.stateValue.status === 'unavailable') {
      if (!this.opened && !this.opening && !this.retryTimer) this.scheduleRetry();
      return new StoreUnavailableError(this.lastError ?? 'unreachable');
    }
    if (pending >= this.maxQueue) return new QueueFullError(this.maxQueue, this.lastError);
    return undefined;
  }

  // ---- readings -------------------------------------------------------------------------

  /**
   * Accepts one reading. Resolves when it is committed; rejects with StoreInputError for bad
   * input, StoreUnavailableError (unreachable or closing), QueueFullError, or StoreDataError when
   * the database refuses it.
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
      if (typeof ts !== 'number' || !Number.isFinite(ts) || Math.abs(ts) > TS_LIMIT) throw new StoreInputError('reading time is not a valid time');
      if (!isPlainObject(reading.data)) throw new StoreInputError('a reading must be a JSON object (msg.payload)');
      if (fCnt !== undefined && !(Number.isInteger(fCnt) && fCnt >= 0 && fCnt <= TS_LIMIT)) throw new StoreInputError('f_cnt must be a whole number ≥ 0');
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
    const refused = this.refuse(this.queue.length);
    if (refused) return Promise.reject(refused);
    this.scheduleFlush();
    return this.queue.push(
      bucket,
      bucketKey,
      Math.trunc(ts),
      // Readings without an uplink get a random negative counter, so two of them never collide.
      fCnt ?? -1 - Math.floor(Math.random() * 2 ** 31),
      fPort ?? null,
      data,
      radio,
    );
  }

  /**
   * Queues one message's device work (creation and/or sighting) for the next flush, in the same
   * transaction as the readings. Resolves with its effect once committed; rejects as write() does.
   */
  writeDevice(write: DeviceWrite): Promise<DeviceWriteResult> {
    if (write.create) {
      try {
        checkBucketId(write.create.bucket);
        JSON.stringify(write.create.downlink);
      } catch (err) {
        return Promise.reject(err instanceof StoreInputError ? err : new StoreInputError(`downlink cannot be stored as JSON: ${(err as Error).message}`));
      }
    }
    const refused = this.refuse(this.queue.deviceLength);
    if (refused) return Promise.reject(refused);
    this.scheduleFlush();
    return this.queue.pushDevice(write);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.flushing || !this.opened) return;
    this.flushScheduled = true;
    const run = (): void => {
      this.flushScheduled = false;
      void this.startFlush();
    };
    if (this.gatherMs > 0 && this.queue.length + this.queue.deviceLength < GATHER_BELOW) setTimeout(run, this.gatherMs);
    else setImmediate(run);
  }

  /** Writes everything queued, batch by batch. Resolves when the queue is empty or the store failed. */
  flush(): Promise<void> {
    this.draining = true;
    return this.startFlush();
  }

  /** Runs a flush unless one is running; with gatherEach it may end before the queue is empty (see below). */
  private startFlush(): Promise<void> {
    this.flushing ??= this.runFlush().finally(() => {
      this.flushing = undefined;
      this.draining = false;
      // Writes that arrived during the last batch.
      if (!this.queue.empty && this.stateValue.status === 'ready') this.scheduleFlush();
    });
    return this.flushing;
  }

  private async runFlush(): Promise<void> {
    while (!this.queue.empty && this.opened && !this.closed && this.stateValue.status !== 'unavailable') {
      const batch = this.queue.take(this.batchSize);
      if (!(await this.commit(batch))) return;
      // What came in meanwhile gathers before its transaction (scheduled when this flush ends).
      if (this.gatherEach && !this.draining && this.gatherMs > 0 && this.queued < GATHER_BELOW) return;
      if (!this.queue.empty) await yieldToLoop();
    }
  }

  /**
   * Commits one batch. A refusal of its data splits it in halves, down to the single write the
   * database refuses (that one fails with the reason; the rest commit). Returns false on an outage
   * (the batch and everything queued were refused as unavailable).
   */
  private async commit(batch: Batch): Promise<boolean> {
    try {
      await this.resolveBucketKeys(batch.rows);
      const result = await this.backend.writeBatch({ devices: batch.devices, readings: batch.rows });
      batch.committed(result.devices);
      return true;
    } catch (err) {
      if (!this.backend.isDataError(err)) {
        batch.failed(new StoreUnavailableError(describeError(err)));
        this.failed(err);
        return false;
      }
      if (batch.size === 1) {
        const reason = err instanceof StoreDataError ? err.message : `the store refused it: ${describeError(err)}`;
        batch.failed(new StoreDataError(reason));
        return true;
      }
      const [first, rest] = batch.split(Math.ceil(batch.size / 2));
      return (await this.commit(first)) && (await this.commit(rest));
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

  /** Creates a device with its bucket (committed before it resolves); `created` is false when it existed. */
  async createDevice(device: NewDevice): Promise<{ device: DeviceRecord; created: boolean }> {
    const result = await this.writeDevice({ id: device.id, create: device });
    const record = result.state ? await this.getDevice(result.state.id) : undefined;
    if (!record) throw new StoreUnavailableError(`device "${device.id}" could not be read back`);
    return { device: record, created: result.created };
  }

  async getDevice(id: string): Promise<DeviceRecord | undefined> {
    return this.readDevices((backend) => backend.getDevice(id));
  }

  /**
   * A device by registry id as committed, without waiting for the queued device writes (the
   * registry, which has the device's newer state in memory, reading its cold columns).
   */
  async getDeviceNow(id: string): Promise<DeviceRecord | undefined> {
    return this.readDevices((backend) => backend.getDevice(id), false);
  }

  async findDevice(applicationId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    return this.readDevices((backend) => backend.findDevice(applicationId, deviceId));
  }

  /**
   * A read of device rows, after the queued device writes unless `afterWrites` is false (the
   * registry loading a device it has no state of). The database failing (not refusing the
   * query) is a StoreUnavailableError like a refused write: a message whose provisioning needed
   * the read goes back to its inbox instead of failing (the store may not have noticed the
   * outage yet, as when PostgreSQL goes down between two flushes).
   */
  private async readDevices<T>(read: (backend: StoreBackend) => Promise<T>, afterWrites = true): Promise<T> {
    const backend = await this.backendReady();
    if (afterWrites) await this.devicesWritten();
    try {
      return await read(backend);
    } catch (err) {
      throw backend.isDataError(err) ? err : asStoreError(err);
    }
  }

  /**
   * Device writes are behind: a message goes on as soon as its device is accepted, so the next
   * node (a downlink for a device just created, say) may ask for a device whose creation is still
   * queued. Reads of devices wait for the queued device writes, without the gather's delay.
   */
  private async devicesWritten(): Promise<void> {
    if (this.queue.deviceLength === 0 && !this.flushing) return;
    if (this.stateValue.status !== 'ready') return;
    await this.flush();
  }

  /** A device's record with its state columns (what the registry keeps in memory). */
  async loadDevice(applicationId: string, deviceId: string): Promise<LoadedDevice | undefined> {
    return this.readDevices((backend) => backend.loadDevice(applicationId, deviceId), false);
  }

  async listDevices(options: { after?: string; limit?: number } = {}): Promise<DevicePage> {
    const limit = Math.min(options.limit ?? DEFAULT_PAGE, MAX_PAGE);
    const devices = await (await this.backendReady()).listDevices(options.after, limit);
    const page: DevicePage = { devices };
    if (devices.length === limit) page.next = devices[devices.length - 1].id;
    return page;
  }

  /** Records one sighting (committed with the next flush); undefined when there is no such device. */
  async recordSighting(id: string, sighting: DeviceSighting): Promise<SightingResult | undefined> {
    const result = await this.writeDevice({ id, sighting });
    if (!result.state || !result.effect) return undefined;
    const record = await this.getDevice(result.state.id);
    if (!record) return undefined;
    const { cameOnline, locationChanged, duplicate, metadata } = result.effect;
    return { device: withState(record, result.state, metadata), cameOnline, locationChanged, duplicate };
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
   * Stops timers, commits what is queued (if the store is reachable) and closes the backend.
   * Writes that cannot be committed are refused with StoreUnavailableError (their callers hold
   * their messages); returns how many.
   */
  async close(): Promise<{ refused: number }> {
    if (this.closed) return { refused: 0 };
    this.closing = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    this.retryTimer = undefined;
    this.retentionTimer = undefined;
    if (this.opening) await this.opening;
    if (this.flushing) await this.flushing;
    if (this.opened && !this.queue.empty && this.stateValue.status !== 'unavailable') await this.flush();
    this.closed = true;
    if (this.retentionRunning) await this.retentionRunning.catch(() => 0);
    const refused = this.queue.drain(new StoreUnavailableError('store closed before the write was committed'));
    this.opened = false;
    await this.backend.close();
    this.setState({ status: 'closed' });
    return { refused };
  }
}
