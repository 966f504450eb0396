// Store write throughput and query latency, SQLite and PostgreSQL.
//
// For each backend, the same readings (interleaved over 1,000 buckets, time-ordered) go
//  - through the store (TtsStore.write: validation, JSON, queue, batched transactions),
//  - raw batched: the driver inserting the same rows into the same schema, 5,000 per transaction
//    (the store's batch size),
//  - raw one per transaction (autocommit), the naive design,
// and the ratio store / raw batched is printed. Then the newest 1,000 rows of one bucket are read
// through the store from a table holding 1,000,000 rows over 1,000 buckets.
// PostgreSQL: TTS_BENCH_PG_URL, else a throwaway server (fsync on) if the binaries are installed.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { INSERT_READINGS_SQL, PostgresBackend } from '../src/store/postgres-backend';
import { SqliteBackend } from '../src/store/sqlite-backend';
import { TtsStore } from '../src/store/store';
import type { Reading } from '../src/store/types';
import { startThrowawayServer } from '../test/helpers/postgres';

const BUCKETS = 1_000;
/** Rows per transaction in the raw batched insert: the store's default batch size. */
const BATCH = 5_000;
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

/** Feeds readings through the store with a bounded number in flight (as a busy flow would). */
async function throughStore(store: TtsStore, rows: Reading[]): Promise<number> {
  const t = performance.now();
  const chunk = 10_000;
  for (let i = 0; i < rows.length; i += chunk) {
    await Promise.all(rows.slice(i, i + chunk).map((r) => store.write(r)));
  }
  return performance.now() - t;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
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

function report(name: string, n: number, storeMs: number, rawMs: number, singleN: number, singleMs: number, goal: number): void {
  const s = rate(n, storeMs);
  const r = rate(n, rawMs);
  const one = rate(singleN, singleMs);
  console.log(`${name}: store ${fmt(s)} readings/s | raw batched ${fmt(r)}/s | raw one per transaction ${fmt(one)}/s`);
  console.log(
    `${name}: store / raw batched = ${(s / r).toFixed(2)}× (goal ≥ 0.80) | store / one-per-transaction = ${(s / one).toFixed(1)}× | goal ≥ ${fmt(goal)}/s: ${s >= goal ? 'met' : 'NOT met'}`,
  );
}

async function sqlite(dir: string): Promise<void> {
  // Warm-up (JIT, page cache) on scratch files, so neither measured path pays for going first.
  await sqliteRound(path.join(dir, 'warm'), 20_000, false);
  await sqliteRound(dir, 200_000, true);
}

async function sqliteRound(dir: string, n: number, print: boolean): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const rows = readings(n);

  // Through the store.
  const storeFile = path.join(dir, 'store.db');
  const store = new TtsStore(new SqliteBackend(storeFile), { maxQueue: 20_000, retentionInterval: 0 });
  await store.start();
  await store.write(rows[0]); // open and warm, as a running flow would be
  const storeMs = await throughStore(store, rows.slice(1));
  await store.close();

  // Raw batched, same schema (migrated by the backend), same JSON work.
  const rawFile = path.join(dir, 'raw.db');
  const prep = new SqliteBackend(rawFile);
  await prep.open();
  const keys = new Map<string, number>();
  for (let b = 0; b < BUCKETS; b++) keys.set(`bucket-${b}`, await prep.ensureBucket(`bucket-${b}`, undefined, T0));
  await prep.close();
  const db = new Database(rawFile);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('cache_size = -65536');
  db.pragma('wal_autocheckpoint = 10000');
  const insert = db.prepare('INSERT INTO tts_readings (bucket, ts, f_cnt, f_port, data, radio) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING');
  const batch = db.transaction((slice: Reading[]) => {
    for (const r of slice) insert.run(keys.get(r.bucket), r.ts, r.fCnt, r.fPort, JSON.stringify(r.data), null);
  });
  let t = performance.now();
  for (let i = 1; i < n; i += BATCH) batch(rows.slice(i, Math.min(i + BATCH, n)));
  const rawMs = performance.now() - t;

  // One per transaction (autocommit), on a fresh bucket range.
  const singleN = Math.min(20_000, n);
  const single = readings(singleN).map((r) => ({ ...r, ts: r.ts + 10 * n }));
  t = performance.now();
  for (const r of single) insert.run(keys.get(r.bucket), r.ts, r.fCnt, r.fPort, JSON.stringify(r.data), null);
  const singleMs = performance.now() - t;
  db.close();
  if (!print) return;
  report('SQLite', n - 1, storeMs, rawMs, singleN, singleMs, 100_000);
  console.log(`(readings interleaved over ${BUCKETS} buckets; raw batched = ${BATCH} per transaction)`);

  // 1,000,000 rows over 1,000 buckets, then the newest 1,000 of one bucket through the store.
  const bigFile = path.join(dir, 'big.db');
  const big = new SqliteBackend(bigFile);
  await big.open();
  for (let b = 0; b < BUCKETS; b++) await big.ensureBucket(`bucket-${b}`, undefined, T0);
  await big.close();
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

async function postgres(adminUrl: string): Promise<void> {
  const n = 100_000;
  const rows = readings(n);

  const storeUrl = await freshDatabase(adminUrl, 'tts_bench_store');
  const store = new TtsStore(new PostgresBackend(storeUrl), { maxQueue: 20_000, retentionInterval: 0 });
  await store.start();
  await store.write(rows[0]);
  const storeMs = await throughStore(store, rows.slice(1));
  await store.close();

  const rawUrl = await freshDatabase(adminUrl, 'tts_bench_raw');
  const prep = new PostgresBackend(rawUrl);
  await prep.open();
  const keys = new Map<string, number>();
  for (let b = 0; b < BUCKETS; b++) keys.set(`bucket-${b}`, await prep.ensureBucket(`bucket-${b}`, undefined, T0));
  await prep.close();
  const c = new Client({ connectionString: rawUrl });
  await c.connect();
  let t = performance.now();
  for (let i = 1; i < n; i += BATCH) {
    const slice = rows.slice(i, Math.min(i + BATCH, n));
    await c.query(INSERT_READINGS_SQL, [
      slice.map((r) => keys.get(r.bucket)),
      slice.map((r) => r.ts),
      slice.map((r) => r.fCnt),
      slice.map((r) => r.fPort),
      slice.map((r) => JSON.stringify(r.data)),
      slice.map(() => null),
    ]);
  }
  const rawMs = performance.now() - t;
  const singleN = 5_000;
  const single = readings(singleN).map((r) => ({ ...r, ts: r.ts + 10 * n }));
  t = performance.now();
  for (const r of single) {
    await c.query('INSERT INTO tts_readings (bucket, ts, f_cnt, f_port, data) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING', [
      keys.get(r.bucket),
      r.ts,
      r.fCnt,
      r.fPort,
      JSON.stringify(r.data),
    ]);
  }
  const singleMs = performance.now() - t;
  await c.end();
  report('PostgreSQL', n - 1, storeMs, rawMs, singleN, singleMs, 20_000);

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
