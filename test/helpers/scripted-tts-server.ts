import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

export type Step = (req: IncomingMessage, res: ServerResponse) => void;

/** A loopback HTTP server answering its requests with the given steps in order (last repeats). */
export class ScriptedServer {
  readonly seen: SeenRequest[] = [];
  private server?: Server;

  constructor(private readonly steps: Step[]) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
        const step = this.steps[Math.min(this.seen.length - 1, this.steps.length - 1)];
        step(req, res);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }
}

export const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Step =>
  (_req, res) => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };

/** Never answers; the socket stays open until the client gives up. */
export const hang: Step = () => undefined;

export const ttsError = (status: number, code: number, name: string, message: string, headers: Record<string, string> = {}): Step =>
  json(status, { code, message: `error:pkg/test:${name} (${message})`, details: [{ '@type': 'type.googleapis.com/ttn.lorawan.v3.ErrorDetails', namespace: 'pkg/test', name, message_format: message, code }] }, headers);
