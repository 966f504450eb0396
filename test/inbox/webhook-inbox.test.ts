import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import profileModule = require('../../nodes/tts-profile/tts-profile');
import webhookModule = require('../../nodes/tts-webhook-in/tts-webhook-in');
import { holdForRetry } from '../../src/runtime';
import { webhookInputs } from '../../src/runtime';
import { ttsFixture } from '../helpers/tts-fixtures';
import { catchNode, helperNode, profileNode, webhookInNode, uid } from '../helpers/flows';
import { gateModule, gated, gatesHold as gateHolds, resetGates } from '../helpers/gate-node';
import { loadFlow, nextMessage, nodeRedHelper, startServerWithNodeRoutes, unloadFlow, waitForCall } from '../helpers/runtime';

const TOKEN = 'inbox-token-0123456789abcdef';

const modules = [profileModule, webhookModule, gateModule];

async function post(body: unknown, token = TOKEN): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${nodeRedHelper().url()}/tts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text.startsWith('{') ? JSON.parse(text) : text, headers: res.headers };
}

function uplink(fCnt: number): Record<string, any> {
  const body = ttsFixture('uplink_message');
  body.uplink_message.f_cnt = fCnt;
  delete body.received_at;
  return body;
}

describe('tts-webhook-in durable inbox', () => {
  let dir: string;
  before(async () => {
    await startServerWithNodeRoutes();
  });
  after(async () => {
    await nodeRedHelper().stopServer();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tts-inbox-node-'));
    resetGates();
  });
  afterEach(async () => {
    await unloadFlow();
    nodeRedHelper().settings({});
    rmSync(dir, { recursive: true, force: true });
  });

  function gateFlow() {
    const profile = profileNode({ applicationId: '' });
    const gate = { id: uid('gate'), type: 'test-gate', wires: [] };
    const hook = webhookInNode({ profile: profile.id, wires: [[gate.id]] });
    return { flow: [profile, hook, gate], creds: { [profile.id]: { webhookToken: TOKEN } }, hook, gate };
  }

  async function load(flow: unknown[], creds: Record<string, unknown>, limits: Record<string, unknown> = {}): Promise<void> {
    nodeRedHelper().settings({ ttsInbox: { directory: dir, ...limits } });
    await loadFlow(modules, flow, creds);
  }

  it('replays, after a redeploy, exactly the accepted messages the flow had not finished, marked as replays with their first time', async () => {
    const { flow, creds } = gateFlow();
    await load(flow, creds);
    for (const f of [1, 2, 3]) assert.equal((await post(uplink(f))).status, 200);
    await gateHolds(3);
    const firstTimes = gated.map((g) => g.msg.tts?.received_at);
    gated[1].done(); // only the second one is finished
    await unloadFlow();
    resetGates();
    await load(flow, creds);
    await gateHolds(2);
    assert.deepEqual(gated.map((g) => g.msg.tts?.f_cnt), [1, 3]);
    assert.deepEqual(gated.map((g) => g.msg.tts?.replay), [true, true]);
    assert.deepEqual(gated.map((g) => g.msg.tts?.received_at), [firstTimes[0], firstTimes[2]]);
    gated.forEach((g) => g.done());
    await unloadFlow();
    resetGates();
    await load(flow, creds);
    // Nothing left: a fresh uplink is the first thing the gate sees.
    assert.equal((await post(uplink(9))).status, 200);
    await gateHolds(1);
    assert.deepEqual(gated.map((g) => [g.msg.tts?.f_cnt, g.msg.tts?.replay]), [[9, undefined]]);
    gated[0].done();
  });

  it('counts a message as finished when it ends in an error caught by a Catch node', async () => {
    const { flow, creds, gate } = gateFlow();
    const out = helperNode();
    const caught = catchNode([[out.id]], [gate.id]);
    await load([...flow, caught, out], creds);
    assert.equal((await post(uplink(5))).status, 200);
    await gateHolds(1);
    const reported = nextMessage<any>(nodeRedHelper().getNode(out.id));
    gated[0].done(new Error('bad reading'));
    assert.match((await reported).error.message, /bad reading/);
    await unloadFlow();
    resetGates();
    await load([...flow, caught, out], creds);
    assert.equal((await post(uplink(6))).status, 200);
    await gateHolds(1);
    assert.deepEqual(gated.map((g) => g.msg.tts?.f_cnt), [6]);
    gated[0].done();
  });

  it('feeds a message a node handed back again, as a replay, until it is finished', async () => {
    const { flow, creds, hook } = gateFlow();
    await load(flow, creds, { retryMin: 20, retryMax: 40 });
    assert.equal((await post(uplink(7))).status, 200);
    await gateHolds(1);
    assert.equal(holdForRetry(gated[0].msg, 'store unreachable'), true);
    const warned = await waitForCall(nodeRedHelper().getNode(hook.id), 'warn', (args) => args[0] === 'tts-webhook-in.warn.held');
    assert.ok(warned);
    gated[0].done();
    await gateHolds(2);
    assert.equal(gated[1].msg.tts?.f_cnt, 7);
    assert.equal(gated[1].msg.tts?.replay, true);
    gated[1].done();
    assert.equal(holdForRetry({ _msgid: 'not-from-an-inbox' }, 'x'), false);
  });

  it('answers 503 with Retry-After, at once, when the inbox holds its limit of unfinished messages', async () => {
    const { flow, creds, hook } = gateFlow();
    await load(flow, creds, { maxMessages: 2 });
    assert.equal((await post(uplink(1))).status, 200);
    assert.equal((await post(uplink(2))).status, 200);
    const refused = await post(uplink(3));
    assert.equal(refused.status, 503);
    assert.equal(refused.json.error.code, 'inbox_unavailable');
    assert.equal(refused.headers.get('retry-after'), '5');
    await waitForCall(nodeRedHelper().getNode(hook.id), 'warn', (args) => args[0] === 'tts-webhook-in.warn.rejected');
    await gateHolds(2);
    gated.forEach((g) => g.done());
  });

  it('takes messages from backfill through the inbox and the flow, marked as replays', async () => {
    const { flow, creds, hook } = gateFlow();
    await load(flow, creds);
    const input = webhookInputs.forApplication('farm-sensors');
    assert.equal(input?.nodeId, hook.id);
    await input.inject(JSON.stringify(uplink(11)), 'backfill');
    await gateHolds(1);
    assert.deepEqual([gated[0].msg.tts?.f_cnt, gated[0].msg.tts?.replay], [11, true]);
    await assert.rejects(input.inject('{"end_device_ids":{}}', 'backfill'), /device_id/);
    await unloadFlow();
    resetGates();
    await load(flow, creds);
    await gateHolds(1);
    assert.deepEqual([gated[0].msg.tts?.f_cnt, gated[0].msg.tts?.replay], [11, true]);
    gated[0].done();
  });

  describe('hostile bodies', () => {
    it('refuses deep nesting, huge arrays and huge strings with 422 saying why, even with a Catch node in the flow', async () => {
      const { flow, creds } = gateFlow();
      await load([...flow, catchNode([[]], null)], creds);
      // 10,000 levels (61 kB, under the body limit), written as text: JSON.stringify would overflow.
      const deep = JSON.stringify(uplink(1)).replace('"decoded_payload":{', `"decoded_payload":{${'"a":{'.repeat(10_000)}${'}'.repeat(10_000)},`);
      const cases: Array<[string, unknown, RegExp]> = [
        ['deep', deep, /nested deeper than 32/],
        ['array', { ...uplink(2), correlation_ids: Array.from({ length: 20_000 }, () => 'x') }, /more than 10000 elements/],
        ['string', { ...uplink(3), simulated: 'x'.repeat(200_000) }, /string longer than/],
      ];
      for (const [name, body, reason] of cases) {
        const res = await post(body);
        assert.equal(res.status, 422, name);
        assert.equal(res.json.error.code, 'message_too_complex', name);
        assert.match(res.json.error.message, reason, name);
      }
      assert.equal(gated.length, 0);
      // Still alive and accepting.
      assert.equal((await post(uplink(4))).status, 200);
      await gateHolds(1);
      assert.equal(gated[0].msg.tts?.f_cnt, 4);
      gated[0].done();
    });

    it('answers slow bodies 408 in time while ordinary uplinks keep flowing', async () => {
      const { flow, creds } = gateFlow();
      await load(flow, creds);
      const { port } = new URL(nodeRedHelper().url());
      const slow = Array.from({ length: 20 }, () => new Promise<string>((resolve) => {
        const socket = connect(Number(port), '127.0.0.1');
        let answer = '';
        socket.on('data', (chunk) => (answer += chunk.toString()));
        socket.on('error', () => undefined);
        socket.on('close', () => resolve(answer));
        socket.write(`POST /tts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 500\r\nConnection: close\r\n\r\n{`);
      }));
      for (const f of [1, 2, 3]) assert.equal((await post(uplink(f))).status, 200);
      await gateHolds(3);
      const answers = await Promise.all(slow);
      assert.ok(answers.every((a) => a.startsWith('HTTP/1.1 408')), answers.find((a) => !a.startsWith('HTTP/1.1 408')));
      gated.forEach((g) => g.done());
    });

    it('answers malformed JSON with a JSON 400 even though the editor app would parse bodies first', async () => {
      const { flow, creds } = gateFlow();
      await load(flow, creds);
      const res = await post('{"end_device_ids": ');
      assert.equal(res.status, 400);
      assert.equal(res.json.error.code, 'invalid_json');
    });
  });
});
