import Database from 'better-sqlite3';
import type {
  DeviceWrite,
  LoadedDevice,
  ReadingColumns,
  RetentionBucket,
  RetentionRun,
  StoreBackend,
  WriteBatch,
  WriteBatchResult,
} from './backend';
import { applyDeviceWrites, assertSameDevice, lockOrder } from './backend-shared';
import type { DeviceState } from './device-state';
import { StoreDataError } from './errors';
import { Checkpointer, type CheckpointStats } from './sqlite-checkpointer';
import { LATEST_VERSION, SCHEMA_TABLE_SQL, migrationsFor } from './migrations';
import {
  STATE_COLUMNS,
  bucketFromRow,
  deviceFromRow,
  readingFromRow,
  retentionFromRow,
  stateFromRow,
  toJsonText,
  type BucketRow,
  type DeviceRow,
  type DeviceStateRow,
  type ReadingRow,
} from './rows';
import type {
  BucketRecord,
  BucketStats,
  DeviceRecord,
  RadioSummary,
  ReadingCursor,
  ReadingQuery,
  Retention,
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
  // 4 MiB of pages: the write path touches a few MiB (each bucket's newest index pages); a larger
  // cache fills up with device rows looked up once each (the registry keeps what it needs of
  // them): 64 MiB kept Node-RED at 270-295 MB RSS with 100,000 devices, 16 MiB cost 8-12 MB more
  // RSS than 4 at the same pipeline rate (bench: pipeline, big and sqlite parts).
  'cache_size = -4096',
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

/** SQLite refusing a statement's data (constraint, type, size, range), or the store refusing it: see StoreBackend.isDataError. */
export function isSqliteDataError(err: unknown): boolean {
  if (err instanceof StoreDataError) return true;
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/.test(code);
}

const MIN_TS = Number.MIN_SAFE_INTEGER;
const MAX_TS = Number.MAX_SAFE_INTEGER;

/**
 * better-sqlite3 in WAL mode with synchronous=NORMAL: durable across application crashes, and
 * fast because writes arrive here already batched (one transaction per flush). Statements are
 * prepared once per connection. The writing connection never checkpoints (a checkpoint inside a
 * commit stalled it for ~100 ms): a worker thread with its own connection runs PASSIVE
 * checkpoints off the event loop (see sqlite-checkpointer.ts).
 */
export class SqliteBackend implements StoreBackend {
  readonly dialect = 'sqlite' as const;
  private db: Database.Database | undefined;
  private readonly statements = new Map<string, Database.Statement>();
  private checkpointer: Checkpointer | undefined;

  constructor(
    private readonly file: string,
    private readonly options: {
      /** How often the worker checkpoints, ms (default 1,000). */
      checkpointInterval?: number;
      /** Checkpoint on the writing connection every this many WAL pages instead (SQLite's own way; for comparison). */
      inlineCheckpointPages?: number;
    } = {},
  ) {}

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
    if (this.options.inlineCheckpointPages !== undefined) {
      db.pragma(`wal_autocheckpoint = ${Math.trunc(this.options.inlineCheckpointPages)}`);
    } else if (this.file !== ':memory:') {
      db.pragma('wal_autocheckpoint = 0');
      this.checkpointer = new Checkpointer(this.file, this.options.checkpointInterval ?? 1000, () => {
        // No worker: checkpoint from this connection again, in small steps.
        if (this.db === db) db.pragma('wal_autocheckpoint = 1000');
      });
    }
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    // Prepared statements belong to the closed connection.
    this.statements.clear();
    const checkpointer = this.checkpointer;
    this.checkpointer = undefined;
    await checkpointer?.stop();
    db?.close();
  }

  /** Checkpoint figures of the worker (for the benchmark and tests). */
  get checkpoints(): CheckpointStats | undefined {
    return this.checkpointer?.stats;
  }

  isDataError(err: unknown): boolean {
    return isSqliteDataError(err);
  }

  private get conn(): Database.Database {
    if (!this.db) throw new Error('SQLite store is not open');
    return this.db;
  }

  /** The connection's prepared statement for `sql`, prepared on first use. */
  private st(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.conn.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  async schemaVersion(): Promise<number> {
    return currentVersion(this.conn);
  }

  async getDevice(id: string): Promise<DeviceRecord | undefined> {
    const row = this.st('SELECT * FROM tts_devices WHERE id = ?').get(id) as DeviceRow | undefined;
    return row ? deviceFromRow(row) : undefined;
  }

  async findDevice(applicationId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    const row = this.findRow(applicationId, deviceId);
    return row ? deviceFromRow(row) : undefined;
  }

  async loadDevice(applicationId: string, deviceId: string): Promise<LoadedDevice | undefined> {
    const row = this.findRow(applicationId, deviceId);
    return row ? { record: deviceFromRow(row), state: stateFromRow(row) } : undefined;
  }

  private findRow(applicationId: string, deviceId: string): DeviceRow | undefined {
    return this.st('SELECT * FROM tts_devices WHERE application_id = ? AND device_id = ?').get(applicationId, deviceId) as
      | DeviceRow
      | undefined;
  }

  async listDevices(after: string | undefined, limit: number): Promise<DeviceRecord[]> {
    const rows = this.st('SELECT * FROM tts_devices WHERE id > ? ORDER BY id LIMIT ?').all(after ?? '', limit) as DeviceRow[];
    return rows.map(deviceFromRow);
  }

  async writeBatch(batch: WriteBatch): Promise<WriteBatchResult> {
    const db = this.conn;
    let result: WriteBatchResult = { devices: [] };
    db.transaction(() => {
      if (batch.devices.length > 0) result = this.writeDevices(batch.devices);
      this.insertRows(batch.readings);
    }).immediate();
    return result;
  }

  private writeDevices(writes: readonly DeviceWrite[]): WriteBatchResult {
    const created = new Set<string>();
    const alias = new Map<string, string>();
    for (const w of writes) {
      if (!w.create || created.has(w.id) || alias.has(w.id)) continue;
      const d = w.create;
      upsertBucket(this.st(UPSERT_BUCKET_SQL), d.bucket, d.id, d.at);
      const inserted = this.st(INSERT_DEVICE_SQL).run({
        ...d,
        devEui: d.devEui ?? null,
        joinEui: d.joinEui ?? null,
        downlink: toJsonText(d.downlink),
      }).changes;
      if (inserted === 1) {
        created.add(d.id);
        continue;
      }
      const byId = this.st('SELECT application_id, device_id FROM tts_devices WHERE id = ?').get(d.id) as
        | { application_id: string; device_id: string }
        | undefined;
      if (byId) {
        assertSameDevice({ applicationId: byId.application_id, deviceId: byId.device_id }, d);
        continue;
      }
      const other = this.st('SELECT id FROM tts_devices WHERE application_id = ? AND device_id = ?').pluck().get(d.applicationId, d.deviceId) as
        | string
        | undefined;
      if (other === undefined) throw new Error(`device "${d.id}" could not be created`);
      alias.set(d.id, other);
    }
    const ids = lockOrder(writes, alias);
    const states = new Map<string, DeviceState>();
    const rows = this.st(`SELECT ${STATE_COLUMNS} FROM tts_devices WHERE id IN (SELECT value FROM json_each(?))`).all(
      JSON.stringify(ids),
    ) as DeviceStateRow[];
    for (const row of rows) states.set(row.id, stateFromRow(row));
    const now = Date.now();
    const { results, changes } = applyDeviceWrites(writes, states, created, alias, now);
    const update = this.st(UPDATE_STATE_SQL);
    for (const c of changes) update.run(stateParams(c.state, c.metadata, now));
    return { devices: results };
  }

  async setDownlink(id: string, value: unknown, at: number): Promise<boolean> {
    const text = toJsonText(value);
    return this.st('UPDATE tts_devices SET downlink = ?, updated_at = ? WHERE id = ?').run(text, at, id).changes === 1;
  }

  async markOffline(now: number): Promise<DeviceRecord[]> {
    const rows = this.st(
        `UPDATE tts_devices SET online = 0, state_changed_at = @now, updated_at = @now
         WHERE online = 1 AND last_seen < @now - connection_timeout RETURNING *`,
      )
      .all({ now }) as DeviceRow[];
    return rows.map(deviceFromRow);
  }

  async ensureBucket(id: string, device: string | undefined, at: number): Promise<number> {
    const db = this.conn;
    return db.transaction(() => upsertBucket(this.st(UPSERT_BUCKET_SQL), id, device, at)).immediate();
  }

  async ensureBuckets(ids: string[], at: number): Promise<Map<string, number>> {
    const db = this.conn;
    return db
      .transaction(() => new Map(ids.map((id) => [id, upsertBucket(this.st(UPSERT_BUCKET_SQL), id, undefined, at)])))
      .immediate();
  }

  async getBucket(id: string): Promise<(BucketRecord & { key: number }) | undefined> {
    const row = this.st('SELECT * FROM tts_buckets WHERE id = ?').get(id) as BucketRow | undefined;
    return row ? bucketFromRow(row) : undefined;
  }

  async listBuckets(): Promise<BucketRecord[]> {
    const rows = this.st('SELECT * FROM tts_buckets ORDER BY id').all() as BucketRow[];
    return rows.map((row) => {
      const { key: _key, ...bucket } = bucketFromRow(row);
      return bucket;
    });
  }

  async bucketStats(id: string): Promise<BucketStats | undefined> {
    const row = this.st('SELECT * FROM tts_buckets WHERE id = ?').get(id) as (BucketRow & { row_count: number }) | undefined;
    if (!row) return undefined;
    // The kept counter and the two ends of the bucket's index range: no scan of the bucket.
    const first = this.st('SELECT ts FROM tts_readings WHERE bucket = ? ORDER BY ts, f_cnt LIMIT 1').pluck().get(row.key) as number | undefined;
    const last = this.st('SELECT ts FROM tts_readings WHERE bucket = ? ORDER BY ts DESC, f_cnt DESC LIMIT 1').pluck().get(row.key) as
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
      this.st('UPDATE tts_buckets SET max_age = ?, max_rows = ? WHERE id = ?')
        .run(retention.maxAge ?? null, retention.maxRows ?? null, id).changes === 1
    );
  }

  async withRetentionLock<T>(fn: (run: RetentionRun) => Promise<T>): Promise<T | undefined> {
    // One writer at a time is SQLite's own rule, and each step is one transaction: nothing to lock.
    return fn({
      buckets: async () => {
        const rows = this.st('SELECT key, id, max_age, max_rows FROM tts_buckets WHERE max_age > 0 OR max_rows > 0')
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
          deleted += this.st(
              `DELETE FROM tts_readings WHERE rowid IN
                 (SELECT rowid FROM tts_readings WHERE bucket = ? AND ts < ? ORDER BY ts, f_cnt LIMIT ?)`,
            )
            .run(bucket.key, now - maxAge, chunk).changes;
        }
        if (maxRows && deleted < chunk) {
          const count = this.st('SELECT row_count FROM tts_buckets WHERE key = ?').pluck().get(bucket.key) as number | undefined;
          const excess = Math.min((count ?? 0) - deleted - maxRows, chunk - deleted);
          if (excess > 0) {
            deleted += this.st(
                `DELETE FROM tts_readings WHERE rowid IN
                   (SELECT rowid FROM tts_readings WHERE bucket = ? ORDER BY ts, f_cnt LIMIT ?)`,
              )
              .run(bucket.key, excess).changes;
          }
        }
        if (deleted > 0) this.st('UPDATE tts_buckets SET row_count = row_count - ? WHERE key = ?').run(deleted, bucket.key);
        return deleted;
      })
      .immediate();
  }

  private readonly addedRows = new RowTally();

  async insertReadings(rows: ReadingColumns): Promise<void> {
    this.conn.transaction(() => this.insertRows(rows))();
  }

  /** Inserts readings inside the caller's transaction and adds them to their buckets' row counts. */
  private insertRows(rows: ReadingColumns): void {
    const { bucketKey, ts, fCnt, fPort, data, radio } = rows;
    if (bucketKey.length === 0) return;
    const insert = this.st(SQLITE_INSERT_READING_SQL);
    const added = this.addedRows;
    // Rows really inserted, per bucket (a replayed uplink changes nothing), then one counter
    // update per batch: a few % of the batch's time, where a per-row trigger cost 25%.
    added.clear(); // left over if an earlier batch failed midway
    for (let i = 0; i < bucketKey.length; i++) {
      if (insert.run(bucketKey[i], ts[i], fCnt[i], fPort[i], data[i], radio[i]).changes > 0) added.add(bucketKey[i]);
    }
    if (added.size > 0) this.st(ADD_ROW_COUNTS_SQL).run(added.takeJson());
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
    const rows = this.st(sql).all(...params) as ReadingRow[];
    const tail = rows[rows.length - 1];
    const page: { rows: StoredReading[]; last?: ReadingCursor } = { rows: rows.map(readingFromRow) };
    if (tail) page.last = { ts: tail.ts, fCnt: tail.f_cnt };
    return page;
  }
}

const UPDATE_STATE_SQL = `UPDATE tts_devices SET last_seen = @lastSeen, uplink_count = @uplinkCount,
  last_f_cnt = @lastFCnt, last_uplink_at = @lastUplinkAt, lost_frames = @lostFrames, online = @online,
  state_changed_at = @stateChangedAt, metadata = coalesce(@metadata, metadata), location = @location,
  location_rank = @locationRank, updated_at = @updatedAt WHERE id = @id`;

const INSERT_DEVICE_SQL = `INSERT INTO tts_devices (id, application_id, device_id, dev_eui, join_eui, bucket, profile_id,
    asset_type, asset_group, connection_timeout, downlink, created_at, updated_at, last_seen, state_changed_at)
  VALUES (@id, @applicationId, @deviceId, @devEui, @joinEui, @bucket, @profileId, @assetType,
    @assetGroup, @connectionTimeout, @downlink, @at, @at, @at, @at)
  ON CONFLICT DO NOTHING`;

const UPSERT_BUCKET_SQL = `INSERT INTO tts_buckets (id, device, created_at) VALUES (?, ?, ?)
  ON CONFLICT (id) DO UPDATE SET device = coalesce(tts_buckets.device, excluded.device)
  RETURNING key`;

function stateParams(s: DeviceState, metadata: RadioSummary | undefined, now: number): Record<string, unknown> {
  return {
    id: s.id,
    lastSeen: s.lastSeen ?? null,
    uplinkCount: s.uplinkCount,
    lastFCnt: s.lastFCnt ?? null,
    lastUplinkAt: s.lastUplinkAt ?? null,
    lostFrames: s.lostFrames,
    online: s.online ? 1 : 0,
    stateChangedAt: s.stateChangedAt ?? null,
    metadata: toJsonText(metadata),
    location: toJsonText(s.location),
    locationRank: s.locationRank ?? null,
    updatedAt: now,
  };
}

function upsertBucket(stmt: Database.Statement, id: string, device: string | undefined, at: number): number {
  return (stmt.get(id, device ?? null, at) as { key: number }).key;
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
