import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApplicationUp } from '../../src/tts/types';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: ApplicationUp;
}

/** A webhook receiver on 127.0.0.1 that records what it gets and answers `status`. */
export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = [];
  status = 200;
  private server?: Server;
  private waiters: Array<{ predicate: (r: ReceivedRequest) => boolean; resolve: (r: ReceivedRequest) => void }> = [];

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const entry: ReceivedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as ApplicationUp };
        this.requests.push(entry);
        res.writeHead(this.status).end();
        this.waiters = this.waiters.filter((w) => {
          if (!w.predicate(entry)) return true;
          w.resolve(entry);
          return false;
        });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The next request matching predicate, including one already received and not yet taken. */
  next(predicate: (r: ReceivedRequest) => boolean = () => true): Promise<ReceivedRequest> {
    const seen = this.requests.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ predicate, resolve }));
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections(); // undici keeps connections alive
    await closed;
  }
}
