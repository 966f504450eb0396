import type { IncomingMessage } from 'node:http';
import { TtsError } from '../util/errors';

export const DEFAULT_BODY_LIMIT = 256 * 1024;

/** A request as express hands it over: the editor's JSON parser may already have read it. */
export type WebhookRequest = IncomingMessage & { body?: unknown; _body?: boolean };

export class BodyError extends TtsError {
  constructor(readonly status: 400 | 408 | 413 | 415, code: string, message: string) {
    super(message, { code, httpStatus: status, statusKey: 'invalid' });
    this.name = 'BodyError';
  }
}

export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  const type = header.split(';')[0].trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined) return undefined;
  const n = Number(header);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

function tooLarge(limit: number): BodyError {
  return new BodyError(413, 'body_too_large', `request body is larger than the limit of ${limit} bytes`);
}

/**
 * The request's JSON body, within `limit` bytes. With Node-RED's default settings the editor's
 * body parser runs before node routes and has already consumed the stream (req._body); then the
 * limit is applied to what was received (Content-Length, else the re-serialised size).
 * Otherwise the stream is read here, stopping as soon as the limit is passed.
 */
export async function readJsonBody(req: WebhookRequest, limit: number, timeoutMs = 4000): Promise<unknown> {
  return (await readJsonBodyText(req, limit, timeoutMs)).value;
}

/** The parsed body with the text it came from (re-serialised when a parser read it first). */
export async function readJsonBodyText(req: WebhookRequest, limit: number, timeoutMs = 4000): Promise<{ value: unknown; text: string }> {
  if (!isJsonContentType(req.headers['content-type'])) {
    throw new BodyError(415, 'unsupported_media_type', `expected Content-Type application/json, got ${req.headers['content-type'] ?? 'none'}`);
  }
  const length = declaredLength(req);
  if (length !== undefined && length > limit) throw tooLarge(limit);

  if (req._body) {
    const text = JSON.stringify(req.body ?? null);
    const size = length ?? Buffer.byteLength(text);
    if (size > limit) throw tooLarge(limit);
    return { value: req.body, text };
  }

  const text = await readText(req, limit, timeoutMs);
  try {
    return { value: JSON.parse(text) as unknown, text };
  } catch (err) {
    // Only a body that failed to parse is looked at again (no copy of every body to trim it).
    if (text.trim() === '') throw new BodyError(400, 'empty_body', 'request body is empty');
    throw new BodyError(400, 'invalid_json', `request body is not valid JSON: ${(err as Error).message}`);
  }
}

function readText(req: IncomingMessage, limit: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      if (err) {
        // Stop reading but let the response go out; the rest of the body is discarded.
        req.resume();
        reject(err);
      } else {
        // A TTS message mostly arrives in one chunk: decoded as it is, without a copy to join.
        resolve(chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks, size).toString('utf8'));
      }
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) finish(tooLarge(limit));
      else chunks.push(chunk);
    };
    const onEnd = (): void => finish();
    const onError = (err: Error): void => finish(new BodyError(400, 'read_error', `request body could not be read: ${err.message}`));
    // A client that stalls mid-body must not keep the request past TTS's 5 s timeout.
    const timer = setTimeout(() => finish(new BodyError(408, 'body_timeout', 'request body did not arrive in time')), timeoutMs);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
