import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a core node file (plain JS, no types)
const injectModule = require('@node-red/nodes/core/common/20-inject.js') as (RED: unknown) => void;
import { TtsSimulator } from '../../src/sim';
import { webhookInNode, type FlowNode } from '../helpers/flows';
import { REPO_ROOT } from '../helpers/node-red-process';
import { loadFlow, nodeRedHelper, startServerWithNodeRoutes, unloadFlow } from '../helpers/runtime';
import { API_KEY, collector, MODULES, registryOf, TOKEN, useTestSettings } from '../helpers/downlink-flows';

describe('examples/3 · Send downlinks.json', () => {
  let sim: TtsSimulator;
  let settings: { cleanup(): void };

  before(async () => {
    settings = useTestSettings();
    await startServerWithNodeRoutes();
    sim = new TtsSimulator({ apiKey: API_KEY, devices: 3, webhook: { url: `${nodeRedHelper().url()}/tts`, token: TOKEN }, timing: { sentDelayMs: 10, answerDelayMs: 10 } });
    await sim.start();
  });
  after(async () => {
    await unloadFlow();
    await sim.stop();
    await nodeRedHelper().stopServer();
    settings.cleanup();
  });

  it('sends what each inject describes and reports the outcomes', async () => {
    const flow = JSON.parse(readFileSync(join(REPO_ROOT, 'examples', '3 · Send downlinks.json'), 'utf8')) as FlowNode[];
    for (const node of flow) {
      if (node.type === 'tts-profile') node.server = sim.url; // the example expects the simulator on :1881
      if (node.type === 'debug') Object.assign(node, { type: 'helper' });
    }
    const profile = flow.find((n) => n.type === 'tts-profile')!;
    const store = flow.find((n) => n.type === 'tts-store')!;
    store.path = 'example-03.db';
    // Tab 1's webhook endpoint, through which the downlink events come back.
    const hook = webhookInNode({ profile: profile.id, wires: [[]] });
    await loadFlow([...MODULES, injectModule], [...flow, hook], { [profile.id]: { webhookToken: TOKEN, apiKey: API_KEY }, [store.id]: {} });
    await registryOf(store.id).store.createDevice({
      id: 'sim-device-02', applicationId: 'sim-app', deviceId: 'sim-device-02', bucket: 'sim-device-02', profileId: profile.id,
      assetType: '', assetGroup: '', connectionTimeout: 300_000, downlink: { enabled: true, frequency: 10, threshold: 20 }, at: Date.now(),
    });
    const accepted = collector(nodeRedHelper().getNode('tts-example-dl-debug-accepted'));
    const outcomes = collector(nodeRedHelper().getNode('tts-example-dl-debug-outcome'));

    const expected: Array<[string, string, Record<string, unknown>]> = [
      ['tts-example-dl-inject-config', 'sim-device-01', { frm_payload: Buffer.from([1, 30, 25]).toString('base64'), f_port: 1 }],
      ['tts-example-dl-inject-stored', 'sim-device-02', { frm_payload: 'AQoU', f_port: 1 }],
      ['tts-example-dl-inject-lpp', 'sim-device-03', { frm_payload: Buffer.from([1, 0x08, 0x66]).toString('base64'), f_port: 2, confirmed: true, priority: 'HIGH' }],
    ];
    for (const [injectId, deviceId, item] of expected) {
      const request = sim.waitForDownlinkRequest((r) => r.deviceId === deviceId);
      nodeRedHelper().getNode(injectId).receive({});
      const sent = ((await request).body as { downlinks: Array<Record<string, unknown>> }).downlinks[0];
      for (const [key, value] of Object.entries(item)) assert.deepEqual(sent[key], value, `${injectId}: ${key}`);
    }
    await accepted.count(3);
    const finals = await Promise.all(['sim-device-01', 'sim-device-02', 'sim-device-03'].map((d) => outcomes.until((m) => m.payload.deviceId === d && m.payload.final)));
    assert.deepEqual(finals.map((m) => m.payload.event), ['sent', 'sent', 'ack']);
    assert.deepEqual(await registryOf(store.id).getDownlink('sim-device-01'), undefined, 'device 1 is not in the store: nothing stored');
  });
});
