// The editor sidebar "The Things Stack" in a real Chromium against a real Node-RED process fed
// by the simulator: devices with their state and readings, a device's detail with its
// `downlink` property edited (a tts-downlink with "On change" sends it, the simulator
// acknowledges), buckets with a chart and exports, and the log showing a refused webhook with
// its reason as it happens. Screenshots go to .tmp/screenshots/ on every run, and to the committed
// docs/screenshots/ (for the README) with UPDATE_SCREENSHOTS=1, so ordinary runs leave the tree clean.
import { strict as assert } from 'node:assert';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { TtsSimulator } from '../../src/sim';
import { downloadedText, nextDownload, openEditDialog, openEditorSession } from '../helpers/browser';
import { NodeRedProcess, REPO_ROOT } from '../helpers/node-red-process';

const TOKEN = 'sidebar-browser-webhook-token-5c1d9e';
const API_KEY = 'NNSXS.SIDEBARKEYID00001.SIDEBARSECRETABCDEFGHIJKLMNOPQRSTUVWXYZ012345678';
const WRONG_TOKEN = 'wrong-token-from-an-old-webhook-77';
const TAB = 'sidebar-tab';
const PROFILE = 'sidebar-profile';
const STORE = 'sidebar-store';
const DEVICE = 'sim-device-01';
const SHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? join(REPO_ROOT, 'docs', 'screenshots') : join(REPO_ROOT, '.tmp', 'screenshots');

function flows(server: string): unknown[] {
  return [
    { id: TAB, type: 'tab', label: 'sidebar' },
    {
      id: PROFILE, type: 'tts-profile', name: 'Simulated application', applicationId: 'sim-app', server, webhookId: 'node-red',
      autoProvision: true, connectionTimeout: '60', devicePrefix: '', bucketPrefix: '', assetType: 'sensor', assetGroup: 'greenhouse',
      updateLocation: true, saveMetadata: true, initDownlink: true, downlinkData: '{"enabled":true,"frequency":10,"threshold":20}',
      confirmed: true, queue: 'push', priority: 'NORMAL', fPort: '1',
    },
    { id: STORE, type: 'tts-store', name: 'Local store', backend: 'sqlite', path: 'sidebar.db' },
    { id: 'sb-hook', type: 'tts-webhook-in', z: TAB, name: '', path: '/tts', profile: PROFILE, routing: 'by-type', x: 120, y: 80, wires: [['sb-decode'], [], [], [], []] },
    { id: 'sb-decode', type: 'tts-uplink-decode', z: TAB, name: '', codec: 'cayennelpp', script: '', timeout: '', x: 320, y: 80, wires: [['sb-provision'], []] },
    { id: 'sb-provision', type: 'tts-provision', z: TAB, name: '', profile: PROFILE, store: STORE, x: 520, y: 80, wires: [['sb-bucket'], []] },
    { id: 'sb-bucket', type: 'tts-bucket', z: TAB, name: '', store: STORE, mode: 'write', bucket: '', radio: false, maxAge: '', maxRows: '', x: 720, y: 80, wires: [[]] },
    {
      id: 'sb-downlink', type: 'tts-downlink', z: TAB, name: 'configuration', profile: PROFILE, store: STORE, codec: 'script',
      script: "module.exports.downlink = function (payload) {\n  return Buffer.from([payload.enabled ? 1 : 0, payload.frequency, payload.threshold]).toString('base64');\n};\n",
      device: `sim-app/${DEVICE}`, rawFormat: 'auto', outcomeTimeout: '60', report: 'all', timeout: '100', onPropertyChange: true, x: 320, y: 180, wires: [[], []],
    },
  ];
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.locator('#red-ui-sidebar').screenshot({ path: join(SHOTS, `sidebar-${name}.png`) });
}

describe('the editor sidebar "The Things Stack" in a real browser', function () {
  this.timeout(120_000);
  let sim: TtsSimulator;
  let red: NodeRedProcess;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];

  before(async () => {
    sim = new TtsSimulator({
      apiKey: API_KEY,
      devices: [
        { deviceId: 'sim-device-01', payload: 'cayenne-lpp' },
        { deviceId: 'sim-device-02', payload: 'cayenne-lpp' },
        { deviceId: 'sim-device-03', payload: 'tts-decoded' },
      ],
      timing: { sentDelayMs: 20, answerDelayMs: 20 },
    });
    const simUrl = await sim.start();
    red = new NodeRedProcess({ flows: flows(simUrl), credentials: { [PROFILE]: { webhookToken: TOKEN, apiKey: API_KEY } } });
    ({ context, page, problems } = await openEditorSession(red, { acceptDownloads: true, viewport: { width: 1400, height: 900 } }));
    sim.configureWebhook({ url: red.nodeUrl('/tts'), token: TOKEN });
    for (let round = 0; round < 4; round++) {
      for (const device of sim.deviceIds()) {
        for (const r of await sim.sendUplink(device)) assert.equal(r.status, 200, `${r.type}: ${r.status ?? r.error}`);
      }
    }
    // The sidebar is wider than the default, as a user would drag it.
    await page.evaluate(() => {
      const red = (window as unknown as { RED: { sidebar: { show(id: string): void } } }).RED;
      red.sidebar.show('tts-monitor');
    });
    await page.locator('#red-ui-sidebar .tts-monitor').waitFor({ state: 'visible' });
  });

  after(async () => {
    await context?.close();
    await red?.stop();
    await sim?.stop();
  });

  it('lists the simulated devices with online state, last seen, reading, signal and location; filters and sorts', async () => {
    await page.click('.tts-monitor-section-devices');
    // All four uplinks of each device are stored by now (the list is read after them; a late
    // reading would only change the numbers shown).
    for (const id of sim.deviceIds()) await page.locator(`.tts-monitor-device[data-device="${id}"]`).waitFor();
    const first = page.locator(`.tts-monitor-device[data-device="${DEVICE}"]`);
    assert.equal(await first.locator('.tts-monitor-dot.online').count(), 1);
    const text = await first.innerText();
    assert.match(text, /sim-app · online · \d+ s ago/);
    assert.match(text, /temperature_1: -?\d/);
    assert.match(text, /RSSI -?\d+ dBm · SNR -?[\d.]+ dB · SF\d+ · \d gateway/);
    assert.match(text, /\d+\.\d{5}, \d+\.\d{5} \(\w+\)/);
    await shot(page, 'devices');
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, 'sidebar-editor.png') });

    await page.fill('.tts-monitor-device-filter', 'device-02');
    await page.locator('.tts-monitor-device[data-device="sim-device-01"]').waitFor({ state: 'detached' });
    assert.deepEqual(await page.locator('.tts-monitor-device').evaluateAll((els) => els.map((e) => e.getAttribute('data-device'))), ['sim-device-02']);
    await page.fill('.tts-monitor-device-filter', '');
    await page.selectOption('.tts-monitor-device-sort', 'name');
    assert.deepEqual(await page.locator('.tts-monitor-device').evaluateAll((els) => els.map((e) => e.getAttribute('data-device'))), ['sim-device-01', 'sim-device-02', 'sim-device-03']);
  });

  it('shows a device’s properties; editing its downlink property sends a downlink the simulator acknowledges', async () => {
    await page.click(`.tts-monitor-device[data-device="${DEVICE}"]`);
    const editor = page.locator('textarea.tts-monitor-downlink');
    await editor.waitFor();
    assert.deepEqual(JSON.parse(await editor.inputValue()), { enabled: true, frequency: 10, threshold: 20 });
    const props = await page.locator('.tts-monitor-props').innerText();
    for (const label of ['Registry id', 'Last seen', 'DevEUI', 'Profile', 'Location (source)', 'Signal', 'Uplinks', 'Latest reading']) assert.ok(props.includes(label), `${label} in ${props}`);
    assert.match(props, /sensor \/ greenhouse/);

    const request = sim.waitForDownlinkRequest((r) => r.deviceId === DEVICE, 30_000);
    const acked = sim.waitForWebhook((p) => p.type === 'downlink_ack' && p.deviceId === DEVICE && p.status === 200, 30_000);
    await editor.fill('{"enabled": false, "frequency": 30, "threshold": 5}');
    await page.click('.tts-monitor-downlink-save');
    await page.locator('.tts-monitor-downlink-result', { hasText: 'Saved' }).waitFor();
    const sent = await request;
    assert.equal((sent.body as { downlinks: Array<{ frm_payload: string }> }).downlinks[0].frm_payload, Buffer.from([0, 30, 5]).toString('base64'));
    await acked;
    await shot(page, 'device');


    // The log shows the downlink's way to the ack.
    await page.click('.tts-monitor-section-logs');
    await page.selectOption('.tts-monitor-log-kind', 'downlink');
    await page.locator('.tts-monitor-log[data-kind="downlink"][data-outcome="ack"]').waitFor();
    const outcomes = await page.locator('.tts-monitor-log[data-kind="downlink"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-outcome')));
    assert.deepEqual([...outcomes].sort(), ['ack', 'queued', 'requested', 'sent']);
    assert.equal(outcomes[0], 'ack', 'newest first');
  });

  it('shows buckets with row counts and the newest rows, draws a chart of a chosen field, exports CSV and JSON lines', async () => {
    await page.click('.tts-monitor-section-buckets');
    const select = page.locator('select.tts-monitor-bucket');
    await select.waitFor();
    const options = await select.locator('option').allInnerTexts();
    assert.deepEqual(options.sort(), ['sim-device-01 — 4 rows', 'sim-device-02 — 4 rows', 'sim-device-03 — 4 rows']);
    await select.selectOption('sim-device-02');
    // header + 4 rows, of the bucket chosen (the view is redrawn for it)
    await page.waitForFunction(() => document.querySelectorAll('.tts-monitor-newest[data-bucket="sim-device-02"] tr').length === 5);
    assert.match(await page.locator('.tts-monitor-newest').innerText(), /temperature_1/);
    const field = page.locator('select.tts-monitor-chart-field');
    await field.waitFor();
    assert.ok((await field.locator('option').allInnerTexts()).includes('relative_humidity_2'));
    await field.selectOption('relative_humidity_2');
    await page.selectOption('select.tts-monitor-chart-range', '3600000');
    await page.waitForFunction(() => {
      const svg = document.querySelector('.tts-monitor-chart-box svg');
      return svg?.getAttribute('data-points') === '4' && document.querySelectorAll('.tts-monitor-chart-box .tts-monitor-chart-point').length === 4;
    });
    const line = await page.locator('.tts-monitor-chart-line').getAttribute('points');
    assert.equal(line?.split(' ').length, 4);
    await shot(page, 'buckets');

    let next = nextDownload(context, page);
    await page.selectOption('select.tts-monitor-export-format', 'csv');
    await page.click('.tts-monitor-export');
    let download = await next;
    assert.equal(download.suggestedFilename(), 'sim-device-02.csv');
    const csv = (await downloadedText(download)).trimEnd().split('\r\n');
    assert.match(csv[0], /^time,f_cnt,f_port,temperature_1,relative_humidity_2,barometric_pressure_3,other$/);
    assert.equal(csv.length, 5);

    next = nextDownload(context, page);
    await page.selectOption('select.tts-monitor-export-format', 'jsonl');
    await page.click('.tts-monitor-export');
    download = await next;
    assert.equal(download.suggestedFilename(), 'sim-device-02.jsonl');
    const lines = (await downloadedText(download)).trimEnd().split('\n').map((l) => JSON.parse(l) as { data: Record<string, unknown> });
    assert.equal(lines.length, 4);
    assert.equal(typeof lines[0].data.relative_humidity_2, 'number');
  });

  it('shows a refused webhook in the log as it happens, with its reason', async () => {
    await page.click('.tts-monitor-section-logs');
    await page.selectOption('.tts-monitor-log-kind', 'webhook');
    await page.locator('.tts-monitor-log[data-kind="webhook"]').first().waitFor();
    const res = await fetch(red.nodeUrl('/tts'), { method: 'POST', headers: { authorization: `Bearer ${WRONG_TOKEN}`, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 401);
    // Arrives over comms, without a reload.
    const refused = page.locator('.tts-monitor-log[data-outcome="refused"]');
    await refused.waitFor();
    assert.match(await refused.innerText(), /the bearer token matches no profile/);
    assert.match(await refused.innerText(), /status 401 · code unknown_token · path \/tts/);
    assert.equal(await page.locator('.tts-monitor-log').first().getAttribute('data-outcome'), 'refused', 'newest first');
    await page.fill('.tts-monitor-log-device', 'sim-device-03');
    await page.locator('.tts-monitor-log-device').press('Enter');
    await refused.waitFor({ state: 'detached' });
    const devices = await page.locator('.tts-monitor-log .tts-monitor-line').allInnerTexts();
    assert.ok(devices.length > 0 && devices.filter((t) => t.includes('sim-app/')).every((t) => t.includes('sim-app/sim-device-03')), devices.join('\n'));
    await page.fill('.tts-monitor-log-device', '');
    await page.locator('.tts-monitor-log-device').press('Enter');
    await page.selectOption('.tts-monitor-log-kind', '');
    await refused.waitFor();
    await shot(page, 'logs');
  });

  it('follows a device live: its open detail shows the next uplink without a reload', async () => {
    // The Devices section comes back with the detail left open; back to the list, and in again.
    await page.click('.tts-monitor-section-devices');
    await page.click('.tts-monitor-back');
    await page.click(`.tts-monitor-device[data-device="${DEVICE}"]`);
    const uplinks = page.locator('.tts-monitor-props tr', { hasText: 'Uplinks' });
    await uplinks.waitFor();
    assert.match(await uplinks.innerText(), /Uplinks\s+4 /);
    for (const r of await sim.sendUplink(DEVICE)) assert.equal(r.status, 200);
    await page.locator('.tts-monitor-props tr', { hasText: /Uplinks\s*5 \(/ }).waitFor();
  });

  it('keeps an unsaved edit of the downlink property when a live update redraws the device', async () => {
    // A redraw (a live update, or one scheduled before the detail opened) put the stored value
    // back into the editor: "Save" then stored and sent the old value.
    const editor = page.locator('textarea.tts-monitor-downlink');
    const draft = '{"enabled": true, "frequency": 45, "threshold": 7}';
    await editor.fill(draft);
    await editor.blur();
    for (const r of await sim.sendUplink(DEVICE)) assert.equal(r.status, 200);
    await page.locator('.tts-monitor-props tr', { hasText: /Uplinks\s*6 \(/ }).waitFor();
    assert.equal(await editor.inputValue(), draft);
    // and "Save" stores and sends the edit.
    const request = sim.waitForDownlinkRequest((r) => r.deviceId === DEVICE, 30_000);
    await page.click('.tts-monitor-downlink-save');
    await page.locator('.tts-monitor-downlink-result', { hasText: 'Saved' }).waitFor();
    const sent = await request;
    assert.equal((sent.body as { downlinks: Array<{ frm_payload: string }> }).downlinks[0].frm_payload, Buffer.from([1, 45, 7]).toString('base64'));
  });

  it('tts-downlink: the "On change" checkbox shows the saved option and stays valid after Done', async () => {
    await openEditDialog(page, 'sb-downlink');
    assert.equal(await page.isChecked('#node-input-onPropertyChange'), true);
    assert.match(await page.locator('label[for="node-input-onPropertyChange"]').innerText(), /On change/);
    await page.uncheck('#node-input-onPropertyChange');
    await page.click('#node-dialog-ok');
    await page.waitForSelector('.red-ui-tray-body #dialog-form', { state: 'detached' });
    const saved = await page.evaluate(() => {
      const n = (window as unknown as { RED: { nodes: { node(id: string): { onPropertyChange: unknown; valid: unknown } } } }).RED.nodes.node('sb-downlink');
      return { onPropertyChange: n.onPropertyChange, valid: n.valid };
    });
    assert.deepEqual(saved, { onPropertyChange: false, valid: true });
  });

  it('keeps a device’s detail open when the list a live update asked for before the click answers after it', async () => {
    await page.click('.tts-monitor-section-devices');
    if (await page.locator('.tts-monitor-back').count()) await page.click('.tts-monitor-back');
    const row = page.locator(`.tts-monitor-device[data-device="${DEVICE}"]`);
    await row.waitFor();
    // The next device-list request is held until the detail is drawn.
    let listAsked!: () => void;
    const asked = new Promise<void>((resolve) => (listAsked = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let held = false;
    const isList = (url: URL): boolean => url.pathname.endsWith(`/tts/monitor/stores/${STORE}/devices`);
    await page.route(isList, async (route) => {
      if (held) return route.continue();
      held = true;
      listAsked();
      await released;
      await route.continue();
    });
    try {
      // Another device's uplink: a live update of the list view asks for the list again.
      for (const r of await sim.sendUplink('sim-device-02')) assert.equal(r.status, 200);
      await asked;
      await row.click();
      await page.locator('textarea.tts-monitor-downlink').waitFor();
      const answered = page.waitForResponse((r) => isList(new URL(r.url())));
      release();
      await answered;
      // jQuery counts a request done after its callbacks ran; the sidebar's own then() runs right after.
      await page.waitForFunction(() => (window as unknown as { jQuery: { active: number } }).jQuery.active === 0);
      assert.equal(await page.locator('.tts-monitor-devices').count(), 0, 'the late list replaced the detail');
      assert.ok(await page.locator('textarea.tts-monitor-downlink').isVisible());
    } finally {
      release();
      await page.unroute(isList);
    }
  });

  it('ran without page errors, and no secret reached the page', async () => {
    assert.deepEqual(problems, []);
    const html = await page.content();
    for (const secret of [TOKEN, API_KEY, WRONG_TOKEN]) assert.ok(!html.includes(secret));
  });
});
