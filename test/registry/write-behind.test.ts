// Device state in memory, written behind with the next flush: what ends up in the database, across
// a restart, with inbox replays, and with two instances sharing one PostgreSQL.
import assert from 'node:assert/strict';
import { parseProfileConfig, type ProfileConfig } from '../../src/profile/profile-settings';
import { DeviceRegistry, type LifecycleEvent } from '../../src/registry/registry';
import { GATEWAY_MOVE_THRESHOLD_M, MOVE_THRESHOLD_M, distanceM, locationMoved } from '../../src/registry/location';
import type { TtsStore } from '../../src/store/store';
import { parseApplicationUp } from '../../src/tts/envelope';
import type { TtsEnvelope } from '../../src/tts/envelope-types';
import { ttsFixture } from '../helpers/tts-fixtures';
import { BACKENDS, type TestTarget } from '../helpers/store-backends';

function profile(config: ProfileConfig = {}) {
  const { settings, errors } = parseProfileConfig('p1', { applicationId: 'farm-sensors', ...config });
  assert.deepEqual(errors, []);
  return settings;
}

const T0 = Date.parse('2025-03-14T09:26:53.512Z');

/** Uplink `fCnt` of device `n`, received at T0 + ms; `gps` adds a payload position. */
function uplink(n: number, fCnt: number, ms: number, gps?: { latitude: number; longitude: number }, replay = false): TtsEnvelope {
  const body = ttsFixture('uplink_message');
  body.end_device_ids.device_id = `dev-${n}`;
  body.uplink_message.f_cnt = fCnt;
  body.received_at = new Date(T0 + ms).toISOString();
  if (gps) body.uplink_message.locations['frm-payload'] = { ...gps, source: 'SOURCE_GPS' };
  const envelope = parseApplicationUp(body);
  if (replay) (envelope as TtsEnvelope & { replay?: boolean }).replay = true;
  return envelope;
}

const names = (events: LifecycleEvent[]): string[] => events.map((e) => e.event);

describe('location moves', () => {
  it('count only past the threshold of their kind, or when the kind of source changes', () => {
    const at = 1;
    const here = { latitude: 52.0, longitude: 5.0, source: 'frm-payload', at };
    const near = { latitude: 52.0 + 0.0005, longitude: 5.0, source: 'frm-payload', at }; // ~56 m
    const far = { latitude: 52.0 + 0.002, longitude: 5.0, source: 'frm-payload', at }; // ~222 m
    assert.ok(distanceM(here, near) < MOVE_THRESHOLD_M);
    assert.equal(locationMoved(here, near), false);
    assert.equal(locationMoved(here, far), true);
    assert.equal(locationMoved(here, { ...near, source: 'user' }), true);
    // A fix reporting 300 m accuracy needs a larger move.
    assert.equal(locationMoved(here, { ...far, accuracy: 300 }), false);
    // Gateway-derived positions: one or several gateways are one kind, and swing with signal strength.
    const gw = { latitude: 51.9871, longitude: 5.6652, source: 'gateway', at };
    const centroid = { latitude: 51.9702, longitude: 5.6841, source: 'gateways', at };
    assert.ok(distanceM(gw, centroid) < GATEWAY_MOVE_THRESHOLD_M);
    assert.equal(locationMoved(gw, centroid), false);
    assert.equal(locationMoved(gw, { ...gw, latitude: 52.1 }), true);
    assert.equal(locationMoved(gw, here), true);
  });
});

for (const kind of BACKENDS) {
  describe(`device state written behind on ${kind.name}`, () => {
    let target: TestTarget;
    let store: TtsStore;
    let registry: DeviceRegistry;

    beforeEach(async () => {
      target = await kind.create();
      store = target.store();
      await store.start();
      registry = new DeviceRegistry(store, { sweepInterval: 1e9 });
    });

    afterEach(async () => {
      await registry.close();
      await target.cleanup();
    });

    it('answers from memory at once and commits last seen, f_cnt, gaps, location and metadata with the next flush, across a restart', async () => {
      const p = profile();
      // A burst: three devices, interleaved, none awaited before the next is accepted.
      const accepted = [];
      for (let f = 1; f <= 4; f++) {
        for (let n = 0; n < 3; n++) {
          const fCnt = n === 2 && f === 4 ? 6 : f; // device 2 misses f_cnt 4 and 5
          accepted.push(await registry.accept(uplink(n, fCnt, f * 1000 + n, { latitude: 52 + n + f * 0.01, longitude: 5 }), p, T0 + 10_000));
        }
      }
      // msg.device for the last message of device 0 already carries this uplink's state.
      assert.equal(accepted[9].device?.uplinkCount, 4);
      assert.equal(accepted[9].device?.lastFCnt, 4);
      assert.equal(accepted[9].device?.metadata?.fCnt, 4);
      const events = (await Promise.all(accepted.map((a) => a.committed))).flat();
      // Created once each; every uplink moved the device more than the threshold (~1.1 km).
      assert.deepEqual(names(events).filter((e) => e === 'created'), ['created', 'created', 'created']);
      assert.equal(names(events).filter((e) => e === 'location').length, 12);
      const rows = await target.sql('SELECT id, uplink_count, last_f_cnt, last_seen, lost_frames, location, metadata FROM tts_devices ORDER BY id');
      assert.equal(rows.length, 3);
      for (const [n, row] of rows.entries()) {
        assert.equal(row.id, `dev-${n}`);
        assert.equal(Number(row.uplink_count), 4);
        assert.equal(Number(row.last_f_cnt), n === 2 ? 6 : 4);
        assert.equal(Number(row.lost_frames), n === 2 ? 2 : 0);
        assert.equal(Number(row.last_seen), T0 + 4000 + n);
        const location = typeof row.location === 'string' ? JSON.parse(row.location) : row.location;
        assert.equal(location.latitude, 52 + n + 0.04);
        assert.equal(location.source, 'frm-payload');
        const metadata = typeof row.metadata === 'string' ? JSON.parse(row.metadata) : row.metadata;
        assert.equal(metadata.fCnt, n === 2 ? 6 : 4);
      }

      // Restart: a new store and registry load the state on first sight of each device.
      await registry.close();
      await store.close();
      store = target.store();
      await store.start();
      registry = new DeviceRegistry(store, { sweepInterval: 1e9 });
      // The inbox replays the last two uplinks of device 0 (committed before the "crash"): not counted, no events.
      const replays = [await registry.accept(uplink(0, 3, 3000, undefined, true), p, T0 + 20_000), await registry.accept(uplink(0, 4, 4000, undefined, true), p, T0 + 20_000)];
      assert.equal(replays[1].device?.uplinkCount, 4);
      assert.deepEqual((await Promise.all(replays.map((r) => r.committed))).flat(), []);
      // A new uplink continues the count, with the location unmoved (no event) within the threshold.
      const next = await registry.accept(uplink(0, 5, 5000, { latitude: 52.0401, longitude: 5 }), p, T0 + 20_000);
      assert.deepEqual(await next.committed, []);
      const [row] = await target.sql('SELECT uplink_count, last_f_cnt, lost_frames, location FROM tts_devices WHERE id = ?', ['dev-0']);
      assert.equal(Number(row.uplink_count), 5);
      assert.equal(Number(row.last_f_cnt), 5);
      assert.equal(Number(row.lost_frames), 0);
      const location = typeof row.location === 'string' ? JSON.parse(row.location) : row.location;
      assert.equal(location.latitude, 52.04);
      assert.equal(location.at, T0 + 5000);
    });

    it('commits a creation, its later sightings and the readings accepted with them together', async () => {
      const p = profile();
      const a = await registry.accept(uplink(7, 1, 0), p, T0 + 1000);
      const write = store.write({ bucket: 'dev-7', ts: T0, fCnt: 1, data: { t: 1 } });
      const b = await registry.accept(uplink(7, 2, 10), p, T0 + 1000);
      assert.equal(b.created, false); // known from memory: the second message does not create again
      await Promise.all([a.committed, write, b.committed]);
      const [row] = await target.sql('SELECT uplink_count FROM tts_devices WHERE id = ?', ['dev-7']);
      assert.equal(Number(row.uplink_count), 2);
      assert.equal((await store.bucketStats('dev-7'))?.rows, 1);
    });

    it('fails only the write whose data the store refuses, and stores the rest of the batch', async () => {
      // A rule of the database (a trigger here) refuses readings on port 99.
      if (kind.name === 'sqlite') {
        await target.sql(`CREATE TRIGGER refuse_99 BEFORE INSERT ON tts_readings WHEN NEW.f_port = 99
          BEGIN SELECT RAISE(ABORT, 'port 99 is refused'); END`);
      } else {
        await target.sql(`CREATE FUNCTION refuse_99() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN IF NEW.f_port = 99 THEN RAISE EXCEPTION 'port 99 is refused' USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$`);
        await target.sql('CREATE TRIGGER refuse_99 BEFORE INSERT ON tts_readings FOR EACH ROW EXECUTE FUNCTION refuse_99()');
      }
      const p = profile();
      const device = await registry.accept(uplink(1, 1, 0), p, T0 + 1000);
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => store.write({ bucket: 'b', ts: T0 + i, fCnt: i, fPort: i === 13 ? 99 : 1, data: { i } })),
      );
      const refused = results.flatMap((r, i) => (r.status === 'rejected' ? [{ i, reason: String(r.reason) }] : []));
      assert.deepEqual(
        refused.map((r) => r.i),
        [13],
      );
      assert.match(refused[0].reason, /StoreDataError: the store refused it: .*port 99 is refused/);
      assert.deepEqual(names(await device.committed), ['created', 'location']);
      const page = await store.query({ bucket: 'b', limit: 100 });
      assert.deepEqual(
        page.rows.map((r) => r.data.i),
        Array.from({ length: 20 }, (_, i) => i).filter((i) => i !== 13),
      );
      // The store stays ready: nothing was taken for an outage.
      assert.equal(store.state.status, 'ready');
    });
  });
}

describe('two instances on one PostgreSQL, each with its device state in memory', () => {
  let target: TestTarget;
  let stores: TtsStore[];
  let registries: DeviceRegistry[];

  beforeEach(async () => {
    target = await BACKENDS[1].create();
    stores = [target.store(), target.store()];
    await Promise.all(stores.map((s) => s.start()));
    registries = stores.map((s) => new DeviceRegistry(s, { sweepInterval: 1e9 }));
  });

  afterEach(async () => {
    await Promise.all(registries.map((r) => r.close()));
    await target.cleanup();
  });

  it('count every uplink once, keep the newest f_cnt and last seen, and report a device back online exactly once', async () => {
    const p = profile({ connectionTimeout: 1 });
    // Both instances know the device (cached), then it goes silent and one sweeper marks it offline.
    for (const [i, r] of registries.entries()) await (await r.accept(uplink(1, 1 + i, i), p, T0 + 1000)).committed;
    const swept = await Promise.all(registries.map((r) => r.sweep(T0 + 10 * 60_000)));
    assert.equal(swept.flat().length, 1);
    // Uplinks of the device reach both instances, interleaved, in the same moment.
    const accepted = [];
    for (let f = 3; f <= 12; f++) accepted.push(await registries[f % 2].accept(uplink(1, f, 11 * 60_000 + f), p, T0 + 12 * 60_000));
    const events = (await Promise.all(accepted.map((a) => a.committed))).flat();
    assert.deepEqual(names(events), ['online']);
    const [row] = await target.sql('SELECT uplink_count, last_f_cnt, last_seen, online FROM tts_devices');
    assert.equal(Number(row.uplink_count), 12);
    assert.equal(Number(row.last_f_cnt), 12);
    assert.equal(Number(row.last_seen), T0 + 11 * 60_000 + 12);
    assert.equal(row.online, true);
  });

  it('create a device seen by both at once a single time, with one created event', async () => {
    const p = profile();
    const accepted = await Promise.all(registries.map((r, i) => r.accept(uplink(5, 1, 0), p, T0 + 1000 + i)));
    assert.ok(accepted.every((a) => a.created && a.device?.id === 'dev-5'));
    const events = (await Promise.all(accepted.map((a) => a.committed))).flat();
    assert.deepEqual(names(events), ['created', 'location']);
    const [row] = await target.sql('SELECT count(*) AS n, max(uplink_count) AS c FROM tts_devices');
    assert.equal(Number(row.n), 1);
    // The same uplink (same f_cnt and time) reached both: counted once.
    assert.equal(Number(row.c), 1);
  });

  it('create devices that both see first, in opposite orders, in one flush each without a deadlock', async () => {
    const p = profile();
    const devices = Array.from({ length: 8 }, (_, i) => 20 + i);
    // Each instance's flush holds all of its new devices; their transactions run at the same time.
    const accepted = await Promise.all(
      registries.map((r, i) => Promise.all((i === 0 ? devices : [...devices].reverse()).map((n) => r.accept(uplink(n, 1, n), p, T0 + 1000)))),
    );
    const settled = await Promise.allSettled(accepted.flat().map((a) => a.committed));
    assert.deepEqual(
      settled.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason)),
      [],
    );
    const events = settled.flatMap((s) => (s as PromiseFulfilledResult<LifecycleEvent[]>).value);
    assert.equal(events.filter((e) => e.event === 'created').length, devices.length);
    assert.ok(stores.every((s) => s.state.status === 'ready'));
    const [row] = await target.sql('SELECT count(*) AS n, sum(uplink_count) AS c FROM tts_devices');
    assert.equal(Number(row.n), devices.length);
    assert.equal(Number(row.c), devices.length);
  });
});
