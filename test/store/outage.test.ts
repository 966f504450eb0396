// PostgreSQL stopped (`pg_ctl stop -m fast`: every connection ends with "terminating connection due
// to administrator command") and started again while readings and device sightings are being
// written. Nothing may crash the process (mocha fails the test on an uncaught exception), every
// write that resolved must be in the database, and every write that was refused must succeed when
// fed again (as the inbox does) without duplicates.
import assert from 'node:assert/strict';
import { Client } from 'pg';
import { parseProfileConfig } from '../../src/profile/profile-settings';
import { DeviceRegistry } from '../../src/registry/registry';
import { isPassingStoreError } from '../../src/store/errors';
import { PostgresBackend } from '../../src/store/postgres-backend';
import { TtsStore, type StoreState } from '../../src/store/store';
import { parseApplicationUp } from '../../src/tts/envelope';
import { ttsFixture } from '../helpers/tts-fixtures';
import { startThrowawayServer, type ThrowawayServer } from '../helpers/postgres';

const T0 = Date.parse('2025-03-14T09:00:00.000Z');
const DEVICES = 20;

function nextState(store: TtsStore, status: StoreState['status']): Promise<void> {
  if (store.state.status === status) return Promise.resolve();
  return new Promise((resolve) => {
    const on = (s: StoreState) => {
      if (s.status !== status) return;
      store.off('state', on);
      resolve();
    };
    store.on('state', on);
  });
}

describe('PostgreSQL stopped and started under write load', function () {
  this.timeout(180_000);
  let server: ThrowawayServer;

  before(async () => {
    server = await startThrowawayServer();
  });
  after(async () => {
    await server?.stop();
  });

  it('refuses a device read while the server is down as unavailable (the message goes back to its inbox), before the store noticed', async () => {
    const admin = new Client({ connectionString: server.adminUrl });
    await admin.connect();
    await admin.query('CREATE DATABASE outage_read');
    await admin.end();
    const url = server.adminUrl.replace(/\/postgres$/, '/outage_read');
    const store = new TtsStore(new PostgresBackend(url), { retryMin: 20, retryMax: 200, retentionInterval: 0 });
    await store.start();
    try {
      await store.createDevice({ id: 'dev-a', applicationId: 'farm-sensors', deviceId: 'a', bucket: 'bkt-a', profileId: 'p', assetType: 's', assetGroup: 'g', connectionTimeout: 60_000, at: T0 });
      await server.halt();
      assert.equal(store.state.status, 'ready'); // no write failed yet
      for (const read of [() => store.loadDevice('farm-sensors', 'b'), () => store.getDevice('dev-a'), () => store.findDevice('farm-sensors', 'a')]) {
        await assert.rejects(read(), (err: unknown) => isPassingStoreError(err));
      }
    } finally {
      await server.resume();
      await store.close();
    }
  });

  it('never crashes, refuses what it cannot commit, and loses nothing it acknowledged', async () => {
    const admin = new Client({ connectionString: server.adminUrl });
    await admin.connect();
    await admin.query('CREATE DATABASE outage');
    await admin.end();
    const url = server.adminUrl.replace(/\/postgres$/, '/outage');
    const store = new TtsStore(new PostgresBackend(url), { retryMin: 20, retryMax: 200, retentionInterval: 0 });
    await store.start();
    const registry = new DeviceRegistry(store, { sweepInterval: 1e9 });
    const { settings: profile } = parseProfileConfig('p', { applicationId: 'farm-sensors' });

    const acked = new Set<number>();
    const refused: number[] = [];
    const inFlight = new Set<Promise<void>>();
    let sightingsAcked = 0;
    let sightingsRefused = 0;
    let next = 0;
    let running = true;
    const reading = (n: number) => store.write({ bucket: `b-${n % DEVICES}`, ts: T0 + n, fCnt: n, data: { n } });
    const uplink = (n: number) => {
      const body = ttsFixture('uplink_message');
      body.end_device_ids.device_id = `dev-${n % DEVICES}`;
      body.uplink_message.f_cnt = n;
      body.received_at = new Date(T0 + n).toISOString();
      return parseApplicationUp(body);
    };
    const track = (p: Promise<void>) => {
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    };
    const failedAsExpected = (err: unknown) => {
      if (!isPassingStoreError(err)) throw err;
    };
    // A flow's worth of load: at most 200 writes in flight, paused while the store refuses (the
    // inbox holds messages then and feeds them again later).
    const producer = (async () => {
      while (running) {
        if (store.refusal !== undefined) {
          await nextState(store, 'ready');
          continue;
        }
        const n = next++;
        track(
          reading(n).then(
            () => void acked.add(n),
            (err: unknown) => {
              failedAsExpected(err);
              refused.push(n);
            },
          ),
        );
        if (n % 5 === 0) {
          track(
            registry
              .accept(uplink(n), profile, T0 + 10_000_000)
              .then((a) => a.committed)
              .then(
                () => void sightingsAcked++,
                (err: unknown) => {
                  failedAsExpected(err);
                  sightingsRefused++;
                },
              ),
          );
        }
        if (inFlight.size >= 200) await Promise.race(inFlight);
      }
    })();

    const until = async (condition: () => boolean): Promise<void> => {
      while (!condition()) await Promise.race([...inFlight, new Promise((r) => setImmediate(r))]);
    };
    await until(() => acked.size >= 1000);
    const down = nextState(store, 'unavailable');
    await server.halt();
    await down;
    const ackedBefore = acked.size;
    const back = nextState(store, 'ready');
    await server.resume();
    await back;
    await until(() => acked.size >= ackedBefore + 1000);
    running = false;
    await producer;
    await Promise.all(inFlight);

    // The outage was really met mid-load.
    assert.ok(refused.length > 0, 'no write was refused: the server stopped while nothing was in flight');
    // Fed again, as the inbox does: all of them commit now.
    await Promise.all(refused.map((n) => reading(n)));
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      const r = await c.query<{ n: string; d: string }>('SELECT count(*) AS n, count(DISTINCT (data->>\'n\')) AS d FROM tts_readings');
      assert.equal(Number(r.rows[0].n), next);
      assert.equal(Number(r.rows[0].d), next); // every acknowledged and every refused reading, once
      const devices = await c.query<{ total: string }>('SELECT sum(uplink_count) AS total FROM tts_devices');
      // Every acknowledged sighting is counted; a refused one may have committed with a dropped COMMIT, never more.
      const total = Number(devices.rows[0].total);
      assert.ok(total >= sightingsAcked && total <= sightingsAcked + sightingsRefused, `${total} sightings for ${sightingsAcked} acknowledged`);
    } finally {
      await c.end();
    }
    await registry.close();
    await store.close();
  });
});
