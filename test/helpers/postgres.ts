// A real PostgreSQL for tests: TTS_TEST_PG_URL when set, else a throwaway server started on first
// use (initdb into a temp dir, 127.0.0.1 on a free port, unix socket in the temp dir) and
// stopped at the end of the run. Each caller gets its own throwaway database.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { onSuiteEnd } from '../setup';

const run = promisify(execFile);

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

interface Server {
  /** URL of the maintenance database (`postgres`). */
  adminUrl: string;
  stop(): Promise<void>;
}

/** A throwaway server that can also be taken down and brought back (store outage tests). */
export interface ThrowawayServer extends Server {
  /** Stops the server (fast shutdown: clients are disconnected), keeping its data. */
  halt(): Promise<void>;
  /** Starts it again on the same port and data. */
  resume(): Promise<void>;
}

let serverPromise: Promise<Server> | undefined;

function findBinDir(): string | undefined {
  const fromEnv = process.env.TTS_PG_BIN;
  if (fromEnv && fs.existsSync(path.join(fromEnv, 'initdb'))) return fromEnv;
  const base = '/usr/lib/postgresql';
  if (fs.existsSync(base)) {
    const versions = fs
      .readdirSync(base)
      .filter((v) => fs.existsSync(path.join(base, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length > 0) return path.join(base, versions[0], 'bin');
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && fs.existsSync(path.join(dir, 'initdb'))) return dir;
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface ServerOptions {
  /** Durable settings (fsync on) for benchmarks; tests run with fsync off. */
  durable?: boolean;
  /** More `-c name=value` server settings (the bench's statement statistics). */
  settings?: string[];
}

/** Starts a throwaway PostgreSQL server (initdb refuses root: run as the `postgres` user then). */
export async function startThrowawayServer(options: ServerOptions = {}): Promise<ThrowawayServer> {
  const bin = findBinDir();
  if (!bin) {
    throw new Error(
      'PostgreSQL server binaries (initdb, pg_ctl) not found: install the `postgresql` package ' +
        '(Debian/Ubuntu: apt-get install -y postgresql) or set TTS_TEST_PG_URL to a server to test against',
    );
  }
  const isRoot = process.getuid?.() === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tts-pg-'));
  const data = path.join(dir, 'data');
  const asServerUser = async (cmd: string, args: string[]): Promise<void> => {
    const file = path.join(bin, cmd);
    if (isRoot) await run('runuser', ['-u', 'postgres', '--', file, ...args], { cwd: dir });
    else await run(file, args, { cwd: dir });
  };
  if (isRoot) await run('chown', ['postgres:postgres', dir]);
  const port = await freePort();
  const settings = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c max_connections=100',
    ...(options.durable ? [] : ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off']),
    ...(options.settings ?? []).map((setting) => `-c ${setting}`),
  ].join(' ');
  const start = (): Promise<void> => asServerUser('pg_ctl', ['-D', data, '-o', settings, '-l', path.join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  try {
    await asServerUser('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync']);
    await start();
  } catch (err) {
    const log = path.join(dir, 'server.log');
    const tail = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').slice(-2000) : '';
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`could not start a throwaway PostgreSQL server: ${(err as Error).message}\n${tail}`);
  }
  return {
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    halt: () => asServerUser('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']),
    resume: start,
    async stop() {
      try {
        await asServerUser('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

async function sharedServer(): Promise<Server> {
  if (!serverPromise) {
    const fromEnv = process.env.TTS_TEST_PG_URL;
    if (fromEnv) {
      serverPromise = Promise.resolve({ adminUrl: fromEnv, stop: async () => undefined });
    } else {
      serverPromise = startThrowawayServer();
      // Stopped at the end of the mocha run (the bench stops its own server).
      onSuiteEnd(stopSharedServer);
    }
  }
  return serverPromise;
}

export async function stopSharedServer(): Promise<void> {
  const p = serverPromise;
  serverPromise = undefined;
  if (p) await (await p).stop();
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A fresh, empty database on the test server; `drop()` removes it. */
export async function createTestDatabase(prefix = 'tts_test'): Promise<TestDatabase> {
  const server = await sharedServer();
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: server.adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: withDatabase(server.adminUrl, name),
    async drop() {
      const c = new Client({ connectionString: server.adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
