import { strict as assert } from 'node:assert';
import { TtsSimulator } from '../../src/sim';
import type { WebhookPostResult } from '../../src/sim';
import { WebhookReceiver } from '../helpers/webhook-receiver';

const TOKEN = 'receiver-token-123';
const DOWNLINK_KEY = 'NNSXS.SIMDOWNLINKKEYID0000000000000000000000.SIMDOWNLINKSECRET00000000000000000000000000000000000';

interface RawAnswer {
  status: number;
  body: { code?: number; message?: string; details?: Array<Record<string, unknown>> } | undefined;
  headers: Headers;
}

async function call(url: string, method: string, body: unknown, key?: string, rawBody?: string): Promise<RawAnswer> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (key) headers.Authorization = `Bearer ${key}`;
  const res = await fetch(url, { method, headers, body: rawBody ?? (body === undefined ? undefined : JSON.stringify(body)) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

describe('TTS simulator', function () {
  let receiver: WebhookReceiver;
  let sim: TtsSimulator;
  let receiverUrl: string;

  beforeEach(async function () {
    receiver = new WebhookReceiver();
    receiverUrl = await receiver.start();
    sim = new TtsSimulator({
      applicationId: 'farm-sensors',
      devices: [
        { deviceId: 'th-sensor', payload: 'temperature-humidity', spreadingFactor: 7 },
        { deviceId: 'lpp-sensor', payload: 'cayenne-lpp', spreadingFactor: 7 },
        { deviceId: 'decoded-sensor', payload: 'tts-decoded', spreadingFactor: 7, location: { latitude: 51.99, longitude: 5.66, altitude: 3 } },
        { deviceId: 'far-sensor', payload: 'cayenne-lpp', spreadingFactor: 12 },
        { deviceId: 'new-sensor', joined: false },
      ],
      webhook: { url: `${receiverUrl}/tts`, token: TOKEN },
      downlinkApiKey: DOWNLINK_KEY,
      timing: { sentDelayMs: 5, answerDelayMs: 5 },
    });
    await sim.start();
  });

  afterEach(async function () {
    await sim.stop();
    await receiver.stop();
  });

  const pushUrl = (device: string, op = 'push', webhook = 'node-red'): string =>
    `${sim.url}/api/v3/as/applications/farm-sensors/webhooks/${webhook}/devices/${device}/down/${op}`;

  /** Webhook posts for a device until (and including) the first of the terminal types. */
  function collect(device: string, until: (p: WebhookPostResult) => boolean): Promise<WebhookPostResult[]> {
    return new Promise((resolve) => {
      const seen: WebhookPostResult[] = [];
      const listener = (post: WebhookPostResult): void => {
        if (post.deviceId !== device) return;
        seen.push(post);
        if (until(post)) {
          sim.off('webhook', listener);
          resolve(seen);
        }
      };
      sim.on('webhook', listener);
    });
  }

  describe('webhooks it posts', function () {
    it('posts an uplink with TTS headers, upper-case EUIs, string frequency and omitted defaults', async function () {
      const [result] = await sim.sendUplink('th-sensor');
      assert.equal(result.status, 200);
      const req = await receiver.next((r) => r.body.uplink_message !== undefined);
      assert.equal(req.method, 'POST');
      assert.equal(req.url, '/tts');
      assert.equal(req.headers.authorization, `Bearer ${TOKEN}`);
      assert.equal(req.headers['content-type'], 'application/json');
      assert.equal(req.headers['x-downlink-apikey'], DOWNLINK_KEY);
      assert.equal(req.headers['x-downlink-push'], pushUrl('th-sensor'));
      assert.equal(req.headers['x-downlink-replace'], pushUrl('th-sensor', 'replace'));
      assert.equal(req.headers['x-tts-domain'], new URL(sim.url).host);
      assert.match(String(req.headers['user-agent']), /^TheThingsStack\//);

      const up = req.body;
      assert.equal(up.end_device_ids.device_id, 'th-sensor');
      assert.equal(up.end_device_ids.application_ids.application_id, 'farm-sensors');
      assert.match(up.end_device_ids.dev_eui ?? '', /^[0-9A-F]{16}$/);
      assert.match(up.end_device_ids.dev_addr ?? '', /^[0-9A-F]{8}$/);
      assert.match(up.received_at ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      const msg = up.uplink_message!;
      assert.equal(msg.f_cnt, undefined, 'first uplink has FCnt 0, which TTS omits');
      assert.equal(msg.f_port, 1);
      assert.equal(typeof msg.settings?.frequency, 'string');
      assert.equal(msg.settings?.data_rate?.lora?.spreading_factor, 7);
      assert.match(msg.consumed_airtime ?? '', /^\d+\.\d+s$/);
      assert.ok(msg.rx_metadata && msg.rx_metadata.length >= 1);
      const gw = msg.rx_metadata[0];
      assert.match(gw.gateway_ids?.eui ?? '', /^[0-9A-F]{16}$/);
      assert.equal(gw.location?.source, 'SOURCE_REGISTRY');
      assert.equal(typeof gw.rssi, 'number');
      assert.equal(msg.decoded_payload, undefined);
      // DESIGN.md's example: int16 LE temperature ×100, humidity ×100.
      const bytes = Buffer.from(msg.frm_payload!, 'base64');
      assert.equal(bytes.length, 4);
      const device = sim.device('th-sensor')!;
      assert.equal(bytes.readInt16LE(0) / 100, device.reading.temperature);
      assert.equal(bytes.readInt16LE(2) / 100, device.reading.humidity);

      await sim.sendUplink('th-sensor');
      const second = await receiver.next((r) => r.body.uplink_message?.f_cnt === 1);
      assert.equal(second.body.uplink_message?.f_port, 1);
    });

    it('sends Cayenne LPP frames, and TTS-decoded ones with decoded_payload, locations and location_solved', async function () {
      await sim.sendUplink('lpp-sensor');
      const lpp = await receiver.next((r) => r.body.end_device_ids.device_id === 'lpp-sensor');
      const frame = Buffer.from(lpp.body.uplink_message!.frm_payload!, 'base64');
      assert.deepEqual([...frame.subarray(0, 2)], [1, 0x67]);
      assert.equal(lpp.body.uplink_message!.decoded_payload, undefined);

      const results = await sim.sendUplink('decoded-sensor');
      assert.deepEqual(results.map((r) => r.type), ['uplink_message', 'location_solved']);
      const decoded = await receiver.next((r) => r.body.end_device_ids.device_id === 'decoded-sensor' && r.body.uplink_message !== undefined);
      const payload = decoded.body.uplink_message!.decoded_payload as Record<string, unknown>;
      const reading = sim.device('decoded-sensor')!.reading;
      assert.equal(payload.temperature_1, Math.round(reading.temperature * 10) / 10);
      assert.equal(payload.relative_humidity_2, Math.round(reading.humidity * 2) / 2);
      assert.deepEqual(Object.keys(payload.gps_4 as object), ['latitude', 'longitude', 'altitude']);
      const locations = decoded.body.uplink_message!.locations!;
      assert.equal(locations.user.source, 'SOURCE_REGISTRY');
      assert.equal(locations['frm-payload'].source, 'SOURCE_GPS');
      const solved = await receiver.next((r) => r.body.location_solved !== undefined);
      assert.equal(solved.body.location_solved?.service, 'frm-payload');
    });

    it('sends a join accept before the first uplink of an unjoined device', async function () {
      assert.equal(sim.device('new-sensor')!.devAddr, undefined);
      await sim.sendUplink('new-sensor');
      const join = await receiver.next((r) => r.body.join_accept !== undefined);
      assert.ok((join.body.join_accept as Record<string, unknown>).session_key_id);
      assert.match(join.body.end_device_ids.dev_addr ?? '', /^[0-9A-F]{8}$/);
      const types = receiver.requests.filter((r) => r.body.end_device_ids.device_id === 'new-sensor').map((r) => Object.keys(r.body).find((k) => k === 'join_accept' || k === 'uplink_message'));
      assert.deepEqual(types, ['join_accept', 'uplink_message']);
    });

    it('expands base URL and path templates and reports failed posts', async function () {
      sim.configureWebhook({ url: `${receiverUrl}/hooks{/appID}`, webhookId: 'second', paths: { uplink_message: '/up{/devID}' }, downlinkKey: false });
      const results = await sim.sendUplink('th-sensor');
      const second = results.find((r) => r.webhookId === 'second')!;
      assert.equal(second.url, `${receiverUrl}/hooks/farm-sensors/up/th-sensor`);
      const req = await receiver.next((r) => r.url === '/hooks/farm-sensors/up/th-sensor');
      assert.equal(req.headers['x-downlink-apikey'], undefined, 'no downlink key on that webhook');
      assert.equal(req.headers.authorization, undefined);

      receiver.status = 401;
      const failed = await sim.sendUplink('th-sensor');
      assert.ok(failed.every((r) => !r.ok && r.status === 401));
    });
  });

  describe('downlink API validation', function () {
    const expectError = async (answer: Promise<RawAnswer>, status: number, name: string): Promise<RawAnswer> => {
      const res = await answer;
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.equal(res.body?.details?.[0]?.name, name);
      assert.equal(res.body?.details?.[0]?.['@type'], 'type.googleapis.com/ttn.lorawan.v3.ErrorDetails');
      assert.match(res.body?.message ?? '', new RegExp(`^error:[a-z/]+:${name} \\(`));
      assert.equal(typeof res.body?.code, 'number');
      return res;
    };
    const one = (item: Record<string, unknown>): unknown => ({ downlinks: [item] });

    it('refuses missing, malformed, unknown and under-privileged keys', async function () {
      await expectError(call(pushUrl('th-sensor'), 'POST', one({ f_port: 1, frm_payload: 'AQ==' })), 401, 'unauthenticated');
      await expectError(call(pushUrl('th-sensor'), 'POST', one({ f_port: 1, frm_payload: 'AQ==' }), 'NNSXS.UNKNOWN.KEY'), 401, 'api_key_not_found');
      const res = await fetch(pushUrl('th-sensor'), { method: 'POST', headers: { Authorization: 'Basic abc' }, body: '{}' });
      assert.equal(res.status, 401);
      const weak = await call(`${sim.url}/api/v3/applications/farm-sensors/api-keys`, 'POST', { name: 'read only', rights: ['RIGHT_APPLICATION_TRAFFIC_READ'] }, sim.apiKey);
      await expectError(call(pushUrl('th-sensor'), 'POST', one({ f_port: 1, frm_payload: 'AQ==' }), (weak.body as { key: string }).key), 403, 'insufficient_application_rights');
    });

    it('answers TTS error shapes for bad bodies, ports, payloads and ids', async function () {
      const key = DOWNLINK_KEY;
      await expectError(call(pushUrl('th-sensor'), 'POST', undefined, key, '{"downlinks": ['), 400, 'decode_body');
      await expectError(call(pushUrl('th-sensor'), 'POST', one({ f_port: 224, frm_payload: 'AQ==' }), key), 400, 'validate_body');
      await expectError(call(pushUrl('th-sensor'), 'POST', one({ f_port: 256, frm_payload: 'AQ==' }), key), 400, 'validate_body');
      await expectError(call(pushUrl('th-sensor'), 'POST', one({ frm_payload: 'AQ==' }), key), 400, 'no_f_port');
      await expectError(call(pushUrl('th-sensor'), 'POST', one({ f_port: 1 }), key), 400, 'no_payload');
      await expectError(call(pushUrl('th-sensor'), 'POST', one({ f_port: 1, frm_payload: '@@@' }), key), 400, 'decode_body');
      await expectError(call(pushUrl('th-sensor'), 'POST', one({ f_port: 1, frm_payload: 'AQ==', priority: 'URGENT' }), key), 400, 'decode_body');
      await expectError(call(pushUrl('th-sensor'), 'POST', one({ f_port: 1, frm_payload: Buffer.alloc(256).toString('base64') }), key), 400, 'validate_body');
      const tooLong = await expectError(call(pushUrl('th-sensor'), 'POST', one({ f_port: 1, frm_payload: Buffer.alloc(243).toString('base64') }), key), 400, 'application_downlink_too_long');
      assert.deepEqual(tooLong.body?.details?.[0]?.attributes, { length: 243, max: 242 });
      await expectError(call(pushUrl('th-sensor'), 'POST', one({ f_port: 1, frm_payload: 'AQ==', correlation_ids: ['x'.repeat(101)] }), key), 400, 'validate_body');
      await expectError(call(pushUrl('no-such-device'), 'POST', one({ f_port: 1, frm_payload: 'AQ==' }), key), 404, 'device_not_found');
      await expectError(call(pushUrl('th-sensor', 'push', 'no-such-webhook'), 'POST', one({ f_port: 1, frm_payload: 'AQ==' }), key), 404, 'webhook_not_found');
      await expectError(call(pushUrl('new-sensor'), 'POST', one({ f_port: 1, frm_payload: 'AQ==' }), key), 400, 'no_device_session');
      assert.equal(sim.receivedDownlinks.length, 0, 'nothing refused was queued');
    });

    it('accepts camelCase aliases, numeric enums and unpadded base64 with an empty 200', async function () {
      const res = await fetch(pushUrl('th-sensor'), {
        method: 'POST',
        headers: { Authorization: `Bearer ${DOWNLINK_KEY}` },
        body: JSON.stringify({ downlinks: [{ fPort: '7', frmPayload: 'AQI', priority: 5, correlationIds: ['nodered:1'] }] }),
      });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), '');
      const [received] = sim.receivedDownlinks;
      assert.equal(received.downlinks[0].f_port, 7);
      assert.equal(received.downlinks[0].frm_payload, 'AQI=');
      assert.equal(received.downlinks[0].priority, 'HIGH');
      assert.equal(received.apiKeyId, DOWNLINK_KEY.split('.')[1]);
    });

    it('answers 429 with rate-limit headers past the configured limit', async function () {
      const limited = new TtsSimulator({ applicationId: 'farm-sensors', devices: 1, apiKey: DOWNLINK_KEY, rateLimit: { limit: 1, windowSeconds: 60 } });
      await limited.start();
      try {
        const url = `${limited.url}/api/v3/as/applications/farm-sensors/devices/sim-device-01/down/push`;
        assert.equal((await call(url, 'POST', one({ f_port: 1, frm_payload: 'AQ==' }), DOWNLINK_KEY)).status, 200);
        const res = await expectError(call(url, 'POST', one({ f_port: 1, frm_payload: 'AQ==' }), DOWNLINK_KEY), 429, 'rate_limit_exceeded');
        assert.ok(Number(res.headers.get('x-rate-limit-retry')) >= 1);
        assert.equal(res.headers.get('x-rate-limit-available'), '0');
      } finally {
        await limited.stop();
      }
    });

    it('injects queued faults before normal handling', async function () {
      sim.queueFaults([{ status: 503 }, { status: 429, retryAfterSeconds: 2 }]);
      const first = await call(pushUrl('th-sensor'), 'POST', one({ f_port: 1, frm_payload: 'AQ==' }), DOWNLINK_KEY);
      assert.equal(first.status, 503);
      const second = await call(pushUrl('th-sensor'), 'POST', one({ f_port: 1, frm_payload: 'AQ==' }), DOWNLINK_KEY);
      assert.equal(second.status, 429);
      assert.equal(second.headers.get('x-rate-limit-retry'), '2');
      const third = await call(pushUrl('th-sensor'), 'POST', one({ f_port: 1, frm_payload: 'AQ==' }), DOWNLINK_KEY);
      assert.equal(third.status, 200);
      assert.deepEqual(sim.apiRequests.map((r) => r.status), [503, 429, 200]);
    });
  });

  describe('downlink events', function () {
    const typesOf = (posts: WebhookPostResult[]): string[] => posts.map((p) => p.type);
    const isTerminal = (...types: string[]) => (p: WebhookPostResult) => types.includes(p.type);
    const body = (p: WebhookPostResult): Record<string, unknown> => p.body[p.type] as Record<string, unknown>;
    const push = (device: string, items: unknown[], op = 'push'): Promise<RawAnswer> => call(pushUrl(device, op), 'POST', { downlinks: items }, DOWNLINK_KEY);

    it('unconfirmed: queued then sent, carrying FCnt, payload and correlation ids; LOWEST priority omitted', async function () {
      const events = collect('th-sensor', isTerminal('downlink_sent'));
      assert.equal((await push('th-sensor', [{ f_port: 10, frm_payload: 'AQoU', correlation_ids: ['nodered:abc'] }])).status, 200);
      const posts = await events;
      assert.deepEqual(typesOf(posts), ['downlink_queued', 'downlink_sent']);
      for (const post of posts) {
        const dl = body(post);
        assert.equal(dl.f_port, 10);
        assert.equal(dl.f_cnt, 1);
        assert.equal(dl.frm_payload, 'AQoU');
        assert.equal(dl.priority, undefined);
        assert.equal(dl.confirmed, undefined);
        assert.match((dl.correlation_ids as string[])[0], /^as:downlink:[0-9A-Z]{26}$/);
        assert.ok((dl.correlation_ids as string[]).includes('nodered:abc'));
        assert.ok(post.body.correlation_ids?.includes('nodered:abc'));
      }
      const received = await receiver.next((r) => r.body.downlink_sent !== undefined);
      assert.equal(received.headers.authorization, `Bearer ${TOKEN}`);
    });

    it('confirmed: queued, sent, ack', async function () {
      const events = collect('th-sensor', isTerminal('downlink_ack', 'downlink_failed'));
      await push('th-sensor', [{ f_port: 2, frm_payload: 'AQ==', confirmed: true, priority: 'HIGH' }]);
      const posts = await events;
      assert.deepEqual(typesOf(posts), ['downlink_queued', 'downlink_sent', 'downlink_ack']);
      assert.equal(body(posts[2]).priority, 'HIGH');
      assert.deepEqual(body(posts[2]).confirmed_retry, { attempt: 1 });
    });

    it('nack is retried with a new FCnt and confirmed_retry.attempt + 1, then acknowledged', async function () {
      sim.setDownlinkOutcome({ nacks: 1 }, 'th-sensor');
      const events = collect('th-sensor', isTerminal('downlink_ack', 'downlink_failed'));
      await push('th-sensor', [{ f_port: 2, frm_payload: 'AQ==', confirmed: true, correlation_ids: ['nodered:n1'] }]);
      const posts = await events;
      assert.deepEqual(typesOf(posts), ['downlink_queued', 'downlink_sent', 'downlink_nack', 'downlink_sent', 'downlink_ack']);
      assert.deepEqual(body(posts[2]).confirmed_retry, { attempt: 1 });
      assert.deepEqual(body(posts[3]).confirmed_retry, { attempt: 2 });
      assert.equal(body(posts[3]).f_cnt, 2);
      assert.deepEqual(body(posts[0]).correlation_ids, body(posts[4]).correlation_ids, 'same correlation ids through the retries');
    });

    it('nack on every attempt ends in downlink_failed after max_attempts', async function () {
      sim.setDownlinkOutcome('nack');
      const events = collect('th-sensor', isTerminal('downlink_ack', 'downlink_failed'));
      await push('th-sensor', [{ f_port: 2, frm_payload: 'AQ==', confirmed: true, confirmed_retry: { max_attempts: 2 } }]);
      const posts = await events;
      assert.deepEqual(typesOf(posts), ['downlink_queued', 'downlink_sent', 'downlink_nack', 'downlink_sent', 'downlink_nack', 'downlink_failed']);
      const failed = body(posts[5]) as { downlink: Record<string, unknown>; error: Record<string, unknown> };
      assert.equal(failed.downlink.f_port, 2);
      assert.equal(typeof failed.error.name, 'string');
      assert.equal(typeof failed.error.namespace, 'string');
    });

    it('fails at transmit time when the payload exceeds what the data rate allows', async function () {
      const events = collect('far-sensor', isTerminal('downlink_sent', 'downlink_failed'));
      await push('far-sensor', [{ f_port: 3, frm_payload: Buffer.alloc(60).toString('base64') }]);
      const posts = await events;
      assert.deepEqual(typesOf(posts), ['downlink_queued', 'downlink_failed']);
      const error = (body(posts[1]) as { error: Record<string, unknown> }).error;
      assert.equal(error.name, 'application_downlink_too_long');
      assert.deepEqual(error.attributes, { length: 60, max: 51 });
    });

    it('the failed outcome drops a downlink; decoded_payload goes through the Cayenne LPP formatter', async function () {
      sim.setDownlinkOutcome('failed', 'lpp-sensor');
      const events = collect('lpp-sensor', isTerminal('downlink_sent', 'downlink_failed'));
      await push('lpp-sensor', [{ decoded_payload: { value_2: -50.51 } }]);
      const posts = await events;
      assert.deepEqual(typesOf(posts), ['downlink_queued', 'downlink_failed']);
      const queued = body(posts[0]);
      assert.equal(queued.f_port, 1);
      assert.equal(Buffer.from(queued.frm_payload as string, 'base64').toString('hex'), '02ec45');
      assert.deepEqual(queued.decoded_payload, { value_2: -50.51 });
    });

    it('replace swaps the queue: pending downlinks are dropped', async function () {
      sim.setDownlinkOutcome('queued-only', 'th-sensor');
      await push('th-sensor', [{ f_port: 1, frm_payload: 'AQ==' }, { f_port: 1, frm_payload: 'Ag==' }]);
      assert.equal(sim.pendingDownlinks('th-sensor').length, 2);
      await push('th-sensor', [{ f_port: 1, frm_payload: 'Aw==' }], 'replace');
      assert.deepEqual(sim.pendingDownlinks('th-sensor').map((d) => d.frm_payload), ['Aw==']);
      await push('th-sensor', [], 'replace');
      assert.equal(sim.pendingDownlinks('th-sensor').length, 0);
      assert.deepEqual(sim.receivedDownlinks.map((r) => r.operation), ['push', 'replace', 'replace']);
    });
  });

  describe('webhook management API', function () {
    const api = (path: string): string => `${sim.url}/api/v3${path}`;

    it('round trip: formats, create, get with field mask, update, list, delete', async function () {
      const formats = await call(api('/as/webhook-formats'), 'GET', undefined);
      assert.deepEqual(formats.body, { formats: { json: 'JSON', protobuf: 'Protocol Buffers' } });

      const webhook = {
        ids: { application_ids: { application_id: 'farm-sensors' }, webhook_id: 'from-api' },
        base_url: `${receiverUrl}/api-hook`,
        format: 'json',
        headers: { Authorization: 'Bearer other' },
        uplink_message: { path: '/up' },
        join_accept: {},
      };
      const created = await call(api('/as/webhooks/farm-sensors'), 'POST', { webhook, field_mask: { paths: ['base_url', 'format', 'headers', 'uplink_message', 'join_accept'] } }, sim.apiKey);
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const stored = created.body as unknown as Record<string, unknown>;
      assert.ok(stored.created_at && stored.updated_at);
      assert.deepEqual(stored.uplink_message, { path: '/up' });

      const masked = await call(api('/as/webhooks/farm-sensors/from-api?field_mask=headers'), 'GET', undefined, sim.apiKey);
      assert.deepEqual(Object.keys(masked.body as object).sort(), ['base_url', 'format', 'headers', 'ids']);

      // Update with a mask naming only base_url and join_accept: join_accept absent → cleared; headers kept.
      const updated = await call(api('/as/webhooks/farm-sensors/from-api'), 'PUT', { webhook: { ...webhook, base_url: `${receiverUrl}/moved`, join_accept: undefined }, field_mask: { paths: ['base_url', 'join_accept'] } }, sim.apiKey);
      const after = updated.body as unknown as Record<string, unknown>;
      assert.equal(after.base_url, `${receiverUrl}/moved`);
      assert.equal(after.join_accept, undefined);
      assert.deepEqual(after.headers, { Authorization: 'Bearer other' });

      await sim.sendUplink('th-sensor');
      const viaApi = await receiver.next((r) => r.url === '/moved/up');
      assert.equal(viaApi.headers.authorization, 'Bearer other');

      const list = await call(api('/as/webhooks/farm-sensors'), 'GET', undefined, sim.apiKey);
      assert.deepEqual(((list.body as unknown as { webhooks: Array<{ ids: { webhook_id: string } }> }).webhooks).map((w) => w.ids.webhook_id).sort(), ['from-api', 'node-red']);

      assert.equal((await call(api('/as/webhooks/farm-sensors/from-api'), 'DELETE', undefined, sim.apiKey)).status, 200);
      const gone = await call(api('/as/webhooks/farm-sensors/from-api'), 'GET', undefined, sim.apiKey);
      assert.equal(gone.status, 404);
      assert.equal(gone.body?.details?.[0]?.name, 'webhook_not_found');
    });

    it('validates webhooks and rights', async function () {
      const bad = await call(api('/as/webhooks/farm-sensors'), 'POST', { webhook: { ids: { application_ids: { application_id: 'farm-sensors' }, webhook_id: 'Bad_ID' }, base_url: 'http://x' }, field_mask: { paths: ['base_url'] } }, sim.apiKey);
      assert.equal(bad.status, 400);
      assert.equal(bad.body?.details?.[0]?.name, 'validate_body');
      const noUrl = await call(api('/as/webhooks/farm-sensors'), 'POST', { webhook: { ids: { application_ids: { application_id: 'farm-sensors' }, webhook_id: 'no-url' }, base_url: 'not a url' }, field_mask: { paths: ['base_url'] } }, sim.apiKey);
      assert.equal(noUrl.status, 400);
      const otherApp = await call(api('/as/webhooks/other-app'), 'GET', undefined, sim.apiKey);
      assert.equal(otherApp.status, 403);
      assert.equal(otherApp.body?.details?.[0]?.name, 'no_application_rights');
      const withDownlinkKey = await call(api('/as/webhooks/farm-sensors'), 'GET', undefined, DOWNLINK_KEY);
      assert.equal(withDownlinkKey.status, 403);
      const unknownRoute = await call(api('/as/nothing-here'), 'GET', undefined, sim.apiKey);
      assert.equal(unknownRoute.status, 404);
    });

    it('creates API keys with the requested rights, shown once', async function () {
      const res = await call(`${sim.url}/api/v3/applications/farm-sensors/api-keys`, 'POST', { name: 'dl', rights: ['RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE'] }, sim.apiKey);
      assert.equal(res.status, 200);
      const key = res.body as unknown as { id: string; key: string; rights: string[] };
      assert.match(key.key, /^NNSXS\.[A-Z2-7]+\.[A-Z2-7]+$/);
      assert.equal(key.key.split('.')[1], key.id);
      assert.deepEqual(key.rights, ['RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE']);
      const ok = await call(pushUrl('th-sensor'), 'POST', { downlinks: [{ f_port: 1, frm_payload: 'AQ==' }] }, key.key);
      assert.equal(ok.status, 200);
      const escalate = await call(`${sim.url}/api/v3/applications/farm-sensors/api-keys`, 'POST', { name: 'x', rights: ['RIGHT_APPLICATION_ALL'] }, key.key);
      assert.equal(escalate.status, 403);
    });
  });

  it('refuses non-loopback hosts and settles on stop with traffic running', async function () {
    assert.throws(() => new TtsSimulator({ host: '0.0.0.0' }), /loopback/);
    const posted = sim.waitForWebhook((p) => p.type === 'uplink_message');
    sim.startTraffic(50);
    const first = await posted;
    assert.equal(first.ok, true);
    await sim.stop();
    const count = receiver.requests.length;
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(receiver.requests.length, count);
  });
});

