import { strict as assert } from 'node:assert';
import type { TtsStoreNode } from '../../nodes/tts-store/types';
import { TtsSimulator } from '../../src/sim';
import { helperNode, profileNode, webhookInNode } from '../helpers/flows';
import { loadFlow, nodeRedHelper, startServerWithNodeRoutes, unloadFlow, waitForCall, type TestNode } from '../helpers/runtime';
import { MODULES, STORE_TARGETS, TOKEN, bucketNode, provisionNode, type StoreTarget } from '../helpers/store-flows';

const APP = 'backfill-farm';

/** Collects what a helper node receives from now on. */
function collect(node: TestNode): Array<Record<string, any>> {
  const seen: Array<Record<string, any>> = [];
  node.on('input', (msg: Record<string, any>) => seen.push(msg));
  return seen;
}

function until(condition: () => boolean, what: string): Promise<void> {
  if (condition()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      clearInterval(poll);
      reject(new Error(`timed out waiting for ${what}`));
    }, 15_000);
    const poll = setInterval(() => {
      if (!condition()) return;
      clearInterval(poll);
      clearTimeout(deadline);
      resolve();
    }, 10);
  });
}

describe('backfill end to end: webhook-in → tts-provision → tts-bucket, Node-RED stopped while TTS keeps sending', function () {
  this.timeout(60_000);
  let target: StoreTarget;
  let sim: TtsSimulator;

  before(async function () {
    await startServerWithNodeRoutes();
  });
  after(async function () {
    await nodeRedHelper().stopServer();
  });
  beforeEach(async function () {
    target = await STORE_TARGETS[0].create();
    sim = new TtsSimulator({
      applicationId: APP,
      devices: [
        { deviceId: 'probe-a', payload: 'tts-decoded' },
        { deviceId: 'probe-b', payload: 'tts-decoded' },
      ],
      webhook: { url: `${nodeRedHelper().url()}/tts`, token: TOKEN, messageTypes: ['uplink_message'] },
      storageIntegration: true,
    });
    await sim.start();
  });
  afterEach(async function () {
    await unloadFlow();
    await sim.stop();
    await target.cleanup();
  });

  /** The same flow every start, as Node-RED reloads flows.json. */
  let s: ReturnType<StoreTarget['node']>;
  beforeEach(function () {
    s = target.node();
  });
  async function start() {
    const profile = profileNode({ id: 'farm-profile', applicationId: APP, server: sim.url, backfill: true, backfillMaxHours: '24' });
    const out = helperNode('stored-out');
    const seen = helperNode('webhook-out');
    const bucket = bucketNode(s.def.id, { id: 'farm-bucket', wires: [[out.id]] });
    const prov = provisionNode(s.def.id, { id: 'farm-provision', wires: [[bucket.id], []] });
    const hook = webhookInNode({ id: 'farm-hook', wires: [[prov.id, seen.id]] });
    await loadFlow(MODULES, [profile, s.def, hook, prov, bucket, out, seen], { [profile.id]: { webhookToken: TOKEN, apiKey: sim.apiKey }, [s.def.id]: s.creds });
    const h = nodeRedHelper();
    return { profile: h.getNode(profile.id), out: collect(h.getNode(out.id)), seen: collect(h.getNode(seen.id)), storeNode: h.getNode(s.def.id) as unknown as TtsStoreNode };
  }

  it('fills the gap in the bucket exactly once, each gap uplink marked as a replay', async function () {
    let run = await start();
    for (let i = 0; i < 4; i++) {
      const [post] = await sim.sendUplink();
      assert.equal(post.status, 200);
    }
    await until(() => run.out.length === 4, 'the live uplinks stored');
    await unloadFlow(); // Node-RED stops

    const lost: string[] = [];
    for (let i = 0; i < 6; i++) {
      const [post] = await sim.sendUplink();
      assert.ok(!post.ok, 'TTS cannot deliver while Node-RED is down');
      lost.push(post.body.correlation_ids![0]);
    }

    run = await start(); // Node-RED starts again
    await waitForCall(run.profile, 'log', (args) => String(args[0]).includes('tts-profile.backfill.finished'));
    await until(() => run.out.length === 6, 'the gap stored');
    const replays = run.seen.filter((m) => m.tts.replay === true);
    assert.deepEqual(replays.map((m) => m.tts.correlation_ids[0]).sort(), [...lost].sort(), 'each lost uplink fed once');

    const [live] = await sim.sendUplink();
    assert.equal(live.status, 200);
    await until(() => run.out.length === 7, 'a live uplink after the restart');
    assert.notEqual(run.seen.at(-1)!.tts.replay, true);

    for (const device of ['probe-a', 'probe-b']) {
      const page = await run.storeNode.store!.query({ bucket: device });
      const counters = page.rows.map((r) => r.fCnt);
      assert.equal(new Set(counters).size, counters.length, `${device}: no reading twice`);
    }
    const total = (await run.storeNode.store!.query({ bucket: 'probe-a' })).rows.length + (await run.storeNode.store!.query({ bucket: 'probe-b' })).rows.length;
    assert.equal(total, 11, 'every uplink TTS received is in the buckets once: 4 live, 6 backfilled, 1 live');
    assert.equal(run.seen.length, 7, 'nothing reached the flow twice');
  });
});
