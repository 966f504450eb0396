import { strict as assert } from 'node:assert';
import decodeModule = require('../../nodes/tts-uplink-decode/tts-uplink-decode');
import type { TtsUplinkDecodeDef } from '../../nodes/tts-uplink-decode/types';
import { catchNode, helperNode, uid, type FlowNode } from '../helpers/flows';
import { loadFlow, nextMessage, nodeRedHelper, unloadFlow, waitForCall } from '../helpers/runtime';
import { adminRoutesOf } from '../helpers/admin-routes';

const modules = [decodeModule];

const DESIGN_EXAMPLE = `module.exports.uplink = function (payload, message) {
  const bytes = Buffer.from(payload, 'base64');
  const temperature = bytes.readInt16LE(0) / 100;
  const humidity = bytes.readInt16LE(2) / 100;
  return { temperature, humidity };
};
module.exports.downlink = function (payload, device) {
  const bytes = [payload.enabled ? 1 : 0, payload.frequency, payload.threshold];
  return Buffer.from(bytes).toString('base64');
};`;

function decodeNode(overrides: Partial<TtsUplinkDecodeDef> & { wires?: string[][] } = {}): FlowNode {
  return { id: uid('decode'), type: 'tts-uplink-decode', name: '', codec: 'auto', script: '', timeout: '', wires: [[], []], ...overrides };
}

/** A msg as tts-webhook-in sends it (the envelope fields the decoder reads). */
function uplinkMsg(frmPayload: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    topic: 'farm-sensors/soil-probe-07/uplink_message',
    payload: { frm_payload: frmPayload },
    tts: {
      type: 'uplink_message',
      application_id: 'farm-sensors',
      device_id: 'soil-probe-07',
      received_at: '2025-03-14T09:26:53.512Z',
      correlation_ids: [],
      simulated: false,
      f_port: 1,
      f_cnt: 212,
      frm_payload: frmPayload,
      message: { f_port: 1, f_cnt: 212, frm_payload: frmPayload },
      ...extra,
    },
  };
}

/** decode node → ok helper (output 1), error helper (output 2), catch → catch helper. */
async function deploy(overrides: Partial<TtsUplinkDecodeDef>) {
  const ok = helperNode();
  const errors = helperNode();
  const caught = helperNode();
  const decode = decodeNode({ ...overrides, wires: [[ok.id], [errors.id]] });
  const flow = [decode, ok, errors, caught, catchNode([[caught.id]], [decode.id])];
  await loadFlow(modules, flow);
  const h = nodeRedHelper();
  return { decode: h.getNode(decode.id), ok: h.getNode(ok.id), errors: h.getNode(errors.id), caught: h.getNode(caught.id), id: decode.id };
}

describe('tts-uplink-decode', () => {
  before(async () => {
    await nodeRedHelper().startServer();
  });
  after(async () => {
    await nodeRedHelper().stopServer();
  });
  afterEach(async () => {
    nodeRedHelper().settings({});
    await unloadFlow();
  });

  describe('in a flow', () => {
    it('decodes a webhook uplink with the DESIGN.md script: payload, decodeWarnings, status counts', async () => {
      const n = await deploy({ codec: 'script', script: DESIGN_EXAMPLE });
      const got = nextMessage<Record<string, any>>(n.ok);
      n.decode.receive(uplinkMsg('NAgQFw=='));
      const msg = await got;
      assert.deepEqual(msg.payload, { temperature: 21, humidity: 59.04 });
      assert.deepEqual(msg.tts.decodeWarnings, []);
      assert.equal(msg.topic, 'farm-sensors/soil-probe-07/uplink_message');
      assert.equal(msg.tts.f_cnt, 212);
      const status = await waitForCall(n.decode, 'status', (a) => (a[0] as { text?: string }).text === 'tts-uplink-decode.status.counts');
      assert.deepEqual(status[0], { fill: 'green', shape: 'dot', text: 'tts-uplink-decode.status.counts' });
    });

    it('keeps message order for a burst of uplinks decoded together', async () => {
      const n = await deploy({ codec: 'script', script: 'function decodeUplink(input) { return { data: { first: input.bytes[0] } }; }' });
      const received: number[] = [];
      const all = new Promise<void>((resolve) => {
        n.ok.on('input', (msg: { payload: { first: number } }) => {
          received.push(msg.payload.first);
          if (received.length === 50) resolve();
        });
      });
      for (let i = 0; i < 50; i++) n.decode.receive(uplinkMsg(Buffer.from([i]).toString('base64')));
      await all;
      assert.deepEqual(received, Array.from({ length: 50 }, (_, i) => i));
    });

    it('puts the script warnings into msg.tts.decodeWarnings and logs console output', async () => {
      const n = await deploy({ codec: 'script', script: 'function decodeUplink(input) {\n  console.log("bytes", input.bytes.length);\n  return { data: { n: 1 }, warnings: ["battery low"] };\n}' });
      const got = nextMessage<Record<string, any>>(n.ok);
      n.decode.receive(uplinkMsg('AQID'));
      const msg = await got;
      assert.deepEqual(msg.tts.decodeWarnings, ['battery low']);
      await waitForCall(n.decode, 'log', (a) => a[0] === 'bytes 3');
    });

    it('auto: uses TTS decoded_payload first, then the script, then Cayenne LPP', async () => {
      const passthrough = await deploy({ codec: 'auto', script: DESIGN_EXAMPLE });
      let got = nextMessage<Record<string, any>>(passthrough.ok);
      passthrough.decode.receive(uplinkMsg('NAgQFw==', { decoded_payload: { from: 'tts' } }));
      assert.deepEqual((await got).payload, { from: 'tts' });
      got = nextMessage<Record<string, any>>(passthrough.ok);
      passthrough.decode.receive(uplinkMsg('NAgQFw=='));
      assert.deepEqual((await got).payload, { temperature: 21, humidity: 59.04 });
      await unloadFlow();

      const lpp = await deploy({ codec: 'auto', script: '' });
      got = nextMessage<Record<string, any>>(lpp.ok);
      lpp.decode.receive(uplinkMsg('AWcA4QJoUANzJ38='));
      assert.deepEqual((await got).payload, { temperature_1: 22.5, relative_humidity_2: 40, barometric_pressure_3: 1011.1 });
      const failed = nextMessage<Record<string, any>>(lpp.errors);
      lpp.decode.receive(uplinkMsg('NAgQFw=='));
      assert.equal((await failed).error.kind, 'form');
    });

    it('cayennelpp and passthrough modes use only that decoder', async () => {
      const lpp = await deploy({ codec: 'cayennelpp', script: DESIGN_EXAMPLE });
      const got = nextMessage<Record<string, any>>(lpp.ok);
      lpp.decode.receive(uplinkMsg('AWcA4QJoUANzJ38=', { decoded_payload: { ignored: true } }));
      assert.deepEqual((await got).payload, { temperature_1: 22.5, relative_humidity_2: 40, barometric_pressure_3: 1011.1 });
      await unloadFlow();

      const pass = await deploy({ codec: 'passthrough' });
      const failed = nextMessage<Record<string, any>>(pass.errors);
      pass.decode.receive(uplinkMsg('AWcA4QJoUANzJ38='));
      assert.match((await failed).error.message, /no decoded_payload from TTS/);
    });

    it('decodes msg.payload bytes when there is no msg.tts', async () => {
      const n = await deploy({ codec: 'script', script: 'function decodeUplink(i) { return { data: { port: i.fPort, len: i.bytes.length } }; }' });
      let got = nextMessage<Record<string, any>>(n.ok);
      n.decode.receive({ payload: Buffer.from([1, 2, 3]), fPort: 9 });
      let msg = await got;
      assert.deepEqual(msg.payload, { port: 9, len: 3 });
      assert.deepEqual(msg.decodeWarnings, []);
      got = nextMessage<Record<string, any>>(n.ok);
      n.decode.receive({ payload: [5, 6] });
      msg = await got;
      assert.deepEqual(msg.payload, { port: 0, len: 2 });
    });

    it('a runtime error goes to Catch with the message intact and to output 2 with the line', async () => {
      const n = await deploy({ codec: 'script', script: 'function decodeUplink(input) {\n  var x = null;\n  return { data: { v: x.value } };\n}' });
      const caught = nextMessage<Record<string, any>>(n.caught);
      const second = nextMessage<Record<string, any>>(n.errors);
      n.decode.receive(uplinkMsg('AQID'));
      const [c, e] = await Promise.all([caught, second]);
      assert.deepEqual(c.payload, { frm_payload: 'AQID' });
      // The text names the device (RED._ gives the key here): a log line alone must say which one.
      assert.equal(c.error.message, 'Error: tts-uplink-decode.errors.decode-device');
      assert.match(e.error.message, /^TypeError: Cannot read properties of null \(reading 'value'\) \(line 3, column \d+\)$/);
      assert.equal(c.error.source.id, n.id);
      assert.deepEqual(e.payload, { frm_payload: 'AQID' });
      assert.equal(e.error.kind, 'runtime');
      assert.equal(e.error.line, 3);
      assert.equal(e.error.decoder, 'script');
      const status = await waitForCall(n.decode, 'status', (a) => (a[0] as { fill?: string }).fill === 'red');
      assert.deepEqual(status[0], { fill: 'red', shape: 'ring', text: 'tts-uplink-decode.status.counts' });
    });

    it('a script that does not compile is reported at deploy and fails every message', async () => {
      const n = await deploy({ codec: 'script', script: 'function decodeUplink(input) {\n  return { data: { a: } };\n}' });
      const err = await waitForCall(n.decode, 'error', (a) => String(a[0]).startsWith('tts-uplink-decode.errors.load'));
      assert.ok(err);
      const status = await waitForCall(n.decode, 'status', (a) => (a[0] as { fill?: string }).fill === 'red');
      assert.deepEqual(status[0], { fill: 'red', shape: 'ring', text: 'tts-uplink-decode.status.script-error @2' });
      const second = nextMessage<Record<string, any>>(n.errors);
      const caught = nextMessage<Record<string, any>>(n.caught);
      n.decode.receive(uplinkMsg('AQID'));
      const [e] = await Promise.all([second, caught]);
      assert.equal(e.error.kind, 'compile');
      assert.equal(e.error.line, 2);
    });

    it('stops a runaway script at the limit from RED.settings.ttsUplinkDecodeTimeout', async () => {
      nodeRedHelper().settings({ ttsUplinkDecodeTimeout: 40 });
      const n = await deploy({ codec: 'script', script: 'function decodeUplink(i) { if (i.fPort === 1) for (;;) {} return { data: { ok: true } }; }' });
      const started = Date.now();
      const second = nextMessage<Record<string, any>>(n.errors);
      n.decode.receive(uplinkMsg('AQID'));
      const e = await second;
      assert.equal(e.error.kind, 'timeout');
      assert.match(e.error.message, /within 40 ms/);
      assert.ok(Date.now() - started < 1000);
      const got = nextMessage<Record<string, any>>(n.ok);
      n.decode.receive(uplinkMsg('AQID', { f_port: 2 }));
      assert.deepEqual((await got).payload, { ok: true });
    });

    it('the node timeout overrides the setting', async () => {
      nodeRedHelper().settings({ ttsUplinkDecodeTimeout: 5000 });
      const n = await deploy({ codec: 'script', timeout: '30', script: 'function decodeUplink() { for (;;) {} }' });
      const second = nextMessage<Record<string, any>>(n.errors);
      n.decode.receive(uplinkMsg('AQID'));
      assert.match((await second).error.message, /within 30 ms/);
    });

    it('rejects messages it cannot decode with a clear error', async () => {
      const n = await deploy({ codec: 'script', script: DESIGN_EXAMPLE });
      let second = nextMessage<Record<string, any>>(n.errors);
      n.decode.receive({ payload: { not: 'bytes' } });
      let e = await second;
      assert.equal(e.error.kind, 'input');
      assert.match(e.error.message, /expected bytes \(Buffer, byte array or base64 text\), got object/);
      second = nextMessage<Record<string, any>>(n.errors);
      n.decode.receive({ tts: { type: 'join_accept' }, payload: {} });
      e = await second;
      assert.equal(e.error.kind, 'input');
    });
  });

  describe('admin routes', () => {
    it('POST /tts/codec/test runs the undeployed script: uplink, downlink, errors with lines', async () => {
      const h = nodeRedHelper();
      await loadFlow(modules, []);
      let res = await h.request().post('/tts/codec/test').send({ script: DESIGN_EXAMPLE, direction: 'uplink', format: 'hex', input: '34 08 10 17', fPort: 1 }).expect(200);
      assert.equal(res.body.ok, true);
      assert.equal(res.body.form, 'plugin');
      assert.deepEqual(res.body.data, { temperature: 21, humidity: 59.04 });
      assert.equal(typeof res.body.durationMs, 'number');

      res = await h.request().post('/tts/codec/test').send({ script: DESIGN_EXAMPLE, direction: 'downlink', format: 'json', input: '{"enabled":true,"frequency":10,"threshold":20}' }).expect(200);
      assert.equal(res.body.base64, 'AQoU');
      assert.equal(res.body.hex, '010A14');

      res = await h.request().post('/tts/codec/test').send({ script: 'function decodeUplink(i) {\n  console.log("hi");\n  throw new Error("nope");\n}', format: 'bytes', input: '[1, 2]' }).expect(200);
      assert.equal(res.body.ok, false);
      assert.deepEqual(res.body.logs, ['hi']);
      assert.deepEqual(res.body.errors, ['Error: nope (line 3, column 9)']);

      res = await h.request().post('/tts/codec/test').send({ script: 'function decodeUplink(i) {\n  return {;\n}', input: 'AQ==' }).expect(200);
      assert.equal(res.body.error.kind, 'compile');
      assert.equal(res.body.error.line, 2);

      res = await h.request().post('/tts/codec/test').send({ codec: 'cayennelpp', input: 'AWcA4QJoUANzJ38=' }).expect(200);
      assert.deepEqual(res.body.data, { temperature_1: 22.5, relative_humidity_2: 40, barometric_pressure_3: 1011.1 });

      res = await h.request().post('/tts/codec/test').send({ script: DESIGN_EXAMPLE, format: 'hex', input: 'zz' }).expect(400);
      assert.match(res.body.error.message, /input: not valid hex/);
      await h.request().post('/tts/codec/test').send({ script: DESIGN_EXAMPLE, direction: 'sideways' }).expect(400);
      res = await h.request().post('/tts/codec/test').send({ script: DESIGN_EXAMPLE, fPort: 999 }).expect(400);
      assert.equal(res.body.error.message, 'fPort must be an integer 0..255');
    });

    it('POST /tts/codec/test runs the node\'s decode path: auto passes TTS decoded_payload through, as the node does', async () => {
      const h = nodeRedHelper();
      await loadFlow(modules, []);
      const body = { codec: 'auto', script: DESIGN_EXAMPLE, format: 'base64', input: 'NAgQFw==', fPort: 1 };
      let res = await h.request().post('/tts/codec/test').send({ ...body, decodedPayload: { from: 'tts' } }).expect(200);
      assert.equal(res.body.decoder, 'passthrough');
      assert.deepEqual(res.body.data, { from: 'tts' });
      res = await h.request().post('/tts/codec/test').send(body).expect(200);
      assert.equal(res.body.decoder, 'script');
      assert.equal(res.body.form, 'plugin');
      assert.deepEqual(res.body.data, { temperature: 21, humidity: 59.04 });
      res = await h.request().post('/tts/codec/test').send({ codec: 'auto', script: '', format: 'base64', input: 'NAgQFw==' }).expect(200);
      assert.equal(res.body.ok, false);
      assert.equal(res.body.decoder, 'none');
      assert.match(res.body.errors[0], /nothing to decode with/);
    });

    it('POST /tts/codec/test encodes downlinks with the downlink encoder and its guard-rails', async () => {
      const h = nodeRedHelper();
      await loadFlow(modules, []);
      const big = 'function encodeDownlink(input) { return { bytes: new Array(input.data.n).fill(1), fPort: input.data.port }; }';
      let res = await h.request().post('/tts/codec/test').send({ script: big, direction: 'downlink', format: 'json', input: '{"n": 243, "port": 5}' }).expect(200);
      assert.equal(res.body.ok, false);
      assert.match(res.body.errors[0], /243 bytes, more than the 242-byte LoRaWAN downlink maximum/);
      res = await h.request().post('/tts/codec/test').send({ script: big, direction: 'downlink', format: 'json', input: '{"n": 2, "port": 224}' }).expect(200);
      assert.equal(res.body.ok, false);
      assert.match(res.body.errors[0], /FPort 224 is outside 1-223/);
      res = await h.request().post('/tts/codec/test').send({ script: big, direction: 'downlink', format: 'json', input: '{"n": 2}', fPort: 0 }).expect(400);
      assert.match(res.body.error.message, /FPort must be a whole number from 1 to 223/);
      res = await h.request().post('/tts/codec/test').send({ codec: 'cayennelpp', direction: 'downlink', format: 'json', input: '{"value_1": 21.5}' }).expect(200);
      assert.equal(res.body.hex, '010866');
      res = await h.request().post('/tts/codec/test').send({ codec: 'cayennelpp', direction: 'downlink', format: 'hex', input: '01 08 66' }).expect(200);
      assert.deepEqual(res.body.data, { value_1: 21.5 });
    });

    it('GET /tts/uplink-decode/:id/last-uplink returns what the node last received', async () => {
      const n = await deploy({ codec: 'script', script: DESIGN_EXAMPLE });
      const h = nodeRedHelper();
      await h.request().get(`/tts/uplink-decode/${n.id}/last-uplink`).expect(404);
      const got = nextMessage(n.ok);
      n.decode.receive(uplinkMsg('NAgQFw==', { f_port: 3 }));
      await got;
      const res = await h.request().get(`/tts/uplink-decode/${n.id}/last-uplink`).expect(200);
      assert.equal(res.body.base64, 'NAgQFw==');
      assert.equal(res.body.fPort, 3);
      assert.equal(res.body.receivedAt, '2025-03-14T09:26:53.512Z');
    });

    it('guards the test route with tts-uplink-decode.write and the last-uplink route with .read', () => {
      const { types, routes } = adminRoutesOf(decodeModule);
      assert.deepEqual(types, ['tts-uplink-decode']);
      assert.deepEqual(routes, [
        { route: 'post /tts/codec/test', permission: 'tts-uplink-decode.write' },
        { route: 'get /tts/uplink-decode/:id/last-uplink', permission: 'tts-uplink-decode.read' },
      ]);
    });
  });
});
