// `npm run bench -- pg-flush`: what one PostgreSQL flush costs, fixed part against per row.
//
// The pipeline's flushes to known devices (each write: one sighting with a radio summary and one
// reading) go through PostgresBackend.writeBatch one after the other, as the store issues them,
// at several batch sizes. Per flush: wall time, this process's CPU (the Node side: pg's protocol,
// row conversion, applySighting) and the server's CPU (all its processes: backends, WAL writer).
// A least-squares line over the sizes splits each into a fixed cost per flush and a cost per row:
// a store whose batches are half as large (two instances sharing the load) pays the fixed part
// twice as often. Then the same with two backends (two pools, as two instances) flushing at once
// on the same devices, each device's writes alternating between them.
// The server's planning and execution time per flush come from pg_stat_statements (wall time in
// the backend; planning is CPU). The tables are analysed after the devices are created, as
// autovacuum would have done on a store in use: plans depend on it.
// PostgreSQL: a throwaway server, fsync on (as the pipeline bench).
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import type { DeviceWrite } from '../src/store/backend';
import { PostgresBackend } from '../src/store/postgres-backend';
import type { RadioSummary } from '../src/store/types';
import { createThrowawayDatabase } from './pg-server';
import { treeCpuMicros } from './proc-stats';

const DEVICES = 1_000;
const SIZES = [1, 2, 4, 8, 16, 32, 64];
/** Rows per measured size (more flushes at small sizes, so each size takes about as long). */
const ROWS_PER_SIZE = Number(process.env.BENCH_FLUSH_ROWS) || 4_000;
const T0 = Date.UTC(2026, 0, 1);

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const metadata = (i: number): RadioSummary => ({
  gateways: [{ gatewayId: `gw-${i % 7}`, rssi: -80 - (i % 30), snr: 7.5 }] as unknown as RadioSummary['gateways'],
  gatewayCount: 1,
  bestRssi: -80 - (i % 30),
  bestSnr: 7.5,
  dataRate: 'SF7BW125',
  spreadingFactor: 7,
  bandwidth: 125_000,
  frequency: 868_100_000,
  airtimeMs: 61.7,
  fCnt: i,
  fPort: 1,
});

/** Device ids in the order uplinks arrive, each device's f_cnt counting up. */
class Stream {
  private next = 0;
  private readonly fCnt = new Array<number>(DEVICES).fill(0);

  constructor(private readonly keys: number[]) {}

  /** `n` writes and their readings. */
  batch(n: number, clock: { t: number }): { devices: DeviceWrite[]; readings: { bucketKey: number[]; ts: number[]; fCnt: number[]; fPort: number[]; data: string[]; radio: string[] } } {
    const devices: DeviceWrite[] = [];
    const readings = { bucketKey: [] as number[], ts: [] as number[], fCnt: [] as number[], fPort: [] as number[], data: [] as string[], radio: [] as string[] };
    for (let k = 0; k < n; k++) {
      const d = this.next;
      this.next = (this.next + 1) % DEVICES;
      const f = ++this.fCnt[d];
      const at = clock.t++;
      devices.push({ id: `dev-${d}`, sighting: { at, fCnt: f, metadata: metadata(f) } });
      readings.bucketKey.push(this.keys[d]);
      readings.ts.push(at);
      readings.fCnt.push(f);
      readings.fPort.push(1);
      readings.data.push(JSON.stringify({ temperature: 20 + (f % 100) / 10, humidity: 40 + (f % 50), battery: 3.6 }));
      readings.radio.push(JSON.stringify({ rssi: -80, snr: 7.5 }));
    }
    return { devices, readings };
  }
}

interface Sample {
  size: number;
  flushes: number;
  wallUs: number;
  nodeUs: number;
  serverUs: number;
  /** The backends' planning and execution time per flush (pg_stat_statements). */
  planUs: number;
  execUs: number;
}

function fit(samples: Sample[], pick: (s: Sample) => number): { fixed: number; perRow: number } {
  const xs = samples.map((s) => s.size);
  const ys = samples.map(pick);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < xs.length; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  const perRow = sxy / sxx;
  return { fixed: my - perRow * mx, perRow };
}

const nodeCpu = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** `lanes` backends flushing at once, each its own sequence of `size`-write flushes over one shared stream. */
/** Planning and execution ms so far of every statement but the statistics' own. */
async function statementTimes(stats: Client): Promise<{ plan: number; exec: number }> {
  const { rows } = await stats.query<{ plan: number; exec: number }>(
    "SELECT coalesce(sum(total_plan_time), 0) AS plan, coalesce(sum(total_exec_time), 0) AS exec FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'",
  );
  return { plan: Number(rows[0].plan), exec: Number(rows[0].exec) };
}

async function measure(backends: PostgresBackend[], stream: Stream, size: number, clock: { t: number }, serverCpu: () => number, stats: Client): Promise<Sample> {
  const flushes = Math.max(20, Math.round(ROWS_PER_SIZE / size / backends.length));
  const times0 = await statementTimes(stats);
  const node0 = nodeCpu();
  const server0 = serverCpu();
  const t0 = performance.now();
  await Promise.all(
    backends.map(async (b) => {
      for (let i = 0; i < flushes; i++) await b.writeBatch(stream.batch(size, clock));
    }),
  );
  const total = flushes * backends.length;
  const sample = { size, flushes: total, wallUs: ((performance.now() - t0) * 1000) / total, nodeUs: (nodeCpu() - node0) / total, serverUs: (serverCpu() - server0) / total };
  const times = await statementTimes(stats);
  return { ...sample, planUs: ((times.plan - times0.plan) * 1000) / total, execUs: ((times.exec - times0.exec) * 1000) / total };
}

function report(title: string, samples: Sample[]): void {
  console.log(`\n${title}\n`);
  console.log('| rows per flush | flushes | wall µs per flush | Node CPU µs per flush | server CPU µs per flush | of which planning / executing µs | CPU µs per row (both) |\n|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of samples) console.log(`| ${s.size} | ${fmt(s.flushes)} | ${fmt(s.wallUs)} | ${fmt(s.nodeUs)} | ${fmt(s.serverUs)} | ${fmt(s.planUs)} / ${fmt(s.execUs)} | ${fmt((s.nodeUs + s.serverUs) / s.size)} |`);
  const node = fit(samples, (s) => s.nodeUs);
  const server = fit(samples, (s) => s.serverUs);
  console.log(`\nfit: Node ${fmt(node.fixed)} µs per flush + ${fmt(node.perRow, 1)} µs per row; server ${fmt(server.fixed)} µs per flush + ${fmt(server.perRow, 1)} µs per row`);
}

export async function run(): Promise<void> {
  const db = await createThrowawayDatabase(['shared_preload_libraries=pg_stat_statements', 'pg_stat_statements.track_planning=on']);
  const backends = [new PostgresBackend(db.url), new PostgresBackend(db.url)];
  try {
    await backends[0].open();
    await backends[1].open();
    const ids = Array.from({ length: DEVICES }, (_, i) => `dev-${i}`);
    const keys = await backends[0].ensureBuckets(ids, T0);
    await backends[0].writeBatch({
      devices: ids.map((id) => ({ id, create: { id, applicationId: 'bench', deviceId: id, bucket: id, profileId: 'p', assetType: 'sensor', assetGroup: 'bench', connectionTimeout: 3_600_000, at: T0 } })),
      readings: { bucketKey: [], ts: [], fCnt: [], fPort: [], data: [], radio: [] },
    });
    const stream = new Stream(ids.map((id) => keys.get(id)!));
    const clock = { t: T0 + 1 };
    const cpu = (): number => treeCpuMicros(db.postmaster);
    const stats = new Client({ connectionString: db.url });
    await stats.connect();
    try {
      await stats.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      await stats.query('ANALYZE');
      await measure([backends[0]], stream, 16, clock, cpu, stats); // warm-up: statements prepared, caches filled
      await measure(backends, stream, 16, clock, cpu, stats);
      for (const lanes of [1, 2]) {
        const samples: Sample[] = [];
        for (const size of SIZES) samples.push(await measure(backends.slice(0, lanes), stream, size, clock, cpu, stats));
        report(lanes === 1 ? 'one backend, flushes one after the other' : 'two backends at once (two instances), the same devices alternating between them', samples);
      }
      const { rows } = await stats.query<{ n: string; d: string }>('SELECT (SELECT count(*) FROM tts_readings) AS n, (SELECT sum(uplink_count) FROM tts_devices) AS d');
      console.log(`\nreadings ${fmt(Number(rows[0].n))}, device uplink counts ${fmt(Number(rows[0].d))}${rows[0].n === rows[0].d ? '' : ': NOT EQUAL'}`);
    } finally {
      await stats.end();
    }
  } finally {
    for (const b of backends) await b.close();
    await db.stop();
  }
}
