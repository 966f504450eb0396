import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ttsFixture } from '../helpers/tts-fixtures';
import { uid } from '../helpers/flows';
import { NodeRedProcess, PACKAGE_NAME, REPO_ROOT, nodeRedMajor, packThisBuild } from '../helpers/node-red-process';

const TOKEN = 'process-test-token-0123456789';
const API_KEY = 'NNSXS.PROCESSTEST.APIKEYSECRET0123456789';

/** A flow: Default profile, webhook-in on /tts, and a debug node logging what arrives. */
function demoFlow() {
  const tab = uid('tab');
  const profile = { id: uid('profile'), type: 'tts-profile', name: 'farm', applicationId: 'farm-sensors', server: 'eu1.cloud.thethings.network', webhookId: 'node-red' };
  const debug = { id: uid('debug'), type: 'debug', z: tab, name: 'out', active: true, tosidebar: false, console: true, complete: 'topic', targetType: 'msg', wires: [] };
  const hook = { id: uid('hook'), type: 'tts-webhook-in', z: tab, name: '', path: '/tts', profile: profile.id, routing: 'single', wires: [[debug.id]] };
  return { flows: [{ id: tab, type: 'tab', label: 'TTS' }, profile, hook, debug], profile };
}

async function postUplink(url: string, token: string): Promise<number> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(ttsFixture('uplink_message')) });
  await res.arrayBuffer();
  return res.status;
}

async function postRaw(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, text: await res.text() };
}

describe('in a real Node-RED process', function () {
  this.timeout(60_000);

  for (const layout of [
    { label: `Node-RED ${nodeRedMajor()}'s default settings (editor and node routes at /)`, httpAdminRoot: '/', httpNodeRoot: '/' },
    { label: 'the editor on a sub-path (/admin) and node routes on /api', httpAdminRoot: '/admin', httpNodeRoot: '/api' },
  ]) {
    describe(layout.label, () => {
      let red: NodeRedProcess;
      let profileId: string;
      before(async () => {
        const { flows, profile } = demoFlow();
        profileId = profile.id;
        red = new NodeRedProcess({ httpAdminRoot: layout.httpAdminRoot, httpNodeRoot: layout.httpNodeRoot, flows, credentials: { [profile.id]: { webhookToken: TOKEN, apiKey: API_KEY } } });
        await red.start();
      });
      after(async () => {
        await red.stop();
      });

      it('loads every node of the package with no warnings', async () => {
        const res = await fetch(red.adminUrl('/nodes'), { headers: { accept: 'application/json' } });
        const sets = (await res.json()) as Array<{ module: string; types: string[]; enabled: boolean; err?: string }>;
        const ours = sets.filter((s) => s.module === PACKAGE_NAME);
        const types = ours.flatMap((s) => s.types);
        for (const type of ['tts-profile', 'tts-webhook-in']) assert.ok(types.includes(type), `${type} registered: ${types.join(', ')}`);
        for (const set of ours) assert.equal(set.err, undefined, `${set.types.join(',')}: ${set.err}`);
        assert.deepEqual(red.problems(), []);
      });

      it('delivers a webhook to the flow', async () => {
        const from = red.logs.length;
        assert.equal(await postUplink(red.nodeUrl('/tts/uplink'), TOKEN), 200);
        await red.waitForLog(/farm-sensors\/eui-70b3d57ed005a1b2\/uplink_message/, from);
      });

      it('applies the body limit and answers bad JSON with 400 although the editor parses bodies first', async () => {
        const big = ttsFixture('uplink_message');
        big.uplink_message.padding = 'x'.repeat(300 * 1024);
        const tooBig = await postRaw(red.nodeUrl('/tts'), JSON.stringify(big), { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` });
        assert.equal(tooBig.status, 413);
        assert.match(tooBig.text, /body_too_large/);
        const bad = await postRaw(red.nodeUrl('/tts'), '{"end_device_ids":', { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` });
        assert.equal(bad.status, 400);
        const from = red.logs.length;
        const wrongToken = await postRaw(red.nodeUrl('/tts'), JSON.stringify(ttsFixture('uplink_message')), { 'content-type': 'application/json', authorization: 'Bearer nope' });
        assert.equal(wrongToken.status, 401);
        // The first refusal of its kind says why, without a "(0 more refused …)" count.
        const warning = await red.waitForLog(/webhook request refused with 401/, from);
        assert.match(warning, /refused with 401: the bearer token matches no profile$/);
      });

      it('keeps secrets out of flows.json, the flows API, the credentials API and the log', async () => {
        const flowsFile = red.readUserFile('flows.json');
        const api = await (await fetch(red.adminUrl('/flows'))).text();
        const creds = await (await fetch(red.adminUrl(`/credentials/tts-profile/${profileId}`))).json() as Record<string, unknown>;
        assert.deepEqual(creds, { has_webhookToken: true, has_apiKey: true });
        for (const text of [flowsFile, api, red.logs.join('\n')]) {
          assert.ok(!text.includes(TOKEN), 'webhook token leaked');
          assert.ok(!text.includes(API_KEY), 'API key leaked');
        }
      });
    });
  }

  describe('installed from `npm pack` into a fresh user directory', () => {
    let red: NodeRedProcess;
    let packDir: string;
    before(async function () {
      this.timeout(120_000);
      mkdirSync(join(REPO_ROOT, '.tmp'), { recursive: true });
      packDir = mkdtempSync(join(REPO_ROOT, '.tmp', 'pack-'));
      const tarball = packThisBuild(packDir);
      const { flows, profile } = demoFlow();
      red = new NodeRedProcess({ tarball, flows, credentials: { [profile.id]: { webhookToken: TOKEN } } });
      await red.start();
    });
    after(async () => {
      await red.stop();
      rmSync(packDir, { recursive: true, force: true });
    });

    it('registers every node listed in package.json with its editor, help and icon, and no warnings', async () => {
      const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { 'node-red': { nodes: Record<string, string> } };
      const declared = Object.keys(manifest['node-red'].nodes);
      const sets = (await (await fetch(red.adminUrl('/nodes'), { headers: { accept: 'application/json' } })).json()) as Array<{ module: string; types: string[]; err?: string }>;
      const types = sets.filter((s) => s.module === PACKAGE_NAME).flatMap((s) => s.types);
      assert.deepEqual([...types].sort(), [...declared].sort());
      const editor = await (await fetch(red.adminUrl('/nodes'), { headers: { accept: 'text/html' } })).text();
      for (const type of declared) {
        assert.ok(editor.includes(`data-template-name="${type}"`), `${type} editor template`);
        assert.ok(editor.includes(`data-help-name="${type}"`), `${type} help`);
      }
      // Each flow node has an icon of its own, served from the installed package.
      const icons = new Map<string, string>();
      for (const match of editor.matchAll(/registerType\('(tts-[a-z-]+)'(?:(?!registerType)[\s\S])*?icon: '([^']+)'/g)) icons.set(match[1], match[2]);
      assert.deepEqual([...icons.keys()].sort(), declared.filter((t) => t !== 'tts-profile' && t !== 'tts-store').sort());
      assert.equal(new Set(icons.values()).size, icons.size, `one icon per node type: ${JSON.stringify([...icons])}`);
      for (const file of icons.values()) {
        const icon = await fetch(red.adminUrl(`/icons/${PACKAGE_NAME}/${file}`));
        assert.equal(icon.status, 200, file);
        assert.match(await icon.text(), /^<svg /);
      }
      const shared = await fetch(red.adminUrl(`/resources/${PACKAGE_NAME}/tts-editor.js`));
      assert.equal(shared.status, 200);
      assert.match(await shared.text(), /window\.TtsEditor = /);
      assert.deepEqual(red.problems(), []);
      assert.equal(await postUplink(red.nodeUrl('/tts'), TOKEN), 200);
    });
  });
});
