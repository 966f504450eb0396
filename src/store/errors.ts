import { describeError, INVALID_INPUT, isTtsError, TtsError, UNAVAILABLE } from '../util/errors';

/** The store cannot be reached (PostgreSQL down, SQLite file not openable). */
export class StoreUnavailableError extends TtsError {
  constructor(reason: string) {
    super(`store unavailable: ${reason}`, UNAVAILABLE('store_unavailable'));
    this.name = 'StoreUnavailableError';
  }
}

/** The bounded queue of readings waiting for the store is full: the reading was not accepted. */
export class QueueFullError extends TtsError {
  constructor(limit: number, reason: string | undefined) {
    super(
      `store write queue is full (${limit} readings waiting)${reason ? `; store unavailable: ${reason}` : ''}: reading not stored`,
      UNAVAILABLE('queue_full'),
    );
    this.name = 'QueueFullError';
  }
}

/** Input the store refuses (bad bucket id, non-object payload, bad time range…). */
export class StoreInputError extends TtsError {
  constructor(message: string) {
    super(message, INVALID_INPUT);
    this.name = 'StoreInputError';
  }
}

/** The store refused one write because of its data (a constraint, a conflicting registry id). */
export class StoreDataError extends TtsError {
  constructor(message: string) {
    super(message, { code: 'store_refused', httpStatus: 422, statusKey: 'invalid' });
    this.name = 'StoreDataError';
  }
}

/** A refusal that passes (unreachable, closing, queue full): the message may be handed back and retried. */
export function isPassingStoreError(err: unknown): err is StoreUnavailableError | QueueFullError {
  return err instanceof StoreUnavailableError || err instanceof QueueFullError;
}

/** What a failed store call means to whoever asked: errors raised on purpose as they are, anything else the store failing. */
export function asStoreError(err: unknown): TtsError {
  return isTtsError(err) ? err : new StoreUnavailableError(describeError(err));
}

export { describeError } from '../util/errors';
