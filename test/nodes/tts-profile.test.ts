import { strict as assert } from 'node:assert';
import profileModule = require('../../nodes/tts-profile/tts-profile');
import webhookModule = require('../../nodes/tts-webhook-in/tts-webhook-in');
import { TtsSimulator } from '../../src/sim';
import { profileRegistry } from '../../src/runtime';
import { profileNode } from '../helpers/flows';
import { loadFlow, nodeRedHelper, unloadFlow, waitForCall } from '../helpers/runtime';
import { adminRoutesOf } from '../helpers/admin-routes';

const modules = [profileModule, webhookModule];
const TOKEN = 'profile-test-token-0123456789';
const API_KEY = 'NNSXS.PROFILETESTKEY.ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

describe('tts-profile', () => {
  before(async () => {
    await nodeRedHelper().startServer();
  });
  after(async () => {
    await nodeRedHelper().stopServer();
  });
  afterEach(async () => {
    await unloadFlow();
  });

  it('registers its settings and resolved credentials while deployed, and leaves on close', async () => {
    const p = profileNode({ applicationId: 'farm-sensors', server: 'eu1.cloud.thethings.network', fPort: '10', priority: 'HIGH' });
    await loadFlow(modules, [p], { [p.id]: { webhookToken: TOKEN, apiKey: API_KEY } });
    const active = profileRegistry.get(p.id);
    assert.equal(active?.settings.server, 'https://eu1.cloud.thethings.network');
    assert.equal(active?.settings.fPort, 10);
    assert.equal(active?.settings.priority, 'HIGH');
    assert.equal(active?.webhookToken, TOKEN);
    assert.equal(active?.apiKey, API_KEY);
    await unloadFlow();
    assert.equal(profileRegistry.get(p.id), undefined);
  });

  it('reports configuration errors clearly, without secrets', async () => {
    const p = profileNode({ applicationId: 'Not_Valid', fPort: '300' });
    await loadFlow(modules, [p], { [p.id]: { apiKey: API_KEY } });
    const node = nodeRedHelper().getNode(p.id);
    await waitForCall(node, 'error', () => node.error.callCount >= 3);
    const errors = node.error.args.map((a: unknown[]) => JSON.stringify(a));
    assert.equal(errors.length, 3, errors.join('\n'));
    assert.ok(errors.every((e: string) => e.includes('tts-profile.errors.config')));
    assert.ok(errors.every((e: string) => !e.includes(API_KEY)));
  });

  describe('"Create / update webhook in TTS" admin route', () => {
    let sim: TtsSimulator;
    beforeEach(async () => {
      sim = new TtsSimulator({ applicationId: 'farm-sensors', apiKey: API_KEY, devices: 1 });
      await sim.start();
    });
    afterEach(async () => {
      await sim.stop();
    });

    function deployedProfile(overrides: Record<string, unknown> = {}, creds: Record<string, string> = { webhookToken: TOKEN, apiKey: API_KEY }) {
      const p = profileNode({ applicationId: 'farm-sensors', server: sim.url, webhookId: 'node-red', ...overrides });
      return loadFlow(modules, [p], { [p.id]: creds }).then(() => p);
    }

    it('creates the webhook with the token header, every message type and a downlink key, then updates it', async () => {
      const p = await deployedProfile();
      const first = await nodeRedHelper().request().post(`/tts/profile/${p.id}/webhook`).send({ baseUrl: 'https://nodered.example.net/tts' }).expect(200);
      assert.equal(first.body.created, true);
      assert.equal(first.body.webhook.base_url, 'https://nodered.example.net/tts');
      assert.deepEqual(first.body.webhook.headers, { Authorization: '(hidden)' });
      assert.equal(first.body.webhook.has_downlink_api_key, true);
      assert.ok(first.body.downlinkKey?.id);
      assert.ok(!JSON.stringify(first.body).includes(TOKEN) && !JSON.stringify(first.body).includes(API_KEY));

      const stored = sim.webhooks.get('farm-sensors', 'node-red');
      assert.equal(stored?.headers?.Authorization, `Bearer ${TOKEN}`);
      assert.equal(stored?.format, 'json');
      for (const type of ['uplink_message', 'join_accept', 'downlink_ack', 'downlink_nack', 'downlink_sent', 'downlink_failed', 'downlink_queued', 'location_solved', 'service_data']) {
        assert.ok(stored && (stored as unknown as Record<string, unknown>)[type] !== undefined, `${type} enabled`);
      }

      const second = await nodeRedHelper().request().post(`/tts/profile/${p.id}/webhook`).send({ baseUrl: 'https://other.example.net/tts' }).expect(200);
      assert.equal(second.body.created, false);
      assert.equal(second.body.downlinkKey, undefined, 'the existing downlink key is kept');
      assert.equal(sim.webhooks.get('farm-sensors', 'node-red')?.base_url, 'https://other.example.net/tts');
    });

    it('says what is missing before calling TTS', async () => {
      const dflt = await deployedProfile({ applicationId: '' });
      const res = await nodeRedHelper().request().post(`/tts/profile/${dflt.id}/webhook`).send({ baseUrl: 'https://nodered.example.net/tts' }).expect(400);
      assert.match(res.body.error.message, /application ID/);
      await unloadFlow();
      const noKey = await deployedProfile({}, { webhookToken: TOKEN });
      const res2 = await nodeRedHelper().request().post(`/tts/profile/${noKey.id}/webhook`).send({ baseUrl: 'https://nodered.example.net/tts' }).expect(400);
      assert.match(res2.body.error.message, /API key/);
      await nodeRedHelper().request().post('/tts/profile/not-deployed/webhook').send({ baseUrl: 'https://x.example/tts' }).expect(404);
    });

    it("passes TTS's refusal on, without the key", async () => {
      const p = await deployedProfile({}, { webhookToken: TOKEN, apiKey: 'NNSXS.WRONGKEY.0123456789ABCDEF' });
      const res = await nodeRedHelper().request().post(`/tts/profile/${p.id}/webhook`).send({ baseUrl: 'https://nodered.example.net/tts' }).expect(502);
      assert.equal(res.body.error.status, 401);
      assert.ok(!JSON.stringify(res.body).includes('WRONGKEY'));
    });
  });

  it('guards its admin route with tts-profile.write', () => {
    assert.deepEqual(adminRoutesOf(profileModule).routes, [{ route: 'post /tts/profile/:id/webhook', permission: 'tts-profile.write' }]);
  });
});
