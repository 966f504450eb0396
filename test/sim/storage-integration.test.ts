import { strict as assert } from 'node:assert';
import { TtsSimulator } from '../../src/sim';
import type { ApplicationUp } from '../../src/tts/types';
import { timestampNanos } from '../../src/tts/timestamps';

const APP = 'store-app';

/** GET with the key; the body split into its JSON lines. */
async function get(url: string, key?: string): Promise<{ status: number; lines: Array<{ result?: ApplicationUp; code?: number; details?: Array<{ name?: string }> }>; type: string | null }> {
  const res = await fetch(url, { headers: key ? { Authorization: `Bearer ${key}` } : {} });
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    lines: text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l)),
  };
}

describe('TTS simulator: Storage Integration API', function () {
  let sim: TtsSimulator;
  const base = (): string => `${sim.url}/api/v3/as/applications/${APP}/packages/storage`;

  beforeEach(async function () {
    // The webhook points at a closed port: every delivery fails, as while Node-RED is down.
    sim = new TtsSimulator({ applicationId: APP, devices: 2, storageIntegration: { limit: 50 }, webhook: { url: 'http://127.0.0.1:9/tts', token: 't' }, webhookTimeoutMs: 2000 });
    await sim.start();
  });

  afterEach(async function () {
    await sim.stop();
  });

  it('keeps uplinks whose webhook failed and streams them one {"result": …} object per line', async function () {
    const posts = [...(await sim.sendUplink('sim-device-01')), ...(await sim.sendUplink('sim-device-02')), ...(await sim.sendUplink('sim-device-01'))];
    assert.ok(posts.length >= 3 && posts.every((p) => !p.ok), 'deliveries failed');
    const answer = await get(`${base()}/uplink_message`, sim.apiKey);
    assert.equal(answer.status, 200);
    assert.match(answer.type ?? '', /application\/json/);
    assert.equal(answer.lines.length, 3);
    const ups = answer.lines.map((l) => l.result!);
    const byTime = (list: ApplicationUp[]): ApplicationUp[] => [...list].sort((a, b) => (timestampNanos(a.received_at!)! < timestampNanos(b.received_at!)! ? -1 : 1));
    assert.deepEqual(ups, byTime(ups), 'ascending by received_at');
    const bodies = posts.map((p) => p.body).filter((b) => b.uplink_message);
    assert.deepEqual(ups, byTime(bodies), 'the stored bodies are the ones TTS tried to post');
    assert.deepEqual(ups.map((u) => `${u.end_device_ids.device_id}#${u.uplink_message?.f_cnt ?? 0}`).sort(), ['sim-device-01#0', 'sim-device-01#1', 'sim-device-02#0']);
  });

  it('filters by type, device, after (inclusive), before (exclusive), f_port, limit and order', async function () {
    for (let i = 0; i < 4; i++) await sim.sendUplink('sim-device-01');
    await sim.sendUplink('sim-device-02');
    const all = (await get(`${base()}/uplink_message`, sim.apiKey)).lines.map((l) => l.result!);
    assert.equal(all.length, 5);
    const [, second, third, fourth] = all;

    const window = await get(`${base()}/uplink_message?after=${encodeURIComponent(second.received_at!)}&before=${encodeURIComponent(fourth.received_at!)}`, sim.apiKey);
    assert.deepEqual(
      window.lines.map((l) => l.result!.received_at),
      [second.received_at, third.received_at],
    );
    const newestTwo = await get(`${base()}/uplink_message?order=-received_at&limit=2`, sim.apiKey);
    assert.deepEqual(
      newestTwo.lines.map((l) => l.result!.received_at),
      [all[4].received_at, all[3].received_at],
    );
    const device = await get(`${sim.url}/api/v3/as/applications/${APP}/devices/sim-device-02/packages/storage/uplink_message`, sim.apiKey);
    assert.deepEqual(
      device.lines.map((l) => l.result!.end_device_ids.device_id),
      ['sim-device-02'],
    );
    const port = all[0].uplink_message!.f_port ?? 0;
    const byPort = await get(`${base()}/uplink_message?f_port=${port}`, sim.apiKey);
    assert.ok(byPort.lines.length >= 1 && byPort.lines.every((l) => (l.result!.uplink_message!.f_port ?? 0) === port));
    await sim.sendJoinAccept('sim-device-02');
    const joins = await get(`${base()}/join_accept`, sim.apiKey);
    assert.equal(joins.status, 200);
    assert.equal(joins.lines.length, 1);
    assert.ok(joins.lines[0].result!.join_accept !== undefined);
    const last = await get(`${base()}/uplink_message?last=3600s`, sim.apiKey);
    assert.equal(last.lines.length, 5);
  });

  it('applies a field mask with the up.<type>. prefix', async function () {
    await sim.sendUplink('sim-device-01');
    const masked = await get(`${base()}/uplink_message?field_mask=end_device_ids.device_id,received_at,up.uplink_message.f_cnt`, sim.apiKey);
    const up = masked.lines[0].result!;
    assert.deepEqual(Object.keys(up).sort(), ['end_device_ids', 'received_at', 'uplink_message']);
    assert.deepEqual(up.end_device_ids, { device_id: 'sim-device-01' });
    assert.deepEqual(Object.keys(up.uplink_message ?? {}).filter((k) => k !== 'f_cnt'), []);
  });

  it('keeps only the last N messages', async function () {
    sim.setStorageIntegration(true, 3);
    const sent: ApplicationUp[] = [];
    for (let i = 0; i < 5; i++) sent.push(...(await sim.sendUplink('sim-device-01')).map((p) => p.body).filter((b) => b.uplink_message));
    assert.equal(sent.length, 5);
    // The newest three by received_at (two uplinks of one millisecond may swap).
    const newest = sent.sort((a, b) => (timestampNanos(a.received_at!)! < timestampNanos(b.received_at!)! ? -1 : 1)).slice(2);
    const kept = (await get(`${base()}/uplink_message`, sim.apiKey)).lines.map((l) => l.result!.received_at);
    assert.deepEqual(kept, newest.map((u) => u.received_at));
  });

  it('answers 401 without or with an unknown key, 403 without traffic rights, 400 for bad parameters', async function () {
    await sim.sendUplink('sim-device-01');
    assert.equal((await get(`${base()}/uplink_message`)).status, 401);
    const unknown = await get(`${base()}/uplink_message`, 'NNSXS.UNKNOWNKEY.SECRET');
    assert.equal(unknown.status, 401);
    assert.equal(unknown.lines[0].details?.[0].name, 'api_key_not_found');
    const downOnly = sim.apiKeys.create(APP, 'down only', ['RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE']).key;
    const refused = await get(`${base()}/uplink_message`, downOnly);
    assert.equal(refused.status, 403);
    assert.equal(refused.lines[0].details?.[0].name, 'insufficient_application_rights');
    assert.equal((await get(`${sim.url}/api/v3/as/applications/other-app/packages/storage/uplink_message`, sim.apiKey)).status, 403);
    for (const query of ['after=yesterday', 'limit=-1', 'order=sideways', 'last=3600s&after=2020-01-01T00:00:00Z']) {
      assert.equal((await get(`${base()}/uplink_message?${query}`, sim.apiKey)).status, 400, query);
    }
    assert.equal((await get(`${base()}/not_a_type`, sim.apiKey)).status, 400);
  });

  it('answers 404 storage_not_activated while the integration is not activated', async function () {
    sim.setStorageIntegration(false);
    await sim.sendUplink('sim-device-01');
    const answer = await get(`${base()}/uplink_message`, sim.apiKey);
    assert.equal(answer.status, 404);
    assert.equal(answer.lines[0].details?.[0].name, 'storage_not_activated');
    sim.setStorageIntegration(true);
    assert.deepEqual((await get(`${base()}/uplink_message`, sim.apiKey)).lines, [], 'messages from before the activation are not stored');
  });
});
