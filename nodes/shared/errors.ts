import type { Response } from 'express';
import { describeError, isTtsError, type ErrorStatusKey } from '../../src/util/errors';

export { TtsError, isTtsError, type ErrorStatusKey } from '../../src/util/errors';

/** The one body shape of every error answer (admin routes and the webhook): `{ error: { code, message } }`. */
export interface ErrorBody {
  error: { code: string; message: string; [detail: string]: string | number | undefined };
}

/** Which status text a node shows for a failure: `<type>.status.<key>` in the node's catalog. */
export function statusKeyOf(err: unknown): ErrorStatusKey {
  return isTtsError(err) ? err.statusKey : 'failed';
}

/** The HTTP status an error is answered with; anything not raised on purpose is a 500. */
export function httpStatusOf(err: unknown): number {
  return isTtsError(err) ? err.httpStatus : 500;
}

/** The code an error is answered with. */
export function codeOf(err: unknown): string {
  return isTtsError(err) ? err.code : 'internal';
}

/**
 * What a node hands to done(err): a plain Error with the message and code only. The runtime
 * clones it for Catch nodes, so it must not carry data the clone cannot walk (nested input,
 * sockets, causes) nor anything secret; connection strings are cut from the text.
 */
export function doneError(err: unknown): Error {
  const out = new Error(describeError(err));
  // The runtime shows `name: message` and copies own `code` and `stack` into the Catch node's msg.error.
  if (err instanceof Error) {
    out.name = err.name;
    out.stack = typeof err.stack === 'string' ? describeError(err.stack) : undefined;
  }
  if (isTtsError(err)) Object.assign(out, { code: err.code });
  return out;
}

export function errorBody(code: string, message: string, details: Record<string, string | number | undefined> = {}): ErrorBody {
  return { error: { ...details, code, message } };
}

/** Answers an admin route with an error: its status and the one body shape. */
export function sendError(res: Response, err: unknown): void;
export function sendError(res: Response, status: number, code: string, message: string): void;
export function sendError(res: Response, errOrStatus: unknown, code?: string, message?: string): void {
  if (typeof errOrStatus === 'number' && code !== undefined && message !== undefined) {
    res.status(errOrStatus).json(errorBody(code, message));
    return;
  }
  const err = errOrStatus;
  // Unexpected failures may hold internals; they are answered as a 500 with the (redacted) text.
  res.status(httpStatusOf(err)).json(errorBody(codeOf(err), describeError(err), isTtsError(err) ? err.publicDetails() : {}));
}
