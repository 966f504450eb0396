// The load generator's own client must count an answer as an acknowledgement only when it is one,
// whatever framing the server uses, and report every lost request with a reason.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RawHttpPool } from './raw-http';

interface Seen {
  method?: string;
  url?: string;
  auth?: string;
  type?: string;
  body: string;
}

async function serve(handler: (req: http.IncomingMessage, res: http.ServerResponse, seen: Seen) => void): Promise<{ url: URL; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = { method: req.method, url: req.url, auth: req.headers.authorization, type: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') };
      seen.push(s);
      handler(req, res, s);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}/hook?x=1`),
    seen,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('load generator client (RawHttpPool)', () => {
  it('sends the path, headers and UTF-8 body, and reads Content-Length and chunked answers on one connection', async () => {
    let n = 0;
    const s = await serve((_req, res) => {
      n += 1;
      if (n % 2 === 0) {
        res.write('{"a":');
        res.end('1}');
      } else res.end('{}');
    });
    const pool = new RawHttpPool(s.url, { Authorization: 'Bearer t0k' }, 1);
    try {
      const body = JSON.stringify({ text: 'größe ✓' });
      const outcomes = [];
      for (let i = 0; i < 4; i++) outcomes.push(await pool.post(body, 5000));
      assert.deepEqual(outcomes, [200, 200, 200, 200]);
      assert.equal(s.seen.length, 4);
      assert.deepEqual(s.seen[0], { method: 'POST', url: '/hook?x=1', auth: 'Bearer t0k', type: 'application/json', body });
    } finally {
      pool.destroy();
      await s.close();
    }
  });

  it('reports error statuses as they are, and a server that closes without answering as not acknowledged', async () => {
    const s = await serve((req, res, seen) => {
      if (seen.body === '"drop"') req.socket.destroy();
      else {
        res.statusCode = 503;
        res.end('{"error":"busy"}');
      }
    });
    const pool = new RawHttpPool(s.url, {}, 2);
    try {
      assert.equal(await pool.post('"busy"', 5000), 503);
      assert.equal(await pool.post('"drop"', 5000), 'ECONNRESET');
      // The pool opens a new connection after losing one.
      assert.equal(await pool.post('"busy"', 5000), 503);
    } finally {
      pool.destroy();
      await s.close();
    }
  });

  it('times a request out when no answer comes, and refuses when nothing listens', async () => {
    const held: http.ServerResponse[] = [];
    const s = await serve((_req, res) => held.push(res));
    const pool = new RawHttpPool(s.url, {}, 1);
    try {
      assert.equal(await pool.post('{}', 50), 'TIMEOUT');
      assert.equal(held.length, 1);
    } finally {
      pool.destroy();
      await s.close();
    }
    const dead = new RawHttpPool(s.url, {}, 1);
    assert.equal(await dead.post('{}', 5000), 'ECONNREFUSED');
    dead.destroy();
  });

  it('queues requests beyond maxSockets and answers each on its own', async () => {
    const s = await serve((_req, res, seen) => res.end(JSON.stringify({ echo: seen.body })));
    const pool = new RawHttpPool(s.url, {}, 3);
    try {
      const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.post(String(i), 5000)));
      assert.deepEqual(outcomes, new Array(20).fill(200));
      assert.deepEqual(s.seen.map((x) => Number(x.body)).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
    } finally {
      pool.destroy();
      await s.close();
    }
  });
});
