// One profile's ring of log entries, kept as columns rather than as one object per entry. An
// entry stays for the next few hundred of its profile, long enough to outlive the young
// generation under load: as objects (about 300 bytes each, an entry or two per uplink) they were
// promoted and left as garbage in the old generation, which grew the heap. Columns of numbers
// and references to strings the entry was given take no allocation per entry (but its `detail`,
// kept as given); list() builds the objects when the editor asks.
import { LOG_KINDS, type LogEvent, type LogInput, type LogKind } from './log-types';

// `error` as given: absent, false or true.
const ERROR_ABSENT = 0;
const ERROR_FALSE = 1;
const ERROR_TRUE = 2;

export class LogRing {
  private readonly seqs: Float64Array;
  private readonly ats: Float64Array;
  private readonly kinds: Uint8Array;
  private readonly errors: Uint8Array;
  private readonly outcomes: string[];
  private readonly applicationIds: Array<string | undefined>;
  private readonly deviceIds: Array<string | undefined>;
  private readonly devices: Array<string | undefined>;
  private readonly reasons: Array<string | undefined>;
  private readonly details: Array<LogInput['detail']>;
  private next = 0;
  private size = 0;
  /** The sequence number of the newest entry. */
  lastSeq = 0;

  constructor(
    readonly capacity: number,
    /** Every entry's profile. */
    readonly profile: string,
  ) {
    this.seqs = new Float64Array(capacity);
    this.ats = new Float64Array(capacity);
    this.kinds = new Uint8Array(capacity);
    this.errors = new Uint8Array(capacity);
    // Filled up front: dense arrays of a fixed length, written in place.
    this.outcomes = new Array<string>(capacity).fill('');
    this.applicationIds = new Array<string | undefined>(capacity).fill(undefined);
    this.deviceIds = new Array<string | undefined>(capacity).fill(undefined);
    this.devices = new Array<string | undefined>(capacity).fill(undefined);
    this.reasons = new Array<string | undefined>(capacity).fill(undefined);
    this.details = new Array<LogInput['detail']>(capacity).fill(undefined);
  }

  /** Keeps an entry of this ring's profile, overwriting the oldest once full. */
  push(input: LogInput, seq: number, at: number): void {
    const i = this.next;
    this.seqs[i] = seq;
    this.ats[i] = at;
    this.kinds[i] = LOG_KINDS.indexOf(input.kind);
    this.errors[i] = input.error === undefined ? ERROR_ABSENT : input.error ? ERROR_TRUE : ERROR_FALSE;
    this.outcomes[i] = input.outcome;
    this.applicationIds[i] = input.applicationId;
    this.deviceIds[i] = input.deviceId;
    this.devices[i] = input.device;
    this.reasons[i] = input.reason;
    this.details[i] = input.detail;
    this.next = (i + 1) % this.capacity;
    if (this.size < this.capacity) this.size += 1;
    this.lastSeq = seq;
  }

  /** The entries, newest first, as the objects they were recorded as (with seq and at). */
  newestFirst(): LogEvent[] {
    const out: LogEvent[] = [];
    for (let n = 1; n <= this.size; n++) out.push(this.entry((this.next - n + this.capacity) % this.capacity));
    return out;
  }

  private entry(i: number): LogEvent {
    const event: LogEvent = { kind: LOG_KINDS[this.kinds[i]] as LogKind, outcome: this.outcomes[i], profile: this.profile, seq: this.seqs[i], at: this.ats[i] };
    if (this.errors[i] !== ERROR_ABSENT) event.error = this.errors[i] === ERROR_TRUE;
    const applicationId = this.applicationIds[i];
    if (applicationId !== undefined) event.applicationId = applicationId;
    const deviceId = this.deviceIds[i];
    if (deviceId !== undefined) event.deviceId = deviceId;
    const device = this.devices[i];
    if (device !== undefined) event.device = device;
    const reason = this.reasons[i];
    if (reason !== undefined) event.reason = reason;
    const detail = this.details[i];
    if (detail !== undefined) event.detail = detail;
    return event;
  }
}
