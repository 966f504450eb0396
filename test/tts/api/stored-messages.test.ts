import { strict as assert } from 'node:assert';
import { inspect } from 'node:util';
import type { ServerResponse } from 'node:http';
import { TtsSimulator } from '../../../src/sim';
import { storageUnavailable, TtsApiClient, TtsApiError, type StoredMessagesQuery } from '../../../src/tts/api';
import type { ApplicationUp } from '../../../src/tts/types';
import { ScriptedServer, ttsError } from '../../helpers/scripted-tts-server';

const KEY = 'NNSXS.STORAGETESTKEYID0000000000000000000000.STORAGETESTSECRET000000000000000000000000000000000000';
const FAST = { baseDelayMs: 5, maxDelayMs: 20, maxAttempts: 3, maxRetryAfterMs: 2000 };

async function collect(client: TtsApiClient, app: string, query?: StoredMessagesQuery): Promise<ApplicationUp[]> {
  const out: ApplicationUp[] = [];
  for await (const up of client.storedMessages(app, query)) out.push(up);
  return out;
}

async function failure(promise: Promise<unknown>): Promise<TtsApiError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof TtsApiError, `expected a TtsApiError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the query to fail');
}

function assertNoSecret(err: TtsApiError): void {
  const everything = `${err.message}\n${err.stack}\n${inspect(err, { depth: 10 })}\n${JSON.stringify(err)}`;
  assert.ok(!everything.includes(KEY) && !everything.includes(KEY.split('.')[2]), 'the API key leaked into the error');
}

describe('TTS API client: Storage Integration', function () {
  describe('against the simulator', function () {
    let sim: TtsSimulator;
    beforeEach(async function () {
      sim = new TtsSimulator({ applicationId: 'stored-app', devices: 2, apiKey: KEY, storageIntegration: true });
      await sim.start();
    });
    afterEach(async function () {
      await sim.stop();
    });

    it('streams the stored uplinks of a window in order, with the query TTS documents', async function () {
      for (let i = 0; i < 6; i++) await sim.sendUplink();
      const all = await collect(new TtsApiClient({ server: sim.url, apiKey: KEY }), 'stored-app', { order: 'received_at' });
      assert.equal(all.length, 6);
      const window = await collect(new TtsApiClient({ server: sim.apiBaseUrl, apiKey: KEY }), 'stored-app', {
        after: all[1].received_at,
        before: all[4].received_at,
        limit: 2,
        order: 'received_at',
        fieldMask: ['end_device_ids', 'received_at', 'up.uplink_message.f_cnt'],
      });
      assert.deepEqual(
        window.map((u) => u.received_at),
        [all[1].received_at, all[2].received_at],
      );
      assert.equal(window[0].uplink_message?.frm_payload, undefined, 'field mask applied');
      const request = sim.apiRequests.at(-1)!;
      assert.equal(request.path, '/api/v3/as/applications/stored-app/packages/storage/uplink_message');
      assert.equal(request.status, 200);
      const device = await collect(new TtsApiClient({ server: sim.url, apiKey: KEY }), 'stored-app', { deviceId: 'sim-device-02' });
      assert.ok(device.length === 3 && device.every((u) => u.end_device_ids.device_id === 'sim-device-02'));
    });

    it('retries 503 and 429 before the answer starts, like every call', async function () {
      await sim.sendUplink();
      sim.queueFaults([{ status: 503 }, { status: 429, retryAfterSeconds: 0 }], 'all');
      const retries: string[] = [];
      const client = new TtsApiClient({ server: sim.url, apiKey: KEY, retry: FAST, onRetry: (info) => retries.push(info.reason) });
      assert.equal((await collect(client, 'stored-app')).length, 1);
      assert.deepEqual(retries, ['HTTP 503', 'HTTP 429']);
    });

    it('says 404 when the integration is not activated, 401/403 for a bad key, and never shows the key', async function () {
      sim.setStorageIntegration(false);
      const notActivated = await failure(collect(new TtsApiClient({ server: sim.url, apiKey: KEY }), 'stored-app'));
      assert.equal(notActivated.status, 404);
      assert.equal(notActivated.ttsName, 'storage_not_activated');
      assert.ok(storageUnavailable(notActivated));
      assertNoSecret(notActivated);
      sim.setStorageIntegration(true);
      const unknownKey = `${KEY.slice(0, -4)}XXXX`;
      const unauthenticated = await failure(collect(new TtsApiClient({ server: sim.url, apiKey: unknownKey }), 'stored-app'));
      assert.equal(unauthenticated.status, 401);
      assert.ok(!unauthenticated.message.includes(unknownKey.split('.')[2]));
      const downOnly = sim.apiKeys.create('stored-app', 'down', ['RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE']).key;
      const forbidden = await failure(collect(new TtsApiClient({ server: sim.url, apiKey: downOnly }), 'stored-app'));
      assert.equal(forbidden.status, 403);
      assert.ok(!storageUnavailable(forbidden));
    });

    it('reports an answer cut off mid-stream after the results that arrived', async function () {
      for (let i = 0; i < 5; i++) await sim.sendUplink();
      sim.queueFaults([{ cutAfter: 2 }], 'all');
      const seen: ApplicationUp[] = [];
      const err = await failure(
        (async () => {
          for await (const up of new TtsApiClient({ server: sim.url, apiKey: KEY }).storedMessages('stored-app')) seen.push(up);
        })(),
      );
      assert.equal(seen.length, 2);
      assert.ok(err.kind === 'network' || err.kind === 'timeout', err.message);
      assertNoSecret(err);
    });
  });

  describe('against a scripted server', function () {
    let server: ScriptedServer | undefined;
    afterEach(async function () {
      await server?.stop();
      server = undefined;
    });

    const result = (n: number): string => `${JSON.stringify({ result: { end_device_ids: { device_id: 'dev-1', application_ids: { application_id: 'app-1' } }, received_at: `2026-01-01T00:00:0${n}Z`, uplink_message: { f_cnt: n } } })}\n`;

    it('yields each result as its line arrives, without waiting for the whole body', async function () {
      let finish!: () => void;
      const finished = new Promise<void>((resolve) => (finish = resolve));
      server = new ScriptedServer([
        (_req, res: ServerResponse) => {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          // First line split across two chunks, the rest only once the client has seen the first.
          const first = result(1);
          res.write(first.slice(0, 20));
          res.write(first.slice(20));
          void finished.then(() => res.end(`${result(2)}\r\n\n${result(3).trimEnd()}`));
        },
      ]);
      const url = await server.start();
      const seen: number[] = [];
      for await (const up of new TtsApiClient({ server: url, apiKey: KEY }).storedMessages('app-1')) {
        seen.push(up.uplink_message?.f_cnt ?? 0);
        if (seen.length === 1) finish();
      }
      assert.deepEqual(seen, [1, 2, 3]);
      assert.match(server.seen[0].url, /^\/api\/v3\/as\/applications\/app-1\/packages\/storage\/uplink_message/);
      assert.equal(server.seen[0].headers.authorization, `Bearer ${KEY}`);
    });

    it('turns an error line at the end of the stream into a TtsApiError', async function () {
      server = new ScriptedServer([
        (_req, res) => {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(`${result(1)}${JSON.stringify({ error: { code: 14, message: 'error:pkg/storage:unavailable (database unavailable)', details: [{ name: 'unavailable' }] } })}\n`);
        },
      ]);
      const url = await server.start();
      const seen: ApplicationUp[] = [];
      const err = await failure(
        (async () => {
          for await (const up of new TtsApiClient({ server: url, apiKey: KEY }).storedMessages('app-1')) seen.push(up);
        })(),
      );
      assert.equal(seen.length, 1);
      assert.equal(err.status, 503);
      assert.equal(err.ttsName, 'unavailable');
    });

    it('refuses a line that is not JSON or longer than the bound, and an HTML error page is reported briefly', async function () {
      server = new ScriptedServer([
        (_req, res) => {
          res.writeHead(200);
          res.end(`${result(1)}<html>oops</html>\n`);
        },
        (_req, res) => {
          res.writeHead(200);
          res.end('x'.repeat(5 * 1024 * 1024));
        },
        (_req, res) => {
          res.writeHead(404, { 'Content-Type': 'text/html' });
          res.end(`<html><body><h1>404 Not Found</h1>${'padding '.repeat(20000)}</body></html>`);
        },
      ]);
      const url = await server.start();
      const client = new TtsApiClient({ server: url, apiKey: KEY });
      const notJson = await failure(collect(client, 'app-1'));
      assert.match(notJson.message, /not JSON/);
      const tooLong = await failure(collect(client, 'app-1'));
      assert.match(tooLong.message, /longer than/);
      const page = await failure(collect(client, 'app-1'));
      assert.equal(page.status, 404);
      assert.ok(page.message.length < 400, page.message);
      assert.ok(storageUnavailable(page));
    });

    it('sends a 401 answer back without the key, and checks IDs before sending anything', async function () {
      server = new ScriptedServer([ttsError(401, 16, 'api_key_not_found', `API key ${KEY} not found`)]);
      const url = await server.start();
      const client = new TtsApiClient({ server: url, apiKey: KEY });
      const err = await failure(collect(client, 'app-1'));
      assert.equal(err.status, 401);
      assertNoSecret(err);
      const bad = await failure(collect(client, 'Not An ID'));
      assert.equal(bad.kind, 'invalid-request');
      const mixed = await failure(collect(client, 'app-1', { last: '60s', after: '2026-01-01T00:00:00Z' }));
      assert.equal(mixed.kind, 'invalid-request');
      assert.equal(server.seen.length, 1);
    });
  });
});
