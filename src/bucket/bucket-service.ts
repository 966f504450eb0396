// What tts-bucket does with a message, without Node-RED: which bucket, which time and frame
// counter a reading gets, retention of the buckets it writes, and query parameters to pages.
import { toChartPoints, type ChartPoint } from '../store/chart';
import { StoreInputError } from '../store/errors';
import { readingToRow } from '../store/export';
import type { TtsStore } from '../store/store';
import type { ReadingCursor, Retention, StoredReading } from '../store/types';
import { radioSummary } from '../registry/radio-summary';
import type { TtsEnvelope } from '../tts/envelope-types';
import { bool, parseCount, parseTime, retentionOf } from './bucket-input';

/** The node's configuration, as stored in the flow. */
export interface BucketConfig {
  mode?: string;
  bucket?: string;
  format?: string;
  limit?: string | number;
  radio?: boolean | string;
  maxAge?: string | number;
  maxRows?: string | number;
}

/** The message properties the service reads. */
export interface BucketMessage {
  payload?: unknown;
  bucket?: unknown;
  tts?: TtsEnvelope;
  from?: unknown;
  to?: unknown;
  limit?: unknown;
  last?: unknown;
  order?: unknown;
  format?: unknown;
  fields?: unknown;
  after?: unknown;
}

export interface StoredInfo {
  bucket: string;
  time: string;
  queued: false;
}

export interface QueryAnswer {
  bucket: string;
  payload: Array<ReturnType<typeof readingToRow>> | ChartPoint[];
  rows: number;
  next?: ReadingCursor;
}

/** A message the service cannot act on; `reason` names the reason for the node's translated text. */
export class BucketInputError extends StoreInputError {
  constructor(
    readonly reason: 'no-bucket' | 'order' | 'format',
    message: string,
  ) {
    super(message);
    this.name = 'BucketInputError';
  }

  override catalogueKey(): string {
    return this.reason;
  }
}

function isCursor(value: unknown): value is ReadingCursor {
  const v = value as { ts?: unknown; fCnt?: unknown } | undefined;
  return !!v && typeof v === 'object' && Number.isFinite(v.ts) && Number.isFinite(v.fCnt);
}

export class BucketService {
  readonly mode: 'write' | 'query';
  /** Set when the configuration is invalid: every message fails with it. */
  readonly configError: string | undefined;
  private readonly fixedBucket: string;
  private readonly withRadio: boolean;
  private readonly retention: Retention | undefined;
  // One retention update per bucket, shared by the messages that arrive while it runs, so they all
  // wait for the same promise and reach the store in the order they came.
  private readonly retentionApplied = new Map<string, Promise<void>>();

  constructor(
    private readonly store: TtsStore,
    private readonly config: BucketConfig,
  ) {
    this.mode = config.mode === 'query' ? 'query' : 'write';
    this.fixedBucket = (config.bucket ?? '').trim();
    this.withRadio = bool(config.radio);
    let retention: Retention | undefined;
    let configError: string | undefined;
    try {
      retention = retentionOf(config.maxAge, config.maxRows);
      parseCount(config.limit, 'limit');
    } catch (err) {
      configError = (err as Error).message;
    }
    this.retention = retention;
    this.configError = configError;
  }

  private bucketOf(msg: BucketMessage): string {
    const id = msg.bucket !== undefined && msg.bucket !== '' ? msg.bucket : this.fixedBucket;
    if (typeof id !== 'string' || id === '') throw new BucketInputError('no-bucket', "no bucket: set msg.bucket (tts-provision does) or the node's bucket");
    return id;
  }

  private applyRetention(bucket: string, wanted: Retention): Promise<void> {
    let applied = this.retentionApplied.get(bucket);
    if (!applied) {
      applied = this.store.setRetention(bucket, wanted).catch((err: unknown) => {
        this.retentionApplied.delete(bucket); // try again with the next message
        throw err;
      });
      this.retentionApplied.set(bucket, applied);
    }
    return applied;
  }

  /**
   * Writes the message's reading; resolves once it is committed. The time is the TTS message's
   * received_at (else now); uplinks add f_cnt and f_port (the reading's identity, so a replay is
   * stored once) and, when configured, the radio summary.
   */
  async write(msg: BucketMessage): Promise<StoredInfo> {
    const bucket = this.bucketOf(msg);
    const tts = msg.tts && typeof msg.tts === 'object' ? msg.tts : undefined;
    const received = tts ? Date.parse(tts.received_at) : Number.NaN;
    const ts = Number.isFinite(received) ? received : Date.now();
    const isUplink = tts?.type === 'uplink_message';
    if (this.retention) await this.applyRetention(bucket, this.retention);
    await this.store.write({
      bucket,
      ts,
      ...(isUplink && tts.f_cnt !== undefined ? { fCnt: tts.f_cnt } : {}),
      ...(isUplink && tts.f_port !== undefined ? { fPort: tts.f_port } : {}),
      data: msg.payload as Record<string, unknown>,
      ...(this.withRadio && isUplink ? { radio: radioSummary(tts) } : {}),
    });
    return { bucket, time: new Date(ts).toISOString(), queued: false };
  }

  /** One page of readings as the message asks: rows or chart points; `last` N come oldest first. */
  async query(msg: BucketMessage): Promise<QueryAnswer> {
    const bucket = this.bucketOf(msg);
    const from = parseTime(msg.from, 'from');
    const to = parseTime(msg.to, 'to');
    const last = parseCount(msg.last, 'msg.last');
    const limit = last ?? parseCount(msg.limit, 'msg.limit') ?? parseCount(this.config.limit, 'limit') ?? 1000;
    const order = last !== undefined ? 'desc' : msg.order === undefined ? 'asc' : msg.order;
    if (order !== 'asc' && order !== 'desc') throw new BucketInputError('order', 'msg.order must be "asc" or "desc"');
    const format = msg.format ?? this.config.format ?? 'rows';
    if (format !== 'rows' && format !== 'chart') throw new BucketInputError('format', 'msg.format must be "rows" or "chart"');
    const page = await this.store.query({
      bucket,
      limit,
      order,
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
      ...(isCursor(msg.after) ? { after: msg.after } : {}),
    });
    // "last N" is asked newest-first but shown oldest-first, as charts and tables expect.
    const rows: StoredReading[] = last !== undefined ? [...page.rows].reverse() : page.rows;
    const fields = Array.isArray(msg.fields) ? msg.fields.filter((f): f is string => typeof f === 'string') : undefined;
    const answer: QueryAnswer = { bucket, payload: format === 'chart' ? toChartPoints(rows, fields) : rows.map(readingToRow), rows: rows.length };
    if (page.next && last === undefined) answer.next = page.next;
    return answer;
  }
}
