import Database from 'better-sqlite3';
import type { CreateDeviceResult, ReadingColumns, RetentionBucket, RetentionRun, StoreBackend } from './backend';
import { applySighting, withUpdate, type DeviceStateUpdate } from './device-state';
import { LATEST_VERSION, SCHEMA_TABLE_SQL, migrationsFor } from './migrations';
import {
  bookkeepingFromRow,
  bucketFromRow,
  deviceFromRow,
  readingFromRow,
  retentionFromRow,
  toJsonText,
  type BucketRow,
  type DeviceRow,
  type ReadingRow,
} from './rows';
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
 * Connection settings: WAL with synchronous=NORMAL (durable across application crashes; a power
 * cut may lose the last transactions, never corrupt the file). Exported so the benchmark's raw
 * baseline runs with exactly the same durability.
 */
export const SQLITE_PRAGMAS: readonly string[] = [
  'journal_mode = WAL',
  'synchronous = NORMAL',
  'busy_timeout = 5000',
  'cache_size = -65536',
  // Fewer, larger checkpoints: batches touch many index pages at once.
  'wal_autocheckpoint = 10000',
];

export const SQLITE_INSERT_READING_SQL =
  'INSERT INTO tts_readings (bucket, ts, f_cnt, f_port, data, radio) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING';

/**
 * Rows per bucket key within one batch. Bucket keys are small integers, so a reused typed array
 * counts them (a Map get and set per row cost more); larger keys fall back to a Map.
 */
class RowTally {
  private readonly small = new Uint32Array(1 << 16);
  private readonly touched: number[] = [];
  private readonly large = new Map<number, number>();

  get size(): number {
    return this.touched.length + this.large.size;
  }

  add(key: number): void {
    if (key >= 0 && key < this.small.length) {
      if (this.small[key]++ === 0) this.touched.push(key);
    } else {
      this.large.set(key, (this.large.get(key) ?? 0) + 1);
    }
  }

  clear(): void {
    for (const key of this.touched) this.small[key] = 0;
    this.touched.length = 0;
    this.large.clear();
  }

  /** `[[key, rows], ...]` as JSON, and the tally emptied. */
  takeJson(): string {
    const pairs: string[] = [];
    for (const key of this.touched) {
      pairs.push(`[${key},${this.small[key]}]`);
      this.small[key] = 0;
    }
    for (const [key, n] of this.large) pairs.push(`[${key},${n}]`);
    this.touched.length = 0;
    this.large.clear();
    return `[${pairs.join(',')}]`;
  }
}

/** Adds `[[bucketKey, rows], ...]` (JSON) to the buckets' row counts in one statement. */
const ADD_ROW_COUNTS_SQL = `UPDATE tts_buckets SET row_count = row_count + c.n
  FROM (SELECT value ->> 0 AS k, value ->> 1 AS n FROM json_each(?)) AS c
  WHERE tts_buckets.key = c.k`;

const MIN_TS = Number.MIN_SAFE_INTEGER;
const MAX_TS = Number.MAX_SAFE_INTEGER;

/**
 * better-sqlite3 in WAL mode with synchronous=NORMAL: durable across application crashes, and
 * fast because writes arrive here already batched (one transaction per batch). All statements
 * are short (paged reads, chunked deletes), so running them synchronously never holds the event
 * loop for long.
 */
export class SqliteBackend implements StoreBackend {
  readonly dialect = 'sqlite' as const;
  private db: Database.Database | undefined;

  constructor(private readonly file: string) {}

  async open(targetVersion: number = LATEST_VERSION): Promise<void> {
    if (this.db) return;
    const db = new Database(this.file);
    try {
      for (const pragma of SQLITE_PRAGMAS) db.pragma(pragma);
      migrate(db, targetVersion);
    } catch (err) {
      db.close();
      throw err;
    }
    this.db = db;
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    // Prepared statements belong to the closed connection.
    this.insertStatement = undefined;
    this.countStatement = undefined;
    db?.close();
  }

  private get conn(): Database.Database {
    if (!this.db) throw new Error('SQLite store is not open');
    return this.db;
  }

  async schemaVersion(): Promise<number> {
    return currentVersion(this.conn);
  }

  async createDevice(device: NewDevice): Promise<CreateDeviceResult> {
    const db = this.conn;
    return db
      .transaction((): CreateDeviceResult => {
        upsertBucket(db, device.bucket, device.id, device.at);
        const inserted = db
          .prepare(
            `INSERT INTO tts_devices (id, application_id, device_id, dev_eui, join_eui, bucket, profile_id,
               asset_type, asset_group, connection_timeout, downlink, created_at, updated_at, last_seen,
               state_changed_at)
             VALUES (@id, @applicationId, @deviceId, @devEui, @joinEui, @bucket, @profileId, @assetType,
               @assetGroup, @connectionTimeout, @downlink, @at, @at, @at, @at)
             ON CONFLICT DO NOTHING`,
          )
          .run({
            ...device,
            devEui: device.devEui ?? null,
            joinEui: device.joinEui ?? null,
            downlink: toJsonText(device.downlink),
          }).changes;
        const row = db.prepare('SELECT * FROM tts_devices WHERE id = ?').get(device.id) as DeviceRow | undefined;
        const existing = row ? deviceFromRow(row) : this.findDeviceSync(device.applicationId, device.deviceId);
        if (!existing) throw new Error(`device "${device.id}" could not be created`);
        assertSameDevice(existing, device);
        return { device: existing, created: inserted === 1 };
      })
      .immediate();
  }

  async getDevice(id: string): Promise<DeviceRecord | undefined> {
    const row = this.conn.prepare('SELECT * FROM tts_devices WHERE id = ?').get(id) as DeviceRow | undefined;
    return row ? deviceFromRow(row) : undefined;
  }

  async findDevice(applicationId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    return this.findDeviceSync(applicationId, deviceId);
  }

  private findDeviceSync(applicationId: string, deviceId: string): DeviceRecord | undefined {
    const row = this.conn
      .prepare('SELECT * FROM tts_devices WHERE application_id = ? AND device_id = ?')
      .get(applicationId, deviceId) as DeviceRow | undefined;
    return row ? deviceFromRow(row) : undefined;
  }

  async listDevices(after: string | undefined, limit: number): Promise<DeviceRecord[]> {
    const rows = this.conn
      .prepare('SELECT * FROM tts_devices WHERE id > ? ORDER BY id LIMIT ?')
      .all(after ?? '', limit) as DeviceRow[];
    return rows.map(deviceFromRow);
  }

  async recordSighting(id: string, sighting: DeviceSighting): Promise<SightingResult | undefined> {
    const db = this.conn;
    return db
      .transaction((): SightingResult | undefined => {
        const row = db.prepare('SELECT * FROM tts_devices WHERE id = ?').get(id) as DeviceRow | undefined;
        if (!row) return undefined;
        const device = deviceFromRow(row);
        const { update, result } = applySighting(device, bookkeepingFromRow(row), sighting, Date.now());
        if (!result.duplicate) db.prepare(UPDATE_STATE_SQL).run(stateParams(id, update));
        return { ...result, device: result.duplicate ? device : withUpdate(device, update) };
      })
      .immediate();
  }

  async setDownlink(id: string, value: unknown, at: number): Promise<boolean> {
    const text = toJsonText(value);
    return this.conn.prepare('UPDATE tts_devices SET downlink = ?, updated_at = ? WHERE id = ?').run(text, at, id).changes === 1;
  }

  async markOffline(now: number): Promise<DeviceRecord[]> {
    const rows = this.conn
      .prepare(
        `UPDATE tts_devices SET online = 0, state_changed_at = @now, updated_at = @now
         WHERE online = 1 AND last_seen < @now - connection_timeout RETURNING *`,
      )
      .all({ now }) as DeviceRow[];
    return rows.map(deviceFromRow);
  }

  async ensureBucket(id: string, device: string | undefined, at: number): Promise<number> {
    const db = this.conn;
    return db.transaction(() => upsertBucket(db, id, device, at)).immediate();
  }

  async ensureBuckets(ids: string[], at: number): Promise<Map<string, number>> {
    const db = this.conn;
    return db
      .transaction(() => new Map(ids.map((id) => [id, upsertBucket(db, id, undefined, at)])))
      .immediate();
  }

  async getBucket(id: string): Promise<(BucketRecord & { key: number }) | undefined> {
    const row = this.conn.prepare('SELECT * FROM tts_buckets WHERE id = ?').get(id) as BucketRow | undefined;
    return row ? bucketFromRow(row) : undefined;
  }

  async listBuckets(): Promise<BucketRecord[]> {
    const rows = this.conn.prepare('SELECT * FROM tts_buckets ORDER BY id').all() as BucketRow[];
    return rows.map((row) => {
      const { key: _key, ...bucket } = bucketFromRow(row);
      return bucket;
    });
  }

  async bucketStats(id: string): Promise<BucketStats | undefined> {
    const db = this.conn;
    const row = db.prepare('SELECT * FROM tts_buckets WHERE id = ?').get(id) as (BucketRow & { row_count: number }) | undefined;
    if (!row) return undefined;
    // The kept counter and the two ends of the bucket's index range: no scan of the bucket.
    const first = db.prepare('SELECT ts FROM tts_readings WHERE bucket = ? ORDER BY ts, f_cnt LIMIT 1').pluck().get(row.key) as number | undefined;
    const last = db.prepare('SELECT ts FROM tts_readings WHERE bucket = ? ORDER BY ts DESC, f_cnt DESC LIMIT 1').pluck().get(row.key) as
      | number
      | undefined;
    const { key: _key, ...record } = bucketFromRow(row);
    const stats: BucketStats = { ...record, rows: row.row_count };
    if (first !== undefined) stats.first = first;
    if (last !== undefined) stats.last = last;
    return stats;
  }

  async setRetention(id: string, retention: Retention): Promise<boolean> {
    return (
      this.conn
        .prepare('UPDATE tts_buckets SET max_age = ?, max_rows = ? WHERE id = ?')
        .run(retention.maxAge ?? null, retention.maxRows ?? null, id).changes === 1
    );
  }

  async withRetentionLock<T>(fn: (run: RetentionRun) => Promise<T>): Promise<T | undefined> {
    // One writer at a time is SQLite's own rule, and each step is one transaction: nothing to lock.
    return fn({
      buckets: async () => {
        const rows = this.conn
          .prepare('SELECT key, id, max_age, max_rows FROM tts_buckets WHERE max_age > 0 OR max_rows > 0')
          .all() as BucketRow[];
        return rows.map((row) => ({ key: row.key, id: row.id, retention: retentionFromRow(row) }));
      },
      trim: async (bucket, now, chunk) => this.trimStep(bucket, now, chunk),
    });
  }

  /**
   * One transaction deleting at most `chunk` rows, oldest first: those past the age limit, then
   * (from the kept row count) those beyond the newest maxRows. Every statement walks at most
   * `chunk` index entries, so a step takes about the same time on a bucket of any size.
   */
  private trimStep(bucket: RetentionBucket, now: number, chunk: number): number {
    const db = this.conn;
    const { maxAge, maxRows } = bucket.retention;
    return db
      .transaction((): number => {
        let deleted = 0;
        if (maxAge) {
          deleted += db
            .prepare(
              `DELETE FROM tts_readings WHERE rowid IN
                 (SELECT rowid FROM tts_readings WHERE bucket = ? AND ts < ? ORDER BY ts, f_cnt LIMIT ?)`,
            )
            .run(bucket.key, now - maxAge, chunk).changes;
        }
        if (maxRows && deleted < chunk) {
          const count = db.prepare('SELECT row_count FROM tts_buckets WHERE key = ?').pluck().get(bucket.key) as number | undefined;
          const excess = Math.min((count ?? 0) - deleted - maxRows, chunk - deleted);
          if (excess > 0) {
            deleted += db
              .prepare(
                `DELETE FROM tts_readings WHERE rowid IN
                   (SELECT rowid FROM tts_readings WHERE bucket = ? ORDER BY ts, f_cnt LIMIT ?)`,
              )
              .run(bucket.key, excess).changes;
          }
        }
        if (deleted > 0) db.prepare('UPDATE tts_buckets SET row_count = row_count - ? WHERE key = ?').run(deleted, bucket.key);
        return deleted;
      })
      .immediate();
  }

  private insertStatement: Database.Statement | undefined;
  private countStatement: Database.Statement | undefined;
  private readonly addedRows = new RowTally();

  async insertReadings(rows: ReadingColumns): Promise<void> {
    const db = this.conn;
    const insert = (this.insertStatement ??= db.prepare(SQLITE_INSERT_READING_SQL));
    const addCounts = (this.countStatement ??= db.prepare(ADD_ROW_COUNTS_SQL));
    const { bucketKey, ts, fCnt, fPort, data, radio } = rows;
    const added = this.addedRows;
    db.transaction(() => {
      // Rows really inserted, per bucket (a replayed uplink changes nothing), then one counter
      // update per batch: a few % of the batch's time, where a per-row trigger cost 25%.
      added.clear(); // left over if an earlier batch failed midway
      for (let i = 0; i < bucketKey.length; i++) {
        if (insert.run(bucketKey[i], ts[i], fCnt[i], fPort[i], data[i], radio[i]).changes > 0) added.add(bucketKey[i]);
      }
      if (added.size > 0) addCounts.run(added.takeJson());
    })();
  }

  async queryReadings(
    bucketKey: number,
    query: ReadingQuery & { limit: number },
  ): Promise<{ rows: StoredReading[]; last?: ReadingCursor }> {
    const desc = query.order === 'desc';
    const from = query.from ?? MIN_TS;
    const to = query.to ?? MAX_TS;
    let sql = 'SELECT ts, f_cnt, f_port, data, radio FROM tts_readings WHERE bucket = ? AND ts >= ? AND ts <= ?';
    const params: number[] = [bucketKey, from, to];
    if (query.after) {
      sql += desc ? ' AND ts <= ? AND (ts < ? OR f_cnt < ?)' : ' AND ts >= ? AND (ts > ? OR f_cnt > ?)';
      params.push(query.after.ts, query.after.ts, query.after.fCnt);
    }
    sql += desc ? ' ORDER BY ts DESC, f_cnt DESC LIMIT ?' : ' ORDER BY ts, f_cnt LIMIT ?';
    params.push(query.limit);
    const rows = this.conn.prepare(sql).all(...params) as ReadingRow[];
    const tail = rows[rows.length - 1];
    const page: { rows: StoredReading[]; last?: ReadingCursor } = { rows: rows.map(readingFromRow) };
    if (tail) page.last = { ts: tail.ts, fCnt: tail.f_cnt };
    return page;
  }
}

const UPDATE_STATE_SQL = `UPDATE tts_devices SET last_seen = @lastSeen, uplink_count = @uplinkCount,
  last_f_cnt = @lastFCnt, last_uplink_at = @lastUplinkAt, lost_frames = @lostFrames, online = @online,
  state_changed_at = @stateChangedAt, metadata = @metadata, location = @location,
  location_rank = @locationRank, updated_at = @updatedAt WHERE id = @id`;

function stateParams(id: string, u: DeviceStateUpdate): Record<string, unknown> {
  return {
    id,
    lastSeen: u.lastSeen,
    uplinkCount: u.uplinkCount,
    lastFCnt: u.lastFCnt ?? null,
    lastUplinkAt: u.lastUplinkAt ?? null,
    lostFrames: u.lostFrames,
    online: u.online ? 1 : 0,
    stateChangedAt: u.stateChangedAt ?? null,
    metadata: toJsonText(u.metadata),
    location: toJsonText(u.location),
    locationRank: u.locationRank ?? null,
    updatedAt: u.updatedAt,
  };
}

function upsertBucket(db: Database.Database, id: string, device: string | undefined, at: number): number {
  const row = db
    .prepare(
      `INSERT INTO tts_buckets (id, device, created_at) VALUES (?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET device = coalesce(tts_buckets.device, excluded.device)
       RETURNING key`,
    )
    .get(id, device ?? null, at) as { key: number };
  return row.key;
}

export function assertSameDevice(existing: DeviceRecord, wanted: NewDevice): void {
  if (existing.applicationId !== wanted.applicationId || existing.deviceId !== wanted.deviceId) {
    throw new Error(
      `registry id "${wanted.id}" already belongs to device "${existing.deviceId}" of application "${existing.applicationId}"`,
    );
  }
}

function currentVersion(db: Database.Database): number {
  db.exec(SCHEMA_TABLE_SQL);
  const row = db.prepare('SELECT max(version) AS v FROM tts_schema').get() as { v: number | null };
  return row.v ?? 0;
}

function migrate(db: Database.Database, target: number): void {
  db.transaction(() => {
    const from = currentVersion(db);
    if (from > LATEST_VERSION) {
      throw new Error(`the store's schema (version ${from}) is newer than this package supports (${LATEST_VERSION}); update the package`);
    }
    for (const m of migrationsFor('sqlite')) {
      if (m.version <= from || m.version > target) continue;
      for (const sql of m.statements) db.exec(sql);
      db.prepare('INSERT INTO tts_schema (version, applied_at) VALUES (?, ?)').run(m.version, Date.now());
    }
  }).immediate();
}
