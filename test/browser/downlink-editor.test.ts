import { strict as assert } from 'node:assert';
import type { BrowserContext, Page } from 'playwright-core';
import { NodeRedProcess } from '../helpers/node-red-process';
import { openEditDialog, openEditorSession, replaceScript, waitForErrorMarkers } from '../helpers/browser';

const TAB = 'downlink-tab';
const DOWNLINK = 'downlink-node-under-test';

interface EditorNode { script: string; codec: string; rawFormat: string; noerr: number; editor?: { getValue(): string } }

function nodeState(page: Page): Promise<EditorNode> {
  return page.evaluate((id) => {
    const n = (window as unknown as { RED: { nodes: { node(id: string): EditorNode } } }).RED.nodes.node(id);
    return { script: n.script, codec: n.codec, rawFormat: n.rawFormat, noerr: n.noerr, editor: undefined };
  }, DOWNLINK);
}

async function runTestTool(page: Page, data: string, fPort = '1'): Promise<string> {
  const out = page.locator('#node-input-tts-downlink-result');
  await page.fill('#node-input-tts-downlink-data', data);
  await page.fill('#node-input-tts-downlink-port', fPort);
  await page.evaluate(() => { (document.querySelector('#node-input-tts-downlink-result') as HTMLElement).textContent = ''; });
  await page.click('#node-input-tts-downlink-run');
  await page.waitForFunction(() => {
    const text = (document.querySelector('#node-input-tts-downlink-result') as HTMLElement).textContent ?? '';
    return text !== '' && !text.includes('…');
  });
  return out.innerText();
}

describe('tts-downlink edit dialog in a real browser', function () {
  this.timeout(90_000);
  let red: NodeRedProcess;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];

  before(async () => {
    red = new NodeRedProcess({
      flows: [
        { id: TAB, type: 'tab', label: 'downlink' },
        // A saved limit well above what a busy CI machine needs: these tests are not about timing.
        { id: DOWNLINK, type: 'tts-downlink', z: TAB, name: '', profile: '', store: '', codec: 'script', device: '', rawFormat: 'auto', outcomeTimeout: '600', report: 'all', timeout: '2000', x: 300, y: 100, wires: [[], []] },
      ],
      extraSettings: { ttsDownlinkEncodeTimeout: 250 },
    });
    ({ context, page, problems } = await openEditorSession(red));
  });

  after(async () => {
    await context?.close();
    await red?.stop();
  });

  it("opens with the plugin example in Monaco and the test tool encodes the DESIGN example to AQoU", async () => {
    await openEditDialog(page, DOWNLINK);
    const editor = page.locator('#node-input-script-editor .monaco-editor');
    await editor.waitFor({ state: 'visible' });
    const text = await runTestTool(page, '{"enabled": true, "frequency": 10, "threshold": 20}', '3');
    assert.match(text, /3 bytes, FPort 3/);
    assert.match(text, /base64: AQoU/);
    assert.match(text, /hex: +010A14/);
  });

  it('keeps a saved time limit, shows the ttsDownlinkEncodeTimeout setting as placeholder, and gives new nodes none', async () => {
    assert.equal(await page.inputValue('#node-input-timeout'), '2000');
    assert.equal(await page.getAttribute('#node-input-timeout', 'placeholder'), '250');
    const fresh = await page.evaluate(() => (window as unknown as { RED: { nodes: { getType(t: string): { defaults: { timeout: { value: string } } } } } }).RED.nodes.getType('tts-downlink').defaults.timeout.value);
    assert.equal(fresh, '');
  });

  it('shows a script error with its line, and console output', async () => {
    await replaceScript(page, 'function encodeDownlink(input) {\n  console.log("level " + input.data.level);\n  return { bytes: [input.data.level.value] };\n}');
    const failed = await runTestTool(page, '{"level": null}');
    assert.match(failed, /Encoding failed: .*TypeError.*\(line 3/);
    assert.match(failed, /log: level null/);
    const ok = await runTestTool(page, '{"level": {"value": 7}}');
    assert.match(ok, /1 bytes, FPort 1/);
    assert.match(ok, /log: level \[object Object\]/);
  });

  it('flags a payload over the 242-byte limit and hides the script for the raw codec', async () => {
    await page.selectOption('#node-input-codec', 'raw');
    assert.equal(await page.locator('#node-input-script-editor').isVisible(), false);
    assert.equal(await page.locator('#node-input-rawFormat').isVisible(), true);
    const big = await runTestTool(page, JSON.stringify(new Array(243).fill(255)));
    assert.match(big, /243-byte|243 bytes, more than the 242-byte/);
    const hex = await runTestTool(page, '"01 0A 14"');
    assert.match(hex, /base64: AQoU/);
  });

  it('saves codec and script with Done', async () => {
    await page.selectOption('#node-input-codec', 'script');
    await waitForErrorMarkers(page, DOWNLINK, 0);
    await page.click('#node-dialog-ok');
    await page.waitForSelector('.red-ui-tray-body #dialog-form', { state: 'detached' });
    const saved = await nodeState(page);
    assert.equal(saved.codec, 'script');
    assert.match(saved.script, /input\.data\.level\.value/);
    assert.equal(Number(saved.noerr), 0);
    assert.deepEqual(problems, []);
  });

  it('prefills Cayenne LPP test data that LPP can encode, so the first Encode works', async () => {
    await openEditDialog(page, DOWNLINK);
    await page.selectOption('#node-input-codec', 'cayennelpp');
    assert.equal(await page.inputValue('#node-input-tts-downlink-data'), '{"value_1": 21.5}');
    await page.click('#node-input-tts-downlink-run');
    await page.waitForFunction(() => /base64:/.test((document.querySelector('#node-input-tts-downlink-result') as HTMLElement).textContent ?? ''));
    assert.match(await page.locator('#node-input-tts-downlink-result').innerText(), /hex: +010866/);
    await page.click('#node-dialog-cancel');
    await page.waitForSelector('.red-ui-tray-body #dialog-form', { state: 'detached' });
    assert.deepEqual(problems, []);
  });
});
