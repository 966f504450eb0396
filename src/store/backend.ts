import type {
  BucketRecord,
  BucketStats,
  DeviceRecord,
  DeviceSighting,
  NewDevice,
  ReadingCursor,
  ReadingQuery,
  Retention,
  SightingResult,
  StoredReading,
} from './types';

/**
 * Readings ready for the database, column by column (row i is element i of every array): buckets
 * resolved to their keys, JSON already serialised. Columns, not row objects, because that is what
 * PostgreSQL's unnest() insert takes as parameters, and a queued reading then costs no object.
 */
export interface ReadingColumns {
  readonly bucketKey: readonly number[];
  readonly ts: readonly number[];
  readonly fCnt: readonly number[];
  readonly fPort: ReadonlyArray<number | null>;
  readonly data: readonly string[];
  readonly radio: ReadonlyArray<string | null>;
}

export interface RetentionBucket {
  key: number;
  id: string;
  retention: Retention;
}

/** One retention run: every step is short (bounded by `chunk`), whatever the bucket's size. */
export interface RetentionRun {
  buckets(): Promise<RetentionBucket[]>;
  /**
   * Deletes at most `chunk` of the bucket's oldest rows that its retention no longer keeps
   * (older than maxAge before `now`, or beyond the newest maxRows); returns how many. Call again
   * while it returns `chunk`.
   */
  trim(bucket: RetentionBucket, now: number, chunk: number): Promise<number>;
}

export interface CreateDeviceResult {
  device: DeviceRecord;
  /** False when the device already existed (another message or instance created it first). */
  created: boolean;
}

/**
 * One database. Every method is one transaction (or one atomic statement), so several Node-RED
 * instances on one PostgreSQL never interleave read-modify-write steps. The SQLite backend is
 * synchronous underneath; its methods still return promises so both backends share one contract.
 */
export interface StoreBackend {
  readonly dialect: 'sqlite' | 'postgres';
  /** Connects and migrates to `targetVersion` (default: latest). Safe to call again after a failure. */
  open(targetVersion?: number): Promise<void>;
  close(): Promise<void>;
  schemaVersion(): Promise<number>;

  createDevice(device: NewDevice): Promise<CreateDeviceResult>;
  getDevice(id: string): Promise<DeviceRecord | undefined>;
  findDevice(applicationId: string, deviceId: string): Promise<DeviceRecord | undefined>;
  listDevices(after: string | undefined, limit: number): Promise<DeviceRecord[]>;
  recordSighting(id: string, sighting: DeviceSighting): Promise<SightingResult | undefined>;
  setDownlink(id: string, value: unknown, at: number): Promise<boolean>;
  /** Marks devices silent past their timeout offline and returns them; [] if another instance is sweeping. */
  markOffline(now: number): Promise<DeviceRecord[]>;

  ensureBucket(id: string, device: string | undefined, at: number): Promise<number>;
  /** Creates the missing buckets of a batch in one transaction; returns every id's key. */
  ensureBuckets(ids: string[], at: number): Promise<Map<string, number>>;
  getBucket(id: string): Promise<(BucketRecord & { key: number }) | undefined>;
  listBuckets(): Promise<BucketRecord[]>;
  bucketStats(id: string): Promise<BucketStats | undefined>;
  setRetention(id: string, retention: Retention): Promise<boolean>;
  /**
   * Runs `fn` as the one instance enforcing retention (PostgreSQL: an advisory lock held for the
   * whole run); resolves undefined, without running it, when another instance is doing it.
   */
  withRetentionLock<T>(fn: (run: RetentionRun) => Promise<T>): Promise<T | undefined>;

  insertReadings(rows: ReadingColumns): Promise<void>;
  /** One page, in the query's order; `last` is the raw key of the last row (the paging cursor). */
  queryReadings(bucketKey: number, query: ReadingQuery & { limit: number }): Promise<{ rows: StoredReading[]; last?: ReadingCursor }>;
}
