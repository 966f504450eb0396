import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { freePort, REPO_ROOT } from '../helpers/node-red-process';

// `npm start` itself (scripts/start.js, after the build): Node-RED with the examples and
// Dashboard 2.0, one simulator per webhook path, both addresses printed, no first-run dialogs.

/** Three consecutive free ports for the simulators (start.js numbers them from TTS_SIM_PORT). */
async function freePortRun(count: number): Promise<number> {
  for (;;) {
    const first = await freePort();
    if (first + count > 65535) continue;
    const { createServer } = await import('node:net');
    const taken = await Promise.all(
      Array.from({ length: count - 1 }, (_, i) =>
        new Promise<boolean>((resolve) => {
          const server = createServer();
          server.once('error', () => resolve(true));
          server.listen(first + i + 1, '127.0.0.1', () => server.close(() => resolve(false)));
        }),
      ),
    );
    if (!taken.some(Boolean)) return first;
  }
}

const DEMO_TOKEN = 'demo-token-for-the-npm-start-test';
const DEMO_API_KEY = 'NNSXS.NPMSTARTTEST.SECRETPART';

/** The command lines of the processes running now, by pid. */
function commandLines(): Map<number, string> {
  const lines = new Map<number, string>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      lines.set(Number(name), readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' '));
    } catch {
      // gone meanwhile
    }
  }
  return lines;
}

describe('npm start (scripts/start.js)', function () {
  this.timeout(180_000);
  let child: ChildProcess | undefined;
  let output = '';
  let dir: string;
  let port: number;

  function waitForOutput(pattern: RegExp, timeoutMs = 90_000): Promise<void> {
    if (pattern.test(output)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${output}`)), timeoutMs);
      const onData = (): void => {
        if (!pattern.test(output)) return;
        clearTimeout(timer);
        child!.stdout!.off('data', onData);
        resolve();
      };
      child!.stdout!.on('data', onData);
    });
  }

  before(async () => {
    mkdirSync(join(REPO_ROOT, '.tmp'), { recursive: true });
    dir = mkdtempSync(join(REPO_ROOT, '.tmp', 'demo-'));
    port = await freePort();
    const simPort = await freePortRun(3);
    child = spawn(process.execPath, [join(REPO_ROOT, 'scripts', 'start.js')], {
      env: { ...process.env, PORT: String(port), TTS_SIM_PORT: String(simPort), TTS_DEMO_DIR: dir, TTS_SIM_INTERVAL: '0', TTS_SIM_DEVICES: '2', TTS_DEMO_WEBHOOK_TOKEN: DEMO_TOKEN, TTS_DEMO_API_KEY: DEMO_API_KEY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    await waitForOutput(/Started flows/);
    await waitForOutput(/Dashboard: +http/);
  });

  after(async () => {
    const running = child;
    if (running && running.exitCode === null) {
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve());
        running.kill('SIGINT');
      });
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the editor and dashboard addresses once Node-RED answers, after its start-up log, and serves both', async () => {
    // Printed first, they scrolled away behind Node-RED's log and did not answer yet.
    const running = output.indexOf('Server now running at');
    assert.ok(running >= 0 && output.indexOf('Node-RED editor:') > running, output);
    assert.match(output, new RegExp(`Node-RED editor: http://127\\.0\\.0\\.1:${port}/\\n`));
    assert.match(output, new RegExp(`Dashboard: +http://127\\.0\\.0\\.1:${port}/dashboard\\n`));
    const editor = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(editor.status, 200);
    const dashboard = await fetch(`http://127.0.0.1:${port}/dashboard`);
    assert.equal(dashboard.status, 200);
    assert.match(await dashboard.text(), /<html/i);
  });

  it('lists the examples by their human names in Import › Examples, and serves each', async () => {
    const library = `http://127.0.0.1:${port}/library/examples/flows/node-red-contrib-the-things-stack`;
    const listing = (await (await fetch(library)).json()) as Array<{ fn?: string }>;
    const files = readdirSync(join(REPO_ROOT, 'examples')).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''));
    assert.deepEqual(listing.map((entry) => entry.fn).sort(), files.sort());
    for (const name of files) {
      assert.match(name, /^\d · [A-Z]/, 'numbered in reading order, then words');
      const res = await fetch(`${library}/${encodeURIComponent(name)}`);
      assert.equal(res.status, 200, name);
      const flow = (await res.json()) as Array<{ type: string; label?: string }>;
      assert.ok(flow.some((n) => n.type === 'tab' && String(n.label).startsWith(name.slice(0, 4))), `${name}: its tab is labelled alike`);
    }
  });

  it('opens the editor on the flows: no tour, no update-notification prompt', async () => {
    const settings = (await (await fetch(`http://127.0.0.1:${port}/settings`)).json()) as { telemetryEnabled?: boolean; editorTheme?: { tours?: boolean } };
    // The editor asks "enable update notifications?" only while telemetryEnabled is undefined.
    assert.equal(settings.telemetryEnabled, false);
    assert.equal(settings.editorTheme?.tours, false);
  });

  it('feeds each webhook path from its own simulated application, into the store', async () => {
    for (const app of ['sim-app → /tts-store', 'sim-receive → /tts', 'sim-dashboard → /tts-dashboard']) assert.ok(output.includes(app), `${app} in:\n${output}`);
    // Each simulator resends its first uplink until Node-RED accepts it: both storing
    // pipelines end up with a reading of their application's first device.
    const file = join(dir, 'tts-data.db');
    const deadline = Date.now() + 90_000;
    let buckets: string[] = [];
    while (Date.now() < deadline) {
      if (existsSync(file)) {
        const db = new Database(file, { readonly: true });
        try {
          buckets = (db.prepare('SELECT DISTINCT b.id AS id FROM tts_readings r JOIN tts_buckets b ON b.rowid = r.bucket').all() as Array<{ id: string }>).map((r) => r.id);
        } catch {
          buckets = []; // the schema is created on first use
        } finally {
          db.close();
        }
      }
      if (buckets.includes('sim-device-01') && buckets.includes('dashboard-device-01')) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(buckets.includes('sim-device-01') && buckets.includes('dashboard-device-01'), `buckets with readings: ${buckets.join(', ')}\n${output}`);
    assert.ok(buckets.every((id) => /^(sim|dashboard)-device-0\d$/.test(id)), `only the storing applications' devices: ${buckets.join(', ')}`);
    assert.doesNotMatch(output, /\[(error)\]/, output);
  });

  it('keeps the webhook token and the API key off every command line (ps shows them to any local user)', () => {
    const lines = commandLines();
    const sims = [...lines.values()].filter((line) => line.includes(join('sim', 'cli.js')) && line.includes(`127.0.0.1:${port}/`));
    assert.equal(sims.length, 3, `one simulator per webhook path is running: ${sims.join('\n')}`);
    for (const [pid, line] of lines) {
      assert.ok(!line.includes(DEMO_TOKEN) && !line.includes(DEMO_API_KEY), `process ${pid} has a secret on its command line: ${line}`);
    }
  });
});
