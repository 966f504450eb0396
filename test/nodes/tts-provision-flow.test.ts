import { strict as assert } from 'node:assert';
import type { TtsStoreNode } from '../../nodes/tts-store/types';
import type { ProfileConfig } from '../../src/profile/profile-settings';
import { ttsFixture } from '../helpers/tts-fixtures';
import { catchNode, helperNode, profileNode, webhookInNode } from '../helpers/flows';
import { loadFlow, nodeRedHelper, startServerWithNodeRoutes, unloadFlow, waitForCall } from '../helpers/runtime';
import { MODULES, STORE_TARGETS, TOKEN, bucketNode, messages, post, provisionNode, type StoreTarget } from '../helpers/store-flows';

function uplinkBody(edit: (b: Record<string, any>) => void = () => undefined): Record<string, any> {
  const body = ttsFixture('uplink_message');
  body.received_at = new Date().toISOString();
  edit(body);
  return body;
}

for (const kind of STORE_TARGETS) {
  describe(`webhook-in → tts-provision → tts-bucket on ${kind.name}`, () => {
    let target: StoreTarget;

    before(async () => {
      await startServerWithNodeRoutes();
    });
    after(async () => {
      await nodeRedHelper().stopServer();
    });
    beforeEach(async () => {
      target = await kind.create();
    });
    afterEach(async () => {
      await unloadFlow();
      await target.cleanup();
    });

    /** webhook-in → provision → bucket(write) → out; provision's second output → events. */
    async function load(profile: ProfileConfig, options: { bucket?: boolean } = {}) {
      const store = target.node();
      const out = helperNode();
      const events = helperNode();
      const errors = helperNode();
      const prof = profileNode({ applicationId: 'farm-sensors', ...profile });
      const bucket = bucketNode(store.def.id, { wires: [[out.id]], radio: true });
      const prov = provisionNode(store.def.id, { wires: [[options.bucket === false ? out.id : bucket.id], [events.id]] });
      const hook = webhookInNode({ wires: [[prov.id]] });
      const flow = [prof, store.def, hook, prov, bucket, out, events, errors, catchNode([[errors.id]])];
      await loadFlow(MODULES, flow, { [prof.id]: { webhookToken: TOKEN }, [store.def.id]: store.creds });
      const h = nodeRedHelper();
      const storeNode = h.getNode(store.def.id) as unknown as TtsStoreNode;
      return {
        out: h.getNode(out.id),
        events: h.getNode(events.id),
        errors: h.getNode(errors.id),
        prov: h.getNode(prov.id),
        bucket: h.getNode(bucket.id),
        storeNode,
      };
    }

    it('creates device and bucket with the profile’s settings and stores the reading with its radio summary', async () => {
      const { out, events, storeNode } = await load({
        devicePrefix: 'dev-',
        bucketPrefix: 'bkt-',
        assetType: 'climate',
        assetGroup: 'barn',
        initDownlink: true,
        downlinkData: '{"enabled":true,"frequency":10,"threshold":20}',
      });
      const got = messages(out, 1);
      const evs = messages(events, 2);
      assert.equal(await post('/tts', uplinkBody()), 200);
      const [msg] = await got;
      assert.equal(msg.device.id, 'dev-eui-70b3d57ed005a1b2');
      assert.equal(msg.bucket, 'bkt-eui-70b3d57ed005a1b2');
      assert.equal(msg.device.assetType, 'climate');
      assert.equal(msg.device.assetGroup, 'barn');
      assert.equal(msg.device.devEui, '70B3D57ED005A1B2');
      assert.deepEqual(msg.device.downlink, { enabled: true, frequency: 10, threshold: 20 });
      assert.equal(msg.device.metadata.gatewayCount, 2);
      assert.equal(msg.device.metadata.dataRate, 'SF7BW125');
      assert.equal(msg.device.location.source, 'user');
      assert.equal(msg.device.uplinkCount, 1);
      assert.equal(msg.stored.bucket, 'bkt-eui-70b3d57ed005a1b2');
      assert.equal(msg.stored.queued, false);
      const [created, location] = await evs;
      assert.equal(created.topic, 'farm-sensors/eui-70b3d57ed005a1b2/created');
      assert.equal(created.payload.event, 'created');
      assert.equal(location.payload.event, 'location');
      assert.equal(location.payload.location.latitude, 52.374);
      const page = await storeNode.store!.query({ bucket: 'bkt-eui-70b3d57ed005a1b2' });
      assert.equal(page.rows.length, 1);
      assert.deepEqual(page.rows[0].data, { temperature: 24.12, humidity: 59.04 });
      assert.equal(page.rows[0].fCnt, 1337);
      assert.equal(page.rows[0].fPort, 2);
      assert.equal(page.rows[0].radio?.bestRssi, -87);
    });

    it('stores a duplicate uplink once and counts it once', async () => {
      const { out, storeNode } = await load({});
      const got = messages(out, 2);
      const body = uplinkBody();
      assert.equal(await post('/tts', body), 200);
      assert.equal(await post('/tts', body), 200);
      const [, second] = await got;
      assert.equal(second.device.uplinkCount, 1);
      const stats = await storeNode.store!.bucketStats('eui-70b3d57ed005a1b2');
      assert.equal(stats?.rows, 1);
    });

    it('with auto provision off, passes unknown devices on without msg.device and counts them', async () => {
      const { out, prov, storeNode } = await load({ autoProvision: false }, { bucket: false });
      const got = messages(out, 1);
      assert.equal(await post('/tts', uplinkBody()), 200);
      const [msg] = await got;
      assert.equal(msg.device, undefined);
      assert.equal(msg.bucket, undefined);
      await waitForCall(prov, 'status', (args) => (args[0] as { text?: string }).text === 'tts-provision.status.counts');
      assert.equal((await storeNode.store!.listDevices()).devices.length, 0);
    });

    it('takes the location from location_solved, payload, registry or gateways, with the source recorded', async () => {
      const { out, events } = await load({}, { bucket: false });
      const evs = messages(events, 4);
      // One at a time: webhook-in answers before provisioning finishes.
      const sources: string[] = [];
      const send = async (body: Record<string, any>) => {
        const got = messages(out, 1);
        assert.equal(await post('/tts', body), 200);
        sources.push((await got)[0].device.location.source);
      };
      await send(uplinkBody((b) => delete b.uplink_message.locations));
      await send(
        uplinkBody((b) => {
          b.uplink_message.f_cnt = 1338;
          b.uplink_message.locations['frm-payload'] = { latitude: 52.41, longitude: 4.91, source: 'SOURCE_GPS' };
        }),
      );
      const solved = ttsFixture('location_solved');
      solved.received_at = new Date().toISOString();
      await send(solved);
      assert.deepEqual(sources, ['gateways', 'frm-payload', 'location_solved']);
      const seen = await evs;
      assert.deepEqual(
        seen.map((e) => e.payload.event),
        ['created', 'location', 'location', 'location'],
      );
    });

    it('without update location or save metadata, keeps neither', async () => {
      const { out } = await load({ updateLocation: false, saveMetadata: false }, { bucket: false });
      const got = messages(out, 1);
      assert.equal(await post('/tts', uplinkBody()), 200);
      const [msg] = await got;
      assert.equal(msg.device.location, undefined);
      assert.equal(msg.device.metadata, undefined);
      assert.equal(msg.device.downlink, undefined);
    });

    it('reports a device offline after its connection timeout and online on its next uplink', async () => {
      const { events } = await load({ connectionTimeout: 1 }, { bucket: false });
      const evs = messages(events, 3);
      // Last heard two minutes ago with a one-minute timeout: the sweeper finds it silent.
      const old = uplinkBody((b) => (b.received_at = new Date(Date.now() - 120_000).toISOString()));
      assert.equal(await post('/tts', old), 200);
      const [created, , offline] = await evs;
      assert.equal(created.payload.event, 'created');
      assert.equal(offline.payload.event, 'offline');
      assert.equal(offline.topic, 'farm-sensors/eui-70b3d57ed005a1b2/offline');
      assert.equal(offline.device.online, false);
      const back = messages(events, 1);
      assert.equal(await post('/tts', uplinkBody((b) => (b.uplink_message.f_cnt = 1338))), 200);
      const [online] = await back;
      assert.equal(online.payload.event, 'online');
      assert.equal(online.device.online, true);
    });

    it('errors clearly on a message without msg.tts and on a payload that is not an object', async () => {
      const { errors, prov, bucket } = await load({});
      const caught = messages(errors, 1);
      prov.receive({ payload: {} });
      const [err] = await caught;
      assert.match(err.error.message, /tts-provision.errors.no-envelope/);
      const caught2 = messages(errors, 1);
      bucket.receive({ payload: 'not an object', bucket: 'b1' });
      const [err2] = await caught2;
      assert.match(err2.error.message, /must be a JSON object/);
    });
  });
}

describe('two Node-RED instances on one PostgreSQL', () => {
  let target: StoreTarget;
  before(async () => {
    await startServerWithNodeRoutes();
  });
  after(async () => {
    await nodeRedHelper().stopServer();
  });
  beforeEach(async () => {
    target = await STORE_TARGETS[1].create();
  });
  afterEach(async () => {
    await unloadFlow();
    await target.cleanup();
  });

  it('provision the same new device at the same moment: one device, one bucket, one created event', async () => {
    // Two store config nodes = two pools = two independent instances of the store.
    const a = target.node();
    const b = target.node();
    const outA = helperNode();
    const outB = helperNode();
    const events = helperNode();
    const prof = profileNode({ applicationId: 'farm-sensors', devicePrefix: 'd-', bucketPrefix: 'b-' });
    const provA = provisionNode(a.def.id, { wires: [[outA.id], [events.id]] });
    const provB = provisionNode(b.def.id, { wires: [[outB.id], [events.id]] });
    const hook = webhookInNode({ wires: [[provA.id, provB.id]] });
    await loadFlow(MODULES, [prof, a.def, b.def, hook, provA, provB, outA, outB, events], {
      [prof.id]: { webhookToken: TOKEN },
      [a.def.id]: a.creds,
      [b.def.id]: b.creds,
    });
    const h = nodeRedHelper();
    const storeA = h.getNode(a.def.id) as unknown as TtsStoreNode;
    const storeB = h.getNode(b.def.id) as unknown as TtsStoreNode;
    assert.notEqual(storeA.store, storeB.store);
    const gotA = messages(h.getNode(outA.id), 5);
    const gotB = messages(h.getNode(outB.id), 5);
    const createdEvents: string[] = [];
    h.getNode(events.id).on('input', (m: any) => createdEvents.push(m.payload.event));
    const bodies = Array.from({ length: 5 }, (_, i) =>
      uplinkBody((body) => {
        body.end_device_ids.device_id = `new-device-${i}`;
      }),
    );
    const created = messages(h.getNode(events.id), 5);
    const statuses = await Promise.all(bodies.map((body) => post('/tts', body)));
    assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
    const [ma, mb] = await Promise.all([gotA, gotB]);
    // Messages go on from memory; the device rows and the events follow with the commits.
    await created;
    await Promise.all([storeA.store!.flush(), storeB.store!.flush()]);
    for (let i = 0; i < 5; i++) {
      const fromA = ma.find((m) => m.device.deviceId === `new-device-${i}`);
      const fromB = mb.find((m) => m.device.deviceId === `new-device-${i}`);
      assert.equal(fromA.device.id, fromB.device.id);
      assert.equal(fromA.bucket, `b-new-device-${i}`);
    }
    const devices = (await storeA.store!.listDevices()).devices;
    assert.equal(devices.length, 5);
    const buckets = await storeB.store!.listBuckets();
    assert.equal(buckets.length, 5);
    assert.equal(createdEvents.filter((e) => e === 'created').length, 5);
    // Each device's uplink was seen by both instances and counted once.
    assert.ok(devices.every((d) => d.uplinkCount === 1));
  });
});
