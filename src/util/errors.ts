/**
 * What a failure means to whoever shows it: a node's status (a fixed vocabulary: bad input, a
 * service that cannot be reached, a refusal by TTS, anything else), an HTTP answer, a log line.
 */
export type ErrorStatusKey = 'invalid' | 'unavailable' | 'refused' | 'failed';

export interface TtsErrorInit {
  /** Stable machine-readable code (snake_case), e.g. `store_unavailable`. */
  code: string;
  /** HTTP status for an admin route or webhook answering with this error. */
  httpStatus: number;
  statusKey: ErrorStatusKey;
}

/**
 * Base of every error this package raises on purpose. The message is plain text safe for logs,
 * status and HTTP answers (never a secret); subclasses may carry plain data fields as well.
 */
export class TtsError extends Error {
  readonly code: string;
  readonly httpStatus: number;
  readonly statusKey: ErrorStatusKey;

  constructor(message: string, init: TtsErrorInit) {
    super(message);
    this.name = new.target.name;
    this.code = init.code;
    this.httpStatus = init.httpStatus;
    this.statusKey = init.statusKey;
  }

  /** Plain facts an HTTP answer may add to code and message (never a secret). */
  publicDetails(): Record<string, string | number | undefined> {
    return {};
  }

  /** The few words a node's status shows beside its status text (`refused: HTTP 404`). */
  statusReason(): string {
    return this.code;
  }

  /** A text in the reporting node's `errors.` catalogue to show instead of the message (translated). */
  catalogueKey(): string | undefined {
    return undefined;
  }
}

/** Shorthands for the common kinds. */
export const INVALID_INPUT: TtsErrorInit = { code: 'invalid_input', httpStatus: 400, statusKey: 'invalid' };
export const UNAVAILABLE = (code: string): TtsErrorInit => ({ code, httpStatus: 503, statusKey: 'unavailable' });
/** What an admin route asks about does not exist (or is not deployed). */
export const NOT_FOUND = (code: string): TtsErrorInit => ({ code, httpStatus: 404, statusKey: 'invalid' });
/** A malformed admin request. */
export const BAD_REQUEST: TtsErrorInit = { code: 'bad_request', httpStatus: 400, statusKey: 'invalid' };

export function isTtsError(err: unknown): err is TtsError {
  return err instanceof TtsError;
}

/** The text of any thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Error text safe for status, logs and answers: connection strings never appear in it. */
export function describeError(err: unknown): string {
  return errorMessage(err).replace(/postgres(?:ql)?:\/\/[^\s"']+/gi, 'postgres://…');
}
