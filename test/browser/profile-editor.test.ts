import { strict as assert } from 'node:assert';
import type { BrowserContext, Page } from 'playwright-core';
import { ttsFixture } from '../helpers/tts-fixtures';
import { NodeRedProcess } from '../helpers/node-red-process';
import { openConfigDialog, openEditDialog, openEditorSession, waitForTraysAtRest } from '../helpers/browser';

const TAB = 'profile-tab';
const PROFILE = 'profile-under-test';
const HOOK = 'profile-hook';
// A profile as versions before backfill saved it, and one whose backfillMaxHours the dialog of
// those versions' successors saved empty.
const BEFORE_BACKFILL = {
  id: 'profile-before-backfill', type: 'tts-profile', name: 'saved before backfill', applicationId: 'old-sensors', server: '', webhookId: '',
  autoProvision: true, connectionTimeout: 60, devicePrefix: '', bucketPrefix: '', assetType: '', assetGroup: '', updateLocation: true, saveMetadata: true,
  initDownlink: false, downlinkData: '', confirmed: false, queue: 'push', priority: 'NORMAL', fPort: 1,
};
const EMPTY_BACKFILL_HOURS = { ...BEFORE_BACKFILL, id: 'profile-empty-backfill-hours', name: 'backfill hours saved empty', applicationId: 'older-sensors', backfill: false, backfillMaxHours: '' };

/** Shows one tab of the profile dialog (application, uplink, downlink, webhook). */
async function showTab(page: Page, name: 'application' | 'uplink' | 'downlink' | 'webhook'): Promise<void> {
  const panel = page.locator(`#node-config-tts-profile-tab-${name}`);
  // RED.tabs reads a click within 400 ms of the previous click on any of its tabs as a double
  // click, and does not switch; the click after that one is a plain click again. The switch
  // itself happens in the click handler, so the panel is visible at once when it took.
  for (let attempt = 0; attempt < 3 && !(await panel.isVisible()); attempt++) {
    await page.click(`#node-config-tts-profile-tabs a[href="#node-config-tts-profile-tab-${name}"]`);
  }
  await panel.waitFor({ state: 'visible' });
}

describe('tts-profile edit dialog in a real browser', function () {
  this.timeout(90_000);
  let red: NodeRedProcess;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];

  before(async () => {
    red = new NodeRedProcess({
      flows: [
        { id: TAB, type: 'tab', label: 'profile' },
        { id: PROFILE, type: 'tts-profile', name: '', applicationId: 'farm-sensors', server: 'eu1.cloud.thethings.network', webhookId: 'node-red', fPort: '1' },
        BEFORE_BACKFILL,
        EMPTY_BACKFILL_HOURS,
        { id: HOOK, type: 'tts-webhook-in', z: TAB, name: '', path: '/tts', profile: PROFILE, routing: 'single', x: 200, y: 100, wires: [[]] },
      ],
    });
    ({ context, page, problems } = await openEditorSession(red));
  });

  after(async () => {
    await context?.close();
    await red?.stop();
  });

  it('shows what to enter in the TTS console: URL of each webhook node, header and message types', async () => {
    await openConfigDialog(page, 'tts-profile', PROFILE);
    // Arranged in tabs like the hosted plugin's profile page, the application first.
    assert.deepEqual(await page.locator('#node-config-tts-profile-tabs .red-ui-tab-label').allInnerTexts(), ['Application', 'Uplink', 'Downlink', 'Webhook settings']);
    assert.ok(await page.locator('#node-config-input-applicationId').isVisible());
    assert.ok(!(await page.locator('#node-config-input-fPort').isVisible()));
    await showTab(page, 'webhook');
    const urls = await page.locator('#node-config-webhook-urls li').allInnerTexts();
    assert.equal(urls.length, 1);
    assert.match(urls[0], new RegExp(`^http://127\\.0\\.0\\.1:${red.port}/tts \\(uses this profile by default\\)$`));
    assert.equal(await page.locator('#node-config-webhook-header-value').innerText(), 'Bearer <the webhook token above>');
    const types = await page.locator('#node-config-webhook-types li').allInnerTexts();
    assert.ok(types.some((t) => t.startsWith('uplink_message')));
    assert.ok(types.some((t) => t.startsWith('downlink_ack')));
    assert.equal(types.length, 11);
    assert.equal(await page.inputValue('#node-config-webhook-base-url'), `http://127.0.0.1:${red.port}/tts`);
  });

  it('flags invalid application ID, server and FPort in the dialog', async () => {
    for (const [field, bad, good] of [
      ['applicationId', 'Farm_Sensors', 'farm-sensors'],
      ['server', 'ftp://example.com', 'eu1.cloud.thethings.network'],
      ['fPort', '300', '10'],
    ] as const) {
      await showTab(page, field === 'fPort' ? 'downlink' : 'application');
      const input = page.locator(`#node-config-input-${field}`);
      await input.fill(bad);
      await input.dispatchEvent('change');
      assert.match((await input.getAttribute('class')) ?? '', /input-error/, `${field}=${bad} is flagged`);
      await input.fill(good);
      await input.dispatchEvent('change');
      assert.doesNotMatch((await input.getAttribute('class')) ?? '', /input-error/, `${field}=${good} is accepted`);
    }
  });

  it('shows a failed webhook set-up as a failure, with the reason', async () => {
    // The profile is not deployed with an API key: TTS cannot be reached for it.
    await showTab(page, 'webhook');
    await page.click('#node-config-webhook-setup');
    const result = page.locator('#node-config-webhook-setup-result.tts-error');
    await result.waitFor({ state: 'visible' });
    assert.match((await result.innerText()).trim(), /^Failed: \S/);
    assert.equal(await result.locator('.fa-exclamation-triangle').count(), 1);
    const color = await result.evaluate((el) => getComputedStyle(el).color);
    assert.notEqual(color, await page.locator('#node-config-webhook-settings').evaluate((el) => getComputedStyle(el).color), 'drawn unlike a tip');
    // The browser reports the refused request (400) on its console: expected here, and only here.
    const refused = problems.findIndex((p) => /Failed to load resource: the server responded with a status of 4\d\d/.test(p));
    assert.ok(refused >= 0, problems.join('\n'));
    problems.splice(refused, 1);
    await showTab(page, 'application');
  });

  it('generates a strong token, shows the exact header, and the deployed token is accepted but never stored in the flow file', async () => {
    await showTab(page, 'application');
    await page.click('#node-config-generate-token');
    const token = await page.inputValue('#node-config-input-webhookToken');
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    await showTab(page, 'webhook');
    assert.equal(await page.locator('#node-config-webhook-header-value').innerText(), `Bearer ${token}`);
    await page.click('#node-config-dialog-ok');
    await page.waitForSelector('#node-config-dialog-edit-form', { state: 'detached' });

    const from = red.logs.length;
    await page.click('#red-ui-header-button-deploy');
    await red.waitForLog(/Started flows/, from);

    const res = await fetch(red.nodeUrl('/tts/uplink'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(ttsFixture('uplink_message')),
    });
    assert.equal(res.status, 200);
    const flowFile = red.readUserFile('flows.json');
    assert.ok(flowFile.includes('"fPort": "10"') || flowFile.includes('"fPort":"10"'), `the dialog edits were saved: ${flowFile}`);
    assert.ok(!flowFile.includes(token), 'token not in flows.json');
    assert.ok(!red.logs.join('\n').includes(token), 'token not in the log');
    assert.deepEqual(problems, []);
  });

  it('opens a profile saved before backfill (or with its hours saved empty) with the 24 h default, and deploys it', async () => {
    for (const profile of [BEFORE_BACKFILL, EMPTY_BACKFILL_HOURS]) {
      await openConfigDialog(page, 'tts-profile', profile.id);
      await showTab(page, 'uplink');
      assert.equal(await page.inputValue('#node-config-input-backfillMaxHours'), '24', `${profile.name}: the field shows the default`);
      assert.equal(await page.isChecked('#node-config-input-backfill'), false);
      await page.click('#node-config-dialog-ok');
      await page.waitForSelector('#node-config-dialog-edit-form', { state: 'detached' });
      const saved = await page.evaluate((id) => (window as unknown as { RED: { nodes: { node(id: string): { backfillMaxHours: unknown } } } }).RED.nodes.node(id).backfillMaxHours, profile.id);
      assert.equal(String(saved), '24', `${profile.name}: Done saves the default`);
    }
    const from = red.logs.length;
    await page.click('#red-ui-header-button-deploy');
    await red.waitForLog(/Started flows/, from);
    const deployed = JSON.parse(red.readUserFile('flows.json')) as Array<{ id: string; backfillMaxHours?: unknown }>;
    for (const profile of [BEFORE_BACKFILL, EMPTY_BACKFILL_HOURS]) {
      assert.equal(String(deployed.find((n) => n.id === profile.id)?.backfillMaxHours), '24', `${profile.name} in flows.json`);
    }
    assert.deepEqual(problems, []);
  });

  it('marks a second profile for the same application, or a second Default profile, as invalid', async () => {
    const result = await page.evaluate(() => {
      const RED = (window as unknown as { RED: any }).RED;
      RED.view.importNodes([
        { id: 'profile-same-app', type: 'tts-profile', applicationId: 'farm-sensors' },
        { id: 'profile-default-1', type: 'tts-profile', applicationId: '' },
        { id: 'profile-default-2', type: 'tts-profile', applicationId: '' },
        { id: 'profile-other-app', type: 'tts-profile', applicationId: 'other-app' },
      ]);
      const check = (id: string) => {
        const node = RED.nodes.node(id);
        RED.editor.validateNode(node);
        return { valid: node.valid, errors: node.validationErrors ?? [] };
      };
      return {
        same: check('profile-same-app'),
        default1: check('profile-default-1'),
        default2: check('profile-default-2'),
        other: check('profile-other-app'),
      };
    });
    assert.equal(result.same.valid, false);
    assert.deepEqual(result.same.errors, ['Another profile already serves application farm-sensors']);
    assert.equal(result.default1.valid, false);
    assert.equal(result.default2.valid, false);
    assert.equal(result.other.valid, true);
  });

  it('shows every tab label whole in a 1600×900 window, opened from the webhook node’s dialog', async () => {
    await page.setViewportSize({ width: 1600, height: 900 });
    try {
      await openEditDialog(page, HOOK);
      await page.click('#node-input-btn-profile-edit');
      await page.waitForSelector('.red-ui-tray-body #node-config-dialog-edit-form', { state: 'visible' });
      await waitForTraysAtRest(page);
      // Each label's text, with its tab's padding, within its tab (the tab clips what is not).
      const tabs = await page.locator('#node-config-tts-profile-tabs li.red-ui-tab').evaluateAll((items) =>
        items.map((li) => {
          const label = li.querySelector('.red-ui-tab-label')!;
          const range = document.createRange();
          range.selectNodeContents(label);
          const link = getComputedStyle(li.querySelector('a')!);
          return { text: label.textContent ?? '', needs: Math.ceil(range.getBoundingClientRect().width + parseFloat(link.paddingLeft) + parseFloat(link.paddingRight)), has: Math.floor(li.getBoundingClientRect().width) };
        }),
      );
      assert.deepEqual(tabs.map((t) => t.text), ['Application', 'Uplink', 'Downlink', 'Webhook settings']);
      for (const tab of tabs) assert.ok(tab.needs <= tab.has, `"${tab.text}" needs ${tab.needs} px, its tab is ${tab.has} px`);
      await page.click('#node-config-dialog-cancel');
      await page.waitForSelector('.red-ui-tray-body #node-config-dialog-edit-form', { state: 'detached' });
      await page.click('#node-dialog-cancel');
      await page.waitForSelector('.red-ui-tray-body #dialog-form', { state: 'detached' });
    } finally {
      await page.setViewportSize({ width: 1280, height: 720 });
    }
  });
});
