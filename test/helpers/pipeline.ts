// The package's full uplink pipeline as a user deploys it (webhook-in → uplink-decode →
// provision → bucket write) and what landed in its store, for the process tests and the bench.
import Database from 'better-sqlite3';
import { Client } from 'pg';
import type { Uplink } from './load';

/** DESIGN.md's example uplink script: the payload the simulator's temperature-humidity devices send. */
export const EXAMPLE_UPLINK_SCRIPT = `module.exports.uplink = function (payload, message) {
  const bytes = Buffer.from(payload, 'base64');
  return { temperature: bytes.readInt16LE(0) / 100, humidity: bytes.readInt16LE(2) / 100 };
};
`;

export type PipelineStore = { backend: 'sqlite'; path?: string } | { backend: 'postgres'; connection: string };

export interface PipelineOptions {
  token: string;
  applicationId: string;
  store: PipelineStore;
  /** Webhook path (default /tts). */
  path?: string;
  /** Node id prefix, so that two pipelines can share one Node-RED. */
  prefix?: string;
}

export interface DeployableFlow {
  flows: Array<Record<string, unknown> & { id: string; type: string }>;
  credentials: Record<string, Record<string, string>>;
  /** The tts-store node's id. */
  storeId: string;
}

export function pipelineFlow(options: PipelineOptions): DeployableFlow {
  const p = options.prefix ?? 'pipeline';
  const tab = `${p}-tab`;
  const ids = { profile: `${p}-profile`, store: `${p}-store`, hook: `${p}-hook`, decode: `${p}-decode`, provision: `${p}-provision`, bucket: `${p}-bucket`, errors: `${p}-errors` };
  const flows: DeployableFlow['flows'] = [
    { id: tab, type: 'tab', label: 'TTS pipeline' },
    {
      id: ids.profile,
      type: 'tts-profile',
      name: 'pipeline',
      applicationId: options.applicationId,
      server: 'http://127.0.0.1:9',
      webhookId: 'node-red',
      autoProvision: true,
      connectionTimeout: '60',
      devicePrefix: '',
      bucketPrefix: '',
      assetType: 'sensor',
      assetGroup: 'bench',
      updateLocation: true,
      saveMetadata: true,
      initDownlink: false,
      downlinkData: '',
      confirmed: false,
      queue: 'push',
      priority: 'NORMAL',
      fPort: '1',
    },
    options.store.backend === 'sqlite'
      ? { id: ids.store, type: 'tts-store', name: 'store', backend: 'sqlite', path: options.store.path ?? '' }
      : { id: ids.store, type: 'tts-store', name: 'store', backend: 'postgres', path: '' },
    { id: ids.hook, type: 'tts-webhook-in', z: tab, name: '', path: options.path ?? '/tts', profile: ids.profile, routing: 'single', wires: [[ids.decode]] },
    { id: ids.decode, type: 'tts-uplink-decode', z: tab, name: '', codec: 'script', script: EXAMPLE_UPLINK_SCRIPT, timeout: '', outputs: 2, wires: [[ids.provision], [ids.errors]] },
    { id: ids.provision, type: 'tts-provision', z: tab, name: '', profile: ids.profile, store: ids.store, wires: [[ids.bucket], []] },
    { id: ids.bucket, type: 'tts-bucket', z: tab, name: '', store: ids.store, mode: 'write', bucket: '', format: 'rows', limit: '', radio: true, maxAge: '', maxRows: '', wires: [[]] },
    { id: ids.errors, type: 'debug', z: tab, name: 'decode errors', active: true, tosidebar: false, console: true, complete: 'error', targetType: 'msg', wires: [] },
  ];
  const credentials: DeployableFlow['credentials'] = { [ids.profile]: { webhookToken: options.token } };
  if (options.store.backend === 'postgres') credentials[ids.store] = { connection: options.store.connection };
  return { flows, credentials, storeId: ids.store };
}

/** Stored readings per `device/f_cnt` (the bucket id is the device id: no bucket prefix). */
export type StoredCounts = Map<string, number>;

export const keyOf = (deviceId: string, fCnt: number): string => `${deviceId}/${fCnt}`;

const COUNT_SQL = 'SELECT b.id AS bucket, r.f_cnt AS f_cnt, count(*) AS n FROM tts_readings r JOIN tts_buckets b ON b.key = r.bucket GROUP BY b.id, r.f_cnt';

/** Reads the counts from a SQLite store file (read-only; the writer may be running). */
export function sqliteStoredCounts(file: string): StoredCounts {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const counts: StoredCounts = new Map();
    const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tts_readings'").get();
    if (!hasTable) return counts;
    for (const row of db.prepare(COUNT_SQL).iterate() as Iterable<{ bucket: string; f_cnt: number; n: number }>) counts.set(keyOf(row.bucket, row.f_cnt), row.n);
    return counts;
  } finally {
    db.close();
  }
}

export async function postgresStoredCounts(url: string): Promise<StoredCounts> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const counts: StoredCounts = new Map();
    const exists = await client.query("SELECT to_regclass('tts_readings') AS t");
    if (!exists.rows[0].t) return counts;
    const { rows } = await client.query<{ bucket: string; f_cnt: number; n: string }>(COUNT_SQL);
    for (const row of rows) counts.set(keyOf(row.bucket, Number(row.f_cnt)), Number(row.n));
    return counts;
  } finally {
    await client.end();
  }
}

export interface StoredCheck {
  /** Acknowledged and not stored. */
  missing: Uplink[];
  /** Stored more than once (any key, acknowledged or not). */
  duplicated: string[];
  /** Rows in the store in all. */
  rows: number;
}

export function checkStored(acked: readonly Uplink[], counts: StoredCounts): StoredCheck {
  const missing = acked.filter((u) => !counts.has(keyOf(u.deviceId, u.fCnt)));
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([key, n]) => `${key} ×${n}`);
  let rows = 0;
  for (const n of counts.values()) rows += n;
  return { missing, duplicated, rows };
}

/**
 * Polls the store until every acknowledged uplink is there or `timeoutMs` passed (the deadline
 * only bounds a failure; success returns as soon as the rows are in).
 */
export async function waitForStored(read: () => StoredCounts | Promise<StoredCounts>, acked: readonly Uplink[], timeoutMs: number): Promise<StoredCheck> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const check = checkStored(acked, await read());
    if (check.missing.length === 0 || Date.now() >= deadline) return check;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A short account of a check for assertion messages. */
export function describeCheck(check: StoredCheck, acked: number): string {
  const sample = check.missing.slice(0, 5).map((u) => keyOf(u.deviceId, u.fCnt)).join(', ');
  return `${acked} acknowledged, ${check.rows} rows stored, ${check.missing.length} acknowledged never stored${sample ? ` (e.g. ${sample})` : ''}, ${check.duplicated.length} stored more than once${check.duplicated.length ? ` (${check.duplicated.slice(0, 5).join(', ')})` : ''}`;
}
