import { strict as assert } from 'node:assert';
import type { BrowserContext, Page } from 'playwright-core';
import { NodeRedProcess } from '../helpers/node-red-process';
import { errorMarkers, openEditDialog, openEditorSession, replaceScript, scriptDiagnostics, waitForErrorMarkers } from '../helpers/browser';

const TAB = 'codec-tab';
const DECODE = 'codec-decode-node';
const INJECT = 'codec-inject-node';

const DEPLOYED_SCRIPT = 'function decodeUplink(input) { console.log("decoded port " + input.fPort); return { data: {} }; }';

const SCRIPT = [
  'function decodeUplink(input) {',
  '  var b = input.bytes;',
  '  console.log("got " + b.length + " bytes");',
  '  return { data: { temperature: ((b[1] << 24 >> 16) | b[0]) / 100, port: input.fPort } };',
  '}',
].join('\n');

/** The text of the open dialog's Monaco editor (the dialog keeps it on the node being edited). */
function editorValue(page: Page): Promise<string> {
  return page.evaluate((id) => {
    const red = (window as unknown as { RED: { nodes: { node(id: string): { editor: { getValue(): string } } } } }).RED;
    return red.nodes.node(id).editor.getValue();
  }, DECODE);
}

describe('tts-uplink-decode edit dialog in a real browser', function () {
  this.timeout(90_000);
  let red: NodeRedProcess;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];

  before(async () => {
    red = new NodeRedProcess({
      flows: [
        { id: TAB, type: 'tab', label: 'codec' },
        { id: DECODE, type: 'tts-uplink-decode', z: TAB, name: '', codec: 'script', script: DEPLOYED_SCRIPT, timeout: '', x: 300, y: 100, wires: [[], []] },
        // Sends a message the node records as its last uplink (bytes 34 08 10 17 on port 7).
        { id: INJECT, type: 'inject', z: TAB, name: '', props: [{ p: 'payload' }, { p: 'fPort', v: '7', vt: 'num' }], payload: '[52,8,16,23]', payloadType: 'json', repeat: '', once: false, x: 100, y: 100, wires: [[DECODE]] },
      ],
    });
    ({ context, page, problems } = await openEditorSession(red));
  });

  after(async () => {
    await context?.close();
    await red?.stop();
  });

  it('edits a script in Monaco, runs it with the test tool and shows output, console and time', async () => {
    await openEditDialog(page, DECODE);
    await replaceScript(page, SCRIPT);
    assert.equal(await editorValue(page), SCRIPT);

    await page.selectOption('#node-tts-test-direction', 'uplink');
    await page.selectOption('#node-tts-test-format', 'hex');
    await page.fill('#node-tts-test-input', '34 08 10 17');
    await page.fill('#node-tts-test-fport', '5');
    await page.click('#node-tts-test-run');
    const output = page.locator('#node-tts-test-output');
    await output.locator('.tts-test-took').waitFor();
    const text = await output.innerText();
    assert.match(text, /"temperature": 21/);
    assert.match(text, /"port": 5/);
    assert.match(text, /got 4 bytes/);
    assert.match(text, /took \d+\.\d{3} ms · tts/);
  });

  it('shows a runtime error with its line number', async () => {
    // null only at run time: `var missing = null` would be flagged before (TypeScript's "possibly null").
    await replaceScript(page, 'function decodeUplink(input) {\n  var missing = JSON.parse("null");\n  return { data: missing.value };\n}');
    await page.click('#node-tts-test-run');
    const errors = page.locator('#node-tts-test-output .tts-test-errors');
    await errors.waitFor();
    assert.match(await errors.innerText(), /TypeError: Cannot read properties of null \(reading 'value'\) \(line 3, column \d+\)/);
  });

  it('loads the last uplink the deployed node received into the test input', async () => {
    const from = red.logs.length;
    const res = await fetch(red.adminUrl(`/inject/${INJECT}`), { method: 'POST' });
    assert.equal(res.status, 200);
    // The deployed script logs once the node has taken the message in (and recorded it).
    await red.waitForLog(/decoded port 7/, from);
    await page.click('#node-tts-test-last');
    await page.waitForFunction(() => (document.querySelector('#node-tts-test-input') as HTMLTextAreaElement).value === 'NAgQFw==');
    assert.equal(await page.inputValue('#node-tts-test-fport'), '7');
    assert.equal(await page.inputValue('#node-tts-test-format'), 'base64');
  });

  it('saves the script into the node when the dialog is closed with Done', async () => {
    // The worker's verdict on the current text first: the markers may still be the previous text's.
    assert.deepEqual(await scriptDiagnostics(page, DECODE), []);
    await waitForErrorMarkers(page, DECODE, 0);
    await page.click('#node-dialog-ok');
    await page.waitForSelector('.red-ui-tray-body #dialog-form', { state: 'detached' });
    const saved = await page.evaluate((id) => (window as unknown as { RED: { nodes: { node(id: string): { script: string; noerr: number } } } }).RED.nodes.node(id), DECODE);
    assert.match(saved.script, /missing\.value/);
    assert.equal(Number(saved.noerr), 0);
    assert.deepEqual(problems, []);
  });

  it('shows and saves the check of the text as it is: an answer for older text is dropped', async () => {
    const GOOD = 'function decodeUplink(input) {\n  return { data: { n: input.bytes.length } };\n}';
    const BAD = 'function decodeUplink(input) {\n  return { data: { n: notDefinedAnywhere } };\n}';
    await openEditDialog(page, DECODE);
    await replaceScript(page, GOOD);
    assert.deepEqual(await scriptDiagnostics(page, DECODE), []);
    // The worker's semantic answer for BAD is held back until the text is GOOD again and GOOD's
    // answer is in; whoever asked for BAD then gets it for a model that has moved on.
    await page.evaluate(async ([id, bad, good]) => {
      type Diagnostics = (uri: string) => Promise<unknown[]>;
      type Worker = { getSemanticDiagnostics: Diagnostics };
      const w = window as unknown as {
        monaco: { Uri: { parse(s: string): unknown }; editor: { getModel(uri: unknown): { getValue(): string } | null }; languages: { typescript: { getJavaScriptWorker(): Promise<(uri: unknown) => Promise<Worker>> } } };
        RED: { nodes: { node(id: string): { editor: { getModel(): { uri: unknown } } } } };
        ttsGate: { worker: Worker; original: Diagnostics; held: boolean; goodAnswered: boolean; badAnswered: boolean; release?: () => void };
      };
      const worker = await (await w.monaco.languages.typescript.getJavaScriptWorker())(w.RED.nodes.node(id).editor.getModel().uri);
      const gate: (typeof w)['ttsGate'] = { worker, original: worker.getSemanticDiagnostics, held: false, goodAnswered: false, badAnswered: false };
      w.ttsGate = gate;
      worker.getSemanticDiagnostics = (uri) => {
        const text = w.monaco.editor.getModel(w.monaco.Uri.parse(uri))?.getValue();
        const answer = gate.original.call(worker, uri);
        if (text === good && gate.held) {
          return answer.then((d) => {
            gate.goodAnswered = true;
            return d;
          });
        }
        if (text !== bad || gate.held) return answer;
        gate.held = true;
        return new Promise((resolve) => {
          gate.release = () => {
            void answer.then((d) => {
              gate.badAnswered = true;
              resolve(d);
            });
          };
        });
      };
    }, [DECODE, BAD, GOOD] as const);
    try {
      await replaceScript(page, BAD);
      await page.waitForFunction(() => (window as unknown as { ttsGate: { held: boolean } }).ttsGate.held);
      await replaceScript(page, GOOD);
      await page.waitForFunction(() => (window as unknown as { ttsGate: { goodAnswered: boolean } }).ttsGate.goodAnswered);
      await page.evaluate(() => (window as unknown as { ttsGate: { release(): void } }).ttsGate.release());
      // waitForFunction looks again after the answer's callbacks have run.
      await page.waitForFunction(() => (window as unknown as { ttsGate: { badAnswered: boolean } }).ttsGate.badAnswered);
      assert.deepEqual(await errorMarkers(page, DECODE), [], 'no marker of the older text on the current one');
    } finally {
      await page.evaluate(() => {
        const gate = (window as unknown as { ttsGate: { worker: { getSemanticDiagnostics: unknown }; original: unknown } }).ttsGate;
        gate.worker.getSemanticDiagnostics = gate.original;
      });
    }
    await page.click('#node-dialog-ok');
    await page.waitForSelector('.red-ui-tray-body #dialog-form', { state: 'detached' });
    const saved = await page.evaluate((id) => {
      const n = (window as unknown as { RED: { nodes: { node(id: string): { script: string; noerr: number; valid: boolean } } } }).RED.nodes.node(id);
      return { script: n.script, noerr: Number(n.noerr), valid: n.valid };
    }, DECODE);
    assert.deepEqual(saved, { script: GOOD, noerr: 0, valid: true });
  });

  it('flags a syntax error before deploy: the node is marked invalid', async () => {
    await openEditDialog(page, DECODE);
    await replaceScript(page, 'function decodeUplink(input) {\n  return { data: { a: 1 } ;\n}');
    await waitForErrorMarkers(page, DECODE, 'some');
    await page.click('#node-dialog-ok');
    await page.waitForSelector('.red-ui-tray-body #dialog-form', { state: 'detached' });
    const saved = await page.evaluate((id) => {
      const n = (window as unknown as { RED: { nodes: { node(id: string): { noerr: number; valid: boolean } } } }).RED.nodes.node(id);
      return { noerr: Number(n.noerr), valid: n.valid };
    }, DECODE);
    assert.ok(saved.noerr > 0, `noerr ${saved.noerr}`);
    assert.equal(saved.valid, false);
  });

  it('gives the script editor the dialog’s height at 1600×900, down to the Test heading, and grows with the window', async () => {
    /** The editor's height, and how far the Test heading (the last row kept in sight) ends from the dialog's bottom. */
    const layout = (): Promise<{ editor: number; gap: number; headingVisible: boolean }> =>
      page.evaluate(() => {
        const form = document.querySelector('#dialog-form')!;
        const heading = Array.from(form.querySelectorAll(':scope > div.tts-script-in-sight')).pop()!;
        const headingBox = heading.getBoundingClientRect();
        const trayBody = document.querySelector('.red-ui-tray-body')!.getBoundingClientRect();
        return {
          editor: Math.round(document.querySelector('#node-input-script-editor')!.getBoundingClientRect().height),
          gap: Math.round(form.getBoundingClientRect().bottom - (headingBox.bottom + parseFloat(getComputedStyle(heading).marginBottom))),
          headingVisible: headingBox.bottom <= trayBody.bottom,
        };
      });
    await page.setViewportSize({ width: 1600, height: 900 });
    try {
      await openEditDialog(page, DECODE);
      const at900 = await layout();
      // The editor takes what the rows above it leave, less the Test heading: it was 200 px
      // (its minimum) when the whole test tool was subtracted.
      assert.ok(Math.abs(at900.gap) <= 2, `the Test heading ends ${at900.gap} px above the dialog's bottom`);
      assert.ok(at900.headingVisible, 'the Test heading is in sight');
      assert.ok(at900.editor >= 350, `editor height ${at900.editor} px at 1600×900`);
      await page.setViewportSize({ width: 1600, height: 1100 });
      await page.waitForFunction((before) => document.querySelector('#node-input-script-editor')!.getBoundingClientRect().height >= before + 150, at900.editor);
      const at1100 = await layout();
      assert.ok(Math.abs(at1100.editor - at900.editor - 200) <= 4, `editor ${at900.editor} → ${at1100.editor} px for a window 200 px taller`);
      assert.ok(Math.abs(at1100.gap) <= 2, `the Test heading ends ${at1100.gap} px above the dialog's bottom`);
      await page.click('#node-dialog-cancel');
      await page.waitForSelector('.red-ui-tray-body #dialog-form', { state: 'detached' });
    } finally {
      await page.setViewportSize({ width: 1280, height: 720 });
    }
    assert.deepEqual(problems, []);
  });
});
