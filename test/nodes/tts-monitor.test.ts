// The sidebar's admin routes in a real Node-RED runtime fed by the simulator: devices, buckets,
// chart series, the event log, editing the `downlink` property (which makes a tts-downlink with
// "On change" send it), permissions checked with a stub RED, and no secret in any answer.
import { strict as assert } from 'node:assert';
import type { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import bucketModule = require('../../nodes/tts-bucket/tts-bucket');
import decodeModule = require('../../nodes/tts-uplink-decode/tts-uplink-decode');
import monitorModule = require('../../nodes/tts-monitor/tts-monitor');
import type { TtsSimulator } from '../../src/sim';
import { eventLog, type LogEvent } from '../../src/monitor/event-log';
import { adminRoutesOf } from '../helpers/admin-routes';
import { helperNode, profileNode, uid, webhookInNode, type FlowNode } from '../helpers/flows';
import { loadFlow, nodeRedHelper, startServerWithNodeRoutes, unloadFlow } from '../helpers/runtime';
import { API_KEY, APP, CONFIG, MODULES, SECRETS, TOKEN, collector, downlinkNode, startSimulator, useTestSettings } from '../helpers/downlink-flows';

const WRONG_TOKEN = 'not-the-token-of-any-profile-123456';
// Node-RED's runtime events: what RED.comms.publish emits, and the editors' connections coming and going.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- Node-RED's util is plain JS
const runtimeEvents = (require('@node-red/util') as { events: EventEmitter }).events;

function waitForLog(match: (e: LogEvent) => boolean): Promise<LogEvent> {
  const seen = eventLog.list().find(match);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve) => {
    const listener = (e: LogEvent): void => {
      if (!match(e)) return;
      eventLog.off('event', listener);
      resolve(e);
    };
    eventLog.on('event', listener);
  });
}

describe('monitor: live updates over Node-RED comms', function () {
  this.timeout(60_000);
  const LOG_TOPIC = 'tts-monitor/log';
  let settings: { cleanup(): void };
  let profileId: string;

  before(async () => {
    settings = useTestSettings();
    await startServerWithNodeRoutes();
    const profile = profileNode({ name: 'Live', applicationId: APP });
    profileId = profile.id;
    await loadFlow([...MODULES, monitorModule], [profile, webhookInNode({ profile: profile.id })], { [profile.id]: { webhookToken: TOKEN } });
  });

  after(async () => {
    await unloadFlow();
    await nodeRedHelper().stopServer();
    settings?.cleanup();
  });

  /** A refused webhook: one log event, returned once logged. */
  async function refusedWebhook(): Promise<LogEvent> {
    const after = eventLog.list({ profile: profileId }).reduce((max, e) => Math.max(max, e.seq), 0);
    const res = await fetch(`${nodeRedHelper().url()}/tts`, { method: 'POST', headers: { authorization: `Bearer ${WRONG_TOKEN}`, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 401);
    return waitForLog((e) => e.seq > after && e.outcome === 'refused' && e.profile === profileId);
  }

  /** An editor's comms connection, open once the runtime counts it. */
  async function connectEditor(): Promise<WebSocket> {
    const added = new Promise((resolve) => runtimeEvents.once('comms:connection-added', resolve));
    const ws = new WebSocket(`${nodeRedHelper().url().replace(/^http/, 'ws')}/comms`);
    await added;
    return ws;
  }

  function nextLogBatch(ws: WebSocket): Promise<LogEvent[]> {
    return new Promise((resolve) => {
      const onMessage = (raw: WebSocket.Data): void => {
        const found = (JSON.parse(String(raw)) as Array<{ topic: string; data: { events: LogEvent[] } }>).find((m) => m.topic === LOG_TOPIC);
        if (!found) return;
        ws.off('message', onMessage);
        resolve(found.data.events);
      };
      ws.on('message', onMessage);
    });
  }

  it('keeps and publishes nothing while no editor is connected; a connected editor gets what happens from then on', async () => {
    const published: LogEvent[][] = [];
    const onComms = (m: { topic: string; data: { events: LogEvent[] } }): void => {
      if (m.topic === LOG_TOPIC) published.push(m.data.events);
    };
    runtimeEvents.on('comms', onComms);
    try {
      await refusedWebhook(); // nobody listening
      let ws = await connectEditor();
      let batch = nextLogBatch(ws);
      let seen = await refusedWebhook();
      // The first batch published at all is the connected editor's, with only what it saw happen.
      assert.deepEqual((await batch).map((e) => e.seq), [seen.seq]);
      assert.deepEqual(published.map((events) => events.map((e) => e.seq)), [[seen.seq]]);

      const removed = new Promise((resolve) => runtimeEvents.once('comms:connection-removed', resolve));
      ws.close();
      await removed;
      await refusedWebhook(); // the last editor has gone: nobody listening again
      ws = await connectEditor();
      batch = nextLogBatch(ws);
      seen = await refusedWebhook();
      assert.deepEqual((await batch).map((e) => e.seq), [seen.seq]);
      assert.equal(published.length, 2);
      assert.deepEqual(published[1].map((e) => e.seq), [seen.seq]);
      ws.close();
    } finally {
      runtimeEvents.off('comms', onComms);
    }
  });
});

describe('monitor: sidebar admin routes', function () {
  this.timeout(60_000);

  it('guards every route: reads with tts-monitor.read, the downlink property change with tts-monitor.write', () => {
    const { routes } = adminRoutesOf(monitorModule);
    assert.deepEqual(routes.sort((a, b) => a.route.localeCompare(b.route)), [
      { route: 'get /tts/monitor/log', permission: 'tts-monitor.read' },
      { route: 'get /tts/monitor/overview', permission: 'tts-monitor.read' },
      { route: 'get /tts/monitor/stores/:store/buckets', permission: 'tts-monitor.read' },
      { route: 'get /tts/monitor/stores/:store/buckets/:bucket/chart', permission: 'tts-monitor.read' },
      { route: 'get /tts/monitor/stores/:store/buckets/:bucket/rows', permission: 'tts-monitor.read' },
      { route: 'get /tts/monitor/stores/:store/devices', permission: 'tts-monitor.read' },
      { route: 'get /tts/monitor/stores/:store/devices/:id', permission: 'tts-monitor.read' },
      { route: 'put /tts/monitor/stores/:store/devices/:id/downlink', permission: 'tts-monitor.write' },
    ]);
  });

  describe('against the simulator', () => {
    let sim: TtsSimulator;
    let settings: { cleanup(): void };
    let storeId: string;
    let profileId: string;
    let downlinkId: string;
    let outcomes: ReturnType<typeof collector<{ payload: { event: string; deviceId: string } }>>;
    const answers: string[] = [];

    async function get(path: string, status = 200): Promise<any> {
      const res = await nodeRedHelper().request().get(path);
      answers.push(res.text);
      assert.equal(res.status, status, `${path}: ${res.text}`);
      return res.body;
    }

    before(async () => {
      settings = useTestSettings();
      await startServerWithNodeRoutes();
      sim = await startSimulator({
        devices: [
          { deviceId: 'valve-01', payload: 'cayenne-lpp', spreadingFactor: 7 },
          { deviceId: 'valve-02', payload: 'cayenne-lpp', spreadingFactor: 7 },
        ],
      });
      const profile = profileNode({ name: 'Farm', applicationId: APP, server: sim.url, webhookId: 'node-red', initDownlink: true, downlinkData: JSON.stringify(CONFIG), confirmed: true });
      profileId = profile.id;
      storeId = uid('store');
      const store = { id: storeId, type: 'tts-store', name: 'farm store', backend: 'sqlite', path: `${uid('monitor')}.db` } as FlowNode;
      const out = helperNode();
      const outcomeNode = helperNode();
      const bucket = { id: uid('bucket'), type: 'tts-bucket', name: '', store: storeId, mode: 'write', wires: [[out.id]] } as FlowNode;
      const provision = { id: uid('provision'), type: 'tts-provision', name: '', profile: profile.id, store: storeId, wires: [[bucket.id], []] } as FlowNode;
      const decode = { id: uid('decode'), type: 'tts-uplink-decode', name: '', codec: 'cayennelpp', script: '', wires: [[provision.id], []] } as FlowNode;
      const hook = webhookInNode({ profile: profile.id, routing: 'by-type', wires: [[decode.id], [], [], [], []] });
      const downlink = downlinkNode({ profile: profile.id, store: storeId, device: `${APP}/valve-01`, onPropertyChange: true, wires: [[], [outcomeNode.id]] });
      downlinkId = downlink.id;
      await loadFlow([...MODULES, decodeModule, bucketModule, monitorModule], [profile, store, hook, decode, provision, bucket, out, downlink, outcomeNode], {
        [profile.id]: { webhookToken: TOKEN, apiKey: API_KEY },
        [storeId]: {},
      });
      outcomes = collector(nodeRedHelper().getNode(outcomeNode.id));
      const stored = collector(nodeRedHelper().getNode(out.id));
      for (let round = 0; round < 3; round++) {
        for (const device of sim.deviceIds()) {
          const results = await sim.sendUplink(device);
          for (const r of results) assert.equal(r.status, 200, `${r.type}: ${r.status ?? r.error}`);
        }
      }
      await stored.count(6);
    });

    after(async () => {
      await unloadFlow();
      await sim?.stop();
      await nodeRedHelper().stopServer();
      settings?.cleanup();
    });

    it('overview: the deployed store and profile, described without credentials', async () => {
      const overview = await get('/tts/monitor/overview');
      const store = overview.stores.find((s: { id: string }) => s.id === storeId);
      assert.deepEqual(store, { id: storeId, name: 'farm store', backend: 'sqlite', status: 'ready' });
      assert.deepEqual(overview.profiles.find((p: { id: string }) => p.id === profileId), { id: profileId, name: 'Farm', applicationId: APP });
      assert.deepEqual(overview.logKinds, ['webhook', 'provision', 'decode', 'downlink']);
    });

    it('devices: online state, last seen, location with its source, latest reading and signal', async () => {
      const { devices, more } = await get(`/tts/monitor/stores/${storeId}/devices`);
      assert.equal(more, false);
      assert.deepEqual(devices.map((d: { deviceId: string }) => d.deviceId).sort(), ['valve-01', 'valve-02']);
      for (const d of devices) {
        assert.equal(d.applicationId, APP);
        assert.equal(d.online, true);
        assert.ok(Date.now() - d.lastSeen < 60_000, `last seen ${d.lastSeen}`);
        assert.equal(d.uplinkCount, 3);
        assert.equal(typeof d.location.latitude, 'number');
        assert.equal(typeof d.location.source, 'string');
        assert.equal(typeof d.latest.data.temperature_1, 'number');
        assert.equal(typeof d.signal.bestRssi, 'number');
        assert.ok(d.signal.gatewayCount >= 1);
      }
      const detail = await get(`/tts/monitor/stores/${storeId}/devices/${encodeURIComponent(devices[0].id)}`);
      assert.deepEqual(detail.device.downlink, CONFIG);
      assert.equal(detail.device.bucket, devices[0].bucket);
      await get(`/tts/monitor/stores/${storeId}/devices/no-such-device`, 404);
      await get('/tts/monitor/stores/no-such-store/devices', 404);
    });

    it('buckets: row counts, newest rows first, a chart series of one field over a range', async () => {
      const { buckets } = await get(`/tts/monitor/stores/${storeId}/buckets`);
      assert.deepEqual(buckets.map((b: { id: string; rows: number }) => [b.id, b.rows]).sort(), [['valve-01', 3], ['valve-02', 3]]);
      const { rows } = await get(`/tts/monitor/stores/${storeId}/buckets/valve-01/rows?limit=2`);
      assert.equal(rows.length, 2);
      assert.ok(Date.parse(rows[0].time) >= Date.parse(rows[1].time), 'newest first');
      assert.equal(typeof rows[0].data.temperature_1, 'number');
      const series = await get(`/tts/monitor/stores/${storeId}/buckets/valve-01/chart?field=temperature_1&from=${Date.now() - 3_600_000}`);
      assert.equal(series.points.length, 3);
      assert.equal(series.truncated, false);
      assert.ok(series.points.every((p: { x: number; y: number }, i: number, all: Array<{ x: number }>) => typeof p.y === 'number' && (i === 0 || all[i - 1].x <= p.x)), 'oldest first');
      const none = await get(`/tts/monitor/stores/${storeId}/buckets/valve-01/chart?field=temperature_1&to=1000`);
      assert.deepEqual(none.points, []);
      const bad = await get(`/tts/monitor/stores/${storeId}/buckets/valve-01/chart?field=`, 400);
      assert.match(bad.error.message, /field/);
      await get(`/tts/monitor/stores/${storeId}/buckets/valve-01/chart?field=temperature_1&from=yesterday`, 400);
      await get(`/tts/monitor/stores/${storeId}/buckets/missing/rows`, 400);
    });

    it('log: a refused webhook with its reason, accepted ones and provisioning, filtered by profile, kind and device', async () => {
      const res = await fetch(`${nodeRedHelper().url()}/tts`, { method: 'POST', headers: { authorization: `Bearer ${WRONG_TOKEN}`, 'content-type': 'application/json' }, body: '{}' });
      assert.equal(res.status, 401);
      await waitForLog((e) => e.outcome === 'refused' && e.profile === profileId);
      const refused = (await get(`/tts/monitor/log?kind=webhook&profile=${profileId}`)).events.filter((e: LogEvent) => e.outcome === 'refused');
      assert.equal(refused.length, 1);
      assert.equal(refused[0].reason, 'the bearer token matches no profile');
      assert.equal(refused[0].detail.status, 401);
      assert.equal(refused[0].detail.code, 'unknown_token');
      const all = (await get(`/tts/monitor/log?profile=${profileId}`)).events as LogEvent[];
      assert.ok(all.every((e, i) => i === 0 || all[i - 1].seq > e.seq), 'newest first');
      assert.ok(all.filter((e) => e.kind === 'webhook' && e.outcome === 'accepted').length >= 6);
      assert.equal(all.filter((e) => e.kind === 'provision' && e.outcome === 'created').length, 2);
      const one = (await get(`/tts/monitor/log?device=valve-02&kind=provision&profile=${profileId}`)).events as LogEvent[];
      assert.ok(one.length > 0 && one.every((e) => e.deviceId === 'valve-02' && e.kind === 'provision'));
      assert.equal(one[one.length - 1].outcome, 'created');
      await get('/tts/monitor/log?limit=0', 400);
    });

    it('editing the downlink property sends it through the tts-downlink node with "On change"; the simulator acknowledges it', async () => {
      const requests: string[] = [];
      sim.on('downlink-request', (r) => requests.push(r.deviceId));
      const value = { enabled: false, frequency: 30, threshold: 5 };
      // valve-02 has no node with "On change": its property changes, nothing is sent. Changes are
      // handled in order, so once valve-01's downlink (changed after it) is out, valve-02's was decided.
      const res2 = await nodeRedHelper().request().put(`/tts/monitor/stores/${storeId}/devices/valve-02/downlink`).send({ value });
      answers.push(res2.text);
      assert.equal(res2.status, 200, res2.text);
      assert.deepEqual(res2.body, { device: 'valve-02', downlink: value });

      const request = sim.waitForDownlinkRequest((r) => r.deviceId === 'valve-01');
      const res = await nodeRedHelper().request().put(`/tts/monitor/stores/${storeId}/devices/valve-01/downlink`).send({ value });
      answers.push(res.text);
      assert.equal(res.status, 200, res.text);
      const sent = await request;
      assert.equal((sent.body as { downlinks: Array<{ frm_payload: string }> }).downlinks[0].frm_payload, Buffer.from([0, 30, 5]).toString('base64'));
      const ack = await outcomes.until((m) => m.payload.event === 'ack');
      assert.equal(ack.payload.deviceId, 'valve-01');
      assert.deepEqual(requests, ['valve-01']);
      assert.equal((await get(`/tts/monitor/stores/${storeId}/devices/valve-01`)).device.downlink.frequency, 30);
      await waitForLog((e) => e.kind === 'downlink' && e.outcome === 'ack' && e.deviceId === 'valve-01' && e.profile === profileId);
      const log = (await get(`/tts/monitor/log?kind=downlink&device=valve-01&profile=${profileId}`)).events as LogEvent[];
      assert.equal(log[0].outcome, 'ack');
      assert.deepEqual(log.map((e) => e.outcome).sort(), ['ack', 'queued', 'requested', 'sent']);
      assert.equal(log.find((e) => e.outcome === 'requested')?.profile, profileId);

      const missing = await nodeRedHelper().request().put(`/tts/monitor/stores/${storeId}/devices/valve-09/downlink`).send({ value });
      assert.equal(missing.status, 404);
      const malformed = await nodeRedHelper().request().put(`/tts/monitor/stores/${storeId}/devices/valve-01/downlink`).send({ nothing: 1 });
      assert.equal(malformed.status, 400);
    });

    it('a flow changes the property with msg.storeOnly (nothing sent directly); the node with "On change" then sends it', async () => {
      const inputs = collector<{ storeOnly?: boolean; trigger?: string }>(nodeRedHelper().getNode(downlinkId));
      const requests: Array<{ frm_payload: string }> = [];
      sim.on('downlink-request', (r) => requests.push(...(r.body as { downlinks: Array<{ frm_payload: string }> }).downlinks));
      const before = outcomes.seen.length;
      nodeRedHelper().getNode(downlinkId).receive({ device: 'valve-01', payload: { enabled: true, frequency: 7, threshold: 9 }, storeOnly: true });
      const [, triggered] = await inputs.count(2);
      assert.equal(triggered.trigger, 'property-change:flow');
      await outcomes.until((m) => outcomes.seen.indexOf(m) >= before && m.payload.event === 'ack');
      assert.deepEqual(requests.map((d) => d.frm_payload), [Buffer.from([1, 7, 9]).toString('base64')], 'sent once, by the change');
      const stored = (await get(`/tts/monitor/stores/${storeId}/devices/valve-01`)).device.downlink;
      assert.deepEqual(stored, { enabled: true, frequency: 7, threshold: 9 });
    });

    it('saving the value a device already has sends nothing through "On change"; the next real change is sent once', async () => {
      const inputs = collector<{ storeOnly?: boolean; trigger?: string }>(nodeRedHelper().getNode(downlinkId));
      const requests: string[] = [];
      sim.on('downlink-request', (r) => requests.push(...(r.body as { downlinks: Array<{ frm_payload: string }> }).downlinks.map((d) => d.frm_payload)));
      const before = outcomes.seen.length;
      // What the previous test stored, as the sidebar saves it untouched, then with its keys in another order.
      for (const value of [{ enabled: true, frequency: 7, threshold: 9 }, { threshold: 9, frequency: 7, enabled: true }]) {
        const res = await nodeRedHelper().request().put(`/tts/monitor/stores/${storeId}/devices/valve-01/downlink`).send({ value });
        answers.push(res.text);
        assert.equal(res.status, 200, res.text);
      }
      // A real change, from a flow. Changes reach the node in order, so once its trigger is in,
      // a trigger of the unchanged saves would be in too.
      nodeRedHelper().getNode(downlinkId).receive({ device: 'valve-01', payload: { enabled: true, frequency: 8, threshold: 9 }, storeOnly: true });
      await inputs.until((m) => m.trigger === 'property-change:flow');
      assert.deepEqual(inputs.seen.map((m) => m.trigger ?? 'storeOnly'), ['storeOnly', 'property-change:flow']);
      await outcomes.until((m) => outcomes.seen.indexOf(m) >= before && m.payload.event === 'ack');
      assert.deepEqual(requests, [Buffer.from([1, 8, 9]).toString('base64')]);
    });

    it('no answer holds a secret (token, API keys)', () => {
      const text = answers.join('\n');
      for (const secret of [...SECRETS, TOKEN, WRONG_TOKEN]) assert.ok(!text.includes(secret), `a route answered with ${secret.slice(0, 12)}…`);
      assert.ok(answers.length >= 15);
    });
  });
});
