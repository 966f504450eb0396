import type { IncomingMessage, ServerResponse } from 'node:http';
import { SimApiError, errors } from './tts-errors';

export interface ApiRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** Parsed JSON body (undefined when empty). */
  body: unknown;
  params: string[];
}

export interface ApiAnswer {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** A server-streaming answer (grpc-gateway style): one `{"result": …}` line per item. */
  results?: unknown[];
}

export type ApiHandler = (req: ApiRequest) => ApiAnswer | Promise<ApiAnswer>;

export interface Route {
  method: string;
  pattern: RegExp;
  /** What the route does, for faults scoped to downlinks. */
  kind: 'downlink' | 'management';
  handler: ApiHandler;
}

const MAX_BODY = 1024 * 1024;

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(errors.decodeBody('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function parseJsonBody(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw errors.decodeBody((err as Error).message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown): { status: number; name?: string } {
  const apiError = err instanceof SimApiError ? err : errors.internal();
  sendJson(res, apiError.status, apiError.body, apiError.headers);
  return { status: apiError.status, name: apiError.body.details[0]?.name };
}

export function matchRoute(routes: readonly Route[], method: string, path: string): { route: Route; params: string[] } | undefined {
  for (const route of routes) {
    if (route.method !== method) continue;
    const m = route.pattern.exec(path);
    if (m) return { route, params: m.slice(1).map((p) => decodeURIComponent(p)) };
  }
  return undefined;
}

/**
 * Writes a streamed answer as TTS's HTTP gateway does for server-streaming calls: chunked, one
 * `{"result": …}` JSON object per line. With `cutAfter` the connection is dropped after that
 * many lines (a fault). Resolves true when everything was written.
 */
export async function sendStream(res: ServerResponse, results: readonly unknown[], cutAfter?: number): Promise<boolean> {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  const count = cutAfter === undefined ? results.length : Math.min(cutAfter, results.length);
  for (let i = 0; i < count; i++) {
    if (res.destroyed) return false;
    const line = `${JSON.stringify({ result: results[i] })}\n`;
    if (i === count - 1 && cutAfter !== undefined) {
      // The cut must come after this line really left.
      await new Promise<void>((resolve) => res.write(line, () => resolve()));
    } else if (!res.write(line)) {
      await new Promise<void>((resolve) => {
        const go = (): void => {
          res.off('drain', go);
          res.off('close', go);
          resolve();
        };
        res.on('drain', go);
        res.on('close', go);
      });
    }
  }
  if (cutAfter !== undefined && cutAfter <= results.length) {
    // Cut before the stream ended properly (no final chunk): the client sees an aborted body.
    res.socket?.destroy();
    return false;
  }
  res.end();
  return true;
}
