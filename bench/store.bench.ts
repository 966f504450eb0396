// Store write throughput and query latency, SQLite and PostgreSQL.
//
// For each backend, the same readings (interleaved over 1,000 buckets, time-ordered) go
//  - through the store (TtsStore.write: validation, JSON, queue, batched transactions),
//  - raw batched: the driver inserting the same rows with the store's own statement into the same
//    schema (migrated by the backend), with the same connection settings, 5,000 per transaction
//    (the store's batch size),
//  - raw one per transaction (autocommit), the naive design.
// Both sides start from an empty readings table whose 1,000 buckets exist (as in a running
// system: devices are provisioned once, then report for ever) and both are warmed up first.
// This machine is shared and noisy, so store and raw alternate over several rounds (the order
// flips every round) and the figures are medians: each side's median rate, and the median of the
// per-round ratios store / raw batched, with their range.
// Then the newest 1,000 rows of one bucket are read through the store from a table holding
// 1,000,000 rows over 1,000 buckets.
// PostgreSQL: TTS_BENCH_PG_URL, else a throwaway server (fsync on) if the binaries are installed.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { INSERT_READINGS_SQL, PostgresBackend } from '../src/store/postgres-backend';
import { SQLITE_INSERT_READING_SQL, SQLITE_PRAGMAS, SqliteBackend } from '../src/store/sqlite-backend';
import { TtsStore } from '../src/store/store';
import type { StoreBackend } from '../src/store/backend';
import type { Reading } from '../src/store/types';
import { startThrowawayServer } from '../test/helpers/postgres';

const BUCKETS = 1_000;
/** Rows per transaction in the raw batched insert: the store's default batch size. */
const BATCH = 5_000;
const ROUNDS = 5;
const T0 = Date.UTC(2025, 0, 1);

function readings(count: number): Reading[] {
  const rows: Reading[] = [];
  for (let i = 0; i < count; i++) {
    rows.push({
      bucket: `bucket-${i % BUCKETS}`,
      ts: T0 + i * 10,
      fCnt: Math.floor(i / BUCKETS),
      fPort: 1,
      data: { temperature: 20 + (i % 100) / 10, humidity: 40 + (i % 50), battery: 3.6 },
    });
  }
  return rows;
}

const rate = (n: number, ms: number): number => Math.round((n / ms) * 1000);
const fmt = (n: number): string => n.toLocaleString('en-US');

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Feeds readings through the store with a bounded number in flight (as a busy flow would). */
async function throughStore(store: TtsStore, rows: Reading[]): Promise<number> {
  const t = performance.now();
  const chunk = 10_000;
  for (let i = 0; i < rows.length; i += chunk) {
    await Promise.all(rows.slice(i, i + chunk).map((r) => store.write(r)));
  }
  return performance.now() - t;
}

/** Creates the bench's buckets through the backend; returns id → key. */
async function createBuckets(backend: StoreBackend): Promise<Map<string, number>> {
  const ids = Array.from({ length: BUCKETS }, (_, b) => `bucket-${b}`);
  return backend.ensureBuckets(ids, T0);
}

interface Side {
  /** Writes `rows` (timed part only) into a fresh, warm target; returns ms. */
  run(round: number, rows: Reading[]): Promise<number>;
}

/** Store and raw alternate, order flipping every round; returns per-round rates. */
async function alternate(store: Side, raw: Side, rows: Reading[], rounds: number): Promise<{ store: number[]; raw: number[] }> {
  const result = { store: [] as number[], raw: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    const order: Array<['store' | 'raw', Side]> = round % 2 === 0 ? [['store', store], ['raw', raw]] : [['raw', raw], ['store', store]];
    for (const [name, side] of order) result[name].push(rate(rows.length, await side.run(round, rows)));
  }
  return result;
}

function report(name: string, rates: { store: number[]; raw: number[] }, single: number, goal: number): void {
  const s = median(rates.store);
  const r = median(rates.raw);
  const ratios = rates.store.map((v, i) => v / rates.raw[i]);
  const ratio = median(ratios);
  console.log(`${name}: store ${fmt(s)} readings/s | raw batched ${fmt(r)}/s | raw one per transaction ${fmt(single)}/s (medians of ${rates.store.length} alternating rounds)`);
  console.log(`${name}: per round store ${rates.store.map(fmt).join(', ')} | raw ${rates.raw.map(fmt).join(', ')}`);
  console.log(
    `${name}: store / raw batched = ${ratio.toFixed(2)}× median (rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}; goal ≥ 0.80) | store / one-per-transaction = ${(s / single).toFixed(1)}× | goal ≥ ${fmt(goal)}/s: ${s >= goal ? 'met' : 'NOT met'}`,
  );
}

function openRawSqlite(file: string): Database.Database {
  const db = new Database(file);
  for (const pragma of SQLITE_PRAGMAS) db.pragma(pragma);
  return db;
}

async function sqlite(dir: string): Promise<void> {
  const prepared = async (file: string): Promise<Map<string, number>> => {
    const b = new SqliteBackend(file);
    await b.open();
    const keys = await createBuckets(b);
    await b.close();
    return keys;
  };
  const store: Side = {
    async run(round, rows) {
      const file = path.join(dir, `store-${round}.db`);
      await prepared(file);
      const s = new TtsStore(new SqliteBackend(file), { maxQueue: 20_000, retentionInterval: 0 });
      await s.start();
      for (let b = 0; b < BUCKETS; b++) await s.ensureBucket(`bucket-${b}`); // keys known, as in a running flow
      await s.write({ ...rows[0], ts: rows[0].ts - 1 }); // statement prepared, as in a running flow
      const ms = await throughStore(s, rows);
      await s.close();
      return ms;
    },
  };
  const raw: Side = {
    async run(round, rows) {
      const file = path.join(dir, `raw-${round}.db`);
      const keys = await prepared(file);
      const db = openRawSqlite(file);
      const insert = db.prepare(SQLITE_INSERT_READING_SQL);
      const batch = db.transaction((slice: Reading[]) => {
        for (const r of slice) insert.run(keys.get(r.bucket), r.ts, r.fCnt, r.fPort, JSON.stringify(r.data), null);
      });
      batch([{ ...rows[0], ts: rows[0].ts - 1 }]);
      const t = performance.now();
      for (let i = 0; i < rows.length; i += BATCH) batch(rows.slice(i, i + BATCH));
      const ms = performance.now() - t;
      db.close();
      return ms;
    },
  };
  // Warm-up (JIT, page cache) on scratch files, so neither side pays for going first.
  await alternate(store, raw, readings(20_000), 2);
  const rates = await alternate(store, raw, readings(100_000), ROUNDS);

  // One per transaction (autocommit).
  const singleFile = path.join(dir, 'single.db');
  const keys = await prepared(singleFile);
  const db = openRawSqlite(singleFile);
  const insert = db.prepare(SQLITE_INSERT_READING_SQL);
  const single = readings(20_000);
  const t = performance.now();
  for (const r of single) insert.run(keys.get(r.bucket), r.ts, r.fCnt, r.fPort, JSON.stringify(r.data), null);
  const singleRate = rate(single.length, performance.now() - t);
  db.close();
  report('SQLite', rates, singleRate, 100_000);
  console.log(`(readings interleaved over ${BUCKETS} buckets; 100,000 per round; raw batched = ${BATCH} per transaction)`);

  // 1,000,000 rows over 1,000 buckets, then the newest 1,000 of one bucket through the store.
  const bigFile = path.join(dir, 'big.db');
  await prepared(bigFile);
  const bigDb = new Database(bigFile);
  bigDb.pragma('journal_mode = WAL');
  const fill = bigDb.prepare('INSERT INTO tts_readings (bucket, ts, f_cnt, f_port, data) VALUES (?, ?, ?, 1, ?)');
  const fillBatch = bigDb.transaction((from: number) => {
    for (let i = from; i < from + 10_000; i++) fill.run((i % BUCKETS) + 1, T0 + i * 10, Math.floor(i / BUCKETS), `{"temperature":${20 + (i % 100) / 10},"humidity":${40 + (i % 50)}}`);
  });
  for (let i = 0; i < 1_000_000; i += 10_000) fillBatch(i);
  bigDb.close();
  const reader = new TtsStore(new SqliteBackend(bigFile), { retentionInterval: 0 });
  await reader.start();
  const q = await lastThousand(reader);
  await reader.close();
  console.log(`SQLite: last 1,000 rows of one bucket (1,000,000 rows, 1,000 buckets): ${q.toFixed(2)} ms median (goal < 20 ms: ${q < 20 ? 'met' : 'NOT met'})`);
}

async function lastThousand(store: TtsStore): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 25; i++) {
    const bucket = `bucket-${(i * 37) % BUCKETS}`;
    const t = performance.now();
    const page = await store.query({ bucket, order: 'desc', limit: 1_000 });
    times.push(performance.now() - t);
    if (page.rows.length !== 1_000) throw new Error(`expected 1,000 rows, got ${page.rows.length}`);
  }
  return median(times);
}

async function freshDatabase(adminUrl: string, name: string): Promise<string> {
  const c = new Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Empties the readings table (buckets stay) so every round starts from the same state. */
async function emptyReadings(url: string): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('TRUNCATE tts_readings');
    await c.query('CHECKPOINT');
  } finally {
    await c.end();
  }
}

async function postgres(adminUrl: string): Promise<void> {
  const storeUrl = await freshDatabase(adminUrl, 'tts_bench_store');
  const rawUrl = await freshDatabase(adminUrl, 'tts_bench_raw');
  const prep = new PostgresBackend(rawUrl);
  await prep.open();
  const keys = await createBuckets(prep);
  await prep.close();
  const storePrep = new PostgresBackend(storeUrl);
  await storePrep.open();
  await createBuckets(storePrep);
  await storePrep.close();

  const store: Side = {
    async run(_round, rows) {
      await emptyReadings(storeUrl);
      const s = new TtsStore(new PostgresBackend(storeUrl), { maxQueue: 20_000, retentionInterval: 0 });
      await s.start();
      for (let b = 0; b < BUCKETS; b++) await s.ensureBucket(`bucket-${b}`);
      await s.write({ ...rows[0], ts: rows[0].ts - 1 });
      const ms = await throughStore(s, rows);
      await s.close();
      return ms;
    },
  };
  const insertSlice = (c: Client, slice: Reading[]) =>
    c.query(INSERT_READINGS_SQL, [
      slice.map((r) => keys.get(r.bucket)),
      slice.map((r) => r.ts),
      slice.map((r) => r.fCnt),
      slice.map((r) => r.fPort),
      slice.map((r) => JSON.stringify(r.data)),
      slice.map(() => null),
    ]);
  const raw: Side = {
    async run(_round, rows) {
      await emptyReadings(rawUrl);
      const c = new Client({ connectionString: rawUrl });
      await c.connect();
      await insertSlice(c, [{ ...rows[0], ts: rows[0].ts - 1 }]);
      const t = performance.now();
      for (let i = 0; i < rows.length; i += BATCH) await insertSlice(c, rows.slice(i, i + BATCH));
      const ms = performance.now() - t;
      await c.end();
      return ms;
    },
  };
  await alternate(store, raw, readings(20_000), 2);
  const rates = await alternate(store, raw, readings(50_000), ROUNDS);

  const c = new Client({ connectionString: rawUrl });
  await c.connect();
  const single = readings(3_000).map((r) => ({ ...r, ts: r.ts + 10_000_000 }));
  const t = performance.now();
  for (const r of single) {
    await c.query('INSERT INTO tts_readings (bucket, ts, f_cnt, f_port, data) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING', [
      keys.get(r.bucket),
      r.ts,
      r.fCnt,
      r.fPort,
      JSON.stringify(r.data),
    ]);
  }
  const singleRate = rate(single.length, performance.now() - t);
  await c.end();
  report('PostgreSQL', rates, singleRate, 20_000);
  console.log(`(50,000 readings per round; raw batched = ${BATCH} per statement, one connection; server with fsync on)`);

  const bigUrl = await freshDatabase(adminUrl, 'tts_bench_big');
  const big = new PostgresBackend(bigUrl);
  await big.open();
  for (let b = 0; b < BUCKETS; b++) await big.ensureBucket(`bucket-${b}`, undefined, T0);
  await big.close();
  const f = new Client({ connectionString: bigUrl });
  await f.connect();
  await f.query(
    `INSERT INTO tts_readings (bucket, ts, f_cnt, f_port, data)
     SELECT (i % ${BUCKETS}) + 1, ${T0} + i * 10, i / ${BUCKETS}, 1,
            json_build_object('temperature', 20 + (i % 100) / 10.0, 'humidity', 40 + i % 50)
     FROM generate_series(0, 999999) AS i`,
  );
  await f.query('VACUUM ANALYZE tts_readings');
  await f.end();
  const reader = new TtsStore(new PostgresBackend(bigUrl), { retentionInterval: 0 });
  await reader.start();
  const q = await lastThousand(reader);
  await reader.close();
  console.log(`PostgreSQL: last 1,000 rows of one bucket (1,000,000 rows, 1,000 buckets): ${q.toFixed(2)} ms median (goal < 20 ms: ${q < 20 ? 'met' : 'NOT met'})`);
}

export async function run(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tts-store-bench-'));
  try {
    await sqlite(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  let server: Awaited<ReturnType<typeof startThrowawayServer>> | undefined;
  let adminUrl = process.env.TTS_BENCH_PG_URL;
  try {
    if (!adminUrl) {
      server = await startThrowawayServer({ durable: true });
      adminUrl = server.adminUrl;
    }
    await postgres(adminUrl);
  } catch (err) {
    console.log(`PostgreSQL: not measured: ${(err as Error).message.split('\n')[0]}`);
  } finally {
    await server?.stop();
  }
}
