// PostgreSQL flushes to devices the instance wrote last: one statement per flush (no read first,
// no transaction block), and exact counts whenever the row changed since (another instance, an
// administrator, a deletion). A server of its own with pg_stat_statements counts the statements.
import assert from 'node:assert/strict';
import { Client } from 'pg';
import { PostgresBackend } from '../../src/store/postgres-backend';
import { TtsStore } from '../../src/store/store';
import { startThrowawayServer, type ThrowawayServer } from '../helpers/postgres';
import { T0, newDevice } from '../helpers/store-backends';

describe('flushes on PostgreSQL to devices the instance wrote last', function () {
  this.timeout(60_000);
  let server: ThrowawayServer;
  let admin: Client;
  let url: string;
  let stores: TtsStore[];
  let n = 0;

  before(async () => {
    server = await startThrowawayServer({ settings: ['shared_preload_libraries=pg_stat_statements'] });
    admin = new Client({ connectionString: server.adminUrl });
    await admin.connect();
    await admin.query('CREATE EXTENSION pg_stat_statements');
  });

  after(async () => {
    await admin?.end();
    await server?.stop();
  });

  beforeEach(async () => {
    const name = `known_rows_${++n}`;
    await admin.query(`CREATE DATABASE ${name}`);
    const u = new URL(server.adminUrl);
    u.pathname = `/${name}`;
    url = u.toString();
    stores = [];
  });

  afterEach(async () => {
    for (const s of stores) await s.close();
  });

  async function open(): Promise<TtsStore> {
    const s = new TtsStore(new PostgresBackend(url), { retentionInterval: 0 });
    stores.push(s);
    await s.start();
    return s;
  }

  const device = newDevice();

  /** One uplink of the device: its sighting and its reading, as the pipeline queues them. */
  async function uplink(store: TtsStore, fCnt: number): Promise<number | undefined> {
    const at = T0 + 1000 * fCnt;
    const [result] = await Promise.all([store.writeDevice({ id: device.id, sighting: { at, fCnt } }), store.write({ bucket: device.bucket, ts: at, fCnt, data: { fCnt } })]);
    return result.state?.uplinkCount;
  }

  /** The statements this test's database ran since the last reset, with their calls. */
  async function statements(): Promise<Array<{ query: string; calls: number }>> {
    const { rows } = await admin.query<{ query: string; calls: string }>(
      `SELECT query, calls FROM pg_stat_statements
       WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1) AND query NOT LIKE '%pg_stat_statements%' ORDER BY query`,
      [new URL(url).pathname.slice(1)],
    );
    return rows.map((r) => ({ query: r.query, calls: Number(r.calls) }));
  }

  /** The statements since the last reset by kind: the device rows read, the version-checked write, anything else by its text. */
  async function kinds(): Promise<string[]> {
    const kind = (query: string): string =>
      /^SELECT .* FROM tts_devices WHERE id = ANY/s.test(query) ? 'read' : /^WITH states AS \(UPDATE tts_devices/.test(query) ? 'write' : query;
    return (await statements()).flatMap((s) => Array.from({ length: s.calls }, () => kind(s.query))).sort();
  }

  const reset = async (): Promise<void> => {
    await admin.query('SELECT pg_stat_statements_reset()');
  };

  it('writes sightings and readings in one statement per flush, without reading the rows first', async () => {
    const store = await open();
    await store.createDevice(device);
    assert.equal(await uplink(store, 1), 1); // the bucket's key is known from now on
    await reset();
    for (let f = 2; f <= 4; f++) assert.equal(await uplink(store, f), f);
    // Three flushes (each uplink waited for), each one statement: the version-checked write with the readings.
    assert.deepEqual(await kinds(), ['write', 'write', 'write']);
    assert.ok((await statements())[0].query.includes('INSERT INTO tts_readings'));
  });

  it('counts from the row another instance wrote since, and reads such a row first until it finds it as it left it', async () => {
    const [a, b] = [await open(), await open()];
    await a.createDevice(device);
    assert.equal(await uplink(a, 1), 1);
    assert.equal(await uplink(b, 2), 2);
    assert.equal(await uplink(b, 3), 3);
    await reset();
    // a's last version of the row is two writes old: its write is refused, the row comes back with
    // the answer and the device is written again from it.
    assert.equal(await uplink(a, 5), 4);
    assert.deepEqual(await kinds(), ['write', 'write']);
    // Shared from then on: a reads the row before writing it (one commit, no write refused)...
    assert.equal(await uplink(b, 6), 5);
    await reset();
    assert.equal(await uplink(a, 7), 6);
    assert.deepEqual(await kinds(), ['read', 'write']);
    // ... until a read finds the row as a left it: then one statement per flush again.
    assert.equal(await uplink(a, 8), 7);
    await reset();
    assert.equal(await uplink(a, 9), 8);
    assert.deepEqual(await kinds(), ['write']);
    const check = new Client({ connectionString: url });
    await check.connect();
    try {
      const { rows } = await check.query('SELECT uplink_count, last_f_cnt, lost_frames FROM tts_devices WHERE id = $1', [device.id]);
      assert.deepEqual([Number(rows[0].uplink_count), Number(rows[0].last_f_cnt), Number(rows[0].lost_frames)], [8, 9, 1]);
      assert.equal(Number((await check.query('SELECT count(*) AS n FROM tts_readings')).rows[0].n), 8);
    } finally {
      await check.end();
    }
  });

  it('counts from a row an administrator changed by hand, and finds no device once it was deleted', async () => {
    const store = await open();
    await store.createDevice(device);
    assert.equal(await uplink(store, 1), 1);
    const sql = new Client({ connectionString: url });
    await sql.connect();
    try {
      await sql.query('UPDATE tts_devices SET uplink_count = 100, lost_frames = 0 WHERE id = $1', [device.id]);
      assert.equal(await uplink(store, 2), 101);
      await sql.query('DELETE FROM tts_devices WHERE id = $1', [device.id]);
      assert.equal(await uplink(store, 3), undefined);
      // The reading of that uplink is stored all the same, and the store stays ready.
      assert.equal(Number((await sql.query('SELECT count(*) AS n FROM tts_readings')).rows[0].n), 3);
      assert.equal(store.state.status, 'ready');
    } finally {
      await sql.end();
    }
  });
});
