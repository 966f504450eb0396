// Real Chromium for editor tests: Debian's /usr/bin/chromium driven by playwright-core, launched
// once per test run (lazily, by the first suite that asks) and closed at the end of the run.
import fs from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Download, type Page, type Response } from 'playwright-core';
import { REPO_ROOT, type NodeRedProcess } from './node-red-process';
import { onSuiteEnd } from '../setup';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let shared: Promise<Browser> | undefined;

/** A new browser process (close it yourself). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

/** The run's shared browser; use a fresh context per test (`browser.newContext()`). */
export function sharedBrowser(): Promise<Browser> {
  if (!shared) {
    const launching = launchChromium();
    shared = launching;
    onSuiteEnd(async () => {
      shared = undefined;
      await (await launching).close();
    });
  }
  return shared;
}

/** Collects page errors and console errors, so a test can assert the editor ran cleanly. */
export function watchPageErrors(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (err) => {
    // Monaco's own teardown race: a background task of its bundle touching a model the editor
    // has just disposed (the dialog closed within milliseconds of a layout). Only when the stack
    // is entirely Monaco's is it ignored; anything else fails with its stack.
    const frames = (err.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
    if (/(TextModelPart|Model) is disposed/.test(err.message) && frames.length > 0 && frames.every((f) => f.includes('/vendor/monaco/'))) return;
    problems.push(`pageerror: ${err.message}\n${err.stack ?? ''}`);
  });
  page.on('console', (message) => {
    // Tests have no network beyond loopback: the editor's requests to outside hosts fail by design.
    if (message.type() === 'error' && !/net::ERR_NAME_NOT_RESOLVED/.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  return problems;
}

/** Opens the Node-RED editor at `url` and waits until it has loaded the flows. */
export async function openNodeRedEditor(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForFunction(
    () => {
      const red = (window as unknown as { RED?: { nodes?: { version?: () => unknown }; workspaces?: { active?: () => unknown } } }).RED;
      return Boolean(red?.nodes?.version?.() && red.workspaces?.active?.());
    },
    undefined,
    { timeout: 30_000 },
  );
}

/** Opens a node's edit dialog the way a double-click does, and waits for the tray to be shown. */
export async function openEditDialog(page: Page, nodeId: string): Promise<void> {
  await page.evaluate((id) => {
    const red = (window as unknown as { RED: { nodes: { node(id: string): unknown }; editor: { edit(node: unknown): void } } }).RED;
    red.editor.edit(red.nodes.node(id));
  }, nodeId);
  await page.waitForSelector('.red-ui-tray-body #dialog-form', { state: 'visible' });
  await waitForTraysAtRest(page);
}

/**
 * Trays slide in with a CSS transition; a click that lands while one still moves can miss its
 * button on a loaded machine. Waits until every open tray has reached its place.
 */
export async function waitForTraysAtRest(page: Page): Promise<void> {
  await page.waitForFunction(() => Array.from(document.querySelectorAll('.red-ui-tray')).every((tray) => getComputedStyle(tray).right === '0px'));
}

/**
 * Starts a Node-RED process and opens its editor in a new context of the shared browser, with
 * page errors collected. Close `context` and stop the process in the suite's `after`.
 */
export async function openEditorSession(
  red: NodeRedProcess,
  contextOptions: BrowserContextOptions = {},
): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  await red.start();
  const context = await (await sharedBrowser()).newContext(contextOptions);
  const page = await context.newPage();
  const problems = watchPageErrors(page);
  await openNodeRedEditor(page, red.baseUrl);
  return { context, page, problems };
}

/** Opens a config node's dialog the way the pencil button beside a config field does. */
export async function openConfigDialog(page: Page, type: string, id: string): Promise<void> {
  await page.evaluate(([t, i]) => {
    (window as unknown as { RED: { editor: { editConfig(name: string, type: string, id: string): void } } }).RED.editor.editConfig('', t, i);
  }, [type, id] as const);
  await page.waitForSelector('.red-ui-tray-body #node-config-dialog-edit-form', { state: 'visible' });
  await waitForTraysAtRest(page);
}

/**
 * What Monaco's JavaScript worker reports for a node's open script editor, as errors (the codes
 * the editor ignores left out), for the text it holds now: the verdict the markers converge to.
 */
export function scriptDiagnostics(page: Page, nodeId: string): Promise<string[]> {
  return page.evaluate(async (id) => {
    type Diagnostic = { code: number; category: number; messageText: string | { messageText: string } };
    type Monaco = {
      languages: {
        typescript: {
          getJavaScriptWorker(): Promise<(uri: unknown) => Promise<{ getSyntacticDiagnostics(u: string): Promise<Diagnostic[]>; getSemanticDiagnostics(u: string): Promise<Diagnostic[]> }>>;
          javascriptDefaults: { getDiagnosticsOptions(): { diagnosticCodesToIgnore?: number[] } };
        };
      };
    };
    const w = window as unknown as { monaco: Monaco; RED: { nodes: { node(id: string): { editor: { getModel(): { uri: { toString(): string } } } } } } };
    const model = w.RED.nodes.node(id).editor.getModel();
    const getWorker = await w.monaco.languages.typescript.getJavaScriptWorker();
    const worker = await getWorker(model.uri);
    const uri = model.uri.toString();
    // A model just created (a dialog reopened, an expanded editor) reaches the worker a moment
    // later: until then it answers "Could not find source file". Ask again until it knows it.
    const deadline = Date.now() + 20_000;
    let all: Diagnostic[];
    for (;;) {
      try {
        all = [...(await worker.getSyntacticDiagnostics(uri)), ...(await worker.getSemanticDiagnostics(uri))];
        break;
      } catch (err) {
        if (!/Could not find source file/.test(String((err as Error)?.message ?? err)) || Date.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const ignored = w.monaco.languages.typescript.javascriptDefaults.getDiagnosticsOptions().diagnosticCodesToIgnore ?? [];
    return all
      .filter((d) => d.category === 1 && !ignored.includes(d.code))
      .map((d) => (typeof d.messageText === 'string' ? d.messageText : d.messageText.messageText));
  }, nodeId);
}

/**
 * The error markers the open dialog's script editor shows, whoever set them (the codec editors'
 * own check, owner `tts-codec`, or Monaco's JavaScript validation), with their text.
 */
export function errorMarkers(page: Page, nodeId: string): Promise<string[]> {
  return page.evaluate((id) => {
    type Marker = { severity: number; owner: string; startLineNumber: number; message: string };
    const w = window as unknown as {
      monaco: { editor: { getModelMarkers(filter: { resource: unknown }): Marker[] } };
      RED: { nodes: { node(id: string): { editor: { getModel(): { uri: unknown } } } } };
    };
    const model = w.RED.nodes.node(id).editor.getModel();
    return w.monaco.editor
      .getModelMarkers({ resource: model.uri })
      .filter((m) => m.severity === 8)
      .map((m) => `${m.owner} line ${m.startLineNumber}: ${m.message}`);
  }, nodeId);
}

/**
 * Waits until the error markers of the open dialog's script editor (what Done counts into
 * noerr) number `count`, or at least one when `count` is 'some'. The text is checked in a
 * worker, so right after typing the markers still describe the previous text: ask
 * scriptDiagnostics first when the count must be the current text's.
 */
export async function waitForErrorMarkers(page: Page, nodeId: string, count: number | 'some'): Promise<void> {
  try {
    await page.waitForFunction(
      ([id, want]) => {
        const w = window as unknown as {
          monaco: { editor: { getModelMarkers(filter: { resource: unknown }): Array<{ severity: number }> } };
          RED: { nodes: { node(id: string): { editor: { getModel(): { uri: unknown } } } } };
        };
        const errors = w.monaco.editor.getModelMarkers({ resource: w.RED.nodes.node(id as string).editor.getModel().uri }).filter((m) => m.severity === 8).length;
        return want === 'some' ? errors > 0 : errors === want;
      },
      [nodeId, count] as const,
    );
  } catch (err) {
    const markers = await errorMarkers(page, nodeId);
    const text = await page.evaluate((id) => (window as unknown as { RED: { nodes: { node(id: string): { editor: { getValue(): string } } } } }).RED.nodes.node(id).editor.getValue(), nodeId);
    throw new Error(`${(err as Error).message}\nmarkers: ${JSON.stringify(markers)}\ntext:\n${text}`);
  }
}

/** Replaces the text of the open dialog's script editor (#node-input-script-editor) in one edit. */
export async function replaceScript(page: Page, text: string): Promise<void> {
  const editor = page.locator('#node-input-script-editor .monaco-editor');
  await editor.waitFor({ state: 'visible' });
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  // The text goes in as one edit, as a paste would: typed key by key, what Monaco adds (closing
  // brackets, indentation after Enter, a suggestion taken by Enter) depends on the machine's speed.
  const typed = await page.evaluate((value) => {
    type Editor = { getContainerDomNode(): HTMLElement; getValue(): string; getModel(): { getFullModelRange(): unknown }; executeEdits(source: string, edits: Array<{ range: unknown; text: string }>): boolean };
    const monaco = (window as unknown as { monaco: { editor: { getEditors(): Editor[] } } }).monaco;
    // By its place in the dialog, not by focus: a tray still settling can take the focus away.
    const script = monaco.editor.getEditors().find((e) => e.getContainerDomNode().isConnected && e.getContainerDomNode().closest('#node-input-script-editor') !== null);
    if (!script) return undefined;
    script.executeEdits('test', [{ range: script.getModel().getFullModelRange(), text: value }]);
    return script.getValue();
  }, text);
  if (typed !== text) throw new Error(`Monaco holds other text than was put in:\n${String(typed)}\n--- expected ---\n${text}`);
}

/**
 * The next download an export starts. It opens a new tab whose response is an attachment;
 * Chromium ends that tab and reports the download on the page that opened it, or on the tab.
 */
export function nextDownload(context: BrowserContext, opener: Page): Promise<Download> {
  return new Promise((resolve, reject) => {
    const stop = (): void => {
      context.off('page', onPage);
      context.off('response', onResponse);
      opener.off('download', done);
    };
    const done = (download: Download): void => {
      stop();
      resolve(download);
    };
    const onPage = (tab: Page): void => {
      tab.once('download', done);
    };
    // A refused export shows its error in the tab instead: fail with it rather than time out.
    const onResponse = (res: Response): void => {
      if (!res.url().includes('/export') || res.status() < 400) return;
      stop();
      reject(new Error(`export answered ${res.status()}`));
    };
    context.on('page', onPage);
    context.on('response', onResponse);
    opener.once('download', done);
  });
}

export async function downloadedText(download: Download): Promise<string> {
  return fs.readFileSync(await download.path(), 'utf8');
}

/**
 * Where a screenshot for the README goes: docs/screenshots/ (committed) only when
 * UPDATE_SCREENSHOTS=1, else to .tmp/screenshots/: an ordinary test run leaves the
 * repository's files as they were.
 */
export function screenshotPath(name: string): string {
  const dir = process.env.UPDATE_SCREENSHOTS === '1' ? join(REPO_ROOT, 'docs', 'screenshots') : join(REPO_ROOT, '.tmp', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  return join(dir, `${name}.png`);
}

/** A screenshot of the whole page at screenshotPath(name). */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  const file = screenshotPath(name);
  await page.screenshot({ path: file });
  return file;
}
