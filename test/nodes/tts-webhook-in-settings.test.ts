import { strict as assert } from 'node:assert';
import type { Request, Response, NextFunction } from 'express';
import profileModule = require('../../nodes/tts-profile/tts-profile');
import webhookModule = require('../../nodes/tts-webhook-in/tts-webhook-in');
import { ttsFixture } from '../helpers/tts-fixtures';
import { helperNode, profileNode, webhookInNode } from '../helpers/flows';
import { loadFlow, nextMessage, nodeRedHelper, startServerWithNodeRoutes, unloadFlow, waitForCall } from '../helpers/runtime';

const modules = [profileModule, webhookModule];
const TOKEN = 'settings-test-token-0123456789';

function flow() {
  const out = helperNode();
  const profile = profileNode();
  const hook = webhookInNode({ profile: profile.id, wires: [[out.id]] });
  return { nodes: [profile, hook, out], creds: { [profile.id]: { webhookToken: TOKEN } }, out, hook };
}

function post(path: string, headers: Record<string, string> = {}): Promise<globalThis.Response> {
  return fetch(`${nodeRedHelper().url()}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
    body: JSON.stringify(ttsFixture('join_accept')),
  });
}

describe('tts-webhook-in honours the http node settings', () => {
  before(async () => {
    await startServerWithNodeRoutes();
  });
  after(async () => {
    nodeRedHelper().settings({});
    await nodeRedHelper().stopServer();
  });
  afterEach(async () => {
    await unloadFlow();
    nodeRedHelper().settings({});
  });

  it('creates no endpoint and says so when httpNodeRoot is false', async () => {
    nodeRedHelper().settings({ httpNodeRoot: false });
    const { nodes, creds, hook } = flow();
    await loadFlow(modules, nodes, creds);
    const node = nodeRedHelper().getNode(hook.id);
    await waitForCall(node, 'warn', (args) => args[0] === 'tts-webhook-in.errors.not-created');
    assert.equal((await post('/tts')).status, 404);
  });

  it('runs httpNodeMiddleware (a function or an array) before the handler', async () => {
    const seen: string[] = [];
    const middleware = (req: Request, res: Response, next: NextFunction): void => {
      seen.push(req.path);
      if (req.headers['x-block'] === 'yes') res.status(418).end();
      else next();
    };
    for (const setting of [middleware, [middleware]]) {
      nodeRedHelper().settings({ httpNodeMiddleware: setting });
      const { nodes, creds, out } = flow();
      await loadFlow(modules, nodes, creds);
      const received = nextMessage(nodeRedHelper().getNode(out.id));
      assert.equal((await post('/tts/join')).status, 200);
      await received;
      assert.equal((await post('/tts', { 'x-block': 'yes' })).status, 418);
      await unloadFlow();
    }
    assert.deepEqual(seen, ['/tts/join', '/tts', '/tts/join', '/tts']);
  });

  it('answers CORS preflight and adds CORS headers when httpNodeCors is set', async () => {
    nodeRedHelper().settings({ httpNodeCors: { origin: 'https://console.example.net', methods: 'POST' } });
    const { nodes, creds } = flow();
    await loadFlow(modules, nodes, creds);
    const preflight = await fetch(`${nodeRedHelper().url()}/tts`, {
      method: 'OPTIONS',
      headers: { origin: 'https://console.example.net', 'access-control-request-method': 'POST' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://console.example.net');
    const res = await post('/tts', { origin: 'https://console.example.net' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://console.example.net');
  });

  it('refuses an invalid path with a clear error and no route', async () => {
    const { nodes, creds, hook } = flow();
    const bad = nodes.map((n) => (n.id === hook.id ? { ...n, path: '/tts?x=1' } : n));
    await loadFlow(modules, bad, creds);
    const node = nodeRedHelper().getNode(hook.id);
    await waitForCall(node, 'error', (args) => args[0] === 'tts-webhook-in.errors.path');
  });
});
