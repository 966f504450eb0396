// The device registry's cost (`npm run bench -- devices`), SQLite:
//  - provisioning CPU per uplink: 1,000 known devices, 20,000 uplinks accepted 200 at a time,
//    each waited for until committed (the flush work included);
//  - memory of 100,000 provisioned devices held in memory (heap and RSS after a GC, per device);
//  - commit latency of a steady write load with the WAL checkpointed by the worker thread against
//    SQLite's own checkpoint inside the committing connection (wal_autocheckpoint 10,000 pages,
//    the previous setting): p50 / p99 / max of the flush transactions.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseProfileConfig } from '../src/profile/profile-settings';
import { DeviceRegistry } from '../src/registry/registry';
import type { WriteBatch } from '../src/store/backend';
import { SqliteBackend } from '../src/store/sqlite-backend';
import { TtsStore } from '../src/store/store';
import { parseApplicationUp } from '../src/tts/envelope';
import type { TtsEnvelope } from '../src/tts/envelope-types';
import { ttsFixture } from '../test/helpers/tts-fixtures';

const T0 = Date.UTC(2025, 0, 1);
const profile = parseProfileConfig('p', { applicationId: 'farm-sensors' }).settings;

function uplink(device: string, fCnt: number, at: number): TtsEnvelope {
  const body = ttsFixture('uplink_message');
  body.end_device_ids.device_id = device;
  body.uplink_message.f_cnt = fCnt;
  body.received_at = new Date(at).toISOString();
  return parseApplicationUp(body);
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export async function provisioningCost(dir: string): Promise<void> {
  const store = new TtsStore(new SqliteBackend(path.join(dir, 'cost.db')), { retentionInterval: 0 });
  await store.start();
  const registry = new DeviceRegistry(store, { sweepInterval: 1e9 });
  const DEVICES = 1_000;
  for (let d = 0; d < DEVICES; d++) await registry.process(uplink(`dev-${d}`, 0, T0 + d), profile, T0 + 1e9);
  const N = 20_000;
  const envelopes = Array.from({ length: N }, (_, i) => uplink(`dev-${i % DEVICES}`, 1 + Math.floor(i / DEVICES), T0 + 10_000 + i));
  const cpu = process.cpuUsage();
  const t = performance.now();
  for (let i = 0; i < N; i += 200) {
    const accepted = [];
    for (let k = i; k < i + 200; k++) accepted.push(await registry.accept(envelopes[k], profile, T0 + 1e9));
    await Promise.all(accepted.map((a) => a.committed));
  }
  const ms = performance.now() - t;
  const used = process.cpuUsage(cpu);
  console.log(
    `provisioning: ${((used.user + used.system) / N).toFixed(1)} µs CPU per uplink (accept from memory + its share of the flush), ${((ms * 1000) / N).toFixed(1)} µs wall, ${N.toLocaleString('en-US')} uplinks over ${DEVICES} devices`,
  );
  await registry.close();
  await store.close();
}

export async function memory(dir: string): Promise<void> {
  const DEVICES = 100_000;
  const file = path.join(dir, 'memory.db');
  const setup = new SqliteBackend(file);
  await setup.open();
  await setup.close();
  const db = new Database(file);
  const insert = db.prepare(
    `INSERT INTO tts_devices (id, application_id, device_id, dev_eui, bucket, connection_timeout, created_at, updated_at, last_seen,
       uplink_count, last_f_cnt, last_uplink_at, location, location_rank, metadata)
     VALUES (?, 'farm-sensors', ?, ?, ?, 3600000, ?, ?, ?, 10, 9, ?, ?, 2, ?)`,
  );
  const metadata = JSON.stringify({ gateways: [{ gatewayId: 'gw-1', rssi: -80, snr: 7 }], gatewayCount: 1, bestRssi: -80, dataRate: 'SF7BW125' });
  db.transaction(() => {
    for (let d = 0; d < DEVICES; d++) {
      const id = `eui-70b3d57ed0${d.toString(16).padStart(6, '0')}`;
      const location = JSON.stringify({ latitude: 52 + d / 1e6, longitude: 5, source: 'user', at: T0 });
      insert.run(id, id, id.slice(4).toUpperCase(), id, T0, T0, T0, T0, location, metadata);
    }
  })();
  db.close();
  const store = new TtsStore(new SqliteBackend(file), { retentionInterval: 0 });
  await store.start();
  const registry = new DeviceRegistry(store, { sweepInterval: 1e9 });
  // Warm: one device through every code path, so that the baseline holds the code, not the devices.
  await registry.process(uplink('eui-70b3d57ed0000000', 10, T0 + 1000), profile, T0 + 1e9);
  gc();
  const before = { heap: process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers, rss: process.memoryUsage().rss, total: process.memoryUsage().heapTotal };
  for (let d = 0; d < DEVICES; d += 500) {
    const accepted = [];
    for (let k = d; k < d + 500; k++) accepted.push(await registry.accept(uplink(`eui-70b3d57ed0${k.toString(16).padStart(6, '0')}`, 10, T0 + 2000 + k), profile, T0 + 1e9));
    await Promise.all(accepted.map((a) => a.committed));
  }
  gc();
  const after = { heap: process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers, rss: process.memoryUsage().rss, total: process.memoryUsage().heapTotal };
  console.log(
    `memory: ${registry.cachedDevices.toLocaleString('en-US')} devices in memory (state of all, full records of the 5,000 most recent): heap +${mb(after.heap - before.heap)} (${Math.round((after.heap - before.heap) / DEVICES)} B/device), heap reserved +${mb(after.total - before.total)}, RSS +${mb(after.rss - before.rss)} (with SQLite's page cache of up to 64 MB filling as the devices are read), process RSS ${mb(after.rss)}${(globalThis as { gc?: unknown }).gc ? '' : ' (run node with --expose-gc for exact figures)'}`,
  );
  await registry.close();
  await store.close();
}

export async function commitLatency(dir: string, label: string, backend: SqliteBackend): Promise<void> {
  const store = new TtsStore(backend, { retentionInterval: 0 });
  await store.start();
  const times: number[] = [];
  const original = backend.writeBatch.bind(backend);
  backend.writeBatch = async (batch: WriteBatch) => {
    const t = performance.now();
    const r = await original(batch);
    times.push(performance.now() - t);
    return r;
  };
  const BUCKETS = 1_000;
  for (let b = 0; b < BUCKETS; b++) await store.ensureBucket(`bucket-${b}`);
  // 300,000 readings in flushes of about 1,000: ~100 MB of WAL, many checkpoints either way.
  const payload = { temperature: 21.5, humidity: 48, battery: 3.61, note: 'x'.repeat(200) };
  for (let i = 0; i < 300_000; i += 1_000) {
    const writes = [];
    for (let k = i; k < i + 1_000; k++) writes.push(store.write({ bucket: `bucket-${k % BUCKETS}`, ts: T0 + k, fCnt: k, data: payload }));
    await Promise.all(writes);
  }
  const stats = backend.checkpoints;
  console.log(
    `commit latency, ${label}: p50 ${percentile(times, 50).toFixed(1)} ms, p99 ${percentile(times, 99).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms over ${times.length} flushes of 1,000 readings` +
      (stats ? `; worker checkpoints: ${stats.runs}, longest ${stats.maxMs.toFixed(0)} ms (off the event loop)` : ''),
  );
  await store.close();
  void dir;
}

export async function run(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tts-devices-bench-'));
  try {
    await provisioningCost(dir);
    await memory(dir);
    await commitLatency(dir, 'checkpoints in a worker (PASSIVE, every second)', new SqliteBackend(path.join(dir, 'worker.db')));
    await commitLatency(dir, 'SQLite autocheckpoint in the committing connection (10,000 pages)', new SqliteBackend(path.join(dir, 'inline.db'), { inlineCheckpointPages: 10_000 }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
