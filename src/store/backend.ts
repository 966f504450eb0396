import type { DeviceState, SightingEffect } from './device-state';
import type {
  BucketRecord,
  BucketStats,
  DeviceRecord,
  DeviceSighting,
  NewDevice,
  ReadingCursor,
  ReadingQuery,
  Retention,
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

/** One message's device work in a flush: create the device when it is new, then record the sighting. */
export interface DeviceWrite {
  id: string;
  create?: NewDevice;
  sighting?: DeviceSighting;
}

export interface DeviceWriteResult {
  /** This write inserted the device (false: it existed, created by another message or instance). */
  created: boolean;
  /** The device record after this write; undefined when there is no such device (deleted). */
  state?: DeviceState;
  effect?: SightingEffect;
}

/** Everything one flush writes, in one transaction. */
export interface WriteBatch {
  devices: readonly DeviceWrite[];
  readings: ReadingColumns;
}

export interface WriteBatchResult {
  /** One per `devices` entry, in order. */
  devices: DeviceWriteResult[];
}

/** A device's full record and the state columns beside it. */
export interface LoadedDevice {
  record: DeviceRecord;
  state: DeviceState;
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

  getDevice(id: string): Promise<DeviceRecord | undefined>;
  findDevice(applicationId: string, deviceId: string): Promise<DeviceRecord | undefined>;
  listDevices(after: string | undefined, limit: number): Promise<DeviceRecord[]>;
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
  /**
   * One transaction: creates the new devices (and their buckets), locks the rows of every device
   * the batch touches (in id order), applies their sightings in order with applySighting and
   * writes the resulting state once per device (radio summary only when a sighting brings one),
   * then inserts the readings. A refusal of the data (see isDataError) rolls the whole batch back.
   */
  writeBatch(batch: WriteBatch): Promise<WriteBatchResult>;
  /** A device with its state columns, by TTS ids. */
  loadDevice(applicationId: string, deviceId: string): Promise<LoadedDevice | undefined>;
  /**
   * True when `err` is the database refusing the data of a statement (constraint, type, value):
   * writing the same data again would fail again. Anything else counts as an outage.
   */
  isDataError(err: unknown): boolean;
  /** One page, in the query's order; `last` is the raw key of the last row (the paging cursor). */
  queryReadings(bucketKey: number, query: ReadingQuery & { limit: number }): Promise<{ rows: StoredReading[]; last?: ReadingCursor }>;
}
