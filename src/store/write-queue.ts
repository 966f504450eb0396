// The store's bounded queues of writes waiting for the next flush: readings, and the device writes
// (creations and sightings) that go into the same transaction.
//
// A queued reading is one element in each of a few column arrays (no object of its own) plus its
// settlement. Every write settles only when its transaction commits (or with the reason it never
// will): a caller that was told "done" can forget the message.
import type { DeviceWrite, DeviceWriteResult, ReadingColumns } from './backend';

export interface WriteOutcome {
  /** Always false: a write resolves only once committed (kept for flows reading msg.stored.queued). */
  queued: false;
}

/** Columns of queued readings (a ReadingColumns plus bucket ids); `bucketKey` is -1 until known. */
export interface QueuedColumns extends ReadingColumns {
  bucket: string[];
  bucketKey: number[];
  ts: number[];
  fCnt: number[];
  fPort: Array<number | null>;
  data: string[];
  radio: Array<string | null>;
}

interface Settle<T> {
  resolve(value: T): void;
  reject(err: Error): void;
}

export const WRITTEN: WriteOutcome = Object.freeze({ queued: false });

function emptyColumns(): QueuedColumns {
  return { bucket: [], bucketKey: [], ts: [], fCnt: [], fPort: [], data: [], radio: [] };
}

/** Readings and device writes taken for one transaction, oldest first. */
export class Batch {
  constructor(
    readonly rows: QueuedColumns,
    readonly readingSettles: Array<Settle<WriteOutcome>>,
    readonly devices: DeviceWrite[],
    readonly deviceSettles: Array<Settle<DeviceWriteResult>>,
  ) {}

  get size(): number {
    return this.readingSettles.length + this.devices.length;
  }

  /** The first `n` items (device writes first, then readings) and the rest, as two batches. */
  split(n: number): [Batch, Batch] {
    const d = Math.min(n, this.devices.length);
    const r = n - d;
    const slice = (from: number, to?: number): QueuedColumns => {
      const c = this.rows;
      return {
        bucket: c.bucket.slice(from, to),
        bucketKey: c.bucketKey.slice(from, to),
        ts: c.ts.slice(from, to),
        fCnt: c.fCnt.slice(from, to),
        fPort: c.fPort.slice(from, to),
        data: c.data.slice(from, to),
        radio: c.radio.slice(from, to),
      };
    };
    return [
      new Batch(slice(0, r), this.readingSettles.slice(0, r), this.devices.slice(0, d), this.deviceSettles.slice(0, d)),
      new Batch(slice(r), this.readingSettles.slice(r), this.devices.slice(d), this.deviceSettles.slice(d)),
    ];
  }

  committed(results: DeviceWriteResult[]): void {
    for (let i = 0; i < this.deviceSettles.length; i++) this.deviceSettles[i].resolve(results[i]);
    for (const s of this.readingSettles) s.resolve(WRITTEN);
  }

  failed(err: Error): void {
    for (const s of this.deviceSettles) s.reject(err);
    for (const s of this.readingSettles) s.reject(err);
  }
}

export class WriteQueue {
  private cols: QueuedColumns = emptyColumns();
  private settles: Array<Settle<WriteOutcome>> = [];
  private devices: DeviceWrite[] = [];
  private deviceSettles: Array<Settle<DeviceWriteResult>> = [];

  /** Readings waiting. */
  get length(): number {
    return this.settles.length;
  }

  /** Device writes waiting. */
  get deviceLength(): number {
    return this.devices.length;
  }

  get empty(): boolean {
    return this.settles.length === 0 && this.devices.length === 0;
  }

  push(bucket: string, bucketKey: number, ts: number, fCnt: number, fPort: number | null, data: string, radio: string | null): Promise<WriteOutcome> {
    const c = this.cols;
    c.bucket.push(bucket);
    c.bucketKey.push(bucketKey);
    c.ts.push(ts);
    c.fCnt.push(fCnt);
    c.fPort.push(fPort);
    c.data.push(data);
    c.radio.push(radio);
    return new Promise<WriteOutcome>((resolve, reject) => {
      this.settles.push({ resolve, reject });
    });
  }

  pushDevice(write: DeviceWrite): Promise<DeviceWriteResult> {
    this.devices.push(write);
    return new Promise<DeviceWriteResult>((resolve, reject) => {
      this.deviceSettles.push({ resolve, reject });
    });
  }

  /** The oldest writes: at most `max` readings and `max` device writes. */
  take(max: number): Batch {
    const n = Math.min(max, this.settles.length);
    const c = this.cols;
    const rows: QueuedColumns = {
      bucket: c.bucket.splice(0, n),
      bucketKey: c.bucketKey.splice(0, n),
      ts: c.ts.splice(0, n),
      fCnt: c.fCnt.splice(0, n),
      fPort: c.fPort.splice(0, n),
      data: c.data.splice(0, n),
      radio: c.radio.splice(0, n),
    };
    const d = Math.min(max, this.devices.length);
    return new Batch(rows, this.settles.splice(0, n), this.devices.splice(0, d), this.deviceSettles.splice(0, d));
  }

  /** Empties the queue: every waiting caller gets `err`. Returns how many writes that was. */
  drain(err: Error): number {
    const all = this.take(Number.MAX_SAFE_INTEGER);
    all.failed(err);
    return all.size;
  }
}
