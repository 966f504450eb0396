/** The store cannot be reached (PostgreSQL down, SQLite file not openable). */
export class StoreUnavailableError extends Error {
  constructor(reason: string) {
    super(`store unavailable: ${reason}`);
    this.name = 'StoreUnavailableError';
  }
}

/** The bounded queue of readings waiting for the store is full: the reading was not accepted. */
export class QueueFullError extends Error {
  constructor(limit: number, reason: string | undefined) {
    super(
      `store write queue is full (${limit} readings waiting)${reason ? `; store unavailable: ${reason}` : ''}: reading not stored`,
    );
    this.name = 'QueueFullError';
  }
}

/** Input the store refuses (bad bucket id, non-object payload, bad time range…). */
export class StoreInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreInputError';
  }
}

/** Error text safe for status and logs: connection strings never appear in it. */
export function describeError(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/postgres(?:ql)?:\/\/[^\s"']+/gi, 'postgres://…');
}

/** The store refused one write because of its data (a constraint, a conflicting registry id). */
export class StoreDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreDataError';
  }
}

/** A refusal that passes (unreachable, closing, queue full): the message may be handed back and retried. */
export function isPassingStoreError(err: unknown): err is StoreUnavailableError | QueueFullError {
  return err instanceof StoreUnavailableError || err instanceof QueueFullError;
}
