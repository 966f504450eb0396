import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { TtsSimulator } from '../../src/sim';
import { defaultDeviceSpecs } from '../../src/sim/devices';
import { NodeRedProcess, REPO_ROOT } from '../helpers/node-red-process';
import { openNodeRedEditor, saveScreenshot, sharedBrowser, watchPageErrors } from '../helpers/browser';

// The Dashboard 2.0 example as a user sees it: imported into a Node-RED with
// @flowfuse/node-red-dashboard, fed by a simulated application, opened at /dashboard.
const EXAMPLE = readdirSync(join(REPO_ROOT, 'examples')).find((f) => f.startsWith('5 '))!;
const TOKEN = 'dashboard-test-webhook-token-0123456789';
type FlowNode = Record<string, unknown> & { id: string; type: string };

/**
 * Installed in the page: per series colour, the pixels of that colour in the canvas of the chart
 * whose group title contains `label`. ECharts draws on a canvas; axes, grid and labels are grey,
 * so strongly coloured pixels are the series' lines and points. Which device gets which colour
 * depends on whose reading came first, and a new point rescales the time axis (the other lines
 * get shorter): a live point shows as its own series' colour growing.
 */
function installPixelCounter(): void {
  (window as unknown as { ttsSeriesPixels: (label: string) => Record<string, number> }).ttsSeriesPixels = (label) => {
    const counts: Record<string, number> = {};
    const charts = Array.from(document.querySelectorAll('.nrdb-ui-chart'));
    const chart = charts.find((el) => (el.closest('.nrdb-ui-group')?.textContent ?? '').includes(label));
    const canvas = chart?.querySelector('canvas');
    if (!canvas || canvas.width === 0 || canvas.height === 0) return counts;
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4) {
      const r = data[i], g = data[i + 1], b = data[i + 2];
      if (data[i + 3] <= 200 || Math.max(r, g, b) - Math.min(r, g, b) <= 100) continue;
      const colour = [r, g, b].map((c) => Math.round(c / 32)).join(',');
      counts[colour] = (counts[colour] ?? 0) + 1;
    }
    return counts;
  };
}

function seriesPixels(page: Page, label: string): Promise<Record<string, number>> {
  return page.evaluate((l) => (window as unknown as { ttsSeriesPixels: (label: string) => Record<string, number> }).ttsSeriesPixels(l), label);
}

const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

/** Waits until the chart's series pixels number more than `than`. */
async function waitForSeriesPixels(page: Page, label: string, than: number): Promise<void> {
  await page.waitForFunction(
    ([l, t]) => {
      const counts = (window as unknown as { ttsSeriesPixels: (label: string) => Record<string, number> }).ttsSeriesPixels(l as string);
      return Object.values(counts).reduce((a, b) => a + b, 0) > (t as number);
    },
    [label, than] as const,
    { timeout: 60_000 },
  );
}

/** Waits until one series' colour has grown by more than `by` pixels over `before`. */
async function waitForSeriesGrowth(page: Page, label: string, before: Record<string, number>, by: number): Promise<void> {
  await page.waitForFunction(
    ([l, was, grow]) => {
      const now = (window as unknown as { ttsSeriesPixels: (label: string) => Record<string, number> }).ttsSeriesPixels(l as string);
      return Object.entries(now).some(([colour, n]) => n - ((was as Record<string, number>)[colour] ?? 0) > (grow as number));
    },
    [label, before, by] as const,
    { timeout: 60_000 },
  );
}

describe('the Dashboard 2.0 example in a real browser', function () {
  this.timeout(180_000);
  const flow = JSON.parse(readFileSync(join(REPO_ROOT, 'examples', EXAMPLE), 'utf8')) as FlowNode[];
  const hook = flow.find((n) => n.type === 'tts-webhook-in')!;
  let sim: TtsSimulator;
  let red: NodeRedProcess;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];

  before(async () => {
    sim = new TtsSimulator({ applicationId: 'sim-dashboard', devices: defaultDeviceSpecs(3, 'dashboard-device'), port: 0, timing: { sentDelayMs: 20, answerDelayMs: 20 } });
    const simUrl = await sim.start();
    const credentials: Record<string, Record<string, string>> = {};
    for (const node of flow.filter((n) => n.type === 'tts-profile')) credentials[node.id] = { webhookToken: TOKEN };
    red = new NodeRedProcess({ flows: flow.map((n) => (n.type === 'tts-profile' ? { ...n, server: simUrl } : n)), credentials });
    await red.start();
    sim.configureWebhook({ url: red.nodeUrl(String(hook.path)), token: TOKEN, webhookId: 'node-red' });
    // History before the page opens: two readings per device, stored in the bucket.
    for (let round = 0; round < 2; round++) {
      for (const device of sim.deviceIds()) {
        for (const result of await sim.sendUplink(device)) assert.equal(result.status, 200, `${result.type}: ${result.status ?? result.error}`);
      }
    }
    context = await (await sharedBrowser()).newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    await page.addInitScript(installPixelCounter);
    problems = watchPageErrors(page);
  });

  after(async () => {
    await context?.close();
    await sim?.stop();
    await red?.stop();
  });

  it('serves the dashboard at /dashboard and draws history from the bucket when the page opens', async () => {
    // The readings are in the store once the bucket node has passed them on to the fleet table.
    await page.goto(red.nodeUrl('/dashboard'));
    await page.locator('.nrdb-ui-chart canvas').first().waitFor({ state: 'visible', timeout: 60_000 });
    // Every device has a row, online, with its latest reading.
    const table = page.locator('.nrdb-ui-table');
    await page.waitForFunction(() => (document.querySelector('.nrdb-ui-table')?.textContent ?? '').split('dashboard-device-').length - 1 >= 3, undefined, { timeout: 60_000 });
    assert.match(await table.innerText(), /dashboard-device-01[\s\S]*online/);
    // The page view asked the buckets for their history: both charts draw it.
    for (const chart of ['Temperature', 'Humidity']) await waitForSeriesPixels(page, chart, 30);
    const before = total(await seriesPixels(page, 'Temperature'));
    assert.ok(before > 30, `temperature series pixels ${before}`);
    assert.deepEqual(problems, []);
  });

  it('adds live points as readings arrive', async () => {
    const before = await seriesPixels(page, 'Temperature');
    for (let round = 0; round < 2; round++) {
      for (const result of await sim.sendUplink(sim.deviceIds()[0])) assert.equal(result.status, 200, `${result.type}: ${result.status ?? result.error}`);
    }
    await waitForSeriesGrowth(page, 'Temperature', before, 20).catch(async (err: Error) => {
      // Say what the chart showed and what Node-RED reported, should the points never come.
      const now = await seriesPixels(page, 'Temperature');
      throw new Error(`${err.message}\nseries pixels before ${JSON.stringify(before)}, now ${JSON.stringify(now)}\nNode-RED: ${red.problems().slice(-5).join('\n') || 'no warnings or errors'}`);
    });
    assert.deepEqual(problems, []);
  });

  it('sends a downlink when the slider moves and shows that the device acknowledged it', async () => {
    const thumb = page.locator('.nrdb-ui-slider .v-slider-thumb').first();
    await thumb.waitFor({ state: 'visible' });
    const box = (await thumb.boundingBox())!;
    const requests = sim.waitForDownlinkRequest(() => true, 60_000);
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 80, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    const request = await requests;
    // The plugin example encoder: [enabled, frequency, threshold] as base64.
    const bytes = Buffer.from(String((request.body as { downlinks: Array<{ frm_payload: string }> }).downlinks[0].frm_payload), 'base64');
    assert.equal(bytes[0], 1);
    assert.ok(bytes[1] > 1, `frequency byte ${bytes[1]}`);
    assert.equal(bytes[2], 20);
    const outcome = page.locator('.tts-downlink-outcome');
    await page.waitForFunction(() => /acknowledged by the device/.test(document.querySelector('.tts-downlink-outcome')?.textContent ?? ''), undefined, { timeout: 60_000 });
    assert.match(await outcome.innerText(), /dashboard-device-01: acknowledged by the device after \d+\.\d s/);
    await saveScreenshot(page, 'dashboard');
    assert.deepEqual(problems, []);
    assert.deepEqual(red.problems(), []);
  });

  it('shows the device the controls send to, and sends to the one chosen in the dropdown', async () => {
    const dropdown = page.locator('.nrdb-ui-dropdown');
    // Nothing chosen yet: the first device known, which the downlink above went to.
    await page.waitForFunction(() => /dashboard-device-01/.test(document.querySelector('.nrdb-ui-dropdown .v-select__selection')?.textContent ?? ''), undefined, { timeout: 60_000 });
    await dropdown.locator('.v-field').click();
    await page.locator('.v-overlay-container .v-list-item', { hasText: 'dashboard-device-02' }).click();
    await page.waitForFunction(() => /dashboard-device-02/.test(document.querySelector('.nrdb-ui-dropdown .v-select__selection')?.textContent ?? ''), undefined, { timeout: 60_000 });
    const thumb = page.locator('.nrdb-ui-slider .v-slider-thumb').first();
    const box = (await thumb.boundingBox())!;
    const request = sim.waitForDownlinkRequest((r) => r.deviceId === 'dashboard-device-02', 60_000);
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 - 40, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    assert.equal((await request).deviceId, 'dashboard-device-02');
    await page.waitForFunction(() => /dashboard-device-02: acknowledged by the device/.test(document.querySelector('.tts-downlink-outcome')?.textContent ?? ''), undefined, { timeout: 60_000 });
    // A reading arriving afterwards keeps the choice (the fleet table refreshes the options).
    await sim.sendUplink(sim.deviceIds()[2]);
    await page.waitForFunction(() => (document.querySelector('.nrdb-ui-table')?.textContent ?? '').includes('dashboard-device-03'), undefined, { timeout: 60_000 });
    assert.match(await dropdown.locator('.v-select__selection').innerText(), /dashboard-device-02/);
    await saveScreenshot(page, 'dashboard-device-chosen');
    assert.deepEqual(problems, []);
    assert.deepEqual(red.problems(), []);
  });

  it('shows a device’s last seen as the editor sidebar does: in the viewer’s time zone (here UTC+5:45)', async () => {
    // Neither UTC nor this machine's zone: a table still in UTC, or formatted on the server, fails.
    const zoned = await (await sharedBrowser()).newContext({ viewport: { width: 1400, height: 900 }, timezoneId: 'Asia/Kathmandu', locale: 'en-GB' });
    try {
      const device = sim.deviceIds()[2];
      const results = await sim.sendUplink(device);
      for (const result of results) assert.equal(result.status, 200, `${result.type}: ${result.status ?? result.error}`);
      const dashboard = await zoned.newPage();
      const dashboardProblems = watchPageErrors(dashboard);
      // What this browser calls the times TTS gave the uplink (and its location), local and UTC.
      const instants = results.map((r) => Date.parse(String(r.body.received_at)));
      const texts = await dashboard.evaluate((ms) => ms.map((t) => ({ local: new Date(t).toLocaleString(), utc: new Date(t).toLocaleString(undefined, { timeZone: 'UTC' }) })), instants);
      for (const t of texts) assert.notEqual(t.local, t.utc);
      const candidates = texts.map((t) => t.local);

      await dashboard.goto(red.nodeUrl('/dashboard'));
      const cell = await dashboard.waitForFunction(
        ([id, want]) => {
          const table = document.querySelector('.nrdb-ui-table');
          if (!table) return false;
          const column = Array.from(table.querySelectorAll('thead th')).map((th) => (th.textContent ?? '').trim()).indexOf('last seen');
          const row = Array.from(table.querySelectorAll('tbody tr')).find((tr) => (tr.textContent ?? '').includes(id as string));
          const text = (row?.children[column]?.textContent ?? '').trim();
          return (want as string[]).includes(text) ? text : false;
        },
        [device, candidates] as const,
        { timeout: 60_000 },
      ).catch(async (err: Error) => {
        throw new Error(`${err.message}\nwanted last seen ${candidates.join(' or ')}; the table shows:\n${await dashboard.locator('.nrdb-ui-table').innerText().catch(() => 'no table')}`);
      });
      const shown = String(await cell.jsonValue());

      const editor = await zoned.newPage();
      const editorProblems = watchPageErrors(editor);
      await openNodeRedEditor(editor, red.baseUrl);
      await editor.evaluate(() => (window as unknown as { RED: { sidebar: { show(id: string): void } } }).RED.sidebar.show('tts-monitor'));
      await editor.click('.tts-monitor-section-devices');
      await editor.click(`.tts-monitor-device[data-device="${device}"]`);
      const lastSeen = editor.locator('.tts-monitor-props tr', { hasText: 'Last seen' }).locator('td').nth(1);
      await lastSeen.waitFor();
      assert.equal((await lastSeen.innerText()).replace(/ \(.*\)$/, ''), shown, 'the sidebar and the dashboard show one time');
      assert.deepEqual([...dashboardProblems, ...editorProblems], []);
    } finally {
      await zoned.close();
    }
  });
});
