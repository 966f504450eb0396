import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { EventEmitter } from 'node:events';
import { join, resolve } from 'node:path';

/** The repository root and the build this test run is executing from (dist/ or a --out dir). */
export const BUILD_ROOT = resolve(__dirname, '..', '..');
export const REPO_ROOT = findRepoRoot(BUILD_ROOT);

function findRepoRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json')) || !readFileSync(join(dir, 'package.json'), 'utf8').includes(`"name": "node-red-contrib-the-things-stack"`)) {
    const parent = resolve(dir, '..');
    if (parent === dir) throw new Error(`package root not found above ${from}`);
    dir = parent;
  }
  return dir;
}

/**
 * `npm pack` of this build: the package files are staged with this run's build as dist/, so
 * the tarball holds exactly what `files` in package.json selects from what is being tested.
 */
export function packThisBuild(destination: string): string {
  const stage = mkdtempSync(join(REPO_ROOT, '.tmp', 'stage-'));
  try {
    for (const entry of ['package.json', 'README.md', 'examples', 'icons', 'resources']) {
      if (existsSync(join(REPO_ROOT, entry))) cpSync(join(REPO_ROOT, entry), join(stage, entry), { recursive: true });
    }
    for (const part of ['src', 'nodes']) cpSync(join(BUILD_ROOT, part), join(stage, 'dist', part), { recursive: true });
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', destination], { cwd: stage, stdio: ['ignore', 'pipe', 'pipe'] });
    const [{ filename }] = JSON.parse(out.toString('utf8')) as Array<{ filename: string }>;
    return join(destination, filename);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
export const PACKAGE_NAME = 'node-red-contrib-the-things-stack';

/**
 * Which Node-RED runs. By default the node_modules copy (Node-RED 4.1) under this Node. CI also
 * runs the integration tests on another Node-RED and Node (.ci/node-red-5): it installs the package
 * from its tarball, with dependencies built for that Node, and points these variables at it.
 */
export const TARGET = {
  /** The Node binary that runs Node-RED. */
  node: process.env.TTS_TEST_NODE_BINARY ?? process.execPath,
  /** The node-red package directory (holds red.js). */
  nodeRed: process.env.TTS_TEST_NODE_RED ?? join(REPO_ROOT, 'node_modules', 'node-red'),
  /** A node_modules directory holding this package installed from its tarball, with its dependencies. */
  installedModules: process.env.TTS_TEST_INSTALLED_MODULES,
};

/** The major version of the Node-RED under test. */
export function nodeRedMajor(): number {
  const { version } = JSON.parse(readFileSync(join(TARGET.nodeRed, 'package.json'), 'utf8')) as { version: string };
  return Number(version.split('.')[0]);
}

export interface NodeRedProcessOptions {
  httpAdminRoot?: string;
  httpNodeRoot?: string | false;
  /** Install the package from an `npm pack` tarball instead of linking this build. */
  tarball?: string;
  /** Deployed after start through the admin API, credentials inline as the editor sends them. */
  flows?: unknown[];
  credentials?: Record<string, Record<string, string>>;
  env?: Record<string, string>;
  extraSettings?: Record<string, unknown>;
  /**
   * JavaScript source of more settings, spliced into settings.js as an object literal's
   * properties (for values JSON cannot hold, e.g. `functionGlobalContext: { Database: require(...) }`).
   */
  settingsSource?: string;
  /** Options for the node binary itself (e.g. `--cpu-prof`), before red.js. */
  nodeArgs?: string[];
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * A real Node-RED process (4.1 from node_modules unless TARGET says otherwise) on 127.0.0.1 with this package
 * installed in a throwaway user directory. The directory lives under the repository's .tmp so
 * that the package's own dependencies resolve from the repository's node_modules.
 */
export class NodeRedProcess {
  readonly userDir: string;
  readonly logs: string[] = [];
  port = 0;
  private child: ChildProcess | undefined;
  private readonly lines = new EventEmitter();
  private installed = false;

  constructor(private readonly options: NodeRedProcessOptions = {}) {
    mkdirSync(join(REPO_ROOT, '.tmp'), { recursive: true });
    this.userDir = mkdtempSync(join(REPO_ROOT, '.tmp', 'node-red-'));
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  adminUrl(path: string): string {
    return `${this.baseUrl}${(this.options.httpAdminRoot ?? '/').replace(/\/$/, '')}${path}`;
  }

  nodeUrl(path: string): string {
    const root = this.options.httpNodeRoot;
    return `${this.baseUrl}${(typeof root === 'string' ? root : '/').replace(/\/$/, '')}${path}`;
  }

  /**
   * Lines Node-RED logged at warn or error level, except the runtime's own start-up notices
   * about settings this throwaway set-up uses on purpose.
   */
  problems(): string[] {
    const expected = [/Projects disabled/, /Encrypted credentials not found/];
    return this.logs.filter((line) => /\[(warn|error)\]/.test(line) && !expected.some((re) => re.test(line)));
  }

  private installPackage(): void {
    if (TARGET.installedModules) {
      // Installed from this build's tarball once for the run (native modules built for TARGET.node).
      symlinkSync(TARGET.installedModules, join(this.userDir, 'node_modules'), 'dir');
      return;
    }
    const target = join(this.userDir, 'node_modules', PACKAGE_NAME);
    mkdirSync(target, { recursive: true });
    if (this.options.tarball) {
      execFileSync('tar', ['-xzf', this.options.tarball, '-C', target, '--strip-components=1']);
      return;
    }
    cpSync(join(REPO_ROOT, 'package.json'), join(target, 'package.json'));
    symlinkSync(BUILD_ROOT, join(target, 'dist'), 'dir');
    for (const dir of ['examples', 'resources']) {
      if (existsSync(join(REPO_ROOT, dir))) symlinkSync(join(REPO_ROOT, dir), join(target, dir), 'dir');
    }
  }

  /** The running Node-RED's process id (undefined when it is not running). */
  get pid(): number | undefined {
    return this.child && this.child.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  get running(): boolean {
    return this.pid !== undefined;
  }

  /**
   * Starts Node-RED. The first start installs the package and writes settings.js and an empty
   * flows.json; a later start (after `kill`) reuses the user directory, the flows deployed
   * before and the port, as a restarted Node-RED does.
   */
  async start(): Promise<void> {
    const restart = this.installed;
    if (!restart) this.setUp(await freePort());
    const from = this.logs.length;
    const redJs = join(TARGET.nodeRed, 'red.js');
    const child = spawn(TARGET.node, [...(this.options.nodeArgs ?? []), redJs, '-u', this.userDir, '-s', join(this.userDir, 'settings.js')], {
      env: { ...process.env, ...this.options.env, NODE_RED_HOME: this.userDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    let buffer = '';
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString('utf8');
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        this.logs.push(line);
        this.lines.emit('line', line);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => this.lines.emit('exit', code ?? signal));
    await this.waitForLog(/Started flows/, from, 30_000);
    if (this.options.flows && !restart) {
      const credentials = this.options.credentials ?? {};
      await this.deploy(this.options.flows.map((n) => {
        const node = n as { id: string };
        return credentials[node.id] ? { ...node, credentials: credentials[node.id] } : node;
      }));
    }
  }

  private setUp(port: number): void {
    this.installPackage();
    this.installed = true;
    this.port = port;
    const settings = {
      uiHost: '127.0.0.1',
      uiPort: this.port,
      httpAdminRoot: this.options.httpAdminRoot ?? '/',
      httpNodeRoot: this.options.httpNodeRoot ?? '/',
      userDir: this.userDir,
      flowFile: 'flows.json',
      credentialSecret: 'test-credential-secret',
      logging: { console: { level: 'info', metrics: false, audit: false } },
      editorTheme: { tours: false },
      telemetry: { enabled: false },
      diagnostics: { enabled: false },
      ...this.options.extraSettings,
    };
    const json = JSON.stringify(settings, null, 2);
    const source = this.options.settingsSource ? `${json.slice(0, -2)},\n${this.options.settingsSource}\n}` : json;
    writeFileSync(join(this.userDir, 'settings.js'), `module.exports = ${source};\n`);
    writeFileSync(join(this.userDir, 'flows.json'), '[]');
  }

  /** Waits for a log line matching `pattern` at or after line index `from`. */
  waitForLog(pattern: RegExp, from: number, timeoutMs = 10_000): Promise<string> {
    const seen = this.logs.slice(from).find((line) => pattern.test(line));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolveLine, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.lines.off('line', onLine);
        this.lines.off('exit', onExit);
      };
      const onLine = (line: string): void => {
        if (!pattern.test(line)) return;
        cleanup();
        resolveLine(line);
      };
      const onExit = (code: number | null): void => {
        cleanup();
        reject(new Error(`Node-RED exited with ${code}:\n${this.logs.join('\n')}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no log line matching ${pattern} within ${timeoutMs} ms:\n${this.logs.join('\n')}`));
      }, timeoutMs);
      this.lines.on('line', onLine);
      this.lines.on('exit', onExit);
    });
  }

  /** Waits until `count` log lines at or after `from` match `pattern`. */
  async waitForLogCount(pattern: RegExp, count: number, from: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let next = from;
    for (let seen = 0; seen < count; seen += 1) {
      await this.waitForLog(pattern, next, Math.max(1, deadline - Date.now()));
      next = this.logs.findIndex((line, i) => i >= next && pattern.test(line)) + 1;
    }
  }

  /** Deploys flows (with credentials inline, as the editor sends them) and waits for the restart. */
  async deploy(flows: unknown[]): Promise<void> {
    const from = this.logs.length;
    const res = await fetch(this.adminUrl('/flows'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'Node-RED-Deployment-Type': 'full', 'Node-RED-API-Version': 'v1' },
      body: JSON.stringify(flows),
    });
    if (!res.ok) throw new Error(`deploy failed: ${res.status} ${await res.text()}`);
    await this.waitForLog(/Started flows/, from);
  }

  readUserFile(name: string): string {
    return readFileSync(join(this.userDir, name), 'utf8');
  }

  /**
   * Sends `signal` and waits until the process has exited (SIGKILL after `forceAfterMs`); the
   * user directory stays for the next `start`. Returns how the process ended.
   */
  async kill(signal: NodeJS.Signals, forceAfterMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const child = this.child;
    this.child = undefined;
    if (!child) throw new Error('Node-RED is not running');
    if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
    return new Promise((resolveKill) => {
      const force = setTimeout(() => child.kill('SIGKILL'), forceAfterMs);
      child.once('exit', (code, sig) => {
        clearTimeout(force);
        resolveKill({ code, signal: sig });
      });
      child.kill(signal);
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null) {
      await new Promise<void>((resolveStop) => {
        const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolveStop();
        });
        child.kill('SIGINT');
      });
    }
    rmSync(this.userDir, { recursive: true, force: true });
  }
}
