import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QueueFullError, StoreUnavailableError } from '../../src/store/errors';
import { LATEST_VERSION } from '../../src/store/migrations';
import { PostgresBackend } from '../../src/store/postgres-backend';
import { SqliteBackend } from '../../src/store/sqlite-backend';
import { TtsStore, type StoreState } from '../../src/store/store';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres';
import { BACKENDS } from '../helpers/store-backends';
import { TcpProxy } from '../helpers/tcp-proxy';

const T0 = Date.UTC(2025, 2, 14, 9, 0, 0);

function waitForState(store: TtsStore, status: StoreState['status']): Promise<StoreState> {
  if (store.state.status === status) return Promise.resolve(store.state);
  return new Promise((resolve) => {
    const on = (state: StoreState) => {
      if (state.status !== status) return;
      store.off('state', on);
      resolve(state);
    };
    store.on('state', on);
  });
}

describe('store migrations: upgrade from every earlier version', () => {
  for (const kind of BACKENDS) {
    for (let from = 0; from < LATEST_VERSION; from++) {
      it(`${kind.name}: version ${from} → ${LATEST_VERSION} keeps devices, buckets and readings`, async () => {
        const target = await kind.create();
        try {
          const old = target.backend();
          await old.open(from);
          assert.equal(await old.schemaVersion(), from);
          await old.close();
          if (from >= 1) {
            await target.sql('INSERT INTO tts_buckets (id, device, created_at) VALUES (?, ?, ?)', ['b1', 'd1', T0]);
            await target.sql(
              `INSERT INTO tts_devices (id, application_id, device_id, bucket, connection_timeout, created_at, updated_at, last_seen, uplink_count, last_f_cnt, downlink)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
              ['d1', 'app-one', 'dev-one', 'b1', 60_000, T0, T0, T0 + 5, 7, 41, '{"enabled":true}'],
            );
            const [bucket] = await target.sql('SELECT key FROM tts_buckets WHERE id = ?', ['b1']);
            await target.sql('INSERT INTO tts_readings (bucket, ts, f_cnt, f_port, data) VALUES (?, ?, ?, ?, ?)', [
              Number(bucket.key),
              T0,
              41,
              1,
              '{"t":1}',
            ]);
            // From version 4 SQLite keeps row counts beside the buckets: a raw insert keeps them too.
            if (kind.name === 'sqlite' && from >= 4) await target.sql('UPDATE tts_buckets SET row_count = row_count + 1 WHERE key = ?', [Number(bucket.key)]);
          }
          const store = target.store();
          await store.start();
          assert.equal(await store.backend.schemaVersion(), LATEST_VERSION);
          if (from >= 1) {
            const d = await store.getDevice('d1');
            assert.equal(d?.uplinkCount, 7);
            assert.equal(d?.online, true);
            assert.equal(d?.lostFrames, 0);
            assert.deepEqual(d?.downlink, { enabled: true });
            // The upgraded device keeps counting gaps from its last f_cnt.
            const r = await store.recordSighting('d1', { at: T0 + 10, fCnt: 44 });
            assert.equal(r?.device.lostFrames, 2);
            const page = await store.query({ bucket: 'b1' });
            assert.deepEqual(page.rows, [{ ts: T0, fCnt: 41, fPort: 1, data: { t: 1 } }]);
            // Rows written before the upgrade are counted.
            assert.equal((await store.bucketStats('b1'))?.rows, 1);
            await store.write({ bucket: 'b1', ts: T0 + 1, fCnt: 42, data: { t: 2 } });
            assert.equal((await store.bucketStats('b1'))?.rows, 2);
          }
          await store.setRetention('b1', { maxRows: 5 });
          assert.deepEqual((await store.getBucket('b1'))?.retention, { maxRows: 5 });
        } finally {
          await target.cleanup();
        }
      });
    }
  }
});

describe('store unreachable', () => {
  it('sqlite: refuses writes at once while the file cannot be opened (callers hand them back), writes again once it can', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tts-unreach-'));
    const file = path.join(root, 'not-yet', 'store.db');
    const store = new TtsStore(new SqliteBackend(file), { maxQueue: 3, retryMin: 20, retryMax: 50, retentionInterval: 0 });
    try {
      await assert.rejects(store.start(), /store unavailable: .*(directory|open)/i);
      assert.equal(store.state.status, 'unavailable');
      assert.match(store.refusal ?? '', /directory|open/i);
      const results = await Promise.allSettled([1, 2, 3].map((i) => store.write({ bucket: 'b', ts: T0 + i, fCnt: i, data: { i } })));
      assert.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof StoreUnavailableError));
      await assert.rejects(store.writeDevice({ id: 'd', sighting: { at: T0 } }), StoreUnavailableError);
      const ready = waitForState(store, 'ready');
      fs.mkdirSync(path.dirname(file));
      await ready;
      assert.equal(store.refusal, undefined);
      // Handed back and fed again: now they are committed before they resolve.
      await Promise.all([1, 2, 3].map((i) => store.write({ bucket: 'b', ts: T0 + i, fCnt: i, data: { i } })));
      const page = await store.query({ bucket: 'b' });
      assert.deepEqual(
        page.rows.map((r) => r.data.i),
        [1, 2, 3],
      );
    } finally {
      await store.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses writes made while the first connection attempt is still running once it fails', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tts-unreach-'));
    const store = new TtsStore(new SqliteBackend(path.join(root, 'missing', 'x.db')), { retryMin: 20, retentionInterval: 0 });
    try {
      const started = store.start().catch((err: Error) => err);
      const outcome = store.write({ bucket: 'b', ts: T0, fCnt: 1, data: { i: 1 } });
      await assert.rejects(outcome, StoreUnavailableError);
      assert.match(String(await started), /store unavailable/);
    } finally {
      await store.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  describe('postgres', () => {
    let db: TestDatabase;
    let proxy: TcpProxy;
    let store: TtsStore;

    beforeEach(async () => {
      db = await createTestDatabase();
      const url = new URL(db.url);
      proxy = new TcpProxy(url.hostname, Number(url.port));
      await proxy.start();
      url.port = String(proxy.port);
      store = new TtsStore(new PostgresBackend(url.toString()), { maxQueue: 50, retryMin: 20, retryMax: 100, retentionInterval: 0 });
    });

    afterEach(async () => {
      await proxy.restore().catch(() => undefined);
      await store.close();
      await proxy.cut();
      await db.drop();
    });

    it('resolves a write only once committed, refuses writes while the server is unreachable, and writes again when it is back', async () => {
      await store.start();
      assert.deepEqual(await store.write({ bucket: 'b', ts: T0, fCnt: 0, data: { i: 0 } }), { queued: false });
      await proxy.cut();
      const down = waitForState(store, 'unavailable');
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => store.write({ bucket: 'b', ts: T0 + i + 1, fCnt: i + 1, data: { i: i + 1 } })));
      // Either refused at once or failed with its transaction: never resolved without a commit.
      assert.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof StoreUnavailableError));
      const state = await down;
      assert.equal(state.status, 'unavailable');
      assert.doesNotMatch(JSON.stringify(state), /postgres:\/\/postgres@/);
      await assert.rejects(store.getDevice('x'), /store unavailable|connect|terminat/i);
      const back = waitForState(store, 'ready');
      await proxy.restore();
      await back;
      await Promise.all(Array.from({ length: 10 }, (_, i) => store.write({ bucket: 'b', ts: T0 + i + 1, fCnt: i + 1, data: { i: i + 1 } })));
      const page = await store.query({ bucket: 'b', limit: 100 });
      assert.equal(page.rows.length, 11);
    });

    it('errors, never drops silently, when the queue is full', async () => {
      await store.start();
      const results = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => store.write({ bucket: 'b', ts: T0 + i, fCnt: i, data: { i } })));
      const refused = results.filter((r) => r.status === 'rejected');
      assert.equal(refused.length, 10);
      assert.ok(refused.every((r) => (r as PromiseRejectedResult).reason instanceof QueueFullError));
      assert.equal((await store.query({ bucket: 'b', limit: 100 })).rows.length, 50);
    });
  });
});
