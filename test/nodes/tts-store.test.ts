import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import type { TtsStoreNode } from '../../nodes/tts-store/types';
import { sqliteThreadsRunning, type SqliteThreadBackend } from '../../src/store/sqlite-thread';
import type { StoreState } from '../../src/store/store';
import { catchNode, helperNode } from '../helpers/flows';
import { loadFlow, nodeRedHelper, unloadFlow } from '../helpers/runtime';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres';
import { MODULES, bucketNode, messages, provisionNode, runtimeSettings, storeNode } from '../helpers/store-flows';
import os from 'node:os';

function stateOf(node: TtsStoreNode, status: StoreState['status']): Promise<void> {
  const store = node.store!;
  if (store.state.status === status) return Promise.resolve();
  return new Promise((resolve) => {
    const on = (s: StoreState) => {
      if (s.status === status) {
        store.off('state', on);
        resolve();
      }
    };
    store.on('state', on);
  });
}

describe('tts-store config node', () => {
  let dir: string;
  let db: TestDatabase | undefined;

  before(async () => {
    await nodeRedHelper().startServer();
  });
  after(async () => {
    await nodeRedHelper().stopServer();
  });
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tts-store-node-'));
    runtimeSettings({ userDir: dir });
  });
  afterEach(async () => {
    await unloadFlow();
    fs.rmSync(dir, { recursive: true, force: true });
    await db?.drop();
    db = undefined;
  });

  it('sqlite: creates tts-data.db in the user directory by default and closes it on redeploy', async () => {
    const store = storeNode({ backend: 'sqlite', path: '' });
    await loadFlow(MODULES, [store]);
    const node = nodeRedHelper().getNode(store.id) as unknown as TtsStoreNode;
    await stateOf(node, 'ready');
    const file = path.join(dir, 'tts-data.db');
    assert.ok(fs.existsSync(file));
    await node.store!.write({ bucket: 'b', ts: 1, data: { a: 1 } });
    await unloadFlow();
    assert.equal(node.store!.state.status, 'closed');
    // Closed cleanly: the WAL was checkpointed and removed.
    assert.equal(fs.existsSync(`${file}-wal`), false);
  });

  it('sqlite: runs its store in one worker thread, ended by a full redeploy and by removing the node', async () => {
    const store = storeNode({ backend: 'sqlite', path: '' });
    await loadFlow(MODULES, [store]);
    const first = nodeRedHelper().getNode(store.id) as unknown as TtsStoreNode;
    await stateOf(first, 'ready');
    const backend = first.store!.backend as SqliteThreadBackend;
    const thread = backend.thread;
    assert.ok(thread, 'the store runs in a thread');
    assert.equal(sqliteThreadsRunning(), 1);
    const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));

    await nodeRedHelper().setFlows([store], 'full');
    await exited;
    const second = nodeRedHelper().getNode(store.id) as unknown as TtsStoreNode;
    assert.notEqual(second.store, first.store);
    await stateOf(second, 'ready');
    await second.store!.write({ bucket: 'b', ts: 1, data: { a: 1 } });
    assert.equal(sqliteThreadsRunning(), 1, 'the old store\'s thread ended with it');

    await nodeRedHelper().setFlows([], 'full');
    assert.equal(second.store!.state.status, 'closed');
    assert.equal(sqliteThreadsRunning(), 0, 'no thread outlives its store');
  });

  it('postgres: ends its pool on close (no connection left on the server)', async () => {
    db = await createTestDatabase();
    const store = storeNode({ backend: 'postgres' });
    await loadFlow(MODULES, [store], { [store.id]: { connection: db.url } });
    const node = nodeRedHelper().getNode(store.id) as unknown as TtsStoreNode;
    await stateOf(node, 'ready');
    await node.store!.write({ bucket: 'b', ts: 1, data: { a: 1 } });
    const count = async (): Promise<number> => {
      const c = new Client({ connectionString: db!.url });
      await c.connect();
      try {
        const r = await c.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db!.name]);
        return r.rows[0].n as number;
      } finally {
        await c.end();
      }
    };
    assert.ok((await count()) >= 1);
    await unloadFlow();
    assert.equal(await count(), 0);
  });

  it('a postgres store without a connection URL is a clear error for the nodes that use it', async () => {
    const store = storeNode({ backend: 'postgres' });
    const errors = helperNode();
    const prov = provisionNode(store.id);
    const bucket = bucketNode(store.id, { bucket: 'b' });
    await loadFlow(MODULES, [store, prov, bucket, errors, catchNode([[errors.id]])]);
    const h = nodeRedHelper();
    const node = h.getNode(store.id) as unknown as TtsStoreNode;
    assert.equal(node.store, undefined);
    assert.match(node.configError ?? '', /postgres:\/\/ URL/);
    const caught = messages(h.getNode(errors.id), 2);
    h.getNode(prov.id).receive({ payload: {} });
    h.getNode(bucket.id).receive({ payload: {} });
    const [a, b] = await caught;
    assert.match(a.error.message, /no-store/);
    assert.match(b.error.message, /no-store/);
  });

  it('never shows the connection password in its state or errors', async () => {
    const store = storeNode({ backend: 'postgres' });
    await loadFlow(MODULES, [store], { [store.id]: { connection: 'postgres://app:Sup3rSecret@127.0.0.1:1/db' } });
    const node = nodeRedHelper().getNode(store.id) as unknown as TtsStoreNode;
    await stateOf(node, 'unavailable');
    assert.doesNotMatch(JSON.stringify(node.store!.state), /Sup3rSecret/);
    await assert.rejects(node.store!.getDevice('x'), (err: Error) => !/Sup3rSecret/.test(err.message));
  });
});
