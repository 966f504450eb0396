import { strict as assert } from 'node:assert';
import { inspect } from 'node:util';
import { TtsSimulator } from '../../../src/sim';
import {
  buildWebhookRequest,
  DOWNLINK_KEY_RIGHTS,
  LORAWAN_MAX_DOWNLINK_BYTES,
  retryAfterFromHeaders,
  setUpWebhook,
  TtsApiClient,
  TtsApiError,
  WEBHOOK_MESSAGE_TYPES,
  WebhookConfigError,
  type RetryInfo,
} from '../../../src/tts/api';
import { MESSAGE_TYPES } from '../../../src/tts/types';
import { WebhookReceiver } from '../../helpers/webhook-receiver';
import { hang, json, ScriptedServer, ttsError } from '../../helpers/scripted-tts-server';

const KEY = 'NNSXS.CLIENTTESTKEYID00000000000000000000000.CLIENTTESTSECRET0000000000000000000000000000000000000';
const FAST = { baseDelayMs: 5, maxDelayMs: 20, maxAttempts: 3, maxRetryAfterMs: 2000 };

async function rejection(promise: Promise<unknown>): Promise<TtsApiError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof TtsApiError, `expected a TtsApiError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

function assertNoSecret(err: TtsApiError, ...secrets: string[]): void {
  const everything = `${err.message}\n${err.stack}\n${inspect(err, { depth: 10 })}\n${JSON.stringify(err)}`;
  for (const secret of secrets) {
    assert.ok(!everything.includes(secret), 'secret leaked into the error');
    assert.ok(!everything.includes(secret.split('.')[2]), 'secret part leaked into the error');
  }
}

const item = { f_port: 10, frm_payload: 'AQoU', priority: 'NORMAL' as const, confirmed: true, correlation_ids: ['nodered:t1'] };

describe('TTS API client', function () {
  describe('against local servers: retries and error shaping', function () {
    let server: ScriptedServer | undefined;
    afterEach(async function () {
      await server?.stop();
      server = undefined;
    });
    const start = async (...steps: ConstructorParameters<typeof ScriptedServer>[0]): Promise<TtsApiClient> => {
      server = new ScriptedServer(steps);
      const url = await server.start();
      return new TtsApiClient({ server: url, apiKey: KEY, timeoutMs: 300, retry: FAST });
    };

    it('posts the downlink body with bearer auth to the webhook push path', async function () {
      const client = await start(json(200, undefined));
      const result = await client.pushDownlinks({ applicationId: 'farm-sensors', webhookId: 'node-red', deviceId: 'valve-12', downlinks: [item] });
      assert.equal(result.attempts, 1);
      const [req] = server!.seen;
      assert.equal(req.method, 'POST');
      assert.equal(req.url, '/api/v3/as/applications/farm-sensors/webhooks/node-red/devices/valve-12/down/push');
      assert.equal(req.headers.authorization, `Bearer ${KEY}`);
      assert.equal(req.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(req.body), { downlinks: [item] });
      await client.replaceDownlinks({ applicationId: 'farm-sensors', deviceId: 'valve-12', downlinks: [] });
      assert.equal(server!.seen[1].url, '/api/v3/as/applications/farm-sensors/devices/valve-12/down/replace');
    });

    it('retries 5xx with back-off, then succeeds', async function () {
      const retries: RetryInfo[] = [];
      server = new ScriptedServer([ttsError(503, 14, 'unavailable', 'unavailable'), json(500, { code: 13, message: 'internal' }), json(200, undefined)]);
      const url = await server.start();
      const client = new TtsApiClient({ server: url, apiKey: KEY, retry: FAST, onRetry: (info) => retries.push(info) });
      const result = await client.pushDownlinks({ applicationId: 'farm-sensors', deviceId: 'valve-12', downlinks: [item] });
      assert.equal(result.attempts, 3);
      assert.deepEqual(retries.map((r) => r.reason), ['HTTP 503', 'HTTP 500']);
      assert.ok(retries.every((r) => r.delayMs >= 4 && r.delayMs <= 20));
    });

    it('gives up after maxAttempts on persistent 5xx with a clear error', async function () {
      const client = await start(ttsError(503, 14, 'unavailable', 'service unavailable'));
      const err = await rejection(client.pushDownlinks({ applicationId: 'farm-sensors', deviceId: 'valve-12', downlinks: [item] }));
      assert.equal(server!.seen.length, 3);
      assert.equal(err.kind, 'http');
      assert.equal(err.status, 503);
      assert.equal(err.attempts, 3);
      assert.equal(err.ttsName, 'unavailable');
      assert.match(err.message, /downlink push for farm-sensors\/valve-12 failed with HTTP 503.*after 3 attempts/);
    });

    it('honours x-rate-limit-retry on 429', async function () {
      const client = await start(ttsError(429, 8, 'rate_limit_exceeded', 'rate limited', { 'x-rate-limit-retry': '0.3' }), json(200, undefined));
      await client.pushDownlinks({ applicationId: 'farm-sensors', deviceId: 'valve-12', downlinks: [item] });
      const [first, second] = server!.seen;
      assert.ok(second.at - first.at >= 280, `waited ${second.at - first.at} ms`);
    });

    it('honours Retry-After as an HTTP date, and gives up when asked to wait too long', async function () {
      assert.ok(Math.abs(retryAfterFromHeaders({ 'Retry-After': new Date(Date.now() + 5000).toUTCString() })! - 5000) < 1100);
      assert.equal(retryAfterFromHeaders({ 'X-Rate-Limit-Retry': '2', 'Retry-After': '9' }), 2000);
      assert.equal(retryAfterFromHeaders({}), undefined);
      const client = await start(ttsError(429, 8, 'rate_limit_exceeded', 'rate limited', { 'retry-after': '60' }));
      const err = await rejection(client.pushDownlinks({ applicationId: 'farm-sensors', deviceId: 'valve-12', downlinks: [item] }));
      assert.equal(server!.seen.length, 1, 'a 60 s wait exceeds maxRetryAfterMs: no retry');
      assert.equal(err.status, 429);
      assert.equal(err.retryAfterMs, 60_000);
      assert.match(err.message, /rate limited/);
    });

    it('does not retry 4xx and surfaces TTS error names', async function () {
      const client = await start(ttsError(400, 3, 'no_f_port', 'no FPort'));
      const err = await rejection(client.pushDownlinks({ applicationId: 'farm-sensors', deviceId: 'valve-12', downlinks: [item] }));
      assert.equal(server!.seen.length, 1);
      assert.equal(err.status, 400);
      assert.equal(err.grpcCode, 3);
      assert.equal(err.ttsName, 'no_f_port');
      assert.equal(err.ttsNamespace, 'pkg/test');
      assert.equal(err.details.length, 1);
      assert.equal(err.message, 'TTS downlink push for farm-sensors/valve-12 failed with HTTP 400: error:pkg/test:no_f_port (no FPort)');
    });

    it('retries a timeout, then reports it as a timeout', async function () {
      const client = await start(hang, json(200, undefined));
      const ok = await client.pushDownlinks({ applicationId: 'farm-sensors', deviceId: 'valve-12', downlinks: [item] });
      assert.equal(ok.attempts, 2);
      await server!.stop();
      const client2 = await start(hang);
      const started = Date.now();
      const err = await rejection(client2.pushDownlinks({ applicationId: 'farm-sensors', deviceId: 'valve-12', downlinks: [item] }, { retry: { maxAttempts: 2 } }));
      assert.equal(err.kind, 'timeout');
      assert.equal(err.attempts, 2);
      assert.ok(Date.now() - started < 2000, 'bounded');
    });

    it('retries network errors, bounded', async function () {
      const client = await start(json(200, undefined));
      const url = client.server;
      await server!.stop();
      server = undefined;
      const retries: RetryInfo[] = [];
      const dead = new TtsApiClient({ server: url, apiKey: KEY, retry: FAST, onRetry: (r) => retries.push(r) });
      const err = await rejection(dead.getWebhookFormats());
      assert.equal(err.kind, 'network');
      assert.equal(err.causeCode, 'ECONNREFUSED');
      assert.equal(err.attempts, 3);
      assert.deepEqual(retries.map((r) => r.reason), ['ECONNREFUSED', 'ECONNREFUSED']);
      assert.match(err.message, /cannot reach the server \(ECONNREFUSED\) after 3 attempts/);
    });

    it('stops waiting when the caller aborts during back-off', async function () {
      server = new ScriptedServer([ttsError(503, 14, 'unavailable', 'unavailable')]);
      const url = await server.start();
      const controller = new AbortController();
      // Abort as soon as the client starts its (10 s) back-off.
      const client = new TtsApiClient({ server: url, apiKey: KEY, retry: { baseDelayMs: 10_000, maxDelayMs: 10_000 }, onRetry: () => controller.abort() });
      const started = Date.now();
      const err = await rejection(client.pushDownlinks({ applicationId: 'farm-sensors', deviceId: 'valve-12', downlinks: [item] }, { signal: controller.signal }));
      assert.equal(err.kind, 'aborted');
      assert.equal(server.seen.length, 1);
      assert.ok(Date.now() - started < 1000);
    });

    it('keeps the key out of errors even when the server echoes it, and out of the client', async function () {
      const client = await start((req, res) => {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ code: 16, message: `key ${String(req.headers.authorization)} not accepted`, details: [{ name: 'api_key_not_found', attributes: { key: String(req.headers.authorization) } }] }));
      });
      const err = await rejection(client.getWebhookFormats());
      assert.equal(err.status, 401);
      assert.match(err.message, /HTTP 401 \(API key missing, unknown or invalid\)/);
      assertNoSecret(err, KEY);
      assert.ok(!inspect(client, { depth: 10 }).includes(KEY), 'inspecting the client shows no key');
    });

    it('turns a non-JSON error page into a short message', async function () {
      const client = await start((_req, res) => {
        res.writeHead(502, { 'Content-Type': 'text/html' });
        res.end('<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>');
      });
      const err = await rejection(client.getWebhookFormats({ retry: { maxAttempts: 1 } }));
      assert.equal(err.message, 'TTS webhook formats query failed with HTTP 502: 502 Bad Gateway nginx');
    });

    it('applies the guard-rails before sending anything', async function () {
      const client = await start(json(200, undefined));
      const base = { applicationId: 'farm-sensors', deviceId: 'valve-12' };
      const cases: Array<[unknown, RegExp]> = [
        [{ ...item, f_port: 0 }, /FPort must be a whole number from 1 to 223/],
        [{ ...item, f_port: 224 }, /FPort/],
        [{ ...item, f_port: 1.5 }, /FPort/],
        [{ ...item, frm_payload: Buffer.alloc(LORAWAN_MAX_DOWNLINK_BYTES + 1).toString('base64') }, /243 bytes, more than the 242-byte/],
        [{ ...item, frm_payload: 'not base64!' }, /base64/],
        [{ ...item, priority: 'URGENT' }, /priority must be one of LOWEST/],
        [{ f_port: 1 }, /needs frm_payload/],
        [{ ...item, correlation_ids: ['x'.repeat(101)] }, /correlation_ids/],
      ];
      for (const [bad, pattern] of cases) {
        const err = await rejection(client.pushDownlinks({ ...base, downlinks: [bad as typeof item] }));
        assert.equal(err.kind, 'invalid-request');
        assert.match(err.message, pattern);
      }
      const badIds = await rejection(client.pushDownlinks({ applicationId: 'Farm', deviceId: 'valve-12', downlinks: [item] }));
      assert.match(badIds.message, /valid TTS IDs/);
      const foreign = await rejection(client.pushDownlinks({ ...base, url: 'http://127.0.0.1:9/api/v3/x/down/push', downlinks: [item] }));
      assert.match(foreign.message, /needs the API key from the same headers/);
      const noKey = new TtsApiClient({ server: client.server });
      assert.match((await rejection(noKey.getWebhookFormats())).message, /no API key configured/);
      const badKey = new TtsApiClient({ server: client.server, apiKey: 'NNSXS.A B\n' });
      const headerErr = await rejection(badKey.getWebhookFormats());
      assert.match(headerErr.message, /not allowed in an HTTP header/);
      assert.equal(server!.seen.length, 0, 'nothing reached the server');
    });
  });

  describe('against the simulator', function () {
    let sim: TtsSimulator;
    let receiver: WebhookReceiver;
    let receiverUrl: string;

    beforeEach(async function () {
      receiver = new WebhookReceiver();
      receiverUrl = await receiver.start();
      sim = new TtsSimulator({ applicationId: 'farm-sensors', devices: 2, timing: { sentDelayMs: 5, answerDelayMs: 5 }, webhook: { url: `${receiverUrl}/tts`, token: 'tok' } });
      await sim.start();
    });
    afterEach(async function () {
      await sim.stop();
      await receiver.stop();
    });

    it('pushes to the URL and key captured from X-Downlink-* headers, and the events come back', async function () {
      await sim.sendUplink('sim-device-01');
      const uplink = await receiver.next((r) => r.body.uplink_message !== undefined);
      const key = String(uplink.headers['x-downlink-apikey']);
      const pushUrl = String(uplink.headers['x-downlink-push']);
      // A client for another server: the absolute URL plus its own key is what counts.
      const client = new TtsApiClient({ server: 'https://eu1.cloud.thethings.network', apiKey: 'NNSXS.PROFILE.KEY' });
      const acked = sim.waitForWebhook((p) => p.type === 'downlink_ack');
      const result = await client.pushDownlinks({ applicationId: 'farm-sensors', deviceId: 'sim-device-01', url: pushUrl, apiKey: key, downlinks: [item] });
      assert.equal(result.url, pushUrl);
      const ack = await acked;
      assert.ok((ack.body.downlink_ack?.correlation_ids ?? []).includes('nodered:t1'));
      assert.equal(sim.receivedDownlinks[0].apiKeyId, key.split('.')[1]);
    });

    it('uses the profile server + webhook ID + key when no headers were seen; surfaces 404 and 401 without retry', async function () {
      const client = new TtsApiClient({ server: sim.url, apiKey: sim.apiKey, retry: FAST });
      await client.replaceDownlinks({ applicationId: 'farm-sensors', webhookId: 'node-red', deviceId: 'sim-device-02', downlinks: [{ f_port: 3, frm_payload: 'AQ==' }] });
      assert.equal(sim.receivedDownlinks[0].operation, 'replace');

      const missing = await rejection(client.pushDownlinks({ applicationId: 'farm-sensors', webhookId: 'node-red', deviceId: 'no-such-device', downlinks: [item] }));
      assert.equal(missing.status, 404);
      assert.equal(missing.ttsName, 'device_not_found');
      assert.equal(missing.attempts, 1);

      const wrongKey = 'NNSXS.WRONGKEYWRONGKEYWRONGKEY.WRONGSECRETWRONGSECRETWRONGSECRET';
      const unauth = await rejection(client.pushDownlinks({ applicationId: 'farm-sensors', deviceId: 'sim-device-02', downlinks: [item], apiKey: wrongKey }));
      assert.equal(unauth.status, 401);
      assert.equal(unauth.ttsName, 'api_key_not_found');
      assertNoSecret(unauth, wrongKey, sim.apiKey);
    });

    it('retries the simulator\'s injected 503 and 429, then queues once', async function () {
      const client = new TtsApiClient({ server: sim.url, apiKey: sim.apiKey, retry: FAST });
      sim.queueFaults([{ status: 503 }, { status: 429, retryAfterSeconds: 0 }]);
      const result = await client.pushDownlinks({ applicationId: 'farm-sensors', deviceId: 'sim-device-01', downlinks: [item] });
      assert.equal(result.attempts, 3);
      assert.equal(sim.receivedDownlinks.length, 1);
    });

    it('manages webhooks and API keys', async function () {
      const client = new TtsApiClient({ server: `${sim.url}/api/v3`, apiKey: sim.apiKey });
      assert.deepEqual(await client.getWebhookFormats(), { json: 'JSON', protobuf: 'Protocol Buffers' });
      const request = buildWebhookRequest({ applicationId: 'farm-sensors', webhookId: 'extra', baseUrl: `${receiverUrl}/extra`, webhookToken: 'tok2' });
      const stored = await client.setWebhook(request, 'POST');
      assert.equal(stored.base_url, `${receiverUrl}/extra`);
      const got = await client.getWebhook('farm-sensors', 'extra', ['headers']);
      assert.deepEqual(got.headers, { Authorization: 'Bearer tok2' });
      assert.equal(got.uplink_message, undefined, 'masked out');
      assert.deepEqual((await client.listWebhooks('farm-sensors')).map((w) => w.ids.webhook_id).sort(), ['extra', 'node-red']);
      await client.deleteWebhook('farm-sensors', 'extra');
      assert.equal(await client.findWebhook('farm-sensors', 'extra'), undefined);
      const key = await client.createApiKey('farm-sensors', { name: 'dl', rights: DOWNLINK_KEY_RIGHTS });
      assert.match(key.key ?? '', /^NNSXS\./);
    });

    it('setUpWebhook creates the webhook and a downlink key, returns no secret, then updates in place', async function () {
      const client = new TtsApiClient({ server: sim.url, apiKey: sim.apiKey });
      const token = 'webhook-token-secret-0123456789';
      const first = await setUpWebhook(client, { applicationId: 'farm-sensors', webhookId: 'setup-test', baseUrl: `${receiverUrl}/setup`, webhookToken: token });
      assert.equal(first.created, true);
      assert.ok(first.downlinkKey?.id);
      assert.deepEqual(first.downlinkKey?.rights, DOWNLINK_KEY_RIGHTS);
      assert.equal(first.webhook.has_downlink_api_key, true);
      assert.deepEqual(first.webhook.headers, { Authorization: '(hidden)' });
      assert.deepEqual(first.messageTypes, WEBHOOK_MESSAGE_TYPES);
      const text = JSON.stringify(first);
      assert.ok(!text.includes(token) && !text.includes('NNSXS.'), 'no secret in the answer');

      // TTS now posts with the header and the new downlink key, which can queue downlinks.
      await sim.sendUplink('sim-device-01');
      const req = await receiver.next((r) => r.url === '/setup');
      assert.equal(req.headers.authorization, `Bearer ${token}`);
      const downlinkKey = String(req.headers['x-downlink-apikey']);
      assert.equal(downlinkKey.split('.')[1], first.downlinkKey?.id);
      const dl = new TtsApiClient({ server: sim.url, apiKey: downlinkKey });
      await dl.pushDownlinks({ applicationId: 'farm-sensors', webhookId: 'setup-test', deviceId: 'sim-device-01', downlinks: [item] });

      const second = await setUpWebhook(client, { applicationId: 'farm-sensors', webhookId: 'setup-test', baseUrl: `${receiverUrl}/setup2`, webhookToken: token });
      assert.equal(second.created, false);
      assert.equal(second.downlinkKey, undefined, 'the existing downlink key is kept');
      assert.equal(second.webhook.base_url, `${receiverUrl}/setup2`);
      assert.equal(sim.webhooks.get('farm-sensors', 'setup-test')?.downlink_api_key, downlinkKey);

      const denied = await rejection(setUpWebhook(new TtsApiClient({ server: sim.url, apiKey: downlinkKey }), { applicationId: 'farm-sensors', webhookId: 'x-hook', baseUrl: `${receiverUrl}/x` }));
      assert.equal(denied.status, 403);
      assertNoSecret(denied, downlinkKey);
    });
  });

  describe('buildWebhookRequest', function () {
    it('enables every handled type, names all types and the header in the field mask', function () {
      const req = buildWebhookRequest({ applicationId: 'farm-sensors', webhookId: 'node-red', baseUrl: 'https://nodered.example.net/tts', webhookToken: 'abc', downlinkApiKey: 'NNSXS.A.B', paths: { uplink_message: '/up' } });
      assert.deepEqual(req.webhook.ids, { application_ids: { application_id: 'farm-sensors' }, webhook_id: 'node-red' });
      assert.equal(req.webhook.base_url, 'https://nodered.example.net/tts');
      assert.equal(req.webhook.format, 'json');
      assert.deepEqual(req.webhook.headers, { Authorization: 'Bearer abc' });
      assert.equal(req.webhook.downlink_api_key, 'NNSXS.A.B');
      assert.deepEqual(req.webhook.uplink_message, { path: '/up' });
      assert.deepEqual(req.webhook.downlink_ack, {});
      assert.equal(req.webhook.uplink_normalized, undefined);
      assert.deepEqual(req.field_mask.paths, ['base_url', 'format', 'headers', 'downlink_api_key', ...MESSAGE_TYPES]);
      const noKey = buildWebhookRequest({ applicationId: 'farm-sensors', webhookId: 'node-red', baseUrl: 'http://127.0.0.1:1880/tts' });
      assert.ok(!noKey.field_mask.paths.includes('downlink_api_key'), 'keeps the stored key');
      assert.deepEqual(noKey.webhook.headers, {});
    });

    it('refuses what TTS would refuse, without echoing secrets', function () {
      const base = { applicationId: 'farm-sensors', webhookId: 'node-red', baseUrl: 'https://h/tts' };
      assert.throws(() => buildWebhookRequest({ ...base, applicationId: '' }), WebhookConfigError);
      assert.throws(() => buildWebhookRequest({ ...base, webhookId: 'No_Good' }), /webhook ID/);
      assert.throws(() => buildWebhookRequest({ ...base, baseUrl: 'ftp://h/x' }), /https/);
      assert.throws(() => buildWebhookRequest({ ...base, baseUrl: 'https://user:pw@h/x' }), /user or password/);
      assert.throws(() => buildWebhookRequest({ ...base, paths: { uplink_message: `/${'x'.repeat(64)}` } }), /64/);
      try {
        buildWebhookRequest({ ...base, webhookToken: 'secret\nvalue' });
        assert.fail('expected an error');
      } catch (err) {
        assert.ok(err instanceof WebhookConfigError);
        assert.ok(!err.message.includes('secret'));
      }
    });
  });
});
