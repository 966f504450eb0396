// `npm run bench -- pipeline` (issues 8 and 9): the package's full uplink pipeline against the
// flow a user would wire from core nodes and against a bare node:http server doing the same
// job, all fed the same unique simulated uplinks over loopback.
//
// Variants, measured alternately over ROUNDS rounds (the order rotates every round; medians):
//   pipeline        webhook-in → uplink-decode → provision → bucket write, SQLite, durable
//                   acceptance on (the default), in Node-RED process A, installed from the
//                   package's `npm pack` tarball as a user installs it
//   hand-built      http in → function (token, decode) → function (device upsert in flow
//                   context) → function (better-sqlite3 insert) → http response, also in A
//   pipeline, inbox off   the same pipeline in process B, settings.js `ttsInbox: false`
//   bare            bench/bare-server.ts, node:http in its own process
// Per run: a closed loop of CLOSED uplinks at concurrency 20 (uplinks/s counts an uplink when it
// is acknowledged and its row is in the store; the server's CPU time from /proc over the same
// window, per uplink; RSS after), and an open loop at OPEN_RATE uplinks/s (ack latency p50/p99).
// Every device is provisioned by a warm-up run first: the figures are the steady state of a
// running system. Afterwards every acknowledged uplink must be in its store: the bench fails
// when one is missing.
// Then: the pipeline on PostgreSQL (one Node-RED, and two on the same database behind a
// round-robin client, each device's uplinks alternating between them; the hand-built flow in the
// same rounds as the reference; afterwards every device's uplink count must equal its stored
// readings), RSS with 100,000 provisioned devices, and a CPU profile of the pipeline under load
// broken down by part.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { createStore } from '../src/store';
import { UplinkFleet, percentile, runLoad, type Uplink } from '../test/helpers/load';
import { NodeRedProcess, REPO_ROOT, packThisBuild } from '../test/helpers/node-red-process';
import { checkStored, describeCheck, pipelineFlow, postgresStoredCounts, sqliteStoredCounts, type StoredCounts } from '../test/helpers/pipeline';
import { startThrowawayServer } from '../test/helpers/postgres';
import { BARE_COUNT_SQL } from './bare-server';
import { postmasterPid } from './pg-server';
import { breakdown, BUCKETS } from './cpu-profile';
import { topSites } from './heap-profile';
import type { GcAccount, MemoryFacts, ThreadFacts } from './memory-probe';
import { handBuiltFlow, handBuiltSettings } from './hand-built-flow';
import { cpuMicros, machineTicks, postgresCpuMicros, rssMB, threadCpuMicros } from './proc-stats';

const TOKEN = 'bench-webhook-token-0123456789abcdef';
const APPLICATION = 'bench-app';
const DEVICES = 1_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS) || 3;
const CONCURRENCY = 20;
const CLOSED = 4_000;
const OPEN_RATE = 1_000;
const OPEN = 3_000;
const RUN_LIMIT_MS = 30_000;
/** How long stored rows may lag behind the acknowledgements (bounds a failure only)... */
const DRAIN_MS = 30_000;
/** ...and how long the row count may stand still before the missing rows count as lost. */
const STALL_MS = 3_000;
const BIG_FLEET = 100_000;
/** The PostgreSQL part's fixed offered load (open loop, uplinks/s, BENCH_PG_RATE) for one and for two instances. */
const FIXED_RATE = Number(process.env.BENCH_PG_RATE) || 2_000;
const FIXED_COUNT = 3 * FIXED_RATE;
/** Uplinks the big part posts (from as many devices); BENCH_BIG_UPLINKS for another count (a window without a full GC, for BENCH_MEMORY_SAMPLING=promoted). */
const BIG_TOUCHED = Number(process.env.BENCH_BIG_UPLINKS) || 20_000;

const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');

function median(values: number[]): number {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const goal = (met: boolean): string => (met ? 'met' : 'NOT met');

/** What the bench needs of a server under test. */
interface Target {
  name: string;
  urls: string[];
  /** Processes doing the work (CPU and RSS are summed over them). */
  pids: () => number[];
  fleet: UplinkFleet;
  /** Rows stored so far (cheap: polled while draining). */
  rows: () => Promise<number>;
  counts: () => Promise<StoredCounts>;
  acked: Uplink[];
  rates: number[];
  cpu: number[];
  /** Of which the main threads' (event loops'): what caps a Node process's throughput. */
  mainCpu: number[];
  /** Per thread kind (see Measured). */
  threads: Map<string, number[]>;
  rss: number[];
  p50: number[];
  p99: number[];
  notes: Set<string>;
  /** Requests in flight in its closed-loop runs (default CONCURRENCY). */
  concurrency?: number;
  /** Set when acknowledged rows never arrived: the target is not measured further. */
  failure?: string;
  /** Warnings and errors its Node-RED logged, for failure reports. */
  problems?: () => string[];
  /** CPU µs so far of the database server the target writes to (PostgreSQL): its connection backends and the rest. */
  serverCpuOf?: () => { backends: number; rest: number };
  /** Per uplink per recorded closed-loop run: the whole server, and its backends alone. */
  serverCpu: number[];
  serverBackendCpu: number[];
  /** The load generator's CPU (this process, while it posts) per uplink per recorded closed-loop run. */
  genCpu: number[];
  /** Share of the machine's CPU left idle during each recorded closed-loop run, %. */
  idle: number[];
  /** BENCH_PG_STATEMENTS=1: the server's statement statistics, reset before each recorded run. */
  statements?: { reset: () => Promise<void>; read: () => Promise<{ flushes: number; statements: number }> };
  /** Per recorded run with statement statistics: uplinks per flush, statements per flush. */
  perFlush: number[];
  statementsPerFlush: number[];
  /** Open-loop runs at FIXED_RATE uplinks/s with their CPU (the PostgreSQL part's "same load"). */
  fixed: Measured & { rates: number[]; p50: number[]; p99: number[] };
}

/** CPU per uplink over one run: the target's processes (and main threads), its database server, the load generator; the machine's idle share. */
interface Measured {
  /** Per thread kind of the target's processes (main thread, worker threads, libuv's pool, V8's helpers), µs per uplink per run. */
  threads: Map<string, number[]>;
  cpu: number[];
  mainCpu: number[];
  serverCpu: number[];
  genCpu: number[];
  idle: number[];
}

const measured = (): Measured => ({ threads: new Map(), cpu: [], mainCpu: [], serverCpu: [], genCpu: [], idle: [] });

function target(name: string, urls: string[], pids: () => number[], prefix: string, rows: () => Promise<number>, counts: () => Promise<StoredCounts>, fleetSize = DEVICES): Target {
  return {
    name,
    urls,
    pids,
    fleet: new UplinkFleet({ devices: fleetSize, applicationId: APPLICATION, prefix }),
    rows,
    counts,
    acked: [],
    rates: [],
    cpu: [],
    mainCpu: [],
    rss: [],
    p50: [],
    p99: [],
    notes: new Set(),
    threads: new Map(),
    serverCpu: [],
    serverBackendCpu: [],
    genCpu: [],
    idle: [],
    perFlush: [],
    statementsPerFlush: [],
    fixed: { ...measured(), rates: [], p50: [], p99: [] },
  };
}

function withLog(t: Target, red: NodeRedProcess): Target {
  t.problems = () => red.problems();
  return t;
}

function sqliteRows(file: string, table: string): () => Promise<number> {
  let db: Database.Database | undefined;
  return async () => {
    try {
      db ??= new Database(file, { readonly: true, fileMustExist: true });
      return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    } catch {
      db?.close();
      db = undefined;
      return 0; // not created yet
    }
  };
}

function sqliteCounts(file: string, sql: string): () => Promise<StoredCounts> {
  return async () => {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const counts: StoredCounts = new Map();
      for (const row of db.prepare(sql).iterate() as Iterable<{ bucket: string; f_cnt: number; n: number }>) counts.set(`${row.bucket}/${row.f_cnt}`, row.n);
      return counts;
    } finally {
      db.close();
    }
  };
}

/** Row count through one connection kept open (closed by `end`). */
function postgresRows(url: string): { rows: () => Promise<number>; end: () => Promise<void> } {
  let client: Promise<Client> | undefined;
  const connect = (): Promise<Client> => {
    client ??= (async () => {
      const c = new Client({ connectionString: url });
      c.on('error', () => undefined); // the server going away at the end is not the bench's failure
      await c.connect();
      return c;
    })();
    return client;
  };
  return {
    rows: async () => {
      const c = await connect();
      const exists = await c.query("SELECT to_regclass('tts_readings') AS t");
      if (!exists.rows[0].t) return 0;
      return Number((await c.query('SELECT count(*) AS n FROM tts_readings')).rows[0].n);
    },
    end: async () => {
      if (client) await (await client).end();
      client = undefined;
    },
  };
}

const cpuOf = (t: Target): number => t.pids().reduce((sum, pid) => sum + cpuMicros(pid), 0);
const mainCpuOf = (t: Target): number => t.pids().reduce((sum, pid) => sum + cpuMicros(pid, pid), 0);
/** CPU so far per thread kind, summed over the target's processes. */
function threadsOf(t: Target): Map<string, number> {
  const sum = new Map<string, number>();
  for (const pid of t.pids()) for (const [kind, us] of threadCpuMicros(pid)) sum.set(kind, (sum.get(kind) ?? 0) + us);
  return sum;
}

/** The thread kinds costing at least 5 µs per uplink (medians of the runs), largest first. */
function threadText(m: Measured): string {
  return [...m.threads]
    .map(([kind, runs]) => [kind, median(runs)] as [string, number])
    .filter(([, us]) => us >= 5)
    .sort((a, b) => b[1] - a[1])
    .map(([kind, us]) => `${kind} ${fmt(us)}`)
    .join(', ');
}

const rssOf = (t: Target): number => t.pids().reduce((sum, pid) => sum + rssMB(pid), 0);

/**
 * Waits until the store holds `rows` rows; returns when that was seen (performance.now ms). When
 * the count stops growing short of it (STALL_MS without a new row) the missing ones are reported,
 * the target is marked failed (the bench fails at the end) and the time of the last row counts.
 */
async function drained(t: Target, rows: number): Promise<number> {
  let last = -1;
  let lastChange = performance.now();
  const deadline = lastChange + DRAIN_MS;
  for (;;) {
    const now = performance.now();
    const count = await t.rows();
    if (count >= rows) return now;
    if (count !== last) {
      last = count;
      lastChange = now;
    }
    if (now - lastChange > STALL_MS || now > deadline) {
      const problems = t.problems?.() ?? [];
      t.failure = `acknowledged uplinks missing from the store: ${describeCheck(checkStored(t.acked, await t.counts()), t.acked.length)}`;
      console.log(`  FAILED ${t.name}: ${rows - count} acknowledged in this run not stored; ${t.failure}${problems.length ? `\n    its Node-RED logged (last 3 of ${problems.length} warnings/errors):\n    ${problems.slice(-3).join('\n    ')}` : ''}`);
      return lastChange;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

function note(t: Target, text: string): void {
  t.notes.add(text);
  console.log(`  note, ${t.name}: ${text}`);
}

function noteRefusals(t: Target, refused: Array<{ reason: number | string }>, unsent: number): void {
  if (refused.length > 0) {
    const reasons = new Map<string, number>();
    for (const r of refused) reasons.set(String(r.reason), (reasons.get(String(r.reason)) ?? 0) + 1);
    note(t, `refused ${[...reasons].map(([k, n]) => `${k} ×${n}`).join(', ')}`);
  }
  if (unsent > 0) note(t, `${unsent} not sent in time`);
}

/**
 * Starts counting CPU for a run: `posted()` when the load generator is done (its CPU and the
 * machine's idle share end there), `stored(n)` once the rows are in (the servers' CPU ends there).
 */
function cpuWindow(t: Target): { posted: () => void; stored: (uplinks: number, into: Measured) => { backends: number } | undefined } {
  const cpu0 = cpuOf(t);
  const main0 = mainCpuOf(t);
  const server0 = t.serverCpuOf?.();
  const machine0 = machineTicks();
  const gen0 = process.cpuUsage();
  const threads0 = threadsOf(t);
  let machine1 = machine0;
  let gen = gen0;
  return {
    posted: () => {
      machine1 = machineTicks();
      gen = process.cpuUsage(gen0);
    },
    stored: (n, into) => {
      into.cpu.push((cpuOf(t) - cpu0) / n);
      into.mainCpu.push((mainCpuOf(t) - main0) / n);
      into.genCpu.push((gen.user + gen.system) / n);
      into.idle.push((100 * (machine1.idle - machine0.idle)) / (machine1.total - machine0.total));
      for (const [kind, us] of threadsOf(t)) {
        const runs = into.threads.get(kind) ?? [];
        runs.push((us - (threads0.get(kind) ?? 0)) / n);
        into.threads.set(kind, runs);
      }
      if (server0 === undefined) return undefined;
      const server1 = t.serverCpuOf!();
      into.serverCpu.push((server1.backends + server1.rest - server0.backends - server0.rest) / n);
      return { backends: (server1.backends - server0.backends) / n };
    },
  };
}

/** A closed-loop run: uplinks/s (acknowledged and stored), CPU µs per uplink, RSS. */
async function closedRun(t: Target, count = CLOSED, record = true): Promise<number> {
  const uplinks = t.fleet.take(count);
  const before = await t.rows();
  if (record) await t.statements?.reset();
  const window = cpuWindow(t);
  const t0 = performance.now();
  const load = await runLoad({ urls: t.urls, token: TOKEN, uplinks, concurrency: t.concurrency ?? CONCURRENCY, timeLimitMs: RUN_LIMIT_MS });
  window.posted();
  t.acked.push(...load.acked);
  const end = await drained(t, before + load.acked.length);
  const n = load.acked.length;
  noteRefusals(t, load.refused, load.unsent);
  const rate = n / ((end - t0) / 1000);
  if (record) {
    t.rates.push(rate);
    const server = window.stored(n, t);
    if (server) t.serverBackendCpu.push(server.backends);
    t.rss.push(rssOf(t));
    const stats = await t.statements?.read();
    if (stats && stats.flushes > 0) {
      t.perFlush.push(n / stats.flushes);
      t.statementsPerFlush.push(stats.statements / stats.flushes);
    }
  }
  return rate;
}

/**
 * An open-loop run at FIXED_RATE (the same offered load whatever the number of instances, below
 * what one saturates at): latency and CPU per uplink of every process involved.
 */
async function fixedRun(t: Target): Promise<void> {
  const uplinks = t.fleet.take(FIXED_COUNT);
  const before = await t.rows();
  const window = cpuWindow(t);
  const t0 = performance.now();
  const load = await runLoad({ urls: t.urls, token: TOKEN, uplinks, rate: FIXED_RATE, timeLimitMs: RUN_LIMIT_MS });
  window.posted();
  const posted = performance.now();
  t.acked.push(...load.acked);
  await drained(t, before + load.acked.length);
  noteRefusals(t, load.refused, load.unsent);
  if (load.fellBehind) note(t, `the load generator fell behind ${FIXED_RATE}/s`);
  window.stored(load.acked.length, t.fixed);
  t.fixed.rates.push(load.acked.length / ((posted - t0) / 1000));
  const sorted = [...load.latencies].sort((a, b) => a - b);
  t.fixed.p50.push(percentile(sorted, 50));
  t.fixed.p99.push(percentile(sorted, 99));
}

/** An open-loop run at OPEN_RATE: ack latency percentiles. */
async function openRun(t: Target): Promise<void> {
  const uplinks = t.fleet.take(OPEN);
  const before = await t.rows();
  const load = await runLoad({ urls: t.urls, token: TOKEN, uplinks, rate: OPEN_RATE, timeLimitMs: RUN_LIMIT_MS });
  t.acked.push(...load.acked);
  await drained(t, before + load.acked.length);
  noteRefusals(t, load.refused, load.unsent);
  if (load.fellBehind) note(t, `the load generator fell behind ${OPEN_RATE}/s`);
  const sorted = [...load.latencies].sort((a, b) => a - b);
  t.p50.push(percentile(sorted, 50));
  t.p99.push(percentile(sorted, 99));
}

/** Rounds of every target, the order rotating; closed and open loop in each (and `fixed` runs for those it names). */
async function alternate(targets: Target[], rounds: number, open: (t: Target) => boolean, fixed: (t: Target) => boolean = () => false): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    const order = targets.map((_, i) => targets[(i + round) % targets.length]);
    for (const t of order) {
      await closedRun(t);
      if (open(t)) await openRun(t);
      if (fixed(t)) await fixedRun(t);
    }
    process.stdout.write(`  round ${round + 1}/${rounds}: ${order.map((t) => `${t.name} ${fmt(t.rates[t.rates.length - 1])}/s`).join(' | ')}\n`);
  }
}

/** Every acknowledged uplink must be in the store exactly once: else the target failed. */
async function verify(t: Target): Promise<string> {
  const check = checkStored(t.acked, await t.counts());
  const text = describeCheck(check, t.acked.length);
  if (check.missing.length > 0 || check.duplicated.length > 0) {
    t.failure ??= text;
    const problems = t.problems?.() ?? [];
    return `FAILED ${t.name}: ${text}${problems.length ? `\n    its Node-RED logged:\n    ${problems.slice(-10).join('\n    ')}` : ''}`;
  }
  return `${t.name}: ${text}`;
}

function row(t: Target): string {
  const latency = t.p50.length > 0 ? `${fmt(median(t.p50), 1)} / ${fmt(median(t.p99), 1)}` : '–';
  return `| ${t.name} | ${fmt(median(t.rates))} | ${latency} | ${fmt(median(t.cpu))} | ${fmt(median(t.mainCpu))} | ${fmt(median(t.rss))} |`;
}

const TABLE_HEAD = `| variant | uplinks/s (concurrency ${CONCURRENCY}) | ack p50 / p99 ms at ${fmt(OPEN_RATE)}/s | CPU µs per uplink | of which main thread | RSS MB |\n|---|---:|---:|---:|---:|---:|`;

/** Per-round ratio of two targets' rates, median and range. */
function ratio(a: Target, b: Target): { median: number; text: string } {
  const ratios = a.rates.map((r, i) => r / b.rates[i]);
  const m = median(ratios);
  return { median: m, text: `${m.toFixed(2)}× (rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})` };
}

/** Whether the built package knows the `ttsInbox` setting (durable acceptance on/off). */
function packageHasInboxSetting(): boolean {
  const search = (dir: string): boolean =>
    readdirSync(dir, { withFileTypes: true }).some((e) => (e.isDirectory() ? search(join(dir, e.name)) : e.name.endsWith('.js') && readFileSync(join(dir, e.name), 'utf8').includes('ttsInbox')));
  return search(join(__dirname, '..', 'src')) || search(join(__dirname, '..', 'nodes'));
}

function betterSqlite3Path(): string {
  return require.resolve('better-sqlite3').replace(/\/lib\/index\.js$/, '');
}

async function startBare(file: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [join(__dirname, 'bare-server.js'), file, TOKEN], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  for await (const line of lines) {
    const m = /^listening (\d+)/.exec(line);
    if (m) {
      clearTimeout(timer);
      return { child, url: `http://127.0.0.1:${m[1]}/tts` };
    }
  }
  throw new Error('the bare server did not start');
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

async function startNodeRed(tarball: string, flow: ReturnType<typeof pipelineFlow>, extra: { settings?: Record<string, unknown>; source?: string; nodeArgs?: string[]; env?: Record<string, string>; more?: ReturnType<typeof handBuiltFlow> } = {}): Promise<NodeRedProcess> {
  const red = new NodeRedProcess({
    tarball,
    flows: [...flow.flows, ...(extra.more ?? [])],
    credentials: flow.credentials,
    extraSettings: extra.settings,
    settingsSource: extra.source,
    nodeArgs: extra.nodeArgs,
    env: extra.env,
  });
  await red.start().catch(async (err: unknown) => {
    await red.stop();
    throw err;
  });
  return red;
}

/**
 * Fills a SQLite store with `count` devices (ids as the fleet sends them): the first through the
 * store's own API, the others as copies of its rows (bucket and device) in one transaction, so
 * that whatever the API writes is what all of them have, in seconds rather than minutes.
 */
async function provisionDevices(file: string, prefix: string, count: number): Promise<void> {
  const template = `${prefix}-0`;
  const store = createStore({ backend: 'sqlite', path: file });
  await store.start();
  await store.createDevice({ id: template, applicationId: APPLICATION, deviceId: template, bucket: template, profileId: 'pipeline-profile', assetType: 'sensor', assetGroup: 'bench', connectionTimeout: 3_600_000, at: Date.now() });
  await store.close();
  const db = new Database(file);
  try {
    const copy = (table: string, replaced: Record<string, string>, skip: string[], where: string): Database.Statement => {
      const columns = (db.pragma(`table_info(${table})`) as Array<{ name: string }>).map((c) => c.name).filter((c) => !skip.includes(c));
      return db.prepare(`INSERT INTO ${table} (${columns.join(', ')}) SELECT ${columns.map((c) => replaced[c] ?? c).join(', ')} FROM ${table} WHERE ${where}`);
    };
    const bucket = copy('tts_buckets', { id: '@id', device: '@id' }, ['key'], 'id = @template');
    const device = copy('tts_devices', { id: '@id', device_id: '@id', bucket: '@id', dev_eui: '@devEui' }, [], 'id = @template');
    db.transaction(() => {
      for (let i = 1; i < count; i++) {
        const id = `${prefix}-${i}`;
        const devEui = (0x70b3d57ed0000000n + BigInt(i)).toString(16).toUpperCase().padStart(16, '0');
        bucket.run({ id, template });
        device.run({ id, devEui, template });
      }
    })();
  } finally {
    db.close();
  }
}

let measuredPipelineCpu: number | undefined;

/**
 * The pipeline's CPU µs per uplink (Node-RED process, durable acceptance on, SQLite, steady
 * state): this run's figure when the pipeline bench ran, else measured now (about half a minute).
 */
export async function pipelineCpuMicrosPerUplink(): Promise<number> {
  if (measuredPipelineCpu !== undefined) return measuredPipelineCpu;
  mkdirSync(join(REPO_ROOT, '.tmp'), { recursive: true });
  const work = mkdtempSync(join(REPO_ROOT, '.tmp', 'bench-cpu-'));
  let red: NodeRedProcess | undefined;
  try {
    red = await startNodeRed(packThisBuild(work), pipelineFlow({ token: TOKEN, applicationId: APPLICATION, store: { backend: 'sqlite' } }));
    const r = red;
    const t = target('pipeline', [r.nodeUrl('/tts')], () => [r.pid!], 'cpu', sqliteRows(join(r.userDir, 'tts-data.db'), 'tts_readings'), async () => sqliteStoredCounts(join(r.userDir, 'tts-data.db')));
    await closedRun(t, DEVICES, false);
    for (let i = 0; i < 3; i++) await closedRun(t);
    await verify(t);
    measuredPipelineCpu = median(t.cpu);
    return measuredPipelineCpu;
  } finally {
    await red?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** What each part needs: the packed package, a work directory, and what to stop afterwards. */
interface Context {
  tarball: string;
  work: string;
  inboxSetting: boolean;
  elapsed: () => string;
  /** Stopped in reverse order at the end of each part (and on failure). */
  cleanups: Array<() => Promise<void>>;
}

async function cleanUp(ctx: Context): Promise<void> {
  for (const stop of ctx.cleanups.splice(0).reverse()) await stop().catch((err: unknown) => console.error(`cleanup: ${(err as Error).message}`));
}

const sqliteTarget = (name: string, red: NodeRedProcess, prefix: string, file = join(red.userDir, 'tts-data.db'), urls = [red.nodeUrl('/tts')], fleetSize = DEVICES): Target =>
  withLog(target(name, urls, () => [red.pid!], prefix, sqliteRows(file, 'tts_readings'), async () => sqliteStoredCounts(file), fleetSize), red);

interface SqliteResult {
  pipeline: Target;
  off: Target;
  hand: Target;
  bare: Target;
  /** BENCH_BASELINE: the pipeline (inbox on) of another build and of this one, each in a Node-RED of its own. */
  baseline?: Target;
  alone?: Target;
}

/**
 * BENCH_BASELINE=file.tgz (another build's `npm pack`, e.g. of main) adds that build's pipeline to
 * the SQLite part's rounds: a change's gain measured against the build before it in one run, as
 * ratios across runs on this machine drift more than most changes gain. This build runs once more
 * in a Node-RED of the same shape: the pipeline that shares its Node-RED with the measured
 * hand-built flow ran 5-15 % slower than one alone (shared runtime code and heap), which is the
 * issue's comparison but not a fair one between builds.
 */
const BASELINE = process.env.BENCH_BASELINE;

/** Pipeline (inbox on and off), hand-built flow and bare server on SQLite, alternated. */
async function sqlitePart(ctx: Context): Promise<SqliteResult> {
  const a = await startNodeRed(ctx.tarball, pipelineFlow({ token: TOKEN, applicationId: APPLICATION, store: { backend: 'sqlite' } }), {
    source: handBuiltSettings(betterSqlite3Path()),
    more: handBuiltFlow({ token: TOKEN, path: '/hand', dbFile: join(ctx.work, 'hand.db') }),
  });
  ctx.cleanups.push(() => a.stop());
  const b = await startNodeRed(ctx.tarball, pipelineFlow({ token: TOKEN, applicationId: APPLICATION, store: { backend: 'sqlite' } }), { settings: { ttsInbox: false } });
  ctx.cleanups.push(() => b.stop());
  const bare = await startBare(join(ctx.work, 'bare.db'));
  ctx.cleanups.push(() => stopChild(bare.child));
  // The same shape as `a` (the hand-built flow deployed beside it, never posted to), so that only the build differs.
  const lone = async (tarball: string, name: string): Promise<NodeRedProcess> => {
    const red = await startNodeRed(tarball, pipelineFlow({ token: TOKEN, applicationId: APPLICATION, store: { backend: 'sqlite' } }), {
      source: handBuiltSettings(betterSqlite3Path()),
      more: handBuiltFlow({ token: TOKEN, path: '/hand', dbFile: join(ctx.work, `hand-${name}.db`) }),
    });
    ctx.cleanups.push(() => red.stop());
    return red;
  };
  const c = BASELINE ? await lone(BASELINE, 'baseline') : undefined;
  const d = BASELINE ? await lone(ctx.tarball, 'alone') : undefined;

  const result: SqliteResult = {
    pipeline: sqliteTarget('pipeline (inbox on)', a, 'pipe'),
    hand: withLog(target('hand-built core nodes', [a.nodeUrl('/hand')], () => [a.pid!], 'hand', sqliteRows(join(ctx.work, 'hand.db'), 'readings'), sqliteCounts(join(ctx.work, 'hand.db'), BARE_COUNT_SQL)), a),
    off: sqliteTarget(ctx.inboxSetting ? 'pipeline (inbox off)' : 'pipeline (ttsInbox: false, not yet a setting)', b, 'off'),
    bare: target('bare node:http', [bare.url], () => [bare.child.pid!], 'bare', sqliteRows(join(ctx.work, 'bare.db'), 'readings'), sqliteCounts(join(ctx.work, 'bare.db'), BARE_COUNT_SQL)),
    ...(c && d ? { baseline: sqliteTarget(`pipeline (inbox on), baseline ${basename(BASELINE!)}`, c, 'base'), alone: sqliteTarget('pipeline (inbox on), this build, alone', d, 'alone') } : {}),
  };
  const targets = [result.pipeline, result.hand, result.off, result.bare, ...(result.baseline && result.alone ? [result.baseline, result.alone] : [])];
  console.log(`warm-up: every one of the ${fmt(DEVICES)} devices reports once to each variant (provisioning), then ${fmt(CLOSED)} more uplinks each [${ctx.elapsed()}]`);
  for (const t of targets) await closedRun(t, DEVICES, false);
  // One more unrecorded run each: without it round 1 was the slowest of every variant (JIT tiers,
  // statement caches and file sizes still settling), so the medians mixed warm-up and steady state.
  for (const t of targets) await closedRun(t, CLOSED, false);
  console.log(`${ROUNDS} rounds: ${fmt(CLOSED)} uplinks at concurrency ${CONCURRENCY}, then ${fmt(OPEN)} at ${fmt(OPEN_RATE)}/s, per variant [${ctx.elapsed()}]`);
  await alternate(targets, ROUNDS, () => true);
  for (const t of targets) console.log(`  ${await verify(t)}`);
  measuredPipelineCpu = median(result.pipeline.cpu);
  await cleanUp(ctx);
  return result;
}

interface PostgresResult {
  one: Target;
  two: Target;
  /** One Node-RED with CONCURRENCY / 2 in flight: the load per instance of `two`, in one instance. */
  oneHalf: Target;
  /** The two instances with CONCURRENCY in flight each (the load per instance of `one`). */
  twoEach: Target;
  /** The hand-built flow (SQLite) in the same Node-RED as `one`, measured in the same rounds. */
  hand: Target;
  /** Devices of the two-instance fleets whose uplink count differs from their stored readings. */
  counters: { devices: number; wrong: string[] };
}

/**
 * Every device of a fleet whose uplink count is not the number of readings stored for it: a
 * sighting lost (or counted twice) between instances. Empty when all agree.
 */
async function deviceCounters(url: string, prefix: string): Promise<PostgresResult['counters']> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string; uplinks: number; stored: number }>(
      `SELECT d.id, d.uplink_count AS uplinks, (SELECT count(*) FROM tts_readings r WHERE r.bucket = b.key) AS stored
       FROM tts_devices d JOIN tts_buckets b ON b.id = d.bucket WHERE d.id LIKE $1`,
      [`${prefix}-%`],
    );
    const wrong = rows.filter((r) => Number(r.uplinks) !== Number(r.stored)).map((r) => `${r.id}: ${r.uplinks} counted, ${r.stored} stored`);
    return { devices: rows.length, wrong };
  } finally {
    await client.end();
  }
}

/** BENCH_PG_STATEMENTS=1: the server runs pg_stat_statements and the bench prints uplinks and statements per flush (it costs the server a little per statement). */
const STATEMENT_STATS = process.env.BENCH_PG_STATEMENTS === '1';

/**
 * Flushes and statements of the store since the last reset, from pg_stat_statements: a flush is a
 * statement that inserts readings (alone or with the device states); the bench's own row counts
 * and the statistics queries are left out.
 */
async function statementStats(url: string): Promise<NonNullable<Target['statements']> & { end: () => Promise<void> }> {
  const client = new Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  return {
    reset: async () => {
      await client.query('SELECT pg_stat_statements_reset()');
    },
    read: async () => {
      const { rows } = await client.query<{ flushes: string | null; statements: string | null }>(
        `SELECT sum(calls) FILTER (WHERE query LIKE '%INSERT INTO tts_readings%') AS flushes, sum(calls) AS statements
         FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE '%count(*)%' AND query NOT LIKE '%to_regclass%'`,
      );
      return { flushes: Number(rows[0].flushes ?? 0), statements: Number(rows[0].statements ?? 0) };
    },
    end: () => client.end(),
  };
}

/**
 * The pipeline on PostgreSQL: one Node-RED, and two on the same database behind a round-robin
 * client, with the hand-built flow in the first Node-RED as this part's own reference.
 */
async function postgresPart(ctx: Context): Promise<PostgresResult> {
  console.log(`PostgreSQL (throwaway server, fsync on) [${ctx.elapsed()}]`);
  const pg = await startThrowawayServer({ durable: true, settings: STATEMENT_STATS ? ['shared_preload_libraries=pg_stat_statements'] : [] });
  ctx.cleanups.push(() => pg.stop());
  const statements = STATEMENT_STATS ? await statementStats(pg.adminUrl) : undefined;
  if (statements) ctx.cleanups.push(() => statements.end());
  const flow = pipelineFlow({ token: TOKEN, applicationId: APPLICATION, store: { backend: 'postgres', connection: pg.adminUrl } });
  const handFile = join(ctx.work, 'hand-pg.db');
  // BENCH_PG_PROFILE=dir: both Node-REDs write a --cpu-prof profile there when stopped (dir/1:
  // every PostgreSQL run and the hand-built flow; dir/2: the two-instance runs only).
  const profile = (n: number): string[] => (process.env.BENCH_PG_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${join(process.env.BENCH_PG_PROFILE, String(n))}`] : []);
  const d = await startNodeRed(ctx.tarball, flow, {
    source: handBuiltSettings(betterSqlite3Path()),
    more: handBuiltFlow({ token: TOKEN, path: '/hand', dbFile: handFile }),
    nodeArgs: profile(1),
  });
  ctx.cleanups.push(() => d.stop());
  const e = await startNodeRed(ctx.tarball, flow, { nodeArgs: profile(2) });
  ctx.cleanups.push(() => e.stop());
  const rowCount = postgresRows(pg.adminUrl);
  ctx.cleanups.push(() => rowCount.end());
  const postmaster = await postmasterPid(pg.adminUrl);
  const counts = (): Promise<StoredCounts> => postgresStoredCounts(pg.adminUrl);
  const one = withLog(target('pipeline, PostgreSQL, 1 Node-RED', [d.nodeUrl('/tts')], () => [d.pid!], 'pg1', rowCount.rows, counts), d);
  const oneHalf = withLog(target(`pipeline, PostgreSQL, 1 Node-RED, ${CONCURRENCY / 2} in flight`, [d.nodeUrl('/tts')], () => [d.pid!], 'pgh', rowCount.rows, counts), d);
  oneHalf.concurrency = CONCURRENCY / 2;
  // An odd number of devices: each device's uplinks alternate between the two instances, so
  // both update every device (row locks taken in turn, each instance's cached state overtaken).
  const two = withLog(target(`pipeline, PostgreSQL, 2 Node-RED, ${CONCURRENCY / 2} in flight each (${CONCURRENCY} in all)`, [d.nodeUrl('/tts'), e.nodeUrl('/tts')], () => [d.pid!, e.pid!], 'pg2', rowCount.rows, counts, DEVICES - 1), d);
  two.problems = () => [...d.problems(), ...e.problems()];
  const twoEach = withLog(target(`pipeline, PostgreSQL, 2 Node-RED, ${CONCURRENCY} in flight each (${2 * CONCURRENCY} in all)`, two.urls, two.pids, 'pg3', rowCount.rows, counts, DEVICES - 1), d);
  twoEach.problems = two.problems;
  twoEach.concurrency = 2 * CONCURRENCY;
  const hand = withLog(target('hand-built core nodes (beside PostgreSQL)', [d.nodeUrl('/hand')], () => [d.pid!], 'hpg', sqliteRows(handFile, 'readings'), sqliteCounts(handFile, BARE_COUNT_SQL)), d);
  for (const t of [one, oneHalf, two, twoEach]) {
    t.serverCpuOf = () => postgresCpuMicros(postmaster);
    t.statements = statements;
  }
  const targets = [one, oneHalf, two, twoEach, hand];
  for (const t of targets) await closedRun(t, t.fleet.size, false);
  // One more unrecorded run each, as in the SQLite part (the second Node-RED has had half the
  // warm-up of the first: without it round 1 measures its JIT and statement caches settling).
  for (const t of targets) await closedRun(t, CLOSED, false);
  await alternate(targets, ROUNDS, (t) => t === one, (t) => t === one || t === two);
  for (const t of targets) console.log(`  ${await verify(t)}`);
  const counters = { devices: 0, wrong: [] as string[] };
  for (const t of [two, twoEach]) {
    const c = await deviceCounters(pg.adminUrl, t === two ? 'pg2' : 'pg3');
    counters.devices += c.devices;
    counters.wrong.push(...c.wrong);
    if (c.wrong.length > 0) {
      t.failure ??= `device uplink counts differ from the stored readings: ${c.wrong.slice(0, 5).join('; ')}`;
      console.log(`  FAILED ${t.name}: ${c.wrong.length} of ${c.devices} devices counted otherwise than stored (e.g. ${c.wrong.slice(0, 3).join('; ')})`);
    } else console.log(`  ${t.name}: every one of the ${fmt(c.devices)} devices counted exactly its stored uplinks`);
  }
  await cleanUp(ctx);
  return { one, oneHalf, two, twoEach, hand, counters };
}

/**
 * BENCH_MEMORY=1: the big part's Node-RED runs with bench/memory-probe (and --expose-gc), which
 * says what its memory is made of after start and after the uplinks, before and after a full
 * collection; BENCH_MEMORY_SAMPLING=1 adds the largest live allocation sites of a sampling heap
 * profile. The RSS figures of the part are read before any forced collection.
 */
const MEMORY_PROBE = process.env.BENCH_MEMORY === '1';

async function probeMemory(red: NodeRedProcess, dir: string, n: number, label: string): Promise<void> {
  writeFileSync(join(dir, `${n}.request`), '');
  const file = join(dir, `${n}.json`);
  const deadline = Date.now() + 60_000;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error('the memory probe wrote nothing');
    await new Promise((r) => setTimeout(r, 50));
  }
  const { before, after, gcs } = JSON.parse(readFileSync(file, 'utf8')) as { before: MemoryFacts; after?: MemoryFacts; gcs?: GcAccount };
  const line = (f: MemoryFacts): string =>
    `rss ${f.rss} (anonymous ${f.anonymous}, file-backed ${f.fileBacked}), heap ${f.heapUsed} used / ${f.heapTotal} committed (${Object.entries(f.spaces)
      .filter(([, [, size]]) => size >= 1)
      .map(([name, [used, size]]) => `${name.replace(/_space$/, '')} ${used}/${size}`)
      .join(', ')}), external ${f.external} (array buffers ${f.arrayBuffers}), V8 malloc ${f.malloced}, ${f.threads} threads`;
  console.log(`  memory ${label}: ${line(before)}`);
  if (after) console.log(`    after a full GC: ${line(after)}`);
  for (const name of readdirSync(dir).filter((f) => f.startsWith(`${n}.thread-`) && f.endsWith('.json'))) {
    const w = JSON.parse(readFileSync(join(dir, name), 'utf8')) as ThreadFacts;
    console.log(`    worker thread ${w.entry}: heap ${w.heapUsed} used / ${w.heapCommitted} committed (${Object.entries(w.spaces).map(([s, [used, size]]) => `${s.replace(/_space$/, '')} ${used}/${size}`).join(', ')}), external ${w.external}`);
  }
  if (gcs) {
    const uplinks = label.match(/([\d,]+) uplinks/)?.[1]?.replace(/,/g, '');
    const perUplink = uplinks ? ` (${((gcs.promoted * 1024) / Number(uplinks)).toFixed(1)} KB per uplink)` : '';
    const directly = uplinks ? ` (${((gcs.allocatedOld * 1024) / Number(uplinks)).toFixed(1)} KB per uplink)` : '';
    console.log(`    since the previous probe: ${gcs.scavenges} scavenges promoted ${gcs.promoted} MB${perUplink}; ${gcs.allocatedOld} MB allocated in the old generation directly${directly}; ${gcs.fullGcs} full GCs, old generation live after each ${gcs.liveAfterFull.join(', ') || '–'} MB, at most ${gcs.peakOldCommitted} MB committed`);
  }
  const profile = join(dir, `${n}.heapprofile`);
  if (existsSync(profile)) {
    const mode = process.env.BENCH_MEMORY_SAMPLING;
    if (mode === 'promoted' || mode === 'allocated') {
      // What reached the old generation (live or not) since the previous probe, with two callers.
      const earlier = join(dir, `${n - 1}.heapprofile`);
      const sites = topSites(profile, 25, { minus: existsSync(earlier) ? earlier : undefined, frames: 3 });
      if (gcs && gcs.fullGcs > 0) console.log(`    (${gcs.fullGcs} full GCs in the window: what was young then counts as promoted too; BENCH_BIG_UPLINKS=n for a shorter window)`);
      console.log(`    ${mode}${existsSync(earlier) ? ' since the previous probe' : ''} by allocation site (MB):\n${sites.map(([site, size]) => `      ${size.toFixed(1)} ${site}`).join('\n')}`);
    } else console.log(`    live by allocation site (MB): ${topSites(profile, 15).map(([site, size]) => `${site} ${size.toFixed(1)}`).join('; ')}`);
    // BENCH_MEMORY_OUT=dir keeps the profiles (Chrome DevTools' Memory tab opens them as .heapprofile).
    if (process.env.BENCH_MEMORY_OUT) copyFileSync(profile, join(process.env.BENCH_MEMORY_OUT, `${n}.heapprofile`));
  }
}

/**
 * The main thread's scavenges in --trace-gc-nvp lines ("[pid:0xisolate] ... gc=s ... promoted=n"):
 * how many, and what they promoted. The main isolate is the one with the largest heap.
 */
function scavengeSummary(lines: string[]): string {
  const byIsolate = new Map<string, { count: number; promoted: number; largest: number }>();
  for (const line of lines) {
    const m = /^\[\d+:(0x[0-9a-f]+)\].*\bgc=s\b/.exec(line);
    if (!m) continue;
    const field = (name: string): number => Number(new RegExp(`\\b${name}=(\\d+)`).exec(line)?.[1] ?? 0);
    const i = byIsolate.get(m[1]) ?? { count: 0, promoted: 0, largest: 0 };
    i.count += 1;
    i.promoted += field('promoted');
    i.largest = Math.max(i.largest, field('total_size_before'));
    byIsolate.set(m[1], i);
  }
  const main = [...byIsolate.values()].sort((a, b) => b.largest - a.largest)[0];
  return main ? `main thread while posting: ${main.count} scavenges promoted ${(main.promoted / 2 ** 20).toFixed(1)} MB` : 'no --trace-gc-nvp scavenge lines in the log';
}

/** RSS of the pipeline's Node-RED with 100,000 devices in its store, idle and under uplinks (BENCH_BIG_DEVICES for another count). */
async function bigPart(ctx: Context): Promise<{ idle: number; t: Target; fleet: number; touched: number }> {
  const fleet = Number(process.env.BENCH_BIG_DEVICES) || BIG_FLEET;
  const touched = Math.min(BIG_TOUCHED, fleet);
  console.log(`${fmt(fleet)} devices provisioned into a SQLite file through the store's API [${ctx.elapsed()}]`);
  const file = join(ctx.work, 'big.db');
  await provisionDevices(file, 'big', fleet);
  const probeDir = join(ctx.work, 'memory');
  mkdirSync(probeDir, { recursive: true });
  // BENCH_BIG_NODE_ARGS: node options for this Node-RED only (a heap limit such as
  // --max-old-space-size=256, or V8 tracing such as --trace-gc-nvp, printed from its log).
  const nodeArgs = (process.env.BENCH_BIG_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const probe = MEMORY_PROBE ? { nodeArgs: [...nodeArgs, '--expose-gc', '--require', join(__dirname, 'memory-probe.js')], env: { BENCH_MEMORY_DIR: probeDir } } : { nodeArgs };
  const f = await startNodeRed(ctx.tarball, pipelineFlow({ token: TOKEN, applicationId: APPLICATION, store: { backend: 'sqlite', path: file } }), probe);
  ctx.cleanups.push(() => f.stop());
  const idle = rssMB(f.pid!);
  if (MEMORY_PROBE) await probeMemory(f, probeDir, 1, 'after start');
  console.log(`  ${fmt(BIG_TOUCHED)} uplinks from ${fmt(touched)} of them [${ctx.elapsed()}]`);
  const from = f.logs.length;
  const t = sqliteTarget(`pipeline, ${fmt(fleet)} devices`, f, 'big', file, undefined, fleet);
  await closedRun(t, BIG_TOUCHED);
  if (MEMORY_PROBE) await probeMemory(f, probeDir, 2, `after ${fmt(BIG_TOUCHED)} uplinks`);
  if (nodeArgs.includes('--trace-gc-nvp')) console.log(`  ${scavengeSummary(f.logs.slice(from))}`);
  if (process.env.BENCH_BIG_LOG) writeFileSync(process.env.BENCH_BIG_LOG, f.logs.join('\n'));
  console.log(`  ${await verify(t)}`);
  await cleanUp(ctx);
  return { idle, t, fleet, touched };
}

/** A --cpu-prof profile of the pipeline's Node-RED under closed-loop load, broken down. */
async function profilePart(ctx: Context): Promise<{ t: Target; parts: ReturnType<typeof breakdown>; uplinks: number; threads: Array<[string, number]> }> {
  console.log(`CPU profile of the pipeline under load (--cpu-prof) [${ctx.elapsed()}]`);
  const dir = join(ctx.work, 'profile');
  const g = await startNodeRed(ctx.tarball, pipelineFlow({ token: TOKEN, applicationId: APPLICATION, store: { backend: 'sqlite' } }), { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`], settings: process.env.BENCH_PROFILE_INBOX === 'off' ? { ttsInbox: false } : undefined });
  ctx.cleanups.push(() => g.stop());
  const t = sqliteTarget('profiled pipeline', g, 'prof');
  await closedRun(t, DEVICES, false);
  // The same warm-up as the SQLite part's: measured from a fresh process, V8's background JIT
  // compilation filled the "other threads" with about 140 µs per uplink that steady state has not.
  await closedRun(t, CLOSED, false);
  const from = Number(process.hrtime.bigint() / 1000n);
  const before = t.acked.length;
  const threadsBefore = threadCpuMicros(g.pid!);
  await closedRun(t, CLOSED);
  const threadsAfter = threadCpuMicros(g.pid!);
  const to = Number(process.hrtime.bigint() / 1000n);
  const uplinks = t.acked.length - before;
  const threads = [...threadsAfter].map(([kind, us]) => [kind, (us - (threadsBefore.get(kind) ?? 0)) / uplinks] as [string, number]).filter(([, us]) => us > 0).sort((a, b) => b[1] - a[1]);
  console.log(`  ${await verify(t)}`);
  await g.kill('SIGINT');
  // One profile per thread, CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile: the event loop is thread 0.
  const threadOf = (name: string): string => name.split('.')[4];
  const profiles = readdirSync(dir).filter((n) => n.endsWith('.cpuprofile'));
  const file = profiles.find((n) => threadOf(n) === '0');
  if (!file) throw new Error(`Node-RED wrote no CPU profile of its main thread (${profiles.join(', ') || 'none'})`);
  const parts = breakdown(join(dir, file), from, to, uplinks);
  // BENCH_PROFILE_OUT=file.cpuprofile keeps the profile for Chrome DevTools or a closer look (the
  // worker threads' beside it as file.<thread id>.cpuprofile); BENCH_PROFILE_INBOX=off profiles the
  // pipeline with durable acceptance off, for a comparison.
  const out = process.env.BENCH_PROFILE_OUT;
  if (out) {
    copyFileSync(join(dir, file), out);
    for (const other of profiles.filter((n) => n !== file)) copyFileSync(join(dir, other), out.replace(/(\.cpuprofile)?$/, `.${threadOf(other)}.cpuprofile`));
  }
  await cleanUp(ctx);
  return { t, parts, uplinks, threads };
}

/** BENCH_PARTS=sqlite,pg,big,profile selects parts (default: all). */
function selectedParts(): Set<string> {
  const all = ['sqlite', 'pg', 'big', 'profile'];
  const wanted = (process.env.BENCH_PARTS ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of wanted) if (!all.includes(p)) throw new Error(`BENCH_PARTS: unknown part ${p} (${all.join(', ')})`);
  return new Set(wanted.length > 0 ? wanted : all);
}

export async function run(): Promise<void> {
  const started = performance.now();
  const parts = selectedParts();
  mkdirSync(join(REPO_ROOT, '.tmp'), { recursive: true });
  const work = mkdtempSync(join(REPO_ROOT, '.tmp', 'bench-pipeline-'));
  const ctx: Context = { tarball: '', work, inboxSetting: packageHasInboxSetting(), cleanups: [], elapsed: () => `${((performance.now() - started) / 1000).toFixed(0)} s` };
  try {
    ctx.tarball = packThisBuild(work);
    console.log(`package packed (${ctx.tarball.split('/').pop()}); ttsInbox setting ${ctx.inboxSetting ? 'present' : 'NOT in this build: "inbox off" runs with the setting ignored'}`);
    const sqlite = parts.has('sqlite') ? await sqlitePart(ctx) : undefined;
    const pg = parts.has('pg') ? await postgresPart(ctx) : undefined;
    const big = parts.has('big') ? await bigPart(ctx) : undefined;
    const profile = parts.has('profile') ? await profilePart(ctx) : undefined;
    const all = [...(sqlite ? Object.values(sqlite) : []), ...(pg ? [pg.one, pg.oneHalf, pg.two, pg.twoEach, pg.hand] : []), ...(big ? [big.t] : []), ...(profile ? [profile.t] : [])];

    // ---- report (paste-ready) ------------------------------------------------------------------------
    const total = ((performance.now() - started) / 1000).toFixed(0);
    for (const t of all) for (const text of t.notes) console.log(`note, ${t.name}: ${text}`);
    console.log(`\n--- paste into README (Performance) ---`);
    console.log(`\`npm run bench -- pipeline\`, ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${ROUNDS} alternating rounds, medians, ${fmt(DEVICES)} simulated devices, loopback; every acknowledged uplink counted in its store afterwards.\n`);
    console.log(TABLE_HEAD);
    for (const t of [...(sqlite ? [sqlite.pipeline, sqlite.off, sqlite.hand, sqlite.bare, ...(sqlite.baseline && sqlite.alone ? [sqlite.baseline, sqlite.alone] : [])] : []), ...(pg ? [pg.one, pg.oneHalf, pg.two, pg.twoEach, pg.hand] : [])]) console.log(row(t));
    console.log('');
    if (sqlite) {
      const vsHand = ratio(sqlite.pipeline, sqlite.hand);
      const vsBare = ratio(sqlite.pipeline, sqlite.bare);
      const onOff = ratio(sqlite.pipeline, sqlite.off);
      const cost = 1 - onOff.median;
      const p99 = median(sqlite.pipeline.p99);
      console.log(`- pipeline / hand-built: ${vsHand.text}, goal ≥ 2×: ${goal(vsHand.median >= 2)}`);
      console.log(`- pipeline / bare node:http: ${vsBare.text}, goal ≥ 0.5×: ${goal(vsBare.median >= 0.5)}`);
      console.log(`- durable acceptance on / off: ${onOff.text}, throughput cost ${fmt(cost * 100)} %, goal ≤ 20 %: ${goal(cost <= 0.2)}${ctx.inboxSetting ? '' : ' (ttsInbox is not a setting yet: both sides ran the same code)'}`);
      console.log(`- ack p99 at ${fmt(OPEN_RATE)} uplinks/s: ${fmt(p99, 1)} ms, goal < 50 ms: ${goal(p99 < 50)}`);
      const { baseline, alone } = sqlite;
      if (baseline && alone) {
        console.log(`- this build / baseline build, pipeline (inbox on), each alone in a Node-RED of the same shape: ${ratio(alone, baseline).text}; CPU µs per uplink ${fmt(median(alone.cpu))} against ${fmt(median(baseline.cpu))} (main thread ${fmt(median(alone.mainCpu))} against ${fmt(median(baseline.mainCpu))})`);
        console.log(`- the pipeline beside the measured hand-built flow / alone (this build): ${ratio(sqlite.pipeline, alone).text}`);
      }
      // The load shares the two cores: what it and the idle share were tells how far a figure is the machine's.
      const machine = [sqlite.pipeline, sqlite.off, sqlite.hand, sqlite.bare].map((t) => `${t.name} ${fmt(median(t.genCpu))} µs, idle ${fmt(median(t.idle))} %`);
      console.log(`- load generator CPU per uplink and machine idle while posting (closed loop): ${machine.join('; ')}`);
    }
    if (big) {
      const rss = median(big.t.rss);
      console.log(`- RSS with ${fmt(big.fleet)} provisioned devices: ${fmt(big.idle)} MB after start, ${fmt(rss)} MB after ${fmt(BIG_TOUCHED)} uplinks from ${fmt(big.touched)} of them (${fmt(median(big.t.rates))} uplinks/s), goal < 250 MB: ${goal(Math.max(big.idle, rss) < 250)}`);
    }
    if (pg) {
      const vsHand = ratio(pg.one, pg.hand);
      const twoOne = ratio(pg.two, pg.one);
      console.log(`- PostgreSQL pipeline, 1 Node-RED / hand-built in the same Node-RED: ${vsHand.text}${sqlite ? ` (SQLite pipeline / hand-built above: ${ratio(sqlite.pipeline, sqlite.hand).text})` : ''}`);
      if (sqlite) console.log(`- PostgreSQL pipeline / SQLite pipeline (inbox on), round by round: ${ratio(pg.one, sqlite.pipeline).text}`);
      console.log(`- PostgreSQL, 2 Node-RED / 1 at the same ${CONCURRENCY} in flight in all: ${twoOne.text}, goal > 1×: ${goal(twoOne.median > 1)}`);
      console.log(`- PostgreSQL, 2 Node-RED with ${CONCURRENCY} in flight each / 1 with ${CONCURRENCY}: ${ratio(pg.twoEach, pg.one).text}`);
      const short = (t: Target): string => t.name.replace('pipeline, PostgreSQL, ', '');
      // Two instances can only beat one when one leaves CPU unused: near 0 % idle, the machine caps both.
      console.log(`- where each uplink's CPU went in the closed-loop runs (µs per uplink: Node-RED main threads + other threads, PostgreSQL backends + the rest of the server, load generator = all; machine idle):`);
      for (const t of [pg.one, pg.oneHalf, pg.two, pg.twoEach]) {
        const [cpu, main, server, backends, gen] = [t.cpu, t.mainCpu, t.serverCpu, t.serverBackendCpu, t.genCpu].map(median);
        const flushes = t.perFlush.length > 0 ? `; ${fmt(median(t.perFlush), 1)} uplinks and ${fmt(median(t.statementsPerFlush), 1)} statements per flush` : '';
        console.log(`  - ${short(t)}: Node-RED ${fmt(main)} + ${fmt(cpu - main)}, PostgreSQL ${fmt(backends)} + ${fmt(server - backends)}, load generator ${fmt(gen)} = ${fmt(cpu + server + gen)}; idle ${fmt(median(t.idle))} %${flushes}\n    Node-RED threads: ${threadText(t)}`);
      }
      console.log(`- PostgreSQL, 2 Node-RED: device uplink counts equal to the stored uplinks for ${fmt(pg.counters.devices - pg.counters.wrong.length)} of ${fmt(pg.counters.devices)} devices (both fleets): ${goal(pg.counters.wrong.length === 0)}`);
    }
    if (pg) {
      console.log(`\nPostgreSQL at the same offered load: ${fmt(FIXED_RATE)} uplinks/s open loop (${fmt(FIXED_COUNT)} per run, one run per round), sent to one Node-RED or alternating between two; CPU per uplink from the start of the run until its rows were stored:\n`);
      console.log('| variant | acked uplinks/s | ack p50 / p99 ms | Node-RED µs per uplink | of which main threads | PostgreSQL µs | load generator µs | all µs | machine idle |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|');
      for (const t of [pg.one, pg.two]) {
        const f = t.fixed;
        const [cpu, main, server, gen] = [f.cpu, f.mainCpu, f.serverCpu, f.genCpu].map(median);
        console.log(`| ${t.name} | ${fmt(median(f.rates))} | ${fmt(median(f.p50), 1)} / ${fmt(median(f.p99), 1)} | ${fmt(cpu)} | ${fmt(main)} | ${fmt(server)} | ${fmt(gen)} | ${fmt(cpu + server + gen)} | ${fmt(median(f.idle))} % |`);
      }
      console.log('');
      for (const t of [pg.one, pg.two]) console.log(`- ${t.name}, Node-RED threads at ${fmt(FIXED_RATE)}/s (µs per uplink): ${threadText(t.fixed)}`);
    }
    if (profile) {
      const { parts: cpu, uplinks, t, threads } = profile;
      // The profile samples the event loop's thread only: its shares split that thread's CPU time.
      const main = threads.find(([kind]) => kind === 'main thread')?.[1] ?? NaN;
      const others = threads.filter(([kind]) => kind !== 'main thread');
      console.log(`\nCPU per uplink in the pipeline's Node-RED process (${fmt(median(t.cpu))} µs in all threads, from /proc). The main thread's ${fmt(main)} µs split by the shares of a --cpu-prof profile (${fmt(cpu.samples)} samples over ${fmt(uplinks)} uplinks at concurrency ${CONCURRENCY}${cpu.wholeProfile ? ', WHOLE profile: the load window matched no sample' : ''}):\n`);
      console.log('| where | µs per uplink | share |\n|---|---:|---:|');
      for (const bucket of BUCKETS) console.log(`| ${bucket} | ${fmt(cpu.share[bucket] * main)} | ${fmt(cpu.share[bucket] * 100)} % |`);
      console.log(`| main thread | ${fmt(main)} | |`);
      for (const [kind, us] of others) console.log(`| other threads: ${kind} | ${fmt(us)} | |`);
      console.log(`\nlargest parts of "rest": ${cpu.restTop.map(([label, share]) => `${label} ${fmt(share * main)} µs`).join(', ')}`);
    }
    console.log(`--- end (pipeline bench: ${total} s) ---`);
    const failed = all.filter((t) => t.failure);
    if (failed.length > 0) throw new Error(`acknowledged uplinks missing from the store: ${failed.map((t) => `${t.name}: ${t.failure}`).join('; ')}`);
  } finally {
    await cleanUp(ctx);
    rmSync(work, { recursive: true, force: true });
  }
}
