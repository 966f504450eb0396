// The SQLite backend in a worker thread. better-sqlite3 is synchronous: in the event loop every
// statement, transaction and row conversion of a flush (~80-100 µs per uplink) is time no request
// is served. Here the main thread keeps a thin proxy that posts each call (one message per flush)
// and settles it with the thread's answer; the thread (sqlite-thread-entry.ts) runs the same
// SqliteBackend. A thread that dies fails its calls as an outage: the store refuses what was
// waiting (its callers hold their messages) and retries, and the next call starts a new thread,
// which opens the database again. A thread that cannot start at all leaves the backend running in
// the event loop, as before.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { registerRuntimeState } from '../runtime';
import type { LoadedDevice, ReadingColumns, RetentionBucket, RetentionRun, StoreBackend, WriteBatch, WriteBatchResult } from './backend';
import { StoreDataError } from './errors';
import { LATEST_VERSION } from './migrations';
import { SqliteBackend, isSqliteDataError } from './sqlite-backend';
import {
  SqliteThreadError,
  batchToWire,
  fromWireError,
  jsonCopy,
  resultFromWire,
  type ThreadAnswer,
  type ThreadCall,
  type ThreadInput,
  type ThreadMethod,
  type WireBatchResult,
} from './sqlite-thread-wire';
import type { BucketRecord, BucketStats, DeviceRecord, ReadingCursor, ReadingQuery, Retention, StoredReading } from './types';
import { ChurnMap } from '../util/churn-map';

const ENTRY = join(__dirname, 'sqlite-thread-entry.js');
// The thread holds one connection, its statements and one call's data at a time (a batch of at
// most 5,000 readings, a page of at most MAX_PAGE rows): a small heap. Its garbage is short-lived,
// so a small young generation (2 MB: 6 MB less RSS than 8 MB, no more CPU). The bound also makes
// runaway memory end the thread (an outage, retried), not Node-RED.
const RESOURCE_LIMITS = { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 2 };

/** The SQLite thread stopped (crashed, out of memory, ended): to the store an outage, which it retries. */
export class SqliteThreadStopped extends Error {
  constructor(reason: string) {
    super(`the SQLite thread stopped: ${reason}`);
    this.name = 'SqliteThreadStopped';
  }
}

export type SqliteThreadOptions = ThreadInput['options'] & {
  /** The thread's entry file (default: sqlite-thread-entry.js beside this one; tests name one that cannot start). */
  entry?: string;
};

interface Settle {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

type Forwarded = Exclude<ThreadMethod, 'open' | 'close' | 'setDownlink' | 'writeBatch' | 'retentionBuckets' | 'retentionTrim'>;

const running = new Set<SqliteThreadBackend>();

/** SQLite threads running in this process (tests: none may outlive its store). */
export function sqliteThreadsRunning(): number {
  return running.size;
}

// A fresh process has no thread: ends those of stores nobody closed.
registerRuntimeState('sqlite threads', () => {
  for (const backend of [...running]) void backend.stopThread('runtime reset');
});

export class SqliteThreadBackend implements StoreBackend {
  readonly dialect = 'sqlite' as const;
  private worker: Worker | undefined;
  private readonly calls = new ChurnMap<number, Settle>();
  private nextSeq = 1;
  /** The schema version the database was opened at: a new thread opens it again before any other call. */
  private openedAt: number | undefined;
  private reopening: Promise<void> | undefined;
  /** A thread has answered: from then on a thread's death is an outage, not "threads cannot start here". */
  private answered = false;
  private inline: SqliteBackend | undefined;
  /** Threads started so far (one more after every death). */
  started = 0;

  constructor(
    private readonly file: string,
    private readonly options: SqliteThreadOptions = {},
  ) {}

  /** The running thread (tests end it to see the store survive a crash). */
  get thread(): Worker | undefined {
    return this.worker;
  }

  /** True once no thread could start: the backend runs in the event loop. */
  get inProcess(): boolean {
    return this.inline !== undefined;
  }

  async open(targetVersion: number = LATEST_VERSION): Promise<void> {
    if (this.inline) return this.inline.open(targetVersion);
    if (this.worker && this.openedAt !== undefined) return;
    try {
      await this.request('open', [targetVersion]);
      this.openedAt = targetVersion;
    } catch (err) {
      if (!(err instanceof SqliteThreadStopped) || this.answered) throw err;
      this.inline = new SqliteBackend(this.file, this.threadInput().options);
      await this.inline.open(targetVersion);
    }
  }

  async close(): Promise<void> {
    this.openedAt = undefined;
    if (this.inline) return this.inline.close();
    if (!this.worker) return;
    try {
      await this.request('close', []);
    } finally {
      await this.stopThread('closed');
    }
  }

  isDataError(err: unknown): boolean {
    return err instanceof SqliteThreadError ? err.dataError : isSqliteDataError(err);
  }

  schemaVersion(): Promise<number> {
    return this.forward('schemaVersion');
  }

  getDevice(id: string): Promise<DeviceRecord | undefined> {
    return this.forward('getDevice', id);
  }

  findDevice(applicationId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    return this.forward('findDevice', applicationId, deviceId);
  }

  loadDevice(applicationId: string, deviceId: string): Promise<LoadedDevice | undefined> {
    return this.forward('loadDevice', applicationId, deviceId);
  }

  listDevices(after: string | undefined, limit: number): Promise<DeviceRecord[]> {
    return this.forward('listDevices', after, limit);
  }

  async setDownlink(id: string, value: unknown, at: number): Promise<boolean> {
    if (this.inline) return this.inline.setDownlink(id, value, at);
    return (await this.call('setDownlink', [id, jsonCopy(value), at])) as boolean;
  }

  markOffline(now: number): Promise<DeviceRecord[]> {
    return this.forward('markOffline', now);
  }

  ensureBucket(id: string, device: string | undefined, at: number): Promise<number> {
    return this.forward('ensureBucket', id, device, at);
  }

  ensureBuckets(ids: string[], at: number): Promise<Map<string, number>> {
    return this.forward('ensureBuckets', ids, at);
  }

  getBucket(id: string): Promise<(BucketRecord & { key: number }) | undefined> {
    return this.forward('getBucket', id);
  }

  listBuckets(): Promise<BucketRecord[]> {
    return this.forward('listBuckets');
  }

  bucketStats(id: string): Promise<BucketStats | undefined> {
    return this.forward('bucketStats', id);
  }

  setRetention(id: string, retention: Retention): Promise<boolean> {
    return this.forward('setRetention', id, retention);
  }

  async withRetentionLock<T>(fn: (run: RetentionRun) => Promise<T>): Promise<T | undefined> {
    if (this.inline) return this.inline.withRetentionLock(fn);
    // SQLite has no lock to take (see SqliteBackend): each step is one call to the thread.
    return fn({
      buckets: async () => (await this.call('retentionBuckets', [])) as RetentionBucket[],
      trim: async (bucket, now, chunk) => (await this.call('retentionTrim', [bucket, now, chunk])) as number,
    });
  }

  insertReadings(rows: ReadingColumns): Promise<void> {
    return this.forward('insertReadings', rows);
  }

  async writeBatch(batch: WriteBatch): Promise<WriteBatchResult> {
    if (this.inline) return this.inline.writeBatch(batch);
    return resultFromWire((await this.call('writeBatch', [batchToWire(batch)])) as WireBatchResult, batch);
  }

  queryReadings(bucketKey: number, query: ReadingQuery & { limit: number }): Promise<{ rows: StoredReading[]; last?: ReadingCursor }> {
    return this.forward('queryReadings', bucketKey, query);
  }

  /** Ends the thread now; its calls fail as an outage (what a crash does). Resolves once it has exited. */
  async stopThread(reason: string): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.lost(worker, reason);
    await worker.terminate();
  }

  /** A method that takes and returns plain data: to the thread, or to the in-process backend. */
  private forward<K extends Forwarded>(method: K, ...args: Parameters<StoreBackend[K]>): ReturnType<StoreBackend[K]> {
    if (this.inline) return (this.inline[method] as (...a: unknown[]) => ReturnType<StoreBackend[K]>).apply(this.inline, args);
    return this.call(method, args) as ReturnType<StoreBackend[K]>;
  }

  private call(method: ThreadMethod, args: unknown[]): Promise<unknown> {
    if (!this.worker && this.openedAt !== undefined) {
      // The last thread stopped: a new one opens the database before anything else.
      this.reopening = this.request('open', [this.openedAt]).then(
        () => {
          this.reopening = undefined;
        },
        (err: unknown) => {
          this.reopening = undefined;
          // Not open in that thread: the next call starts another one.
          void this.stopThread('it could not open the database');
          throw err;
        },
      );
    }
    if (this.reopening) return this.reopening.then(() => this.request(method, args));
    return this.request(method, args);
  }

  private request(method: ThreadMethod, args: unknown[]): Promise<unknown> {
    let worker: Worker;
    try {
      worker = this.worker ?? this.startThread();
    } catch (err) {
      return Promise.reject(new SqliteThreadStopped(`it could not start: ${(err as Error).message}`));
    }
    const seq = this.nextSeq++;
    return new Promise((resolve, reject) => {
      this.calls.set(seq, { resolve, reject });
      // Ref'd while a call is outstanding, so an answer is never lost to the process exiting.
      if (this.calls.size === 1) worker.ref();
      try {
        worker.postMessage({ s: seq, m: method, a: args } satisfies ThreadCall);
      } catch (err) {
        this.settled(seq);
        // Structured clone refused the arguments: sending them again would fail again.
        reject(new StoreDataError(`the store cannot take this value: ${(err as Error).message}`));
      }
    });
  }

  private startThread(): Worker {
    const worker = new Worker(this.options.entry ?? ENTRY, {
      workerData: { ttsSqliteThread: this.threadInput() },
      resourceLimits: RESOURCE_LIMITS,
    });
    // Idle, it must not keep Node-RED from exiting.
    worker.unref();
    this.started += 1;
    this.worker = worker;
    running.add(this);
    worker.on('message', (answer: ThreadAnswer) => {
      this.answered = true;
      const call = this.settled(answer.s);
      if (!call) return;
      if ('e' in answer) call.reject(fromWireError(answer.e));
      else call.resolve(answer.v);
    });
    worker.on('error', (err) => this.lost(worker, err.message));
    worker.on('exit', (code) => this.lost(worker, `exit code ${code}`));
    return worker;
  }

  private threadInput(): ThreadInput {
    const { entry: _entry, ...options } = this.options;
    return { file: this.file, options };
  }

  /** Forgets an answered call; the thread is unref'd again once none is outstanding. */
  private settled(seq: number): Settle | undefined {
    const call = this.calls.get(seq);
    if (!call) return undefined;
    this.calls.delete(seq);
    if (this.calls.size === 0) this.worker?.unref();
    return call;
  }

  /** `worker` is gone: every outstanding call fails as an outage. */
  private lost(worker: Worker, reason: string): void {
    if (worker !== this.worker) return;
    this.worker = undefined;
    running.delete(this);
    const err = new SqliteThreadStopped(reason);
    const calls = [...this.calls.values()];
    this.calls.clear();
    for (const call of calls) call.reject(err);
  }
}
