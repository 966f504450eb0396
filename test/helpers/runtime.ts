import type { Express, RequestHandler } from 'express';
import type { NodeAPI } from 'node-red';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resetRuntime } from '../../src/runtime';
import { onSuiteEnd } from '../setup';
// node-red-node-test-helper ships no types; this is the part the suite uses.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the helper ships no types; TestHelper above types what the suite uses
const helper = require('node-red-node-test-helper') as TestHelper;

export interface TestHelper {
  init(runtimePath: string, settings?: Record<string, unknown>): void;
  /** Replaces the user settings (merged with the runtime defaults); without an argument, the current ones. */
  settings(settings?: Record<string, unknown>): Record<string, unknown>;
  startServer(): Promise<void>;
  stopServer(): Promise<void>;
  load(nodes: unknown, flow: unknown[], credentials?: Record<string, unknown>): Promise<void>;
  setFlows(flow: unknown[], type?: string, credentials?: Record<string, unknown>): Promise<void>;
  unload(): Promise<void>;
  getNode(id: string): TestNode;
  request(): import('supertest').SuperTest<import('supertest').Test>;
  url(): string;
  log(): { args: unknown[][]; getCalls(): Array<{ args: unknown[] }> };
  _app: Express;
}

export interface TestNode {
  id: string;
  on(event: string, listener: (...args: any[]) => void): void;
  removeListener(event: string, listener: (...args: any[]) => void): void;
  once(event: string, listener: (...args: any[]) => void): void;
  receive(msg: Record<string, unknown>): void;
  status: { args: unknown[][]; lastCall?: { args: unknown[] }; callCount: number } & ((...a: unknown[]) => void);
  warn: { args: unknown[][]; callCount: number } & ((...a: unknown[]) => void);
  error: { args: unknown[][]; callCount: number } & ((...a: unknown[]) => void);
  [key: string]: any;
}

type NodeModule = (RED: NodeAPI) => void;

let initialised = false;
let currentHttpNode: RequestHandler | undefined;
const beforeNodeRoutes: RequestHandler[] = [];

/** Where this run's durable inboxes live (settings.js `ttsInbox.directory`), removed at the end. */
export const TEST_INBOX_DIR = mkdtempSync(join(tmpdir(), 'tts-test-inbox-'));
onSuiteEnd(() => rmSync(TEST_INBOX_DIR, { recursive: true, force: true }));

/**
 * The test helper, initialised once for the whole run with Node-RED from node_modules. Every
 * settings() call keeps the run's inbox directory unless the suite sets `ttsInbox` itself, so
 * no test writes into the user's ~/.node-red.
 */
export function nodeRedHelper(): TestHelper {
  if (!initialised) {
    helper.init(require.resolve('node-red'));
    const settings = helper.settings.bind(helper);
    helper.settings = (s?: Record<string, unknown>) => (s === undefined ? settings() : settings({ ttsInbox: { directory: TEST_INBOX_DIR }, ...s }));
    helper.settings({});
    initialised = true;
  }
  return helper;
}

/**
 * The test helper answers only admin routes; node routes (RED.httpNode) live on an express app
 * it never mounts. This keeps the RED each node module is given and routes the helper's loopback
 * server into that RED's httpNode, so webhooks can be tested over real HTTP.
 */
export function capturingRed(modules: NodeModule[]): NodeModule[] {
  return modules.map((mod) => (RED: NodeAPI) => {
    currentHttpNode = RED.httpNode as unknown as RequestHandler;
    // The helper's mock runtime leaves out RED.hooks; the real runtime's flows use this module's.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- Node-RED's util is plain JS, and needed only here
    (RED as unknown as { hooks?: unknown }).hooks ??= (require('@node-red/util') as { hooks: unknown }).hooks;
    mod(RED);
  });
}

export async function startServerWithNodeRoutes(options: { editorBodyParser?: boolean } = {}): Promise<TestHelper> {
  const h = nodeRedHelper();
  await h.startServer();
  beforeNodeRoutes.length = 0;
  if (options.editorBodyParser) {
    // What Node-RED 4.1 does with default settings: the editor's JSON parser (limit 5 MB) sees
    // every request before node routes.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only for suites that put the editor's parser in front
    const bodyParser = require('body-parser') as typeof import('body-parser');
    beforeNodeRoutes.push(bodyParser.json({ limit: '5mb' }));
  }
  // startServer makes a new express app each time, so mount on every start.
  {
    h._app.use((req, res, next) => {
      const chain = [...beforeNodeRoutes];
      const step = (err?: unknown): void => {
        if (err) {
          next(err);
          return;
        }
        const handler = chain.shift();
        if (handler) handler(req, res, step);
        else if (currentHttpNode) currentHttpNode(req, res, next);
        else next();
      };
      step();
    });
  }
  return h;
}

export async function loadFlow(modules: NodeModule[], flow: unknown[], credentials?: Record<string, unknown>): Promise<void> {
  await nodeRedHelper().load(capturingRed(modules), flow, credentials);
}

/** Stops the flow and forgets the package's process-wide state (src/runtime), as a fresh process would start. */
export async function unloadFlow(): Promise<void> {
  const h = nodeRedHelper();
  await h.unload();
  currentHttpNode = undefined;
  resetRuntime();
}

/** Resolves with the next call of a node's spied method (`call:status`, `call:warn`, ...). */
export function nextCall(node: TestNode, method: 'status' | 'warn' | 'error' | 'send' | 'log'): Promise<{ args: unknown[] }> {
  return new Promise((resolve) => node.once(`call:${method}`, resolve));
}

/**
 * Resolves with the first call of a spied method whose arguments satisfy `match`, looking at the
 * calls already made first, so a call that happened before the wait began is not missed.
 */
export function waitForCall(
  node: TestNode,
  method: 'status' | 'warn' | 'error' | 'send' | 'log',
  match: (args: unknown[]) => boolean,
): Promise<unknown[]> {
  const spy = node[method] as { args: unknown[][] };
  const already = spy.args.find(match);
  if (already) return Promise.resolve(already);
  return new Promise((resolve) => {
    const listener = (call: { args: unknown[] }): void => {
      if (!match(call.args)) return;
      node.removeListener(`call:${method}`, listener);
      resolve(call.args);
    };
    node.on(`call:${method}`, listener);
  });
}

/** Resolves with the next message a helper node receives. */
export function nextMessage<T = Record<string, unknown>>(node: TestNode): Promise<T> {
  return new Promise((resolve) => node.once('input', resolve));
}
