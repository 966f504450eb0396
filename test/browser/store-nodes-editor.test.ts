// The tts-store, tts-provision and tts-bucket edit dialogs in a real Chromium against a real
// Node-RED process: backend switch and password credential, store choice, mode switch, and the
// bucket export (CSV / JSON lines) through the admin route, also with a logged-in editor.
import { strict as assert } from 'node:assert';
import type { BrowserContext, Page } from 'playwright-core';
import { downloadedText, nextDownload, openConfigDialog, openEditDialog, openEditorSession, openNodeRedEditor, sharedBrowser, watchPageErrors } from '../helpers/browser';
import { NodeRedProcess } from '../helpers/node-red-process';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres';

const TAB = 'store-tab';
const STORE_SQL = 'store-sqlite';
const STORE_PG = 'store-postgres';
const PROVISION = 'provision-node';
const WRITER = 'bucket-writer';
const READER = 'bucket-reader';
const INJECT = 'reading-inject';
const DEBUG = 'stored-debug';
const BUCKET = 'greenhouse-1';
const PG_PASSWORD = 'browser-secret-pw-5f2c';

type RedWindow = {
  RED: {
    nodes: { node(id: string): Record<string, unknown> & { credentials?: Record<string, unknown> } };
    editor: { editConfig(name: string, type: string, id: string): void };
    settings: { get(name: string): unknown };
  };
};

function flows(pgUrl: string) {
  return {
    flows: [
      { id: TAB, type: 'tab', label: 'store' },
      { id: STORE_SQL, type: 'tts-store', name: '', backend: 'sqlite', path: 'browser-store.db' },
      { id: STORE_PG, type: 'tts-store', name: 'shared', backend: 'postgres', path: '' },
      { id: PROVISION, type: 'tts-provision', z: TAB, name: '', profile: '', store: STORE_SQL, x: 300, y: 60, wires: [[], []] },
      {
        id: INJECT,
        type: 'inject',
        z: TAB,
        name: '',
        props: [{ p: 'payload' }],
        payload: '{"temperature":21.5,"humidity":40}',
        payloadType: 'json',
        repeat: '',
        once: false,
        x: 100,
        y: 140,
        wires: [[WRITER]],
      },
      { id: WRITER, type: 'tts-bucket', z: TAB, name: '', store: STORE_SQL, mode: 'write', bucket: BUCKET, radio: false, maxAge: '', maxRows: '', x: 300, y: 140, wires: [[DEBUG]] },
      // Logs msg.stored to the console, so the test can wait until the reading is committed.
      { id: DEBUG, type: 'debug', z: TAB, name: '', active: true, tosidebar: false, console: true, tostatus: false, complete: 'stored', targetType: 'msg', x: 500, y: 140, wires: [] },
      { id: READER, type: 'tts-bucket', z: TAB, name: '', store: STORE_SQL, mode: 'query', bucket: BUCKET, format: 'chart', limit: '50', x: 300, y: 220, wires: [[]] },
    ],
    credentials: { [STORE_PG]: { connection: pgUrl } },
  };
}

async function closeDialog(page: Page, button: string, form: string): Promise<void> {
  await page.click(button);
  await page.waitForSelector(`.red-ui-tray-body ${form}`, { state: 'detached' });
}

/** The editor's copy of a node: its plain properties (strings, numbers, booleans, credentials flags). */
function nodeProps(page: Page, id: string): Promise<Record<string, unknown>> {
  return page.evaluate((i) => {
    const n = (window as unknown as RedWindow).RED.nodes.node(i);
    const plain: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(n)) if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) plain[k] = v;
    if (n.credentials) plain.credentials = JSON.parse(JSON.stringify(n.credentials)) as unknown;
    return plain;
  }, id);
}

/** Injects one reading and waits until the bucket node has passed it on (committed). */
async function storeOneReading(red: NodeRedProcess, token?: string): Promise<void> {
  const from = red.logs.length;
  const res = await fetch(red.adminUrl(`/inject/${INJECT}`), { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} });
  assert.equal(res.status, 200);
  // The debug node prints msg.stored over several lines; only it prints this one.
  await red.waitForLog(/^\s*queued: false$/, from);
}

describe('tts-store, tts-provision and tts-bucket edit dialogs in a real browser', function () {
  this.timeout(90_000);
  let db: TestDatabase;
  let red: NodeRedProcess;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];

  before(async () => {
    db = await createTestDatabase();
    const url = new URL(db.url);
    url.password = PG_PASSWORD; // the throwaway server trusts local connections; the password only has to stay hidden
    red = new NodeRedProcess(flows(url.toString()));
    ({ context, page, problems } = await openEditorSession(red, { acceptDownloads: true }));
  });

  after(async () => {
    await context?.close();
    await red?.stop();
    await db?.drop();
  });

  it('tts-store: the backend switch shows the file or the connection; the connection is a password never sent to the browser', async () => {
    await openConfigDialog(page, 'tts-store', STORE_PG);
    assert.equal(await page.inputValue('#node-config-input-backend'), 'postgres');
    assert.equal(await page.isVisible('#node-config-input-connection'), true);
    assert.equal(await page.isVisible('#node-config-input-path'), false);
    assert.equal(await page.getAttribute('#node-config-input-connection', 'type'), 'password');
    // Node-RED shows a placeholder for a stored password, never the value.
    assert.equal(await page.inputValue('#node-config-input-connection'), '__PWRD__');
    assert.equal((await page.content()).includes(PG_PASSWORD), false);
    const pg = await nodeProps(page, STORE_PG);
    assert.equal(JSON.stringify(pg).includes(PG_PASSWORD), false);

    await page.selectOption('#node-config-input-backend', 'sqlite');
    assert.equal(await page.isVisible('#node-config-input-path'), true);
    assert.equal(await page.isVisible('#node-config-input-connection'), false);
    assert.equal(await page.getAttribute('#node-config-input-path', 'placeholder'), 'tts-data.db');
    await page.selectOption('#node-config-input-backend', 'postgres');
    assert.equal(await page.isVisible('#node-config-input-connection'), true);
    await closeDialog(page, '#node-config-dialog-cancel', '#node-config-dialog-edit-form');
    assert.equal((await nodeProps(page, STORE_PG)).backend, 'postgres');

    await openConfigDialog(page, 'tts-store', STORE_SQL);
    assert.equal(await page.inputValue('#node-config-input-backend'), 'sqlite');
    assert.equal(await page.inputValue('#node-config-input-path'), 'browser-store.db');
    assert.equal(await page.isVisible('#node-config-input-connection'), false);
    await page.fill('#node-config-input-name', 'Greenhouse store');
    await closeDialog(page, '#node-config-dialog-ok', '#node-config-dialog-edit-form');
    const saved = await nodeProps(page, STORE_SQL);
    assert.equal(saved.name, 'Greenhouse store');
    assert.equal(saved.path, 'browser-store.db');
  });

  it('tts-provision: offers the deployed stores and an optional profile, and saves the store chosen', async () => {
    await openEditDialog(page, PROVISION);
    const stores = await page.$$eval('#node-input-store option', (options) => options.map((o) => (o as HTMLOptionElement).value));
    assert.ok(stores.includes(STORE_SQL) && stores.includes(STORE_PG), stores.join(','));
    assert.equal(await page.inputValue('#node-input-store'), STORE_SQL);
    assert.equal(await page.isVisible('#node-input-profile'), true);
    await page.selectOption('#node-input-store', STORE_PG);
    await page.fill('#node-input-name', 'provision greenhouse');
    await closeDialog(page, '#node-dialog-ok', '#dialog-form');
    const saved = await nodeProps(page, PROVISION);
    assert.equal(saved.store, STORE_PG);
    assert.equal(saved.name, 'provision greenhouse');
    assert.equal(saved.valid, true);
    assert.equal(saved.outputs, 2);
  });

  it('tts-bucket: the mode switch shows the write or the query settings, and bad counts mark the node invalid', async () => {
    await openEditDialog(page, WRITER);
    assert.equal(await page.inputValue('#node-input-mode'), 'write');
    const visible = async () => ({
      radio: await page.isVisible('#node-input-radio'),
      maxRows: await page.isVisible('#node-input-maxRows'),
      format: await page.isVisible('#node-input-format'),
      limit: await page.isVisible('#node-input-limit'),
    });
    assert.deepEqual(await visible(), { radio: true, maxRows: true, format: false, limit: false });
    await page.selectOption('#node-input-mode', 'query');
    assert.deepEqual(await visible(), { radio: false, maxRows: false, format: true, limit: true });
    await page.selectOption('#node-input-mode', 'write');
    assert.deepEqual(await visible(), { radio: true, maxRows: true, format: false, limit: false });
    await page.fill('#node-input-maxRows', 'lots');
    await closeDialog(page, '#node-dialog-ok', '#dialog-form');
    assert.equal((await nodeProps(page, WRITER)).valid, false);

    await openEditDialog(page, WRITER);
    await page.fill('#node-input-maxRows', '500');
    await page.fill('#node-input-maxAge', '7.5');
    await page.check('#node-input-radio');
    await closeDialog(page, '#node-dialog-ok', '#dialog-form');
    const writer = await nodeProps(page, WRITER);
    assert.deepEqual([writer.valid, writer.maxRows, writer.maxAge, writer.radio], [true, '500', '7.5', true]);

    await openEditDialog(page, READER);
    assert.equal(await page.inputValue('#node-input-mode'), 'query');
    assert.equal(await page.inputValue('#node-input-format'), 'chart');
    assert.equal(await page.inputValue('#node-input-limit'), '50');
    assert.equal(await page.isVisible('#node-input-maxRows'), false);
    await page.selectOption('#node-input-format', 'rows');
    await closeDialog(page, '#node-dialog-ok', '#dialog-form');
    assert.equal((await nodeProps(page, READER)).format, 'rows');
  });

  it('tts-bucket: exports the deployed bucket as CSV and JSON lines through the admin route', async () => {
    await storeOneReading(red);
    await storeOneReading(red);
    await openEditDialog(page, READER);

    let next = nextDownload(context, page);
    await page.click('#tts-bucket-export a[data-format="csv"]');
    let download = await next;
    assert.equal(download.suggestedFilename(), `${BUCKET}.csv`);
    const csv = (await downloadedText(download)).trimEnd().split('\r\n');
    assert.equal(csv[0], 'time,f_cnt,f_port,temperature,humidity,other');
    assert.equal(csv.length, 3);
    assert.match(csv[1], /^\d{4}-\d\d-\d\dT[\d:.]+Z,,,21\.5,40,$/);

    next = nextDownload(context, page);
    await page.click('#tts-bucket-export a[data-format="jsonl"]');
    download = await next;
    assert.equal(download.suggestedFilename(), `${BUCKET}.jsonl`);
    const lines = (await downloadedText(download)).trimEnd().split('\n').map((l) => JSON.parse(l) as { data: unknown; f_cnt: unknown });
    assert.equal(lines.length, 2);
    assert.deepEqual(lines[0].data, { temperature: 21.5, humidity: 40 });
    assert.equal(lines[0].f_cnt, null);

    // The same route from script in a page of the editor's origin (a page of its own: the 404
    // it logs is expected, unlike in the editor page): an unknown bucket is a clear error.
    const probe = await context.newPage();
    await probe.goto(red.adminUrl('/auth/login'));
    const missing = await probe.evaluate(async (store) => {
      const res = await fetch(`/tts/bucket/${store}/no-such-bucket/export?format=csv`);
      return { status: res.status, body: (await res.json()) as unknown };
    }, STORE_SQL);
    await probe.close();
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { error: { code: 'not_found', message: 'bucket "no-such-bucket" does not exist' } });

    // Without a bucket id the dialog says so and opens nothing.
    await page.fill('#node-input-bucket', '');
    const pagesBefore = context.pages().length;
    await page.click('#tts-bucket-export a[data-format="csv"]');
    await page.locator('.red-ui-notification', { hasText: 'no bucket' }).waitFor();
    assert.equal(context.pages().length, pagesBefore);
    await closeDialog(page, '#node-dialog-cancel', '#dialog-form');
  });

  it('ran without page errors, and the connection password is in neither flows.json nor the log', () => {
    assert.deepEqual(problems, []);
    assert.equal(red.readUserFile('flows.json').includes(PG_PASSWORD), false);
    assert.equal(red.logs.join('\n').includes(PG_PASSWORD), false);
    assert.deepEqual(red.problems(), []);
  });
});

describe('tts-bucket export from a logged-in editor (adminAuth)', function () {
  this.timeout(90_000);
  const USER = 'operator';
  const PASSWORD = 'operator-pass-8d1e';
  let red: NodeRedProcess;
  let context: BrowserContext;

  before(async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- Node-RED's own bcryptjs, untyped, needed by this test alone
    const bcrypt = require('bcryptjs') as { hashSync(text: string, rounds: number): string };
    red = new NodeRedProcess({
      extraSettings: { adminAuth: { type: 'credentials', users: [{ username: USER, password: bcrypt.hashSync(PASSWORD, 8), permissions: '*' }] } },
    });
    await red.start();
    // Deployed with a token (the process helper deploys without one).
    const tokenRes = await fetch(red.adminUrl('/auth/token'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'node-red-admin', grant_type: 'password', scope: '*', username: USER, password: PASSWORD }),
    });
    assert.equal(tokenRes.status, 200);
    const { access_token: token } = (await tokenRes.json()) as { access_token: string };
    const { flows: nodes } = flows('postgres://unused@127.0.0.1:1/none');
    const from = red.logs.length;
    const deploy = await fetch(red.adminUrl('/flows'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'Node-RED-Deployment-Type': 'full' },
      // Only the SQLite store: this instance has no PostgreSQL.
      body: JSON.stringify(nodes.filter((n) => n.id !== STORE_PG).map((n) => (n.id === PROVISION ? { ...n, store: STORE_SQL } : n))),
    });
    assert.equal(deploy.status, 204);
    await red.waitForLog(/Started flows/, from);
    await storeOneReading(red, token);
    context = await (await sharedBrowser()).newContext({ acceptDownloads: true });
  });

  after(async () => {
    await context?.close();
    await red?.stop();
  });

  it('logs in through the editor, then the export tab carries the editor’s token', async () => {
    const page = await context.newPage();
    await page.goto(red.baseUrl);
    await page.fill('#node-dialog-login-username', USER);
    await page.fill('#node-dialog-login-password', PASSWORD);
    await page.click('#node-dialog-login-submit');
    await page.waitForFunction(() => localStorage.getItem('auth-tokens') !== null);
    // Watched from here: before the login the editor's requests are refused (401) by design.
    const problems = watchPageErrors(page);
    await openNodeRedEditor(page, red.baseUrl);
    // Without the token the route refuses: the editor must pass it on.
    const anonymous = await fetch(red.adminUrl(`/tts/bucket/${STORE_SQL}/${BUCKET}/export?format=csv`));
    assert.equal(anonymous.status, 401);

    await openEditDialog(page, WRITER);
    const next = nextDownload(context, page);
    await page.click('#tts-bucket-export a[data-format="csv"]');
    const download = await next;
    assert.equal(download.suggestedFilename(), `${BUCKET}.csv`);
    const csv = (await downloadedText(download)).trimEnd().split('\r\n');
    assert.equal(csv.length, 2);
    assert.match(csv[1], /,21\.5,40,$/);
    await closeDialog(page, '#node-dialog-cancel', '#dialog-form');
    assert.deepEqual(problems, []);
  });
});
