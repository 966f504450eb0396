import { Pool, types as pgTypes, type PoolClient, type PoolConfig } from 'pg';
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
import { assertSameDevice } from './sqlite-backend';
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

// Advisory lock keys (one namespace for this package): migrations, the offline sweeper, retention.
const LOCK_MIGRATE = 7_420_001;
const LOCK_SWEEP = 7_420_002;
/** Held by the instance enforcing retention (exported for tests). */
export const LOCK_RETENTION = 7_420_003;

const INT8_OID = 20;
// BIGINT columns hold milliseconds and counters, all far below 2^53: read them as numbers.
// Scoped to this pool so other pg users in the same process keep the default (strings).
const parseTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    if (oid === INT8_OID && format !== 'binary') return (value: string) => Number(value);
    const byOid: (id: number, fmt?: 'text' | 'binary') => (value: string) => unknown = pgTypes.getTypeParser;
    return byOid(oid, format);
  },
} as PoolConfig['types'];

/** Error classes that are about the data, not about reaching the server (retrying will not help). */
export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^(22|23|42)/.test(code);
}

/**
 * PostgreSQL through a pg Pool. Several Node-RED instances may share one database: writes are
 * upserts on unique keys, device updates lock their row, and the offline sweep and migrations
 * take advisory locks so one instance at a time does them.
 */
export class PostgresBackend implements StoreBackend {
  readonly dialect = 'postgres' as const;
  private pool: Pool | undefined;
  private lastPoolError: Error | undefined;

  constructor(
    private readonly connectionString: string,
    private readonly poolSize = 5,
  ) {}

  async open(targetVersion: number = LATEST_VERSION): Promise<void> {
    if (!this.pool) {
      const pool = new Pool({
        connectionString: this.connectionString,
        max: this.poolSize,
        types: parseTypes,
        connectionTimeoutMillis: 5000,
        idleTimeoutMillis: 30_000,
      });
      // Without a listener an idle client's error (server restart) would crash Node-RED.
      pool.on('error', (err) => {
        this.lastPoolError = err;
      });
      this.pool = pool;
    }
    await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [LOCK_MIGRATE]);
      await c.query(SCHEMA_TABLE_SQL);
      const from = await versionOf(c);
      if (from > LATEST_VERSION) {
        throw new Error(`the store's schema (version ${from}) is newer than this package supports (${LATEST_VERSION}); update the package`);
      }
      for (const m of migrationsFor('postgres')) {
        if (m.version <= from || m.version > targetVersion) continue;
        for (const sql of m.statements) await c.query(sql);
        await c.query('INSERT INTO tts_schema (version, applied_at) VALUES ($1, $2)', [m.version, Date.now()]);
      }
    });
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (pool) await pool.end();
  }

  /** The last error an idle pooled connection reported (for diagnostics). */
  get poolError(): Error | undefined {
    return this.lastPoolError;
  }

  private get db(): Pool {
    if (!this.pool) throw new Error('PostgreSQL store is not open');
    return this.pool;
  }

  /**
   * A pooled client for several statements. While checked out, a dropped connection is reported
   * both as the running query's rejection and as an 'error' event; the listener keeps the event
   * from becoming an uncaught exception (the rejection carries the error to the caller).
   */
  private async checkout(): Promise<{ client: PoolClient; release: (broken?: boolean) => void }> {
    const client = await this.db.connect();
    const onError = (err: Error) => {
      this.lastPoolError = err;
    };
    client.on('error', onError);
    return {
      client,
      release: (broken = false) => {
        client.off('error', onError);
        client.release(broken);
      },
    };
  }

  private async tx<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const { client, release } = await this.checkout();
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true; // the connection is gone: do not return it to the pool
      }
      throw err;
    } finally {
      release(broken);
    }
  }

  async schemaVersion(): Promise<number> {
    await this.db.query(SCHEMA_TABLE_SQL);
    const r = await this.db.query<{ v: number | null }>('SELECT max(version) AS v FROM tts_schema');
    return r.rows[0].v ?? 0;
  }

  async createDevice(device: NewDevice): Promise<CreateDeviceResult> {
    return this.tx(async (c) => {
      await upsertBucket(c, device.bucket, device.id, device.at);
      const inserted = await c.query(
        `INSERT INTO tts_devices (id, application_id, device_id, dev_eui, join_eui, bucket, profile_id,
           asset_type, asset_group, connection_timeout, downlink, created_at, updated_at, last_seen, state_changed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $12, $12)
         ON CONFLICT DO NOTHING`,
        [
          device.id,
          device.applicationId,
          device.deviceId,
          device.devEui ?? null,
          device.joinEui ?? null,
          device.bucket,
          device.profileId,
          device.assetType,
          device.assetGroup,
          device.connectionTimeout,
          toJsonText(device.downlink),
          device.at,
        ],
      );
      const byId = await c.query<DeviceRow>('SELECT * FROM tts_devices WHERE id = $1', [device.id]);
      let row = byId.rows[0];
      if (!row) {
        const byTts = await c.query<DeviceRow>('SELECT * FROM tts_devices WHERE application_id = $1 AND device_id = $2', [
          device.applicationId,
          device.deviceId,
        ]);
        row = byTts.rows[0];
      }
      if (!row) throw new Error(`device "${device.id}" could not be created`);
      const existing = deviceFromRow(row);
      assertSameDevice(existing, device);
      return { device: existing, created: inserted.rowCount === 1 };
    });
  }

  async getDevice(id: string): Promise<DeviceRecord | undefined> {
    const r = await this.db.query<DeviceRow>('SELECT * FROM tts_devices WHERE id = $1', [id]);
    return r.rows[0] ? deviceFromRow(r.rows[0]) : undefined;
  }

  async findDevice(applicationId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    const r = await this.db.query<DeviceRow>('SELECT * FROM tts_devices WHERE application_id = $1 AND device_id = $2', [
      applicationId,
      deviceId,
    ]);
    return r.rows[0] ? deviceFromRow(r.rows[0]) : undefined;
  }

  async listDevices(after: string | undefined, limit: number): Promise<DeviceRecord[]> {
    const r = await this.db.query<DeviceRow>('SELECT * FROM tts_devices WHERE id > $1 ORDER BY id LIMIT $2', [after ?? '', limit]);
    return r.rows.map(deviceFromRow);
  }

  async recordSighting(id: string, sighting: DeviceSighting): Promise<SightingResult | undefined> {
    return this.tx(async (c) => {
      const r = await c.query<DeviceRow>('SELECT * FROM tts_devices WHERE id = $1 FOR UPDATE', [id]);
      const row = r.rows[0];
      if (!row) return undefined;
      const device = deviceFromRow(row);
      const { update, result } = applySighting(device, bookkeepingFromRow(row), sighting, Date.now());
      if (!result.duplicate) await c.query(UPDATE_STATE_SQL, stateParams(id, update));
      return { ...result, device: result.duplicate ? device : withUpdate(device, update) };
    });
  }

  async setDownlink(id: string, value: unknown, at: number): Promise<boolean> {
    const r = await this.db.query('UPDATE tts_devices SET downlink = $1, updated_at = $2 WHERE id = $3', [toJsonText(value), at, id]);
    return r.rowCount === 1;
  }

  async markOffline(now: number): Promise<DeviceRecord[]> {
    return this.tx(async (c) => {
      const lock = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [LOCK_SWEEP]);
      if (!lock.rows[0].ok) return [];
      const r = await c.query<DeviceRow>(
        `UPDATE tts_devices SET online = FALSE, state_changed_at = $1, updated_at = $1
         WHERE online AND last_seen < $1 - connection_timeout RETURNING *`,
        [now],
      );
      return r.rows.map(deviceFromRow);
    });
  }

  async ensureBucket(id: string, device: string | undefined, at: number): Promise<number> {
    const { client, release } = await this.checkout();
    let broken = false;
    try {
      return await upsertBucket(client, id, device, at);
    } catch (err) {
      broken = true;
      throw err;
    } finally {
      release(broken);
    }
  }

  async ensureBuckets(ids: string[], at: number): Promise<Map<string, number>> {
    const r = await this.db.query<{ key: number; id: string }>(
      `INSERT INTO tts_buckets (id, created_at) SELECT id, $2 FROM unnest($1::text[]) AS t(id)
       ON CONFLICT (id) DO UPDATE SET id = excluded.id
       RETURNING key, id`,
      [ids, at],
    );
    return new Map(r.rows.map((row) => [row.id, Number(row.key)]));
  }

  async getBucket(id: string): Promise<(BucketRecord & { key: number }) | undefined> {
    const r = await this.db.query<BucketRow>('SELECT * FROM tts_buckets WHERE id = $1', [id]);
    return r.rows[0] ? bucketFromRow(r.rows[0]) : undefined;
  }

  async listBuckets(): Promise<BucketRecord[]> {
    const r = await this.db.query<BucketRow>('SELECT * FROM tts_buckets ORDER BY id');
    return r.rows.map((row) => {
      const { key: _key, ...bucket } = bucketFromRow(row);
      return bucket;
    });
  }

  async bucketStats(id: string): Promise<BucketStats | undefined> {
    const bucket = await this.getBucket(id);
    if (!bucket) return undefined;
    const r = await this.db.query<{ n: number; first: number | null; last: number | null }>(
      'SELECT count(*) AS n, min(ts) AS first, max(ts) AS last FROM tts_readings WHERE bucket = $1',
      [bucket.key],
    );
    const s = r.rows[0];
    const { key: _key, ...record } = bucket;
    const stats: BucketStats = { ...record, rows: Number(s.n) };
    if (s.first !== null) stats.first = Number(s.first);
    if (s.last !== null) stats.last = Number(s.last);
    return stats;
  }

  async setRetention(id: string, retention: Retention): Promise<boolean> {
    const r = await this.db.query('UPDATE tts_buckets SET max_age = $1, max_rows = $2 WHERE id = $3', [
      retention.maxAge ?? null,
      retention.maxRows ?? null,
      id,
    ]);
    return r.rowCount === 1;
  }

  async withRetentionLock<T>(fn: (run: RetentionRun) => Promise<T>): Promise<T | undefined> {
    // A session lock on one connection for the whole run (its deletes commit one by one): if the
    // connection drops, the server releases the lock with it.
    const { client, release } = await this.checkout();
    let broken = false;
    try {
      const lock = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LOCK_RETENTION]);
      if (!lock.rows[0].ok) return undefined;
      try {
        return await fn(new PostgresRetentionRun(client));
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [LOCK_RETENTION]);
      }
    } catch (err) {
      broken = true; // never return a connection that may still hold the lock
      throw err;
    } finally {
      release(broken);
    }
  }

  async insertReadings(rows: ReadingColumns): Promise<void> {
    // One statement per batch: the columns travel as arrays and unnest() turns them into rows.
    await this.db.query(INSERT_READINGS_SQL, [rows.bucketKey, rows.ts, rows.fCnt, rows.fPort, rows.data, rows.radio]);
  }

  async queryReadings(
    bucketKey: number,
    query: ReadingQuery & { limit: number },
  ): Promise<{ rows: StoredReading[]; last?: ReadingCursor }> {
    const desc = query.order === 'desc';
    const params: Array<number> = [bucketKey, query.from ?? Number.MIN_SAFE_INTEGER, query.to ?? Number.MAX_SAFE_INTEGER];
    let sql = 'SELECT ts, f_cnt, f_port, data, radio FROM tts_readings WHERE bucket = $1 AND ts >= $2 AND ts <= $3';
    if (query.after) {
      sql += desc ? ' AND (ts, f_cnt) < ($4, $5)' : ' AND (ts, f_cnt) > ($4, $5)';
      params.push(query.after.ts, query.after.fCnt);
    }
    params.push(query.limit);
    sql += desc ? ` ORDER BY ts DESC, f_cnt DESC LIMIT $${params.length}` : ` ORDER BY ts, f_cnt LIMIT $${params.length}`;
    const r = await this.db.query<ReadingRow>(sql, params);
    const tail = r.rows[r.rows.length - 1];
    const page: { rows: StoredReading[]; last?: ReadingCursor } = { rows: r.rows.map(readingFromRow) };
    if (tail) page.last = { ts: Number(tail.ts), fCnt: Number(tail.f_cnt) };
    return page;
  }
}

/**
 * Retention on the locked connection. The server does the counting (asynchronously for Node-RED),
 * once per bucket and run: the newest row to delete is found first, then rows up to it go in
 * chunks, oldest first.
 */
class PostgresRetentionRun implements RetentionRun {
  private readonly limits = new Map<number, ReadingCursor | null>();

  constructor(private readonly c: PoolClient) {}

  async buckets(): Promise<RetentionBucket[]> {
    const r = await this.c.query<BucketRow>('SELECT key, id, max_age, max_rows FROM tts_buckets WHERE max_age > 0 OR max_rows > 0');
    return r.rows.map((row) => ({ key: Number(row.key), id: row.id, retention: retentionFromRow(row) }));
  }

  private async limitOf(bucket: RetentionBucket, now: number): Promise<ReadingCursor | null> {
    const known = this.limits.get(bucket.key);
    if (known !== undefined) return known;
    const { maxAge, maxRows } = bucket.retention;
    let limit: ReadingCursor | null = null;
    const newer = (row: { ts: number; f_cnt: number }): boolean =>
      !limit || row.ts > limit.ts || (row.ts === limit.ts && row.f_cnt > limit.fCnt);
    if (maxAge) {
      const r = await this.c.query<{ ts: number; f_cnt: number }>(
        'SELECT ts, f_cnt FROM tts_readings WHERE bucket = $1 AND ts < $2 ORDER BY ts DESC, f_cnt DESC LIMIT 1',
        [bucket.key, now - maxAge],
      );
      if (r.rows[0]) limit = { ts: r.rows[0].ts, fCnt: r.rows[0].f_cnt };
    }
    if (maxRows) {
      const r = await this.c.query<{ ts: number; f_cnt: number }>(
        'SELECT ts, f_cnt FROM tts_readings WHERE bucket = $1 ORDER BY ts DESC, f_cnt DESC LIMIT 1 OFFSET $2',
        [bucket.key, maxRows],
      );
      if (r.rows[0] && newer(r.rows[0])) limit = { ts: r.rows[0].ts, fCnt: r.rows[0].f_cnt };
    }
    this.limits.set(bucket.key, limit);
    return limit;
  }

  async trim(bucket: RetentionBucket, now: number, chunk: number): Promise<number> {
    const limit = await this.limitOf(bucket, now);
    if (!limit) return 0;
    const r = await this.c.query(
      // Row addresses from an index range, then a TID scan: the delete touches only those rows.
      `DELETE FROM tts_readings WHERE ctid = ANY(ARRAY(
         SELECT ctid FROM tts_readings WHERE bucket = $1 AND (ts, f_cnt) <= ($2, $3) ORDER BY ts, f_cnt LIMIT $4))`,
      [bucket.key, limit.ts, limit.fCnt, chunk],
    );
    return r.rowCount ?? 0;
  }
}

export const INSERT_READINGS_SQL = `INSERT INTO tts_readings (bucket, ts, f_cnt, f_port, data, radio)
  SELECT * FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::int[], $5::json[], $6::json[])
  ON CONFLICT DO NOTHING`;

const UPDATE_STATE_SQL = `UPDATE tts_devices SET last_seen = $2, uplink_count = $3, last_f_cnt = $4,
  last_uplink_at = $5, lost_frames = $6, online = $7, state_changed_at = $8, metadata = $9,
  location = $10, location_rank = $11, updated_at = $12 WHERE id = $1`;

function stateParams(id: string, u: DeviceStateUpdate): unknown[] {
  return [
    id,
    u.lastSeen,
    u.uplinkCount,
    u.lastFCnt ?? null,
    u.lastUplinkAt ?? null,
    u.lostFrames,
    u.online,
    u.stateChangedAt ?? null,
    toJsonText(u.metadata),
    toJsonText(u.location),
    u.locationRank ?? null,
    u.updatedAt,
  ];
}

async function upsertBucket(c: PoolClient, id: string, device: string | undefined, at: number): Promise<number> {
  const r = await c.query<{ key: number }>(
    `INSERT INTO tts_buckets (id, device, created_at) VALUES ($1, $2, $3)
     ON CONFLICT (id) DO UPDATE SET device = coalesce(tts_buckets.device, excluded.device)
     RETURNING key`,
    [id, device ?? null, at],
  );
  return Number(r.rows[0].key);
}

async function versionOf(c: PoolClient): Promise<number> {
  const r = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM tts_schema');
  return r.rows[0].v ?? 0;
}
