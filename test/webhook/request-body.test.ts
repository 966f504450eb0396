import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { BodyError, readJsonBody } from '../../src/webhook/request-body';

/** A server answering with what readJsonBody made of the request (status + code or body). */
function bodyServer(limit: number, timeoutMs: number): Promise<Server> {
  const server = createServer((req, res) => {
    readJsonBody(req, limit, timeoutMs).then(
      (body) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)),
      (err: unknown) => {
        const { status, code } = err as BodyError;
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ code }));
      },
    );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Sends raw HTTP and resolves with the first response line once the server answers. */
function rawRequest(port: number, head: string, body: string): Promise<{ statusLine: string; elapsedMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1', () => socket.write(head + body));
    let data = '';
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
      if (data.includes('\r\n')) {
        socket.destroy();
        resolve({ statusLine: data.split('\r\n')[0], elapsedMs: Date.now() - started });
      }
    });
    socket.on('error', reject);
  });
}

describe('webhook request body', () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = await bodyServer(1024, 150);
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('answers a client that stalls mid-body within the time limit (TTS gives up after 5 s)', async () => {
    const head = 'POST /tts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n';
    const { statusLine, elapsedMs } = await rawRequest(port, head, '{"end_device_ids":');
    assert.match(statusLine, /^HTTP\/1\.1 408 /);
    assert.ok(elapsedMs < 1000, `answered after ${elapsedMs} ms`);
  });

  it('refuses a declared length over the limit before reading anything', async () => {
    const head = 'POST /tts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n';
    const { statusLine } = await rawRequest(port, head, '');
    assert.match(statusLine, /^HTTP\/1\.1 413 /);
  });

  it('stops reading a chunked body as soon as it passes the limit', async () => {
    const chunk = 'x'.repeat(2000);
    const head = 'POST /tts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
    const { statusLine } = await rawRequest(port, head, `${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    assert.match(statusLine, /^HTTP\/1\.1 413 /);
  });

  it('reads an ordinary body', async () => {
    const body = JSON.stringify({ a: 1 });
    const head = `POST /tts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${body.length}\r\n\r\n`;
    const { statusLine } = await rawRequest(port, head, body);
    assert.match(statusLine, /^HTTP\/1\.1 200 /);
  });

  it('joins a body that came in chunks, a character split between two of them', async () => {
    const bytes = Buffer.from(JSON.stringify({ name: 'sensor 🌡 café' }), 'utf8');
    const split = bytes.indexOf(Buffer.from('🌡', 'utf8')) + 2;
    const chunk = (b: Buffer): Buffer => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);
    const request = Buffer.concat([
      Buffer.from('POST /tts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n'),
      chunk(bytes.subarray(0, split)),
      chunk(bytes.subarray(split)),
      Buffer.from('0\r\n\r\n'),
    ]);
    const response = await new Promise<string>((resolve, reject) => {
      const parts: Buffer[] = [];
      const socket = connect(port, '127.0.0.1', () => socket.write(request));
      socket.on('data', (d: Buffer) => parts.push(d));
      socket.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
      socket.on('error', reject);
    });
    assert.match(response, /^HTTP\/1\.1 200 /);
    // The answer may itself be chunked: its JSON is what lies between the outer braces.
    assert.deepEqual(JSON.parse(response.slice(response.indexOf('{'), response.lastIndexOf('}') + 1)), { name: 'sensor 🌡 café' });
  });
});
