import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { interceptPost, sendJson } from '../../src/webhook/request-interceptor';

describe('webhook request interceptor', () => {
  let server: Server;
  let base: string;
  let port: number;
  beforeEach(async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('app');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('answers its routes before the app and hands everything else to the app, until removed', async () => {
    const remove = interceptPost(server, { matches: (p) => p === '/tts', handle: (_q, res) => sendJson(res, 202, { ok: true }) });
    assert.equal((await fetch(`${base}/tts?x=1`, { method: 'POST', body: '{}' })).status, 202);
    assert.equal(await (await fetch(`${base}/tts`)).text(), 'app', 'GET goes to the app');
    assert.equal(await (await fetch(`${base}/other`, { method: 'POST' })).text(), 'app');
    remove();
    assert.equal(await (await fetch(`${base}/tts`, { method: 'POST', body: '{}' })).text(), 'app');
    assert.equal(server.listeners('request').length, 1);
  });

  it('closes connections that do not finish their headers in time while ordinary requests go on', async () => {
    const remove = interceptPost(server, { matches: (p) => p === '/tts', handle: (_q, res) => sendJson(res, 200, {}) }, { headersTimeout: 300 });
    const slow: Socket[] = [];
    const closed = Array.from({ length: 50 }, () => {
      const socket = connect(port, '127.0.0.1');
      slow.push(socket);
      socket.on('error', () => undefined);
      socket.write('POST /tts HTTP/1.1\r\nHost: x\r\n');
      const drip = setInterval(() => socket.writable && socket.write('X'), 50);
      return new Promise<void>((resolve) => socket.on('close', () => {
        clearInterval(drip);
        resolve();
      }));
    });
    // Meanwhile a normal client is served.
    assert.equal((await fetch(`${base}/tts`, { method: 'POST', body: '{}' })).status, 200);
    await Promise.all(closed);
    assert.ok(slow.every((s) => s.destroyed));
    remove();
  });
});
