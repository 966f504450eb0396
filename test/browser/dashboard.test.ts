import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { TtsSimulator } from '../../src/sim';
import { defaultDeviceSpecs } from '../../src/sim/devices';
import { NodeRedProcess, REPO_ROOT } from '../helpers/node-red-process';
import { saveScreenshot, sharedBrowser, watchPageErrors } from '../helpers/browser';

// The Dashboard 2.0 example as a user sees it: imported into a Node-RED with
// @flowfuse/node-red-dashboard, fed by a simulated application, opened at /dashboard.
const EXAMPLE = readdirSync(join(REPO_ROOT, 'examples')).find((f) => f.startsWith('5 '))!;
const TOKEN = 'dashboard-test-webhook-token-0123456789';
// The charts' first series colour (#0095ff): its pixels are a drawn line and its points.
const SERIES_RGB = [0x00, 0x95, 0xff];

type FlowNode = Record<string, unknown> & { id: string; type: string };

/**
 * Installed in the page: pixels of the first series colour in the canvas of the chart whose
 * group title contains `label` (ECharts draws on a canvas: these pixels are its line and points).
 */
function installPixelCounter(): void {
  (window as unknown as { ttsSeriesPixels: (label: string, rgb: number[]) => number }).ttsSeriesPixels = (label, rgb) => {
    const charts = Array.from(document.querySelectorAll('.nrdb-ui-chart'));
    const chart = charts.find((el) => (el.closest('.nrdb-ui-group')?.textContent ?? '').includes(label));
    const canvas = chart?.querySelector('canvas');
    if (!canvas || canvas.width === 0 || canvas.height === 0) return 0;
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (Math.abs(data[i] - rgb[0]) < 8 && Math.abs(data[i + 1] - rgb[1]) < 8 && Math.abs(data[i + 2] - rgb[2]) < 8 && data[i + 3] > 200) count++;
    }
    return count;
  };
}

function seriesPixels(page: Page, label: string): Promise<number> {
  return page.evaluate(([l, rgb]) => (window as unknown as { ttsSeriesPixels: (label: string, rgb: number[]) => number }).ttsSeriesPixels(l as string, rgb as number[]), [label, SERIES_RGB] as const);
}

/** Waits until the chart shows more than `than` series pixels. */
async function waitForSeriesPixels(page: Page, label: string, than: number): Promise<void> {
  await page.waitForFunction(
    ([l, rgb, t]) => (window as unknown as { ttsSeriesPixels: (label: string, rgb: number[]) => number }).ttsSeriesPixels(l as string, rgb as number[]) > (t as number),
    [label, SERIES_RGB, than] as const,
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
    const before = await seriesPixels(page, 'Temperature');
    assert.ok(before > 30, `temperature series pixels ${before}`);
    assert.deepEqual(problems, []);
  });

  it('adds live points as readings arrive', async () => {
    const before = await seriesPixels(page, 'Temperature');
    for (let round = 0; round < 2; round++) await sim.sendUplink(sim.deviceIds()[0]);
    await waitForSeriesPixels(page, 'Temperature', before);
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
});
