import { strict as assert } from 'node:assert';
// Node-RED's own change node: deletes msg.payload so the device's stored downlink is sent.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a core node file (plain JS, no types)
const changeModule = require('@node-red/nodes/core/function/15-change.js') as (RED: unknown) => void;
import type { TtsSimulator } from '../../src/sim';
import { APP, collector, CONFIG, downlinkNode, MODULES, registryOf, SECRETS, spiedText, startSimulator, TOKEN, API_KEY, useTestSettings } from '../helpers/downlink-flows';
import { helperNode, profileNode, uid, webhookInNode, type FlowNode } from '../helpers/flows';
import { loadFlow, nodeRedHelper, startServerWithNodeRoutes, unloadFlow } from '../helpers/runtime';

describe('flow: simulator uplink → webhook-in → provision → downlink → simulator → events → outcome', () => {
  let sim: TtsSimulator;
  let settings: { cleanup(): void };

  before(async () => {
    settings = useTestSettings();
    await startServerWithNodeRoutes();
  });
  after(async () => {
    await nodeRedHelper().stopServer();
    settings.cleanup();
  });
  beforeEach(async () => {
    sim = await startSimulator();
  });
  afterEach(async () => {
    await unloadFlow();
    await sim.stop();
  });

  it("answers each uplink with the device's stored configuration and reports TTS's ack", async () => {
    sim.setDownlinkOutcome('ack');
    const profile = profileNode({
      applicationId: APP,
      server: sim.url,
      webhookId: 'node-red',
      devicePrefix: 'farm-',
      initDownlink: true,
      downlinkData: JSON.stringify(CONFIG),
      confirmed: true,
      priority: 'HIGH',
      fPort: '5',
    });
    const store = { id: uid('store'), type: 'tts-store', name: '', backend: 'sqlite', path: `${uid('flow')}.db` } as FlowNode;
    const accepted = helperNode();
    const outcomes = helperNode();
    const lifecycle = helperNode();
    const downlink = downlinkNode({ profile: profile.id, store: store.id, wires: [[accepted.id], [outcomes.id]] });
    const strip = {
      id: uid('change'),
      type: 'change',
      name: 'send stored config',
      rules: [{ t: 'delete', p: 'payload', pt: 'msg' }],
      wires: [[downlink.id]],
    } as FlowNode;
    const provision = { id: uid('provision'), type: 'tts-provision', name: '', profile: profile.id, store: store.id, wires: [[strip.id], [lifecycle.id]] } as FlowNode;
    // by-type routing: only uplinks (output 1) go on to provision; downlink events (output 3)
    // reach the downlink node through the message bus, not through this wire.
    const hook = webhookInNode({ profile: profile.id, routing: 'by-type', wires: [[provision.id], [], [], [], []] });
    await loadFlow([...MODULES, changeModule], [profile, store, hook, provision, strip, downlink, accepted, outcomes, lifecycle], {
      [profile.id]: { webhookToken: TOKEN, apiKey: API_KEY },
      [store.id]: {},
    });
    const acceptedMsgs = collector(nodeRedHelper().getNode(accepted.id));
    const outcomeMsgs = collector(nodeRedHelper().getNode(outcomes.id));
    const created = collector(nodeRedHelper().getNode(lifecycle.id));

    const request = sim.waitForDownlinkRequest();
    await sim.sendUplink('valve-01');
    const req = await request;
    const [out] = await acceptedMsgs.count(1);
    const ack = await outcomeMsgs.until((m) => m.payload.final);

    // Provisioning created the device with the profile's initial downlink data …
    assert.equal((await created.count(1))[0].payload.event, 'created');
    const device = await registryOf(store.id).getDevice('farm-valve-01');
    assert.deepEqual(device?.downlink, CONFIG);
    // … the downlink node encoded that stored property and queued it with the profile's settings …
    assert.equal(req.deviceId, 'valve-01');
    assert.deepEqual((req.body as { downlinks: unknown[] }).downlinks[0], {
      f_port: 5,
      frm_payload: 'AQoU',
      priority: 'HIGH',
      confirmed: true,
      correlation_ids: [out.downlink.correlationId],
    });
    assert.equal(out.downlink.data, 'stored');
    assert.equal(out.downlink.device, 'farm-valve-01');
    // … at the address and with the key TTS sent in that uplink's X-Downlink-* headers …
    assert.equal(out.downlink.endpoint, 'webhook-headers');
    assert.equal(req.apiKeyId, 'DOWNLINKKEYID001');
    // … and the events TTS posted back through webhook-in ended in an ack on the second output.
    assert.deepEqual(outcomeMsgs.seen.map((m) => m.payload.event), ['queued', 'sent', 'ack']);
    assert.equal(ack._msgid, out._msgid);
    assert.equal(ack.payload.device, 'farm-valve-01');
    assert.equal(ack.tts.type, 'downlink_ack');
    assert.ok(ack.payload.timeline.queued <= ack.payload.timeline.sent && ack.payload.timeline.sent <= ack.payload.timeline.ack);

    // A flow changes the stored property; the next uplink carries the new configuration.
    await registryOf(store.id).setDownlink('farm-valve-01', { enabled: false, frequency: 30, threshold: 5 });
    const second = sim.waitForDownlinkRequest();
    await sim.sendUplink('valve-01');
    assert.equal(((await second).body as { downlinks: Array<{ frm_payload: string }> }).downlinks[0].frm_payload, Buffer.from([0, 30, 5]).toString('base64'));
    await outcomeMsgs.until((m) => m.payload.final && m.payload.correlationId !== ack.payload.correlationId);

    const text = JSON.stringify([...acceptedMsgs.seen, ...outcomeMsgs.seen]) + spiedText(nodeRedHelper().getNode(downlink.id));
    for (const secret of SECRETS) assert.ok(!text.includes(secret), 'no key in messages, status or logs');
  });
});
