// The event log's entry types, shared by the log and its rings.
/** What an entry is about; the editor's Logs filter offers these. */
export type LogKind = 'webhook' | 'provision' | 'decode' | 'downlink';

export const LOG_KINDS: readonly LogKind[] = ['webhook', 'provision', 'decode', 'downlink'];

/** What was recorded, before the log numbers and stamps it. */
export interface LogInput {
  kind: LogKind;
  /** The step: accepted, refused, created, online, offline, location, failed, requested, queued, sent, ack, nack, unconfirmed… */
  outcome: string;
  /** A failure or refusal (shown in red). */
  error?: boolean;
  /** Profile id; '' when none could be chosen (e.g. a webhook refused before its application was known). */
  profile: string;
  applicationId?: string;
  deviceId?: string;
  /** Registry id, when known. */
  device?: string;
  /** Why, for refusals and failures; never holds a secret (callers pass texts made safe for logs). */
  reason?: string;
  /** Short facts worth showing (message type, HTTP status, f_port, correlation id…), flat and small. */
  detail?: Record<string, string | number | boolean>;
  /** When it happened (ms); default now. */
  at?: number;
}

export interface LogEvent extends LogInput {
  /** Increasing over the log's life: the editor asks for events after the last it has. */
  seq: number;
  at: number;
}

export interface LogQuery {
  profile?: string;
  kind?: string;
  /** Matches `device`, `deviceId` or `applicationId/deviceId`. */
  device?: string;
  /** Only events with a higher seq. */
  after?: number;
  /** At most this many (newest first); default and cap: the per-profile capacity × profiles. */
  limit?: number;
}
