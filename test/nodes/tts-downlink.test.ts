import { strict as assert } from 'node:assert';
import type { TtsSimulator } from '../../src/sim';
import { downlinkTargets } from '../../src/runtime';
import { PRIORITIES } from '../../src/tts/types';
import {
  API_KEY,
  APP,
  collector,
  CONFIG,
  createDevice,
  downlinkFlow,
  MODULES,
  nextError,
  registryOf,
  SECRETS,
  spiedText,
  startSimulator,
  useTestSettings,
  type DownlinkFlow,
} from '../helpers/downlink-flows';
import { loadFlow, nodeRedHelper, startServerWithNodeRoutes, unloadFlow, type TestNode } from '../helpers/runtime';
import { adminRoutesOf } from '../helpers/admin-routes';

const b64 = (bytes: number[]) => Buffer.from(bytes).toString('base64');

describe('tts-downlink against the TTS simulator', () => {
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

  async function deploy(options: Parameters<typeof downlinkFlow>[1] = {}): Promise<DownlinkFlow & { node: TestNode }> {
    const d = downlinkFlow(sim, options);
    await loadFlow(MODULES, d.flow, d.creds);
    return { ...d, node: nodeRedHelper().getNode(d.downlink.id) };
  }

  /** Sends one message and resolves with the simulator's record of the request and output 1's message. */
  async function sendOne(d: DownlinkFlow & { node: TestNode }, msg: Record<string, unknown>) {
    const accepted = collector(nodeRedHelper().getNode(d.accepted));
    const request = sim.waitForDownlinkRequest();
    d.node.receive(msg);
    const [req, [out]] = await Promise.all([request, accepted.count(1)]);
    return { req, out, item: (req.body as { downlinks: Array<Record<string, unknown>> }).downlinks[0] };
  }

  async function refused(d: DownlinkFlow & { node: TestNode }, msg: Record<string, unknown>): Promise<string> {
    const before = sim.receivedDownlinks.length;
    const error = nextError(d.node);
    d.node.receive(msg);
    const text = await error;
    assert.equal(sim.receivedDownlinks.length, before, 'nothing reached TTS');
    return text;
  }

  describe('encoding forms', () => {
    const device = `${APP}/valve-01`;
    const cases: Array<{ name: string; codec: 'script' | 'cayennelpp' | 'raw'; script?: string; rawFormat?: 'auto' | 'base64' | 'hex'; payload: unknown; expect: Record<string, unknown> }> = [
      { name: 'plugin downlink returning base64 (AQoU)', codec: 'script', payload: CONFIG, expect: { frm_payload: 'AQoU', f_port: 1 } },
      {
        name: 'plugin downlink returning { f_port, frm_payload }',
        codec: 'script',
        script: 'module.exports.downlink = (p) => ({ f_port: 42, frm_payload: Buffer.from([p.level]).toString("base64") });',
        payload: { level: 7 },
        expect: { frm_payload: b64([7]), f_port: 42 },
      },
      {
        name: 'plugin downlink returning { decoded_payload } for TTS to encode',
        codec: 'script',
        script: 'module.exports.downlink = (p, device) => ({ f_port: 3, decoded_payload: { value_1: p.setpoint } });',
        payload: { setpoint: 21.5 },
        expect: { decoded_payload: { value_1: 21.5 }, f_port: 3 },
      },
      {
        name: 'TTS encodeDownlink',
        codec: 'script',
        script: 'function encodeDownlink(input) { return { bytes: [input.data.on ? 1 : 0, input.fPort], fPort: 5 }; }',
        payload: { on: true },
        expect: { frm_payload: b64([1, 1]), f_port: 5 },
      },
      {
        name: 'TTN v2 Encoder',
        codec: 'script',
        script: 'function Encoder(object, port) { return [object.led, port]; }',
        payload: { led: 3 },
        expect: { frm_payload: b64([3, 1]), f_port: 1 },
      },
      { name: 'Cayenne LPP value_<channel>', codec: 'cayennelpp', payload: { value_2: -50.51 }, expect: { frm_payload: b64([0x02, 0xec, 0x45]) } },
      { name: 'Cayenne LPP typed keys', codec: 'cayennelpp', payload: { digital_out_3: 1 }, expect: { frm_payload: b64([3, 1, 1]) } },
      { name: 'raw base64', codec: 'raw', payload: 'AQoU', expect: { frm_payload: 'AQoU' } },
      { name: 'raw hex', codec: 'raw', payload: '01 0A 14', expect: { frm_payload: 'AQoU' } },
      { name: 'raw hex forced', codec: 'raw', rawFormat: 'hex', payload: 'abcd', expect: { frm_payload: b64([0xab, 0xcd]) } },
      { name: 'raw byte array', codec: 'raw', payload: [1, 10, 20], expect: { frm_payload: 'AQoU' } },
      { name: 'raw Buffer', codec: 'raw', payload: Buffer.from([9, 8]), expect: { frm_payload: b64([9, 8]) } },
      { name: 'raw object left as decoded_payload for the TTS formatter', codec: 'raw', payload: { value_1: 2.5 }, expect: { decoded_payload: { value_1: 2.5 } } },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const d = await deploy({ downlink: { codec: c.codec, ...(c.script ? { script: c.script } : {}), ...(c.rawFormat ? { rawFormat: c.rawFormat } : {}) } });
        const { req, out, item } = await sendOne(d, { device, payload: c.payload });
        for (const [key, value] of Object.entries(c.expect)) assert.deepEqual(item[key], value, key);
        if (c.expect.decoded_payload === undefined) assert.equal(item.decoded_payload, undefined);
        else {
          assert.equal(item.frm_payload, undefined);
          // The simulated TTS ran its (Cayenne LPP) downlink formatter on it.
          assert.ok(req.downlinks[0].frm_payload);
        }
        assert.equal(req.deviceId, 'valve-01');
        assert.equal(out.downlink.deviceId, 'valve-01');
        assert.equal(JSON.stringify(out.payload), JSON.stringify(c.payload), 'payload passes through');
        if (item.frm_payload) assert.equal(out.downlink.frm_payload, item.frm_payload);
      });
    }

    it('refuses a script that does not compile at deploy and on every message, with its line', async () => {
      const d = await deploy({ downlink: { script: 'module.exports.downlink = function (p) {\n  return [1,;\n};' } });
      const error = await refused(d, { device, payload: CONFIG });
      assert.match(error, /tts-downlink\.errors\.config/);
      const deployError = d.node.error.args[0][0] as string;
      assert.match(deployError, /tts-downlink\.errors\.config/);
      assert.equal((d.node.status.args.at(-1)?.[0] as { fill: string }).fill, 'red');
    });

    it('surfaces script failures as errors', async () => {
      const d = await deploy({ downlink: { script: 'function encodeDownlink(input) {\n  return { errors: ["threshold too high"] };\n}' } });
      assert.match(await refused(d, { device, payload: { threshold: 900 } }), /encoder script: threshold too high/);
    });
  });

  describe('settings and overrides', () => {
    const device = `${APP}/valve-01`;
    const profile = { confirmed: true, queue: 'replace', priority: 'HIGH', fPort: '10' } as const;

    describe('script time limit', () => {
      const RUNAWAY = "module.exports.downlink = function (p) { if (p.spin) for (;;) {} return 'AQ=='; };";
      let previous: Record<string, unknown>;
      beforeEach(() => {
        previous = { ...nodeRedHelper().settings() };
        nodeRedHelper().settings({ ...previous, ttsDownlinkEncodeTimeout: 40 });
      });
      afterEach(() => {
        nodeRedHelper().settings(previous);
      });

      it('stops a runaway encoder at settings.js ttsDownlinkEncodeTimeout when the node leaves its limit empty', async () => {
        const d = await deploy({ downlink: { script: RUNAWAY, timeout: '' } });
        assert.match(await refused(d, { device, payload: { spin: true } }), /40 ms/);
        const { item } = await sendOne(d, { device, payload: { spin: false } });
        assert.equal(item.frm_payload, b64([1]));
      });

      it('keeps the explicit limit of a node saved with one', async () => {
        const d = await deploy({ downlink: { script: RUNAWAY, timeout: '30' } });
        assert.match(await refused(d, { device, payload: { spin: true } }), /30 ms/);
      });

      it('uses the setting in the edit dialog test tool when its limit is empty', async () => {
        await deploy();
        const res = await nodeRedHelper().request().post('/tts/downlink/encode').send({ codec: 'script', script: RUNAWAY, payload: '{"spin":true}', timeout: '' }).expect(200);
        assert.equal(res.body.ok, false);
        assert.match(res.body.error, /40 ms/);
      });
    });

    it('applies the profile: confirmed, replace, priority, FPort', async () => {
      const d = await deploy({ profile });
      const { req, item, out } = await sendOne(d, { device, payload: CONFIG });
      assert.equal(req.operation, 'replace');
      assert.deepEqual([item.f_port, item.confirmed, item.priority], [10, true, 'HIGH']);
      assert.deepEqual([out.downlink.queue, out.downlink.fPort, out.downlink.confirmed, out.downlink.priority], ['replace', 10, true, 'HIGH']);
    });

    it('lets msg.fPort, msg.confirmed, msg.priority and msg.queue override the profile one by one', async () => {
      const d = await deploy({ profile });
      const overrides: Array<[Record<string, unknown>, (req: Awaited<ReturnType<typeof sendOne>>) => void]> = [
        [{ fPort: 99 }, ({ item }) => assert.equal(item.f_port, 99)],
        [{ fPort: '7' }, ({ item }) => assert.equal(item.f_port, 7)],
        [{ confirmed: false }, ({ item }) => assert.equal(item.confirmed, false)],
        [{ priority: 'lowest' }, ({ item }) => assert.equal(item.priority, 'LOWEST')],
        [{ priority: 4 }, ({ item }) => assert.equal(item.priority, 'ABOVE_NORMAL')],
        [{ queue: 'push' }, ({ req }) => assert.equal(req.operation, 'push')],
      ];
      for (const [override, check] of overrides) {
        const result = await sendOne(d, { device, payload: CONFIG, ...override });
        check(result);
      }
    });

    it('sends every priority and both queue operations (push appends, replace swaps the queue)', async () => {
      sim.setDownlinkOutcome('queued-only');
      const d = await deploy();
      for (const priority of PRIORITIES) {
        const { item } = await sendOne(d, { device, payload: CONFIG, priority });
        assert.equal(item.priority, priority);
      }
      assert.equal(sim.pendingDownlinks('valve-01').length, PRIORITIES.length);
      const { req } = await sendOne(d, { device, payload: { ...CONFIG, threshold: 1 }, queue: 'replace' });
      assert.equal(req.operation, 'replace');
      assert.deepEqual(sim.pendingDownlinks('valve-01').map((p) => p.frm_payload), [b64([1, 10, 1])]);
    });

    it('prefers the encoder port to the profile port, and msg.fPort to both', async () => {
      const d = await deploy({ profile, downlink: { script: 'function encodeDownlink(input) { return { bytes: [input.fPort], fPort: 33 }; }' } });
      const a = await sendOne(d, { device, payload: {} });
      assert.equal(a.item.f_port, 33);
      assert.equal(a.item.frm_payload, b64([10]), 'the script saw the profile port');
      const b = await sendOne(d, { device, payload: {}, fPort: 44 });
      assert.equal(b.item.f_port, 44);
      assert.equal(b.item.frm_payload, b64([44]));
    });
  });

  describe('target and stored downlink property', () => {
    it('addresses msg.device (registry id or record), msg.tts, or the node device', async () => {
      const d = await deploy({ store: true, downlink: { device: 'dev-valve-02' } });
      await createDevice(d.storeId!, 'valve-01');
      const id2 = await createDevice(d.storeId!, 'valve-02');
      assert.equal((await sendOne(d, { device: 'dev-valve-01', payload: CONFIG })).req.deviceId, 'valve-01');
      const record = await registryOf(d.storeId!).getDevice(id2);
      assert.equal((await sendOne(d, { device: record, payload: CONFIG })).req.deviceId, 'valve-02');
      assert.equal((await sendOne(d, { tts: { application_id: APP, device_id: 'valve-01' }, payload: CONFIG })).req.deviceId, 'valve-01');
      const fixed = await sendOne(d, { payload: CONFIG });
      assert.equal(fixed.req.deviceId, 'valve-02');
      assert.equal(fixed.out.downlink.device, 'dev-valve-02');
      assert.match(await refused(d, { device: 'dev-unknown', payload: CONFIG }), /no device "dev-unknown" in the registry/);
      // Downlink events wired back into the node are refused: answering them would loop.
      const event = { type: 'downlink_sent', application_id: APP, device_id: 'valve-01' };
      assert.match(await refused(d, { tts: event, device: 'dev-valve-01', payload: CONFIG }), /downlink_sent event, not sent as a downlink \(it would loop\)/);
    });

    it('sends the stored downlink without payload, and stores a new payload before sending it', async () => {
      const d = await deploy({ store: true });
      const id = await createDevice(d.storeId!, 'valve-01', CONFIG);
      const registry = registryOf(d.storeId!);

      const first = await sendOne(d, { device: id });
      assert.equal(first.item.frm_payload, 'AQoU');
      assert.equal(first.out.downlink.data, 'stored');
      assert.equal(first.out.downlink.stored, false);

      const next = { enabled: false, frequency: 5, threshold: 1 };
      const second = await sendOne(d, { device: id, payload: next });
      assert.equal(second.item.frm_payload, b64([0, 5, 1]));
      assert.equal(second.out.downlink.data, 'msg.payload');
      assert.equal(second.out.downlink.stored, true);
      assert.deepEqual(await registry.getDownlink(id), next);

      // A flow changes the property elsewhere; a bare trigger sends the new value.
      await registry.setDownlink(id, { enabled: true, frequency: 60, threshold: 2 });
      const third = await sendOne(d, { device: id, payload: null });
      assert.equal(third.item.frm_payload, b64([1, 60, 2]));
    });

    it('does not store a payload that fails to encode, and explains a missing stored downlink', async () => {
      const d = await deploy({ store: true, downlink: { codec: 'raw' } });
      const id = await createDevice(d.storeId!, 'valve-01');
      assert.match(await refused(d, { device: id }), /has no stored downlink property/);
      assert.match(await refused(d, { device: id, payload: 'not base64 or hex!' }), /neither hex nor base64/);
      assert.equal(await registryOf(d.storeId!).getDownlink(id), undefined);
      assert.match(await refused(d, { device: `${APP}/valve-02` }), /not in the device registry/);
    });
  });

  describe('guard-rails', () => {
    const device = `${APP}/valve-01`;
    it('refuses FPorts outside 1-223, payloads over 242 bytes, unknown priorities and queues before sending', async () => {
      const d = await deploy({ downlink: { codec: 'raw' } });
      assert.match(await refused(d, { device, payload: 'AQ==', fPort: 0 }), /msg\.fPort must be a whole number from 1 to 223/);
      assert.match(await refused(d, { device, payload: 'AQ==', fPort: 224 }), /1 to 223/);
      assert.match(await refused(d, { device, payload: new Array(243).fill(1) }), /243 bytes, more than the 242-byte LoRaWAN downlink maximum/);
      assert.match(await refused(d, { device, payload: 'AQ==', priority: 'URGENT' }), /msg\.priority must be one of LOWEST/);
      assert.match(await refused(d, { device, payload: 'AQ==', queue: 'append' }), /msg\.queue/);
      assert.match(await refused(d, { device, payload: [] }), /payload is empty/);
      // 242 bytes is fine.
      const { item } = await sendOne(d, { device, payload: new Array(242).fill(1) });
      assert.equal(Buffer.from(item.frm_payload as string, 'base64').length, 242);
    });

    it('refuses an FPort chosen by the script outside 1-223', async () => {
      const d = await deploy({ downlink: { script: 'function encodeDownlink() { return { bytes: [1], fPort: 224 }; }' } });
      assert.match(await refused(d, { device, payload: {} }), /FPort must be a whole number from 1 to 223 \(got 224\)/);
    });
  });

  describe('HTTP: retries, errors, addresses', () => {
    const device = `${APP}/valve-01`;

    it('retries 5xx and resets with back-off, bounded, and reports the attempts', async () => {
      const d = await deploy();
      sim.queueFaults([{ status: 503 }, { reset: true }]);
      const { out } = await sendOne(d, { device, payload: CONFIG });
      assert.equal(out.downlink.attempts, 3);
      assert.ok(d.node.status.args.some((a: unknown[]) => String((a[0] as { text?: string }).text).includes('tts-downlink.status.retry')));

      sim.queueFaults([{ status: 500 }, { status: 502, body: 'html' }, { status: 503 }]);
      const error = await refused(d, { device, payload: CONFIG });
      assert.match(error, /HTTP 503.*after 3 attempts/);
    });

    it('honours the wait a 429 asks for', async () => {
      const d = await deploy();
      sim.queueFaults([{ status: 429, retryAfterSeconds: 1 }]);
      const started = Date.now();
      const { out } = await sendOne(d, { device, payload: CONFIG });
      assert.ok(Date.now() - started >= 950, `waited ${Date.now() - started} ms`);
      assert.equal(out.downlink.attempts, 2);
    });

    it('times out a hanging request and tries again', async () => {
      const d = await deploy();
      sim.queueFaults([{ hangMs: 3000 }]);
      const { out } = await sendOne(d, { device, payload: CONFIG });
      assert.equal(out.downlink.attempts, 2);
    });

    it('surfaces 4xx at once with TTS error text and never the key', async () => {
      const d = await deploy();
      const requests = sim.apiRequests.length;
      const notFound = await refused(d, { device: `${APP}/no-such-valve`, payload: CONFIG });
      assert.match(notFound, /HTTP 404/);
      assert.match(notFound, /device_not_found|not found/);
      assert.equal(sim.apiRequests.length, requests + 1, 'no retry on 4xx');

      await unloadFlow();
      const wrongKey = 'NNSXS.WRONGKEYID000001.WRONGSECRETABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
      const d2 = await deploy({ apiKey: wrongKey });
      const unauthorised = await refused(d2, { device, payload: CONFIG });
      assert.match(unauthorised, /HTTP 401/);
      assert.ok(!unauthorised.includes('WRONGSECRET'), unauthorised);
      assert.ok(!spiedText(d2.node).includes('WRONGSECRET'));
    });

    it('posts with the profile server, webhook ID and key until TTS has sent X-Downlink headers, then with those', async () => {
      const d = await deploy();
      const before = await sendOne(d, { device, payload: CONFIG });
      assert.equal(before.out.downlink.endpoint, 'profile');
      assert.equal(before.req.webhookId, 'node-red');
      assert.equal(before.req.apiKeyId, API_KEY.split('.')[1]);

      await sim.sendUplink('valve-01');
      assert.ok(downlinkTargets.get(APP)?.pushUrl, 'webhook-in captured the headers');
      const after = await sendOne(d, { device: `${APP}/valve-02`, payload: CONFIG });
      assert.equal(after.out.downlink.endpoint, 'webhook-headers');
      assert.equal(after.req.deviceId, 'valve-02', 'URL rewritten for the addressed device');
      assert.equal(after.req.apiKeyId, 'DOWNLINKKEYID001');
      const replaced = await sendOne(d, { device, payload: CONFIG, queue: 'replace' });
      assert.equal(replaced.req.operation, 'replace');
      assert.match(replaced.out.downlink.url, /\/devices\/valve-01\/down\/replace$/);

      const text = JSON.stringify([before.out, after.out, replaced.out]) + spiedText(d.node);
      for (const secret of SECRETS) assert.ok(!text.includes(secret), 'no key in messages, status or logs');
    });

    it('uses the captured key even when the profile has none, and explains when there is no address at all', async () => {
      const d = await deploy({ profile: { server: '' }, apiKey: '' });
      assert.match(await refused(d, { device, payload: CONFIG }), /no downlink address for application "farm-sensors" yet/);
      await sim.sendUplink('valve-01');
      const { out } = await sendOne(d, { device, payload: CONFIG });
      assert.equal(out.downlink.endpoint, 'webhook-headers');
    });

    it('serves applications without their own profile through the node profile when it is a Default profile', async () => {
      const d = await deploy({ profile: { applicationId: '' } });
      const { req } = await sendOne(d, { device, payload: CONFIG });
      assert.equal(req.applicationId, APP);
      await unloadFlow();
      const d2 = await deploy({ profile: { applicationId: 'other-app' } });
      assert.match(await refused(d2, { device, payload: CONFIG }), /no profile serves application "farm-sensors"/);
    });
  });

  describe('lifecycle outcomes', () => {
    const device = `${APP}/valve-01`;

    async function outcomesOf(d: DownlinkFlow & { node: TestNode }, msg: Record<string, unknown>, until: (m: any) => boolean) {
      const outcomes = collector(nodeRedHelper().getNode(d.outcomes));
      const { out } = await sendOne(d, msg);
      const last = await outcomes.until(until);
      return { out, seen: outcomes.seen, last };
    }

    it('reports queued then sent (final) for an unconfirmed downlink, with the original _msgid and timing', async () => {
      const d = await deploy();
      const { out, seen, last } = await outcomesOf(d, { device, payload: CONFIG }, (m) => m.payload.final);
      assert.deepEqual(seen.map((m) => m.payload.event), ['queued', 'sent']);
      assert.equal(last.payload.event, 'sent');
      for (const m of seen) {
        assert.equal(m._msgid, out._msgid);
        assert.equal(m.payload.correlationId, out.downlink.correlationId);
        assert.equal(m.topic, `${APP}/valve-01/downlink_${m.payload.event}`);
        assert.equal(m.tts.type, `downlink_${m.payload.event}`);
      }
      assert.ok(last.payload.elapsedMs >= last.payload.timeline.queued);
      assert.equal(typeof last.payload.fCnt, 'number');
      await waitForStatus(d.node, 'tts-downlink.status.sent', 'green');
    });

    it('follows a confirmed downlink through nack and resend to ack', async () => {
      sim.setDownlinkOutcome({ nacks: 1 });
      const d = await deploy();
      const { seen, last } = await outcomesOf(d, { device, payload: CONFIG, confirmed: true }, (m) => m.payload.final);
      assert.deepEqual(seen.map((m) => m.payload.event), ['queued', 'sent', 'nack', 'sent', 'ack']);
      assert.equal(last.payload.attempt, 2);
      assert.deepEqual(Object.keys(last.payload.timeline).sort(), ['ack', 'nack', 'queued', 'sent']);
      await waitForStatus(d.node, 'tts-downlink.status.ack', 'green');
    });

    it('reports failed with TTS error details when every attempt is nacked', async () => {
      sim.setDownlinkOutcome('nack');
      const d = await deploy({ downlink: { report: 'final' } });
      const { seen, last } = await outcomesOf(d, { device, payload: CONFIG, confirmed: true }, (m) => m.payload.final);
      assert.deepEqual(seen.map((m) => m.payload.event), ['failed'], 'report: final sends only the outcome');
      assert.equal(last.payload.error.name, 'confirmed_downlink_max_attempts');
      await waitForStatus(d.node, 'tts-downlink.status.failed', 'red');
    });

    it('reports failed when TTS drops the downlink', async () => {
      sim.setDownlinkOutcome('failed', 'valve-01');
      const d = await deploy();
      const { seen, last } = await outcomesOf(d, { device, payload: CONFIG }, (m) => m.payload.final);
      assert.deepEqual(seen.map((m) => m.payload.event), ['queued', 'failed']);
      assert.equal(last.payload.error.name, 'no_downlink_path');
      assert.equal(last.payload.error.message, 'no downlink path available');
    });

    it('reports unconfirmed when no outcome arrives within the configured time', async () => {
      sim.setDownlinkOutcome('queued-only');
      const d = await deploy({ downlink: { outcomeTimeout: '0.3' } });
      const { seen, last } = await outcomesOf(d, { device, payload: CONFIG, confirmed: true }, (m) => m.payload.final);
      assert.deepEqual(seen.map((m) => m.payload.event), ['queued', 'unconfirmed']);
      assert.ok(last.payload.elapsedMs >= 280);
      assert.equal(last.tts, undefined);
      await waitForStatus(d.node, 'tts-downlink.status.unconfirmed', 'yellow');
    });

    it('keeps outcomes of several downlinks apart', async () => {
      const d = await deploy();
      const outcomes = collector(nodeRedHelper().getNode(d.outcomes));
      const accepted = collector(nodeRedHelper().getNode(d.accepted));
      d.node.receive({ device, payload: CONFIG });
      d.node.receive({ device: `${APP}/valve-02`, payload: CONFIG, confirmed: true });
      const outs = await accepted.count(2);
      await outcomes.count(5);
      for (const out of outs) {
        const mine = outcomes.seen.filter((m) => m.payload.correlationId === out.downlink.correlationId);
        assert.ok(mine.every((m) => m._msgid === out._msgid && m.payload.deviceId === out.downlink.deviceId));
        assert.deepEqual(mine.map((m) => m.payload.event), out.downlink.confirmed ? ['queued', 'sent', 'ack'] : ['queued', 'sent']);
      }
    });
  });

  describe('edit dialog test tool', () => {
    it('encodes through the runtime engine and reports script errors with their line', async () => {
      await deploy();
      const ok = await nodeRedHelper().request().post('/tts/downlink/encode').send({ codec: 'script', script: PLUGIN_SCRIPT, payload: JSON.stringify(CONFIG), fPort: '1' }).expect(200);
      assert.equal(ok.body.frm_payload, 'AQoU');
      assert.equal(ok.body.hex, '010A14');
      const bad = await nodeRedHelper().request().post('/tts/downlink/encode').send({ codec: 'script', script: 'function Encoder(o) {\n  return o.a.b;\n}', payload: '{}' }).expect(200);
      assert.equal(bad.body.ok, false);
      assert.equal(bad.body.line, 2);
      await nodeRedHelper().request().post('/tts/downlink/encode').send({ codec: 'lzw' }).expect(400);
    });
  });
});

describe('tts-downlink admin route', () => {
  it('guards the encoder test tool with tts-downlink.write (it runs user code)', () => {
    assert.deepEqual(adminRoutesOf(MODULES[MODULES.length - 1]).routes, [{ route: 'post /tts/downlink/encode', permission: 'tts-downlink.write' }]);
  });
});

const PLUGIN_SCRIPT = "module.exports.downlink = (p) => Buffer.from([p.enabled ? 1 : 0, p.frequency, p.threshold]).toString('base64');";

/** Resolves once the node's status shows the given text key with the given colour. */
function waitForStatus(node: TestNode, key: string, fill: string): Promise<void> {
  const matches = (args: unknown[]) => {
    const s = args[0] as { text?: string; fill?: string };
    return s.text === key && s.fill === fill;
  };
  if (node.status.lastCall && matches(node.status.lastCall.args)) return Promise.resolve();
  return new Promise((resolve) => {
    const listener = (call: { args: unknown[] }) => {
      if (!matches(call.args)) return;
      node.removeListener('call:status', listener);
      resolve();
    };
    node.on('call:status', listener);
  });
}
