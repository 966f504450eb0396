// The SQLite store's worker thread dying under load, in Node-RED (webhook-in → uplink-decode →
// provision → bucket write, durable inbox on): its batch in flight fails as an outage, the bucket node hands its
// messages back to the inbox, the store starts a new thread, and every acknowledged uplink ends
// up stored exactly once.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import decodeModule = require('../../nodes/tts-uplink-decode/tts-uplink-decode');
import type { TtsStoreNode } from '../../nodes/tts-store/types';
import type { SqliteThreadBackend } from '../../src/store/sqlite-thread';
import type { StoreState } from '../../src/store/store';
import { profileNode, webhookInNode } from '../helpers/flows';
import { UplinkFleet, runLoad } from '../helpers/load';
import { EXAMPLE_UPLINK_SCRIPT, describeCheck, sqliteStoredCounts, waitForStored } from '../helpers/pipeline';
import { loadFlow, nodeRedHelper, startServerWithNodeRoutes, unloadFlow } from '../helpers/runtime';
import { MODULES, TOKEN, bucketNode, provisionNode, runtimeSettings, storeNode } from '../helpers/store-flows';

const APPLICATION = 'thread-crash-app';

describe('the SQLite thread dying under load, in Node-RED with the durable inbox', function () {
  this.timeout(120_000);
  let dir: string;

  before(async () => {
    await startServerWithNodeRoutes();
  });
  after(async () => {
    await nodeRedHelper().stopServer();
  });
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tts-thread-crash-'));
    runtimeSettings({ userDir: dir });
  });
  afterEach(async () => {
    await unloadFlow();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('stores every acknowledged uplink exactly once, through a new thread', async () => {
    const prof = profileNode({ applicationId: APPLICATION, devicePrefix: '', bucketPrefix: '', updateLocation: true, saveMetadata: true });
    const store = storeNode({ backend: 'sqlite', path: 'crash.db' });
    const bucket = bucketNode(store.id, { radio: true });
    const prov = provisionNode(store.id, { profile: prof.id, wires: [[bucket.id], []] });
    const decode = { id: 'crash-decode', type: 'tts-uplink-decode', name: '', codec: 'script', script: EXAMPLE_UPLINK_SCRIPT, timeout: '', outputs: 2, wires: [[prov.id], []] };
    const hook = webhookInNode({ profile: prof.id, wires: [[decode.id]] });
    await loadFlow([...MODULES, decodeModule], [prof, store, hook, decode, prov, bucket], { [prof.id]: { webhookToken: TOKEN } });
    const node = nodeRedHelper().getNode(store.id) as unknown as TtsStoreNode;
    const ttsStore = node.store!;
    await ttsStore.start();
    const backend = ttsStore.backend as SqliteThreadBackend;
    assert.ok(backend.thread, 'the store runs in a thread');
    const states: string[] = [];
    ttsStore.on('state', (s: StoreState) => states.push(s.status));

    // Once 300 uplinks are acknowledged, the thread is ended right after the next batch was
    // posted to it: that batch's answer never comes, whether it committed or not. stopThread
    // drops the thread's calls at once, as its exit event does after a crash; a bare terminate()
    // let the thread answer now and then before it stopped (the batch was then no outage).
    let armed = false;
    let killed: Promise<void> | undefined;
    const writeBatch = backend.writeBatch.bind(backend);
    backend.writeBatch = (batch) => {
      const answer = writeBatch(batch);
      if (armed && !killed) killed = backend.stopThread('ended by the test');
      return answer;
    };
    const fleet = new UplinkFleet({ devices: 100, applicationId: APPLICATION, prefix: 'dev-crash' });
    const load = await runLoad({
      urls: [`${nodeRedHelper().url()}/tts`],
      token: TOKEN,
      uplinks: fleet.take(1_500),
      concurrency: 20,
      timeLimitMs: 60_000,
      onAck: (acked) => {
        if (acked >= 300) armed = true;
      },
    });
    assert.ok(killed, 'the thread was ended mid-burst');
    await killed;
    assert.ok(load.acked.length >= 1_000, `${load.acked.length} acknowledged, refused: ${load.refused.map((r) => r.reason).join(', ')}`);
    // The deadline only bounds a failure: it returns as soon as every row is in.
    const check = await waitForStored(() => sqliteStoredCounts(path.join(dir, 'crash.db')), load.acked, 30_000);
    assert.ok(check.missing.length === 0 && check.duplicated.length === 0, describeCheck(check, load.acked.length));
    assert.ok(states.includes('unavailable'), `the lost batch was an outage (states: ${states.join(', ')})`);
    assert.equal(ttsStore.state.status, 'ready');
    assert.ok(backend.started >= 2, `a new thread took over (${backend.started} started)`);
    assert.equal(backend.inProcess, false);
  });
});
