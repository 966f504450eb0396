// The one mapping from an error to what users see: a node's status text, the error done(err)
// hands to Catch nodes, and an admin route's HTTP answer. Errors raised on purpose extend
// TtsError (src/util/errors.ts) and carry their code, HTTP status and status key; anything else
// is an unexpected failure (500, `failed`).
import type { Response } from 'express';
import { describeError, isTtsError, type ErrorStatusKey } from '../../src/util/errors';
import type { NodeAPI } from './red-types';
import type { StatusReporter } from './status';

export { TtsError, isTtsError, type ErrorStatusKey } from '../../src/util/errors';

/** The failure texts of every node that reports failures: `<type>.failure.<key>` in its catalogue, with `__reason__`. */
export const FAILURE_STATUS_KEYS: readonly ErrorStatusKey[] = ['invalid', 'unavailable', 'refused', 'failed'];

/** The one body shape of every error answer (admin routes and the webhook): `{ error: { code, message } }`. */
export interface ErrorBody {
  error: { code: string; message: string; [detail: string]: string | number | undefined };
}

/** Which status text a node shows for a failure: `<type>.failure.<key>` in the node's catalogue. */
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

/** A node's status text for a failure: `<type>.failure.<statusKey>` with the error's short reason. */
export function failureStatusText(RED: NodeAPI, type: string, err: unknown): string {
  return RED._(`${type}.failure.${statusKeyOf(err)}`, { reason: isTtsError(err) ? err.statusReason() : codeOf(err) });
}

/**
 * What a node hands to done(err): a plain Error with the message and code only. The runtime
 * clones it for Catch nodes, so it must not carry data the clone cannot walk (nested input,
 * sockets, causes) nor anything secret; connection strings are cut from the text.
 */
export function doneError(err: unknown, message = describeError(err)): Error {
  const out = new Error(describeError(message));
  // The runtime shows `name: message` and copies own `code` and `stack` into the Catch node's msg.error.
  if (err instanceof Error) {
    out.name = err.name;
    out.stack = typeof err.stack === 'string' ? describeError(err.stack) : undefined;
  }
  const code = isTtsError(err) ? err.code : (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') Object.assign(out, { code });
  return out;
}

/**
 * The one way a node reports a message that failed: its status shows the failure (red ring,
 * `failureStatusText`) and the returned error is what done(err) gets. Its text is the error's
 * own, or `<type>.errors.<key>` when the error names a catalogue text; `context` names a
 * catalogue text that wraps it (`<type>.errors.<context>` with `__error__`).
 */
export function reportFailure(RED: NodeAPI, type: string, status: StatusReporter, err: unknown, context?: string): Error {
  status.error(failureStatusText(RED, type, err));
  const key = isTtsError(err) ? err.catalogueKey() : undefined;
  const text = key !== undefined ? RED._(`${type}.errors.${key}`) : describeError(err);
  return doneError(err, context !== undefined ? RED._(`${type}.errors.${context}`, { error: text }) : text);
}

export function errorBody(code: string, message: string, details: Record<string, string | number | undefined> = {}): ErrorBody {
  return { error: { ...details, code, message } };
}

/** Answers an admin route with an error: its HTTP status and the one body shape. */
export function sendError(res: Response, err: unknown): void {
  // Unexpected failures may hold internals; they are answered as a 500 with the (redacted) text.
  res.status(httpStatusOf(err)).json(errorBody(codeOf(err), describeError(err), isTtsError(err) ? err.publicDetails() : {}));
}
