import { strict as assert } from 'node:assert';
import profileModule = require('../../nodes/tts-profile/tts-profile');
import webhookModule = require('../../nodes/tts-webhook-in/tts-webhook-in');
import { MESSAGE_TYPES } from '../../src/tts/types';
import { downlinkTargets } from '../../src/runtime';
import { ttsFixture } from '../helpers/tts-fixtures';
import { helperNode, profileNode, webhookInNode } from '../helpers/flows';
import { loadFlow, nextMessage, waitForCall, nodeRedHelper, startServerWithNodeRoutes, unloadFlow, type TestNode } from '../helpers/runtime';

const modules = [profileModule, webhookModule];
const TOKEN = 'farm-token-0123456789abcdef';
const DEFAULT_TOKEN = 'default-token-fedcba9876543210';

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${nodeRedHelper().url()}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  const isJson = (res.headers.get('content-type') ?? '').includes('json');
  return { status: res.status, json: isJson && text ? JSON.parse(text) : text, headers: res.headers };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Collects every message the helper receives, for asserting that nothing was sent. */
function collect(node: TestNode): unknown[] {
  const seen: unknown[] = [];
  node.on('input', (msg: unknown) => seen.push(msg));
  return seen;
}

for (const editorBodyParser of [false, true]) {
  describe(`tts-webhook-in over HTTP (${editorBodyParser ? 'body already parsed by the editor app, as Node-RED 4.1 defaults do' : 'node reads the body itself'})`, () => {
    before(async () => {
      await startServerWithNodeRoutes({ editorBodyParser });
    });
    after(async () => {
      await nodeRedHelper().stopServer();
    });
    afterEach(async () => {
      await unloadFlow();
    });

    function farmFlow(extra: Record<string, unknown> = {}) {
      const out = helperNode();
      const farm = profileNode({ applicationId: 'farm-sensors' });
      const dflt = profileNode({ applicationId: '' });
      const hook = webhookInNode({ profile: dflt.id, wires: [[out.id]], ...extra });
      const flow = [farm, dflt, hook, out];
      const creds = { [farm.id]: { webhookToken: TOKEN, apiKey: 'NNSXS.FARM.SECRET' }, [dflt.id]: { webhookToken: DEFAULT_TOKEN } };
      return { flow, creds, out, hook, farm, dflt };
    }

    for (const type of MESSAGE_TYPES) {
      it(`turns a ${type} into one message with topic, tts envelope and payload`, async () => {
        const { flow, creds, out } = farmFlow();
        await loadFlow(modules, flow, creds);
        const outNode = nodeRedHelper().getNode(out.id);
        const received = nextMessage<any>(outNode);
        const body = ttsFixture(type);
        const res = await post('/tts', body, bearer(TOKEN));
        assert.equal(res.status, 200);
        const msg = await received;
        const appId = body.end_device_ids.application_ids.application_id;
        assert.equal(msg.topic, `${appId}/${body.end_device_ids.device_id}/${type}`);
        assert.equal(msg.tts.type, type);
        assert.equal(msg.tts.application_id, appId);
        assert.deepEqual(msg.tts.raw, body);
        assert.deepEqual(msg.tts.correlation_ids, body.correlation_ids ?? []);
        if (type === 'uplink_message') {
          assert.deepEqual(msg.payload, { temperature: 24.12, humidity: 59.04 });
          assert.equal(msg.tts.f_port, 2);
          assert.equal(msg.tts.f_cnt, 1337);
          assert.equal(msg.tts.rx_metadata.length, 2);
          assert.equal(msg.tts.settings.frequency, '867300000');
          assert.equal(msg.tts.version_ids.model_id, 'th-100');
          assert.equal(msg.tts.locations.user.latitude, 52.374);
        } else {
          assert.deepEqual(msg.payload, body[type]);
        }
      });
    }

    it('gives the base64 frm_payload as payload when TTS did not decode, with omitted defaults filled', async () => {
      const { flow, creds, out } = farmFlow();
      await loadFlow(modules, flow, creds);
      const received = nextMessage<any>(nodeRedHelper().getNode(out.id));
      assert.equal((await post('/tts', ttsFixture('uplink_minimal'), bearer(TOKEN))).status, 200);
      const msg = await received;
      assert.equal(msg.payload, 'CQ==');
      assert.equal(msg.tts.f_port, 0);
      assert.equal(msg.tts.f_cnt, 0);
      assert.equal(msg.tts.simulated, false);
      assert.deepEqual(msg.tts.correlation_ids, []);
      assert.equal(msg.tts.dev_eui, undefined);
    });

    it('accepts the per-message-type sub-paths TTS appends', async () => {
      const { flow, creds, out } = farmFlow();
      await loadFlow(modules, flow, creds);
      const outNode = nodeRedHelper().getNode(out.id);
      for (const [path, type] of [['/tts/uplink', 'uplink_message'], ['/tts/down/ack', 'downlink_ack'], ['/tts/', 'join_accept']] as const) {
        const received = nextMessage<any>(outNode);
        assert.equal((await post(path, ttsFixture(type), bearer(TOKEN))).status, 200, path);
        assert.equal((await received).tts.type, type);
      }
      assert.equal((await post('/ttsx', ttsFixture('uplink_message'), bearer(TOKEN))).status, 404);
    });

    it('routes message kinds to five outputs with routing by-type', async () => {
      const outs = [helperNode(), helperNode(), helperNode(), helperNode(), helperNode()];
      const { flow, creds } = farmFlow({ routing: 'by-type', wires: outs.map((o) => [o.id]) });
      await loadFlow(modules, [...flow, ...outs], creds);
      const expected: Array<[typeof MESSAGE_TYPES[number], number]> = [
        ['uplink_message', 0], ['join_accept', 1], ['downlink_sent', 2], ['downlink_failed', 2],
        ['location_solved', 3], ['service_data', 3], ['uplink_normalized', 4],
      ];
      for (const [type, output] of expected) {
        const seen = outs.map((o) => collect(nodeRedHelper().getNode(o.id)));
        const received = nextMessage<any>(nodeRedHelper().getNode(outs[output].id));
        assert.equal((await post('/tts', ttsFixture(type), bearer(TOKEN))).status, 200);
        assert.equal((await received).tts.type, type);
        seen.forEach((list, i) => assert.equal(list.length, i === output ? 1 : 0, `${type} on output ${i}`));
      }
    });

    describe('authentication and profile selection', () => {
      it('refuses a missing or unknown token with 401 and WWW-Authenticate before reading the body', async () => {
        const { flow, creds, out, hook } = farmFlow();
        await loadFlow(modules, flow, creds);
        const seen = collect(nodeRedHelper().getNode(out.id));
        const hookNode = nodeRedHelper().getNode(hook.id);
        const none = await post('/tts', ttsFixture('uplink_message'));
        assert.equal(none.status, 401);
        assert.equal(none.json.error.code, 'missing_token');
        assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
        // Not even JSON: the token is checked first, so the body is never looked at (unless the
        // editor's parser in front of node routes has already rejected it).
        const unknown = await post('/tts', editorBodyParser ? ttsFixture('uplink_message') : '{not json', bearer('wrong-token'));
        assert.equal(unknown.status, 401);
        assert.equal(unknown.json.error.code, 'unknown_token');
        assert.equal(seen.length, 0);
        const statuses = hookNode.status.args.map((a: unknown[]) => a[0] as { fill?: string; text?: string });
        assert.ok(statuses.some((s) => s.fill === 'red' && s.text === '401 unknown_token'));
      });

      it("uses the application's own profile and refuses another profile's token for it", async () => {
        const { flow, creds, out } = farmFlow();
        await loadFlow(modules, flow, creds);
        const seen = collect(nodeRedHelper().getNode(out.id));
        const res = await post('/tts', ttsFixture('uplink_message'), bearer(DEFAULT_TOKEN));
        assert.equal(res.status, 401);
        assert.equal(res.json.error.code, 'wrong_profile_token');
        assert.equal(seen.length, 0);
      });

      it('serves other applications with the Default profile and its token', async () => {
        const { flow, creds, out } = farmFlow();
        await loadFlow(modules, flow, creds);
        const body = ttsFixture('uplink_message');
        body.end_device_ids.application_ids.application_id = 'other-app';
        const received = nextMessage<any>(nodeRedHelper().getNode(out.id));
        assert.equal((await post('/tts', body, bearer(TOKEN))).status, 401);
        assert.equal((await post('/tts', body, bearer(DEFAULT_TOKEN))).status, 200);
        assert.equal((await received).topic, 'other-app/eui-70b3d57ed005a1b2/uplink_message');
      });

      it('refuses an application no profile covers with 403 when there is no Default profile', async () => {
        const out = helperNode();
        const farm = profileNode({ applicationId: 'farm-sensors' });
        const hook = webhookInNode({ profile: farm.id, wires: [[out.id]] });
        await loadFlow(modules, [farm, hook, out], { [farm.id]: { webhookToken: TOKEN } });
        const seen = collect(nodeRedHelper().getNode(out.id));
        const body = ttsFixture('uplink_message');
        body.end_device_ids.application_ids.application_id = 'other-app';
        const res = await post('/tts', body, bearer(TOKEN));
        assert.equal(res.status, 403);
        assert.equal(res.json.error.code, 'no_profile');
        assert.match(res.json.error.message, /other-app/);
        assert.equal(seen.length, 0);
      });

      it('treats two profiles for one application, or two Default profiles, as a configuration error', async () => {
        const a = profileNode({ applicationId: 'farm-sensors' });
        const b = profileNode({ applicationId: 'farm-sensors' });
        const d1 = profileNode();
        const d2 = profileNode();
        const hook = webhookInNode({ wires: [[]] });
        await loadFlow(modules, [a, b, d1, d2, hook], {
          [a.id]: { webhookToken: TOKEN }, [b.id]: { webhookToken: TOKEN }, [d1.id]: { webhookToken: DEFAULT_TOKEN }, [d2.id]: { webhookToken: DEFAULT_TOKEN },
        });
        const own = await post('/tts', ttsFixture('uplink_message'), bearer(TOKEN));
        assert.equal(own.status, 403);
        assert.equal(own.json.error.code, 'profile_conflict');
        const body = ttsFixture('uplink_message');
        body.end_device_ids.application_ids.application_id = 'other-app';
        const dflt = await post('/tts', body, bearer(DEFAULT_TOKEN));
        assert.equal(dflt.status, 403);
        assert.match(dflt.json.error.message, /more than one Default profile/);
        const errors = [a, b, d1, d2].flatMap((p) => nodeRedHelper().getNode(p.id).error.args.map((x: unknown[]) => String(x[0])));
        assert.ok(errors.length >= 2, 'each second profile reports the conflict');
      });

      it('resolves ${ENV} credentials', async () => {
        process.env.TTS_TEST_WEBHOOK_TOKEN = 'token-from-the-environment';
        try {
          const out = helperNode();
          const p = profileNode({ applicationId: 'farm-sensors' });
          const hook = webhookInNode({ profile: p.id, wires: [[out.id]] });
          await loadFlow(modules, [p, hook, out], { [p.id]: { webhookToken: '${TTS_TEST_WEBHOOK_TOKEN}' } });
          const received = nextMessage(nodeRedHelper().getNode(out.id));
          assert.equal((await post('/tts', ttsFixture('uplink_message'), bearer('${TTS_TEST_WEBHOOK_TOKEN}'))).status, 401);
          assert.equal((await post('/tts', ttsFixture('uplink_message'), bearer('token-from-the-environment'))).status, 200);
          await received;
        } finally {
          delete process.env.TTS_TEST_WEBHOOK_TOKEN;
        }
      });

      it('warns at most once a minute per kind of refusal, naming no secret', async () => {
        const { flow, creds, hook } = farmFlow();
        await loadFlow(modules, flow, creds);
        const hookNode = nodeRedHelper().getNode(hook.id);
        for (let i = 0; i < 5; i += 1) await post('/tts', ttsFixture('uplink_message'), bearer('guess-' + i));
        await post('/tts', ttsFixture('uplink_message'), bearer(DEFAULT_TOKEN));
        const warnings = hookNode.warn.args.map((a: unknown[]) => String(a[0]));
        assert.equal(warnings.length, 2, warnings.join('\n'));
        // The first of its kind has held none back: the text without the count (RED._ gives keys here).
        assert.equal(warnings[0], 'tts-webhook-in.warn.rejected');
        for (const text of warnings) {
          assert.ok(!text.includes(TOKEN) && !text.includes(DEFAULT_TOKEN) && !text.includes('guess-'), text);
        }
      });
    });

    describe('bad input', () => {
      async function expectRefused(body: unknown, status: number, code: string, headers: Record<string, string> = {}): Promise<any> {
        const { flow, creds, out } = farmFlow({ maxBody: 4 });
        await loadFlow(modules, flow, creds);
        const seen = collect(nodeRedHelper().getNode(out.id));
        const res = await post('/tts', body, { ...bearer(TOKEN), ...headers });
        assert.equal(res.status, status, JSON.stringify(res.json));
        assert.equal(res.json.error.code, code);
        assert.equal(seen.length, 0, 'no message is sent');
        return res.json.error;
      }

      it('non-JSON → 400', async () => {
        // With the editor's parser in front, malformed JSON never reaches the route: the parser
        // answers 400 itself. Either way the caller gets a 400 and no message is sent.
        if (editorBodyParser) {
          await refusedByEditorParser();
          return;
        }
        const error = await expectRefused('{"end_device_ids": ', 400, 'invalid_json');
        assert.match(error.message, /not valid JSON/);
      });

      async function refusedByEditorParser(): Promise<void> {
        const { flow, creds, out } = farmFlow();
        await loadFlow(modules, flow, creds);
        const seen = collect(nodeRedHelper().getNode(out.id));
        const res = await fetch(`${nodeRedHelper().url()}/tts`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(TOKEN) }, body: '{"end_device_ids": ' });
        assert.equal(res.status, 400);
        assert.equal(seen.length, 0);
      }

      it('wrong content type → 415', async () => {
        await expectRefused('end_device_ids=x', 415, 'unsupported_media_type', { 'content-type': 'text/plain' });
      });

      it('body over the limit → 413, from Content-Length and from what was received', async () => {
        const big = ttsFixture('uplink_message');
        big.uplink_message.padding = 'x'.repeat(5000);
        const error = await expectRefused(big, 413, 'body_too_large');
        assert.match(error.message, /4096 bytes/);
      });

      it('body over the limit sent chunked (no Content-Length) → 413', async () => {
        const { flow, creds, out } = farmFlow({ maxBody: 4 });
        await loadFlow(modules, flow, creds);
        const seen = collect(nodeRedHelper().getNode(out.id));
        const big = ttsFixture('uplink_message');
        big.uplink_message.padding = 'x'.repeat(5000);
        const data = new TextEncoder().encode(JSON.stringify(big));
        const stream = new ReadableStream({ start(c) { c.enqueue(data); c.close(); } });
        const res = await fetch(`${nodeRedHelper().url()}/tts`, {
          method: 'POST', headers: { 'content-type': 'application/json', ...bearer(TOKEN) }, body: stream, duplex: 'half',
        } as RequestInit);
        assert.equal(res.status, 413);
        assert.equal(seen.length, 0);
      });

      const notTts: Array<[string, unknown, RegExp]> = [
        ['an array', [1, 2], /expected a JSON object/],
        ['missing end_device_ids', { uplink_message: {} }, /end_device_ids: missing/],
        ['no known message type', { end_device_ids: { device_id: 'dev-1', application_ids: { application_id: 'farm-sensors' } }, something_else: {} }, /no known message type/],
        ['two message types', { ...ttsFixture('join_accept'), downlink_ack: {} }, /more than one message type/],
        ['f_port as a string', (() => { const b = ttsFixture('uplink_message'); b.uplink_message.f_port = '2'; return b; })(), /uplink_message\.f_port: expected an unsigned integer/],
        ['frm_payload not base64', (() => { const b = ttsFixture('uplink_message'); b.uplink_message.frm_payload = 'not base64!'; return b; })(), /frm_payload: expected a base64 string/],
        ['invalid device ID', (() => { const b = ttsFixture('uplink_message'); b.end_device_ids.device_id = 'Bad_ID'; return b; })(), /device_id: not a valid TTS device ID/],
        ['rx_metadata not an array', (() => { const b = ttsFixture('uplink_message'); b.uplink_message.rx_metadata = {}; return b; })(), /rx_metadata: expected an array/],
      ];
      for (const [label, body, message] of notTts) {
        it(`not a TTS message (${label}) → 422 saying what is wrong`, async () => {
          const error = await expectRefused(body, 422, 'invalid_message');
          assert.match(error.message, message);
        });
      }
    });

    it('remembers the X-Downlink-* and X-Tts-Domain headers per application, never in the message', async () => {
      const { flow, creds, out } = farmFlow();
      await loadFlow(modules, flow, creds);
      const received = nextMessage<any>(nodeRedHelper().getNode(out.id));
      await post('/tts', ttsFixture('uplink_message'), {
        ...bearer(TOKEN),
        'x-downlink-apikey': 'NNSXS.DOWNLINKKEY.SECRET',
        'x-downlink-push': 'https://eu1.cloud.thethings.network/api/v3/as/applications/farm-sensors/webhooks/node-red/devices/eui-70b3d57ed005a1b2/down/push',
        'x-downlink-replace': 'https://eu1.cloud.thethings.network/api/v3/as/applications/farm-sensors/webhooks/node-red/devices/eui-70b3d57ed005a1b2/down/replace',
        'x-tts-domain': 'eu1.cloud.thethings.network',
      });
      const msg = await received;
      const target = downlinkTargets.get('farm-sensors');
      assert.equal(target?.apiKey, 'NNSXS.DOWNLINKKEY.SECRET');
      assert.match(target?.pushUrl ?? '', /down\/push$/);
      assert.match(target?.replaceUrl ?? '', /down\/replace$/);
      assert.equal(target?.domain, 'eu1.cloud.thethings.network');
      assert.ok(!JSON.stringify(msg).includes('NNSXS.DOWNLINKKEY'));
    });

    it('removes its route on redeploy and answers on the new path', async () => {
      const { flow, creds, hook } = farmFlow();
      await loadFlow(modules, flow, creds);
      assert.equal((await post('/tts', ttsFixture('join_accept'), bearer(TOKEN))).status, 200);
      const moved = flow.map((n) => (n.id === hook.id ? { ...n, path: '/moved' } : n));
      await nodeRedHelper().setFlows(moved, 'full', creds);
      assert.equal((await post('/tts', ttsFixture('join_accept'), bearer(TOKEN))).status, 404);
      assert.equal((await post('/moved', ttsFixture('join_accept'), bearer(TOKEN))).status, 200);
    });

    it('shows its path while waiting and a count once messages arrive', async () => {
      const { flow, creds, hook } = farmFlow();
      await loadFlow(modules, flow, creds);
      const hookNode = nodeRedHelper().getNode(hook.id);
      assert.deepEqual(hookNode.status.args[0][0], { fill: 'yellow', shape: 'ring', text: 'tts-webhook-in.status.listening' });
      await post('/tts', ttsFixture('join_accept'), bearer(TOKEN));
      const [status] = await waitForCall(hookNode, 'status', (args) => (args[0] as { fill?: string }).fill === 'green');
      assert.deepEqual(status, { fill: 'green', shape: 'dot', text: 'tts-webhook-in.status.received' });
    });
  });
}
