import assert from 'node:assert/strict';
import vm from 'node:vm';
import { exportBucket } from '../../src/store/export';
import { LATEST_VERSION } from '../../src/store/migrations';
import type { TtsStore } from '../../src/store/store';
import { Client } from 'pg';
import { BACKENDS, T0, newDevice, type TestTarget } from '../helpers/store-backends';

async function collect(gen: AsyncGenerator<string>): Promise<string> {
  let text = '';
  for await (const chunk of gen) text += chunk;
  return text;
}

for (const kind of BACKENDS) {
  describe(`store on ${kind.name}`, function () {
    let target: TestTarget;
    let store: TtsStore;

    beforeEach(async () => {
      target = await kind.create();
      store = target.store();
      await store.start();
    });

    afterEach(async () => {
      await target.cleanup();
    });

    describe('schema', () => {
      it('migrates a new database to the latest version and reopens without migrating again', async () => {
        assert.equal(await store.backend.schemaVersion(), LATEST_VERSION);
        const again = target.store();
        await again.start();
        const versions = await target.sql('SELECT version FROM tts_schema ORDER BY version');
        assert.deepEqual(
          versions.map((v) => Number(v.version)),
          Array.from({ length: LATEST_VERSION }, (_, i) => i + 1),
        );
      });

      it('refuses a schema newer than the package knows', async () => {
        await target.sql('INSERT INTO tts_schema (version, applied_at) VALUES (?, ?)', [LATEST_VERSION + 1, 0]);
        const newer = target.store();
        await assert.rejects(newer.start(), /newer than this package supports/);
      });
    });

    describe('devices', () => {
      it('creates a device with its bucket once, and finds it by registry id and by TTS ids', async () => {
        const first = await store.createDevice(newDevice({ downlink: { enabled: true, frequency: 10 } }));
        assert.equal(first.created, true);
        const second = await store.createDevice(newDevice());
        assert.equal(second.created, false);
        const byId = await store.getDevice('dev-probe-01');
        const byTts = await store.findDevice('farm-sensors', 'probe-01');
        assert.deepEqual(byId, byTts);
        assert.equal(byId?.bucket, 'bkt-probe-01');
        assert.equal(byId?.assetType, 'soil-probe');
        assert.equal(byId?.assetGroup, 'north-field');
        assert.equal(byId?.devEui, 'A84041000181C3D2');
        assert.equal(byId?.online, true);
        assert.equal(byId?.lastSeen, T0);
        assert.deepEqual(byId?.downlink, { enabled: true, frequency: 10 });
        const bucket = await store.getBucket('bkt-probe-01');
        assert.equal(bucket?.device, 'dev-probe-01');
      });

      it('creates one device when many create it at the same moment', async () => {
        const results = await Promise.all(Array.from({ length: 8 }, () => store.createDevice(newDevice())));
        assert.equal(results.filter((r) => r.created).length, 1);
        const rows = await target.sql('SELECT count(*) AS n FROM tts_devices');
        assert.equal(Number(rows[0].n), 1);
        const buckets = await target.sql('SELECT count(*) AS n FROM tts_buckets');
        assert.equal(Number(buckets[0].n), 1);
      });

      it('refuses a registry id that already belongs to another application’s device', async () => {
        await store.createDevice(newDevice());
        await assert.rejects(
          store.createDevice(newDevice({ applicationId: 'other-app' })),
          /registry id "dev-probe-01" already belongs to device "probe-01" of application "farm-sensors"/,
        );
      });

      it('lists devices page by page', async () => {
        for (let i = 0; i < 5; i++) {
          await store.createDevice(newDevice({ id: `d-${i}`, deviceId: `dev-${i}`, bucket: `b-${i}` }));
        }
        const p1 = await store.listDevices({ limit: 2 });
        const p2 = await store.listDevices({ limit: 2, after: p1.next });
        const p3 = await store.listDevices({ limit: 2, after: p2.next });
        assert.deepEqual(
          [...p1.devices, ...p2.devices, ...p3.devices].map((d) => d.id),
          ['d-0', 'd-1', 'd-2', 'd-3', 'd-4'],
        );
        assert.equal(p3.next, undefined);
      });

      it('counts uplinks, lost frames and ignores an exact replay of the latest uplink', async () => {
        await store.createDevice(newDevice());
        await store.recordSighting('dev-probe-01', { at: T0 + 1000, fCnt: 10 });
        await store.recordSighting('dev-probe-01', { at: T0 + 2000, fCnt: 11 });
        const replay = await store.recordSighting('dev-probe-01', { at: T0 + 2000, fCnt: 11 });
        assert.equal(replay?.duplicate, true);
        await store.recordSighting('dev-probe-01', { at: T0 + 3000, fCnt: 15 }); // 12,13,14 lost
        // An older uplink arriving late counts, but does not move the f_cnt reference.
        await store.recordSighting('dev-probe-01', { at: T0 + 2500, fCnt: 13 });
        let d = await store.getDevice('dev-probe-01');
        assert.equal(d?.uplinkCount, 4);
        assert.equal(d?.lastFCnt, 15);
        assert.equal(d?.lostFrames, 3);
        assert.equal(d?.lastSeen, T0 + 3000);
        // A lower f_cnt on a newer uplink is a new session, not a gap.
        await store.recordSighting('dev-probe-01', { at: T0 + 4000, fCnt: 1 });
        d = await store.getDevice('dev-probe-01');
        assert.equal(d?.lastFCnt, 1);
        assert.equal(d?.lostFrames, 3);
      });

      it('does not lose counts when sightings of one device run concurrently', async () => {
        await store.createDevice(newDevice());
        await Promise.all(Array.from({ length: 20 }, (_, i) => store.recordSighting('dev-probe-01', { at: T0 + 1000 + i, fCnt: i + 1 })));
        const d = await store.getDevice('dev-probe-01');
        assert.equal(d?.uplinkCount, 20);
      });

      it('keeps the metadata of the newest uplink', async () => {
        await store.createDevice(newDevice());
        const meta = { gateways: [{ gatewayId: 'gw-1', rssi: -97, snr: 6.25 }], gatewayCount: 1, bestRssi: -97, bestSnr: 6.25, fCnt: 3 };
        await store.recordSighting('dev-probe-01', { at: T0 + 1000, fCnt: 3, metadata: meta });
        await store.recordSighting('dev-probe-01', { at: T0 + 500, fCnt: 2, metadata: { ...meta, fCnt: 2 } });
        assert.deepEqual((await store.getDevice('dev-probe-01'))?.metadata, meta);
      });

      it('replaces a location only with one of equal or better source rank, unless the stored one is stale', async () => {
        await store.createDevice(newDevice());
        const now = Date.now();
        const solved = { latitude: 52.1, longitude: 5.1, source: 'location_solved', at: now };
        const r1 = await store.recordSighting('dev-probe-01', { at: now + 1, location: solved, locationRank: 4 });
        assert.equal(r1?.locationChanged, true);
        const gw = { latitude: 51.9, longitude: 5.6, source: 'gateway', at: now };
        const r2 = await store.recordSighting('dev-probe-01', { at: now + 2, location: gw, locationRank: 1 });
        assert.equal(r2?.locationChanged, false);
        assert.deepEqual((await store.getDevice('dev-probe-01'))?.location, solved);
        const same = await store.recordSighting('dev-probe-01', { at: now + 3, location: { ...solved }, locationRank: 4 });
        assert.equal(same?.locationChanged, false);
        // Stale (older than the 60 s connection timeout): a worse source may replace it.
        await target.sql('UPDATE tts_devices SET location = ? WHERE id = ?', [
          JSON.stringify({ ...solved, at: now - 120_000 }),
          'dev-probe-01',
        ]);
        const r3 = await store.recordSighting('dev-probe-01', { at: now + 4, location: gw, locationRank: 1 });
        assert.equal(r3?.locationChanged, true);
        assert.equal((await store.getDevice('dev-probe-01'))?.location?.source, 'gateway');
      });

      it('marks silent devices offline once, and online again on their next message', async () => {
        const now = Date.now();
        await store.createDevice(newDevice({ at: now - 120_000 }));
        await store.createDevice(newDevice({ id: 'fresh', deviceId: 'fresh-dev', bucket: 'b-fresh', at: now }));
        const offline = await store.markOffline(now);
        assert.deepEqual(
          offline.map((d) => d.id),
          ['dev-probe-01'],
        );
        assert.equal(offline[0].online, false);
        assert.deepEqual(await store.markOffline(now), []);
        const back = await store.recordSighting('dev-probe-01', { at: now + 1, fCnt: 1 });
        assert.equal(back?.cameOnline, true);
        assert.equal(back?.device.online, true);
        const again = await store.recordSighting('dev-probe-01', { at: now + 2, fCnt: 2 });
        assert.equal(again?.cameOnline, false);
      });

      it('reads and sets the downlink property', async () => {
        await store.createDevice(newDevice());
        assert.equal((await store.getDevice('dev-probe-01'))?.downlink, undefined);
        assert.equal(await store.setDownlink('dev-probe-01', { enabled: false, threshold: 20 }), true);
        assert.deepEqual((await store.getDevice('dev-probe-01'))?.downlink, { enabled: false, threshold: 20 });
        assert.equal(await store.setDownlink('nope', 1), false);
        const circular: Record<string, unknown> = {};
        circular.self = circular;
        await assert.rejects(store.setDownlink('dev-probe-01', circular), /downlink cannot be stored as JSON/);
      });
    });

    describe('readings', () => {
      it('writes a burst in batches and stores each uplink once', async () => {
        const writes = [];
        for (let i = 0; i < 2500; i++) {
          writes.push(store.write({ bucket: `b-${i % 3}`, ts: T0 + i, fCnt: i, fPort: 1, data: { i, temperature: 20 + (i % 10) } }));
        }
        // The same uplinks again (a replay): nothing new.
        for (let i = 0; i < 100; i++) writes.push(store.write({ bucket: `b-${i % 3}`, ts: T0 + i, fCnt: i, fPort: 1, data: { i, again: true } }));
        const outcomes = await Promise.all(writes);
        assert.ok(outcomes.every((o) => !o.queued));
        const rows = await target.sql('SELECT count(*) AS n FROM tts_readings');
        assert.equal(Number(rows[0].n), 2500);
        const stats = await store.bucketStats('b-0');
        assert.equal(stats?.rows, 834);
        assert.equal(stats?.first, T0);
      });

      it('keeps readings without a frame counter apart, even at the same time', async () => {
        await Promise.all([store.write({ bucket: 'manual', ts: T0, data: { a: 1 } }), store.write({ bucket: 'manual', ts: T0, data: { a: 2 } })]);
        const page = await store.query({ bucket: 'manual' });
        assert.equal(page.rows.length, 2);
        assert.ok(page.rows.every((r) => r.fCnt === null));
      });

      it('pages through a time range in both orders', async () => {
        await Promise.all(Array.from({ length: 25 }, (_, i) => store.write({ bucket: 'b', ts: T0 + i * 1000, fCnt: i, data: { v: i } })));
        const seen: number[] = [];
        let after;
        for (;;) {
          const page = await store.query({ bucket: 'b', from: T0 + 5000, to: T0 + 20_000, limit: 4, ...(after ? { after } : {}) });
          seen.push(...page.rows.map((r) => r.data.v as number));
          if (!page.next) break;
          after = page.next;
        }
        assert.deepEqual(seen, Array.from({ length: 16 }, (_, i) => i + 5));
        const last3 = await store.query({ bucket: 'b', order: 'desc', limit: 3 });
        assert.deepEqual(
          last3.rows.map((r) => r.data.v),
          [24, 23, 22],
        );
        const next = await store.query({ bucket: 'b', order: 'desc', limit: 3, after: last3.next });
        assert.deepEqual(
          next.rows.map((r) => r.data.v),
          [21, 20, 19],
        );
      });

      it('stores the radio summary beside a reading when given', async () => {
        const radio = { gateways: [{ gatewayId: 'gw', rssi: -90 }], gatewayCount: 1, bestRssi: -90 };
        await store.write({ bucket: 'r', ts: T0, fCnt: 1, fPort: 2, data: { x: 1 }, radio });
        const page = await store.query({ bucket: 'r' });
        assert.deepEqual(page.rows[0], { ts: T0, fCnt: 1, fPort: 2, data: { x: 1 }, radio });
      });

      it('stores a reading built in another realm (a function node runs in its own vm context)', async () => {
        const data = vm.runInNewContext('({ temperature: 21.5, nested: { v: 1 } })') as Record<string, unknown>;
        await store.write({ bucket: 'realm', ts: T0, fCnt: 1, data });
        assert.deepEqual((await store.query({ bucket: 'realm' })).rows[0].data, { temperature: 21.5, nested: { v: 1 } });
        await assert.rejects(store.write({ bucket: 'realm', ts: T0 + 1, data: vm.runInNewContext('new Map()') as Record<string, unknown> }), /must be a JSON object/);
      });

      it('refuses bad readings and queries with clear errors', async () => {
        await assert.rejects(store.write({ bucket: 'b', ts: T0, data: [1, 2] as unknown as Record<string, unknown> }), /must be a JSON object/);
        await assert.rejects(store.write({ bucket: '', ts: T0, data: {} }), /bucket id must be a non-empty string/);
        await assert.rejects(store.write({ bucket: 'b', ts: Number.NaN, data: {} }), /not a valid time/);
        await assert.rejects(store.write({ bucket: 'b', ts: T0, fCnt: -3, data: {} }), /f_cnt/);
        await assert.rejects(store.write({ bucket: 'b', ts: T0, data: { n: BigInt(1) } }), /cannot be stored as JSON/);
        await assert.rejects(store.query({ bucket: 'missing' }), /bucket "missing" does not exist/);
        await store.write({ bucket: 'b', ts: T0, data: {} });
        await assert.rejects(store.query({ bucket: 'b', limit: 0 }), /limit must be/);
        await assert.rejects(store.query({ bucket: 'b', order: 'up' as 'asc' }), /order must be/);
      });

      it('enforces retention by age and by row count, in chunks', async () => {
        const now = T0 + 100_000;
        await Promise.all(Array.from({ length: 100 }, (_, i) => store.write({ bucket: 'aged', ts: T0 + i * 1000, fCnt: i, data: { i } })));
        await Promise.all(Array.from({ length: 100 }, (_, i) => store.write({ bucket: 'counted', ts: T0 + i * 1000, fCnt: i, data: { i } })));
        await store.write({ bucket: 'kept', ts: T0, fCnt: 0, data: {} });
        await store.setRetention('aged', { maxAge: 30_000 });
        await store.setRetention('counted', { maxRows: 10 });
        const small = target.store({ retentionChunk: 7 });
        await small.start();
        const deleted = await small.enforceRetention(now);
        assert.equal(deleted, 70 + 90);
        const aged = await store.query({ bucket: 'aged', limit: 1000 });
        assert.equal(aged.rows.length, 30);
        assert.ok(aged.rows.every((r) => r.ts >= now - 30_000));
        const counted = await store.query({ bucket: 'counted', limit: 1000 });
        assert.deepEqual(
          counted.rows.map((r) => r.data.i),
          [90, 91, 92, 93, 94, 95, 96, 97, 98, 99],
        );
        assert.equal((await store.bucketStats('kept'))?.rows, 1);
        assert.deepEqual((await store.getBucket('counted'))?.retention, { maxRows: 10 });
        await assert.rejects(store.setRetention('aged', { maxAge: -1 }), /whole number/);
      });

      it('keeps bucket row counts exact through replays, readings without f_cnt, retention and reopening', async () => {
        const counted = async (id: string) => Number((await target.sql('SELECT count(*) AS n FROM tts_readings r JOIN tts_buckets b ON b.key = r.bucket WHERE b.id = ?', [id]))[0].n);
        await Promise.all(Array.from({ length: 50 }, (_, i) => store.write({ bucket: 'c', ts: T0 + i * 1000, fCnt: i, data: { i } })));
        await Promise.all(Array.from({ length: 10 }, (_, i) => store.write({ bucket: 'c', ts: T0 + i * 1000, fCnt: i, data: { replay: i } })));
        await Promise.all(Array.from({ length: 5 }, (_, i) => store.write({ bucket: 'c', ts: T0 + 60_000 + i, data: { manual: i } })));
        await store.write({ bucket: 'other', ts: T0, fCnt: 1, data: {} });
        let stats = await store.bucketStats('c');
        assert.equal(stats?.rows, 55);
        assert.equal(stats?.rows, await counted('c'));
        assert.equal(stats?.first, T0);
        assert.equal(stats?.last, T0 + 60_004);
        await store.setRetention('c', { maxRows: 20 });
        assert.equal(await store.enforceRetention(T0 + 100_000), 35);
        assert.equal(await store.enforceRetention(T0 + 100_000), 0, 'nothing more to delete');
        stats = await store.bucketStats('c');
        assert.equal(stats?.rows, 20);
        assert.equal(stats?.rows, await counted('c'));
        assert.equal(stats?.first, T0 + 35_000);
        assert.deepEqual(stats?.retention, { maxRows: 20 });
        // Age and count together: the stricter one wins, in chunks smaller than the excess.
        // Age and count together, in chunks smaller than the excess: age removes 8 (older than
        // T0 + 43 s), the count 2 more.
        await store.setRetention('c', { maxRows: 10, maxAge: 20_000 });
        const small = target.store({ retentionChunk: 3 });
        await small.start();
        assert.equal(await small.enforceRetention(T0 + 63_000), 10);
        stats = await small.bucketStats('c');
        assert.equal(stats?.rows, 10);
        assert.equal(stats?.first, T0 + 45_000);
        assert.equal(await counted('c'), 10);
        assert.equal((await small.bucketStats('other'))?.rows, 1);
        assert.equal(await store.bucketStats('new-empty'), undefined);
        await store.ensureBucket('new-empty');
        const fresh = await store.bucketStats('new-empty');
        assert.equal(fresh?.rows, 0);
        assert.equal(fresh?.first, undefined);
      });

      it('exports a bucket as CSV and as JSON lines, across pages', async () => {
        await store.write({ bucket: 'x', ts: T0, fCnt: 1, fPort: 1, data: { temperature: 21.5, note: 'a,"b"' } });
        await store.write({ bucket: 'x', ts: T0 + 1000, fCnt: 2, fPort: 1, data: { temperature: 22, note: '=cmd', extra: true } });
        const gen = exportBucket(store, 'x', 'csv');
        const csv = await collect(gen);
        assert.equal(
          csv,
          'time,f_cnt,f_port,temperature,note,extra,other\r\n' +
            '2025-03-14T09:00:00.000Z,1,1,21.5,"a,""b""",,\r\n' +
            `2025-03-14T09:00:01.000Z,2,1,22,'=cmd,true,\r\n`,
        );
        const jsonl = await collect(exportBucket(store, 'x', 'jsonl', { from: T0 + 1 }));
        assert.deepEqual(JSON.parse(jsonl.trim()), {
          time: '2025-03-14T09:00:01.000Z',
          f_cnt: 2,
          f_port: 1,
          data: { temperature: 22, note: '=cmd', extra: true },
        });
        // 2,100 rows: three pages; a field first seen on page three lands in `other`.
        await Promise.all(
          Array.from({ length: 2100 }, (_, i) => store.write({ bucket: 'big', ts: T0 + i, fCnt: i, data: i === 2050 ? { i, late: 'yes' } : { i } })),
        );
        const lines = (await collect(exportBucket(store, 'big', 'jsonl'))).trim().split('\n');
        assert.equal(lines.length, 2100);
        assert.equal(JSON.parse(lines[2099]).data.i, 2099);
        const csvLines = (await collect(exportBucket(store, 'big', 'csv'))).trim().split('\r\n');
        assert.equal(csvLines.length, 2101);
        assert.equal(csvLines[0], 'time,f_cnt,f_port,i,other');
        assert.equal(csvLines[2051], '2025-03-14T09:00:02.050Z,2050,,2050,"{""late"":""yes""}"');
      });
    });
  });
}

describe('device rows on PostgreSQL', () => {
  let target: TestTarget;
  let store: TtsStore;

  beforeEach(async () => {
    target = await BACKENDS[1].create();
    store = target.store();
    await store.start();
  });

  afterEach(() => target.cleanup());

  it('are updated in place by sightings (HOT updates: no index entry per flush)', async () => {
    await store.createDevice(newDevice());
    for (let f = 1; f <= 5; f++) await store.recordSighting('dev-probe-01', { at: T0 + f, fCnt: f, location: { latitude: 52, longitude: 5, source: 'gateway', at: T0 + f } });
    // A server process publishes its table statistics at the latest when it exits: close, then
    // wait until all five updates are counted.
    await store.close();
    const stats = async () => (await target.sql("SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE relname = 'tts_devices'"))[0];
    let row = await stats();
    for (const deadline = Date.now() + 20_000; Number(row.upd) < 5 && Date.now() < deadline; row = await stats()) await new Promise((r) => setImmediate(r));
    assert.equal(Number(row.upd), 5);
    assert.equal(Number(row.hot), 5);
  });
});

describe('a flush on PostgreSQL chosen as the victim of a deadlock', () => {
  let target: TestTarget;
  let store: TtsStore;
  let other: Client;

  beforeEach(async () => {
    target = await BACKENDS[1].create();
    store = target.store();
    await store.start();
    other = new Client({ connectionString: target.location });
    await other.connect();
  });

  afterEach(async () => {
    await other.end();
    await target.cleanup();
  });

  it('runs again and commits, the store staying ready', async () => {
    for (const n of ['a', 'b']) await store.createDevice(newDevice({ id: `dev-${n}`, deviceId: `probe-${n}`, bucket: `bkt-${n}` }));
    // Another session (an admin update, another instance's sweep) holds dev-b ...
    await other.query("SET deadlock_timeout = '60s'");
    await other.query('BEGIN');
    await other.query("UPDATE tts_devices SET updated_at = updated_at WHERE id = 'dev-b'");
    // ... while a flush locks dev-a, then waits for dev-b.
    const sightings = Promise.all(['dev-a', 'dev-b'].map((id) => store.recordSighting(id, { at: T0 + 1, fCnt: 1 })));
    const waiting = async () => (await target.sql("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'"))[0].n;
    while (Number(await waiting()) === 0) await new Promise((r) => setImmediate(r));
    // The other session now wants dev-a: a cycle. The flush, waiting longer, is rolled back (40P01).
    await other.query("UPDATE tts_devices SET updated_at = updated_at WHERE id = 'dev-a'");
    await other.query('COMMIT');
    const results = await sightings;
    assert.deepEqual(results.map((r) => r?.device.uplinkCount), [1, 1]);
    assert.equal(store.state.status, 'ready');
  });
});

describe('flushes on PostgreSQL of several instances writing the same devices', () => {
  let target: TestTarget;
  let stores: TtsStore[];
  let other: Client;

  beforeEach(async () => {
    target = await BACKENDS[1].create();
    stores = [target.store(), target.store()];
    await Promise.all(stores.map((s) => s.start()));
    other = new Client({ connectionString: target.location });
    await other.connect();
  });

  afterEach(async () => {
    await other.end();
    await target.cleanup();
  });

  it('count a sighting that another instance committed between a flush reading the device and writing it', async () => {
    const [store] = stores;
    await store.createDevice(newDevice());
    // Another instance's flush counts an uplink of the device and has not committed yet...
    await other.query('BEGIN');
    await other.query("UPDATE tts_devices SET uplink_count = uplink_count + 1, last_f_cnt = 7, last_uplink_at = $1, last_seen = $1 WHERE id = 'dev-probe-01'", [T0 + 700]);
    // ... while this store's flush reads the device (the committed row: no wait) and then waits
    // for the row to write it.
    const sighting = store.recordSighting('dev-probe-01', { at: T0 + 800, fCnt: 8 });
    const reading = store.write({ bucket: 'bkt-probe-01', ts: T0 + 800, fCnt: 8, data: { t: 1 } });
    const waiting = async () => Number((await target.sql("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'"))[0].n);
    while ((await waiting()) === 0) await new Promise((r) => setImmediate(r));
    await other.query('COMMIT');
    const result = await sighting;
    await reading;
    // Both uplinks counted: the flush wrote the device again from the row as the other left it.
    assert.equal(result?.device.uplinkCount, 2);
    assert.equal(result?.device.lastFCnt, 8);
    const [row] = await target.sql("SELECT uplink_count, last_f_cnt, lost_frames FROM tts_devices WHERE id = 'dev-probe-01'");
    assert.deepEqual([Number(row.uplink_count), Number(row.last_f_cnt), Number(row.lost_frames)], [2, 8, 0]);
    assert.equal(Number((await target.sql('SELECT count(*) AS n FROM tts_readings'))[0].n), 1);
    assert.equal(store.state.status, 'ready');
  });

  it('count every sighting once when both write every device in overlapping flushes', async () => {
    const devices = Array.from({ length: 12 }, (_, i) => newDevice({ id: `dev-${i}`, deviceId: `probe-${i}`, bucket: `bkt-${i}` }));
    for (const d of devices) await stores[0].createDevice(d);
    const rounds = 30;
    // Each round both instances see an uplink of every device (f_cnt 2r+1 and 2r+2), all at once.
    const pending: Array<Promise<unknown>> = [];
    for (let r = 0; r < rounds; r++) {
      for (const [k, store] of stores.entries()) {
        for (const d of devices) {
          const fCnt = 2 * r + 1 + k;
          pending.push(store.recordSighting(d.id, { at: T0 + 10 * fCnt, fCnt }));
          pending.push(store.write({ bucket: d.bucket, ts: T0 + 10 * fCnt, fCnt, data: { k } }));
        }
      }
      if (r % 5 === 4) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    const rows = await target.sql('SELECT d.id, d.uplink_count AS n, d.last_f_cnt AS f, (SELECT count(*) FROM tts_readings r JOIN tts_buckets b ON b.key = r.bucket WHERE b.id = d.bucket) AS stored FROM tts_devices d ORDER BY d.id');
    assert.deepEqual(
      rows.map((r) => [r.id, Number(r.n), Number(r.stored), Number(r.f)]),
      devices.map((d) => [d.id, 2 * rounds, 2 * rounds, 2 * rounds]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    assert.ok(stores.every((s) => s.state.status === 'ready'));
  });
});
