import { Pool, types as pgTypes, type PoolClient, type PoolConfig } from 'pg';
import type {
  DeviceWrite,
  DeviceWriteResult,
  LoadedDevice,
  ReadingColumns,
  RetentionBucket,
  RetentionRun,
  StoreBackend,
  WriteBatch,
  WriteBatchResult,
} from './backend';
import { applyDeviceWrites, assertSameDevice, lockOrder, type DeviceChange } from './backend-shared';
import type { DeviceState } from './device-state';
import { KnownRows } from './postgres-versions';
import { StoreDataError, describeError } from './errors';
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
  NewDevice,
  ReadingCursor,
  ReadingQuery,
  Retention,
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

/**
 * SQLSTATE classes about the data, not about reaching the server (retrying will not help):
 * 22 data exception, 23 integrity constraint, 42 syntax or access rule.
 */
function isPgDataError(err: unknown): boolean {
  if (err instanceof StoreDataError) return true;
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^(22|23|42)/.test(code);
}

/**
 * SQLSTATE 40P01 deadlock detected, 40001 serialization failure: the server rolled the
 * transaction back and running it again is the remedy. A flush locks device rows in id order, but
 * another instance's offline sweep or an admin update locks in its own order.
 */
function isPgRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === '40P01' || code === '40001';
}

/** Attempts of a flush's transaction before its failure counts (see isPgRetryable). */
const TX_ATTEMPTS = 3;
/** Version-checked writes of a device in one flush before it is written under its row lock. */
const OPTIMISTIC_ATTEMPTS = 2;

/** `attempt` run again while the server rolls it back as a deadlock victim or for serialization. */
async function retried<T>(attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (n >= TX_ATTEMPTS || !isPgRetryable(err)) throw err;
    }
  }
}

const NO_ALIAS: ReadonlyMap<string, string> = new Map();

/** Prepared statements run their cached plan (why: the pool's 'connect' handler). */
const GENERIC_PLANS = 'SET plan_cache_mode = force_generic_plan';

/** Statement names for pg: each connection prepares a named statement once, on its first use. */
const statementNames = new Map<string, string>();
function named(text: string, values: unknown[]): { name: string; text: string; values: unknown[] } {
  let name = statementNames.get(text);
  if (!name) {
    name = `tts_${statementNames.size + 1}`;
    statementNames.set(text, name);
  }
  return { name, text, values };
}

/**
 * PostgreSQL through a pg Pool. Several Node-RED instances may share one database: writes are
 * upserts on unique keys, device updates lock their row, and the offline sweep and migrations
 * take advisory locks so one instance at a time does them.
 */

/** Rolls back after a failed statement; true when that failed too: the connection is gone and must not return to the pool. */
async function rollBack(client: { query(text: string): Promise<unknown> }): Promise<boolean> {
  try {
    await client.query('ROLLBACK');
    return false;
  } catch {
    return true;
  }
}
export class PostgresBackend implements StoreBackend {
  readonly dialect = 'postgres' as const;
  private pool: Pool | undefined;
  private lastPoolError: Error | undefined;
  /** The device rows this backend wrote or read last, with their versions (a hint, see KnownRows). */
  private readonly known = new KnownRows();

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
        // Statements issued together go out together (each with its own Sync, so one's error does
        // not swallow the next's answer): a flush's BEGIN and row locks travel in one round trip,
        // its update and COMMIT in another. Awaited one by one, a query behaves as without it.
        pipeline: true,
      });
      // An 'error' event without a listener is an uncaught exception that ends Node-RED. pg emits
      // one on the pool for idle clients and on a client for a connection lost while it is in use
      // (pool.query included), for example on `pg_ctl stop` ("terminating connection due to
      // administrator command"). Every client gets a listener for its whole life; the running
      // query's rejection carries the error to the caller.
      const noteError = (err: Error): void => {
        this.lastPoolError = err;
      };
      pool.on('error', noteError);
      pool.on('connect', (client) => {
        client.on('error', noteError);
        // Queued ahead of the client's first statement. Planning a flush's statement for its
        // values cost the server more than running it (0.4–0.5 ms against 0.2 for a flush of a
        // few rows), and PostgreSQL keeps planning it for small batches, whose custom plans look
        // cheaper than the cached one; the statements given names here (see `named`) have plans
        // that do not depend on their values (keys, `= ANY` of id arrays). Unnamed statements
        // (reading queries by time range) are planned for their values whatever this says. A
        // server or pooler refusing the setting only loses the saving.
        client.query(GENERIC_PLANS).catch(() => undefined);
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
    this.known.clear();
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

  /** A pooled client for several statements (its error events are handled since it connected). */
  private async checkout(): Promise<{ client: PoolClient; release: (broken?: boolean) => void }> {
    const client = await this.db.connect();
    return { client, release: (broken = false) => client.release(broken) };
  }

  isDataError(err: unknown): boolean {
    return isPgDataError(err);
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
      broken = await rollBack(client);
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

  async getDevice(id: string): Promise<DeviceRecord | undefined> {
    const r = await this.db.query<DeviceRow>(named('SELECT * FROM tts_devices WHERE id = $1', [id]));
    return r.rows[0] ? deviceFromRow(r.rows[0]) : undefined;
  }

  async findDevice(applicationId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    const row = await this.findRow(applicationId, deviceId);
    return row ? deviceFromRow(row) : undefined;
  }

  async loadDevice(applicationId: string, deviceId: string): Promise<LoadedDevice | undefined> {
    const row = await this.findRow(applicationId, deviceId);
    return row ? { record: deviceFromRow(row), state: stateFromRow(row) } : undefined;
  }

  private async findRow(applicationId: string, deviceId: string): Promise<DeviceRow | undefined> {
    const r = await this.db.query<DeviceRow>(named('SELECT * FROM tts_devices WHERE application_id = $1 AND device_id = $2', [applicationId, deviceId]));
    return r.rows[0];
  }

  async listDevices(after: string | undefined, limit: number): Promise<DeviceRecord[]> {
    const r = await this.db.query<DeviceRow>(named('SELECT * FROM tts_devices WHERE id > $1 ORDER BY id LIMIT $2', [after ?? '', limit]));
    return r.rows.map(deviceFromRow);
  }

  async writeBatch(batch: WriteBatch): Promise<WriteBatchResult> {
    const readings = batch.readings.ts.length > 0 ? batch.readings : undefined;
    // Readings alone: one statement is one transaction.
    if (batch.devices.length === 0) {
      if (readings) await retried(() => this.db.query(insertReadingsQuery(readings)));
      return { devices: [] };
    }
    if (batch.devices.some((w) => w.create)) return retried(() => this.writeLocked(batch.devices, readings));
    return this.writeKnown(batch.devices, readings);
  }

  /**
   * Writes to known devices without holding their rows between statements. Their states are the
   * rows this backend wrote (or read) last (KnownRows), the others read first (no lock, no
   * transaction); the writes are applied to them, and one statement writes the rows still at
   * those versions, inserts the readings and returns the rows it did not write as they are. In the
   * steady state of one instance a flush is that one round trip. A row another instance changed
   * meanwhile is written again from the row returned, once; overtaken again, or by a commit too
   * recent for the statement to see, it is written under its row lock (writeLocked). A row found
   * changed is read first from then on (two round trips, one commit, as before this hint) until a
   * read finds it as this backend left it: devices that two instances share cost no refused write.
   */
  private async writeKnown(writes: readonly DeviceWrite[], readings: ReadingColumns | undefined): Promise<WriteBatchResult> {
    const results: DeviceWriteResult[] = new Array<DeviceWriteResult>(writes.length);
    const states = new Map<string, DeviceState>();
    const versions = new Map<string, string>();
    const cold: string[] = [];
    for (const id of lockOrder(writes, NO_ALIAS)) {
      const known = this.known.trusted(id);
      if (!known) cold.push(id);
      else {
        states.set(id, known.state);
        versions.set(id, known.version);
      }
    }
    // Rows someone else wrote since this backend's last write or read of them: read first next time too.
    const shared = new Set<string>();
    if (cold.length > 0) {
      const read = await retried(() => this.db.query<DeviceStateRow & { version: string }>(named(READ_STATES_SQL, [cold])));
      for (const row of read.rows) {
        states.set(row.id, stateFromRow(row));
        versions.set(row.id, row.version);
        const last = this.known.lastVersion(row.id);
        if (last !== undefined && last !== row.version) shared.add(row.id);
      }
    }
    let pending = writes.map((_, i) => i);
    let unsaved = readings;
    const locked: number[] = [];
    for (let attempt = 1; pending.length > 0; attempt++) {
      const batch = pending.map((i) => writes[i]);
      const ids = lockOrder(batch, NO_ALIAS);
      const sent = new Map(versions);
      const had = new Set(states.keys());
      const now = Date.now();
      const applied = applyDeviceWrites(batch, states, new Set(), NO_ALIAS, now);
      const changed = new Set(applied.changes.map((ch) => ch.state.id));
      let r: { rows: KnownWriteRow[] };
      try {
        r = await retried(() => this.db.query<KnownWriteRow>(knownWriteQuery(applied.changes, sent, now, unsaved, ids)));
      } catch (err) {
        if (attempt === 1) throw err;
        // Not to be retried as a whole (its readings and other devices are committed): an outage.
        throw new Error(`flush partly committed, the rest failed: ${describeError(err)}`);
      }
      unsaved = undefined;
      // Each device: settled (its results stand), again (from the row as it is now) or locked.
      const again = new Set<string>();
      const lockedIds = new Set<string>();
      const seen = new Set<string>();
      for (const row of r.rows) {
        seen.add(row.id);
        if (row.written) this.known.set(states.get(row.id)!, row.version, shared.has(row.id));
        else if (row.version === sent.get(row.id)) {
          // Unchanged at the statement's snapshot: current if nothing was to be written; if it
          // was, a commit after the snapshot overtook the write.
          if (changed.has(row.id)) lockedIds.add(row.id);
          else this.known.set(states.get(row.id)!, row.version, shared.has(row.id));
        } else {
          states.set(row.id, stateFromRow(row));
          versions.set(row.id, row.version);
          again.add(row.id);
          shared.add(row.id);
        }
      }
      for (const id of ids) {
        if (seen.has(id) || !had.has(id)) continue;
        // The row is gone: its writes again, finding no device.
        states.delete(id);
        this.known.forget(id);
        again.add(id);
      }
      const next: number[] = [];
      pending.forEach((i, k) => {
        const id = writes[i].id;
        if (lockedIds.has(id) || (again.has(id) && attempt >= OPTIMISTIC_ATTEMPTS)) locked.push(i);
        else if (again.has(id)) next.push(i);
        else results[i] = applied.results[k];
      });
      pending = next;
    }
    if (locked.length === 0) return { devices: results };
    locked.sort((a, b) => a - b);
    try {
      const redone = await retried(() => this.writeLocked(locked.map((i) => writes[i]), undefined, true));
      locked.forEach((i, k) => (results[i] = redone.devices[k]));
    } catch (err) {
      throw new Error(`flush partly committed, the rest failed: ${describeError(err)}`);
    }
    return { devices: results };
  }

  /**
   * One transaction holding the rows' locks from their read to the commit: creates the new devices
   * (in id order), locks and reads the rows of all, writes their states and the readings.
   * Statements that need no answer in between leave in one socket write (BEGIN with the row locks,
   * the write with COMMIT): each trip is a turn of a busy event loop and a wake-up of the server.
   */
  private async writeLocked(writes: readonly DeviceWrite[], readings: ReadingColumns | undefined, overtaken = false): Promise<WriteBatchResult> {
    const { client: c, release } = await this.checkout();
    let broken = false;
    try {
      const { created, alias } = await createDevices(c, writes);
      const lock = named(`SELECT ${STATE_COLUMNS}, xmin::text AS version FROM tts_devices WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`, [lockOrder(writes, alias)]);
      const [, locked] = await Promise.all(together(c, () => [created.begun ? Promise.resolve(undefined) : c.query('BEGIN'), c.query<DeviceStateRow & { version: string }>(lock)]));
      const states = new Map<string, DeviceState>();
      const versions = new Map<string, string>();
      for (const row of locked.rows) {
        states.set(row.id, stateFromRow(row));
        versions.set(row.id, row.version);
      }
      const now = Date.now();
      const { results, changes } = applyDeviceWrites(writes, states, created.ids, alias, now);
      const write = changes.length > 0 ? updateStatesQuery(changes, now, readings) : readings ? insertReadingsQuery(readings) : undefined;
      // Both answers awaited: after a failed write COMMIT only ends the failed transaction.
      const [written, committed] = await Promise.allSettled(together(c, () => [write ? c.query<{ id: string; version: string }>(write) : Promise.resolve(undefined), c.query('COMMIT')]));
      if (written.status === 'rejected') throw written.reason;
      if (committed.status === 'rejected') throw committed.reason;
      // The rows as committed, for the next flush to them (KnownRows).
      if (changes.length > 0) for (const row of written.value?.rows ?? []) versions.set(row.id, row.version);
      for (const [id, state] of states) this.known.set(state, versions.get(id)!, overtaken);
      return { devices: results };
    } catch (err) {
      broken = await rollBack(c);
      throw err;
    } finally {
      release(broken);
    }
  }

  async setDownlink(id: string, value: unknown, at: number): Promise<boolean> {
    this.known.forget(id); // its next flush reads the row (the version check would find it changed)
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
      for (const row of r.rows) this.known.forget(row.id);
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
    await this.db.query(insertReadingsQuery(rows));
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

/** The readings insert with its six parameters numbered from `$first`. */
function insertReadingsSql(first: number): string {
  const p = (i: number): string => `$${first + i}`;
  return `INSERT INTO tts_readings (bucket, ts, f_cnt, f_port, data, radio)
  SELECT * FROM unnest(${p(0)}::int[], ${p(1)}::bigint[], ${p(2)}::bigint[], ${p(3)}::int[], ${p(4)}::json[], ${p(5)}::json[])
  ON CONFLICT DO NOTHING`;
}

export const INSERT_READINGS_SQL = insertReadingsSql(1);

const readingValues = (rows: ReadingColumns): unknown[] => [rows.bucketKey, rows.ts, rows.fCnt, rows.fPort, rows.data, rows.radio];

/** One statement per batch: the columns travel as arrays and unnest() turns them into rows. */
function insertReadingsQuery(rows: ReadingColumns): { name: string; text: string; values: unknown[] } {
  return named(INSERT_READINGS_SQL, readingValues(rows));
}

const INSERT_DEVICE_SQL = `INSERT INTO tts_devices (id, application_id, device_id, dev_eui, join_eui, bucket, profile_id,
    asset_type, asset_group, connection_timeout, downlink, created_at, updated_at, last_seen, state_changed_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $12, $12)
  ON CONFLICT DO NOTHING`;

/**
 * Every changed device of a batch in one statement, returning the ids written with the rows' new
 * versions. Unconditional when this transaction holds the rows' locks; else only where a row is
 * still the version the states were read from (its xmin).
 */
function updateStatesSql(checked: boolean): string {
  // `d.id = ANY($1)` (the same ids as u.id) lets the cached plan find the rows by key: from the
  // join alone, with no idea of the arrays' length, it scanned the whole table.
  return `UPDATE tts_devices d SET last_seen = u.last_seen, uplink_count = u.uplink_count,
    last_f_cnt = u.last_f_cnt, last_uplink_at = u.last_uplink_at, lost_frames = u.lost_frames, online = u.online,
    state_changed_at = u.state_changed_at, metadata = coalesce(u.metadata, d.metadata), location = u.location,
    location_rank = u.location_rank, updated_at = $12
  FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::boolean[],
    $8::bigint[], $9::json[], $10::json[], $11::int[]${checked ? ', $13::xid[]' : ''})
    AS u(id, last_seen, uplink_count, last_f_cnt, last_uplink_at, lost_frames, online, state_changed_at, metadata, location, location_rank${checked ? ', version' : ''})
  WHERE d.id = ANY($1::text[]) AND d.id = u.id${checked ? ' AND d.xmin = u.version' : ''}
  RETURNING d.id, d.xmin::text AS version`;
}

const UPDATE_STATES_SQL = updateStatesSql(false);
/** The device states and the batch's readings in one statement (a data-modifying WITH runs in full). */
const UPDATE_STATES_AND_INSERT_SQL = `WITH states AS (${UPDATE_STATES_SQL}), readings AS (${insertReadingsSql(13)})\nSELECT id, version FROM states`;

/** A row of knownWriteSql: written (with its new version), or not (as it is, with its version). */
type KnownWriteRow = DeviceStateRow & { written: boolean; version: string };

/** The state columns but the id, null where the row was written (the caller has that state). */
const UNWRITTEN_STATE = STATE_COLUMNS.split(', ')
  .filter((column) => column !== 'id')
  .map((column) => `CASE WHEN s.id IS NULL THEN d.${column} END AS ${column}`)
  .join(', ');

/**
 * The version-checked write (with the readings when `withReadings`), and every row of the batch's
 * ids (the last parameter) it did not write as this statement's snapshot has it: one round trip
 * whether or not another instance wrote a device in between.
 */
function knownWriteSql(withReadings: boolean): string {
  return `WITH states AS (${updateStatesSql(true)})${withReadings ? `, readings AS (${insertReadingsSql(14)})` : ''}
SELECT d.id, s.id IS NOT NULL AS written, coalesce(s.version, d.xmin::text) AS version, ${UNWRITTEN_STATE}
FROM tts_devices d LEFT JOIN states s ON s.id = d.id
WHERE d.id = ANY($${withReadings ? 20 : 14}::text[])`;
}

const KNOWN_WRITE_SQL = knownWriteSql(false);
const KNOWN_WRITE_AND_INSERT_SQL = knownWriteSql(true);

/** A batch's device states read without a lock, each with its row version. */
const READ_STATES_SQL = `SELECT ${STATE_COLUMNS}, xmin::text AS version FROM tts_devices WHERE id = ANY($1::text[])`;

type Query = { name: string; text: string; values: unknown[] };

/** The eleven state columns of `changes`, in id order (the order the update locks their rows in). */
function stateColumns(changes: DeviceChange[]): { cols: unknown[][]; ids: string[] } {
  const sorted = [...changes].sort((a, b) => (a.state.id < b.state.id ? -1 : a.state.id > b.state.id ? 1 : 0));
  const cols: unknown[][] = Array.from({ length: 11 }, () => []);
  for (const { state: s, metadata } of sorted) {
    cols[0].push(s.id);
    cols[1].push(s.lastSeen ?? null);
    cols[2].push(s.uplinkCount);
    cols[3].push(s.lastFCnt ?? null);
    cols[4].push(s.lastUplinkAt ?? null);
    cols[5].push(s.lostFrames);
    cols[6].push(s.online);
    cols[7].push(s.stateChangedAt ?? null);
    cols[8].push(toJsonText(metadata));
    cols[9].push(toJsonText(s.location));
    cols[10].push(s.locationRank ?? null);
  }
  return { cols, ids: cols[0] as string[] };
}

function updateStatesQuery(changes: DeviceChange[], now: number, readings?: ReadingColumns): Query {
  const { cols } = stateColumns(changes);
  if (readings) return named(UPDATE_STATES_AND_INSERT_SQL, [...cols, now, ...readingValues(readings)]);
  return named(UPDATE_STATES_SQL, [...cols, now]);
}

/** The version-checked write of `changes` (`versions`: id → xmin), the readings if any, and the rows of `ids` it leaves unwritten. */
function knownWriteQuery(changes: DeviceChange[], versions: ReadonlyMap<string, string>, now: number, readings: ReadingColumns | undefined, ids: string[]): Query {
  const { cols, ids: changed } = stateColumns(changes);
  const checked = changed.map((id) => versions.get(id));
  if (readings) return named(KNOWN_WRITE_AND_INSERT_SQL, [...cols, now, checked, ...readingValues(readings), ids]);
  return named(KNOWN_WRITE_SQL, [...cols, now, checked, ids]);
}

/**
 * Statements issued by `issue` (the pool's clients pipeline: each goes out at once) leave in one
 * socket write instead of one each.
 */
function together<T>(c: PoolClient, issue: () => T): T {
  const stream = c.connection.stream;
  stream.cork();
  try {
    return issue();
  } finally {
    stream.uncork();
  }
}

/**
 * Inserts the batch's new devices (and buckets), in id order like the row locks after them: two
 * instances creating the same devices wait for each other instead of deadlocking (the insert locks
 * the new key, the bucket upsert the bucket row). Starts the transaction when there are any.
 * `created.ids`: the devices this transaction inserted; `alias`: a wanted id to the id the same TTS
 * device already has.
 */
async function createDevices(c: PoolClient, writes: readonly DeviceWrite[]): Promise<{ created: { ids: Set<string>; begun: boolean }; alias: Map<string, string> }> {
  const created = { ids: new Set<string>(), begun: false };
  const alias = new Map<string, string>();
  const creations = new Map<string, NewDevice>();
  for (const w of writes) if (w.create && !creations.has(w.id)) creations.set(w.id, w.create);
  if (creations.size === 0) return { created, alias };
  await c.query('BEGIN');
  created.begun = true;
  for (const id of [...creations.keys()].sort()) {
    const other = await insertDevice(c, creations.get(id)!);
    if (other === undefined) created.ids.add(id);
    else if (other !== id) alias.set(id, other);
  }
  return { created, alias };
}

/** Inserts a device and its bucket; undefined when inserted, else the id the TTS device already has. */
async function insertDevice(c: PoolClient, d: NewDevice): Promise<string | undefined> {
  await upsertBucket(c, d.bucket, d.id, d.at);
  const inserted = await c.query(
    named(INSERT_DEVICE_SQL, [
      d.id,
      d.applicationId,
      d.deviceId,
      d.devEui ?? null,
      d.joinEui ?? null,
      d.bucket,
      d.profileId,
      d.assetType,
      d.assetGroup,
      d.connectionTimeout,
      toJsonText(d.downlink),
      d.at,
    ]),
  );
  if (inserted.rowCount === 1) return undefined;
  const byId = await c.query<{ application_id: string; device_id: string }>(
    named('SELECT application_id, device_id FROM tts_devices WHERE id = $1', [d.id]),
  );
  if (byId.rows[0]) {
    assertSameDevice({ applicationId: byId.rows[0].application_id, deviceId: byId.rows[0].device_id }, d);
    return d.id;
  }
  const byTts = await c.query<{ id: string }>(
    named('SELECT id FROM tts_devices WHERE application_id = $1 AND device_id = $2', [d.applicationId, d.deviceId]),
  );
  if (!byTts.rows[0]) throw new Error(`device "${d.id}" could not be created`);
  return byTts.rows[0].id;
}

async function upsertBucket(c: PoolClient, id: string, device: string | undefined, at: number): Promise<number> {
  const r = await c.query<{ key: number }>(
    named(
      `INSERT INTO tts_buckets (id, device, created_at) VALUES ($1, $2, $3)
       ON CONFLICT (id) DO UPDATE SET device = coalesce(tts_buckets.device, excluded.device)
       RETURNING key`,
      [id, device ?? null, at],
    ),
  );
  return Number(r.rows[0].key);
}

async function versionOf(c: PoolClient): Promise<number> {
  const r = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM tts_schema');
  return r.rows[0].v ?? 0;
}
