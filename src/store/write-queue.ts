// The store's bounded queue of readings waiting to be written, and how their callers are told.
//
// A burst of writes should cost little beyond the database's own work, so a queued reading is
// one element in each of a few column arrays (no object of its own), and readings accepted one
// after another share one settlement (a group with one promise) instead of a promise and two
// resolver closures apiece. A group never spans two batches (it holds at most one batch and is
// closed once a flush takes it), so a group's outcome is exactly the outcome of the transaction
// its readings were in.
import type { ReadingColumns } from './backend';

export interface WriteOutcome {
  /** True when the store is unreachable and the reading waits in memory to be written. */
  queued: boolean;
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

const QUEUED: WriteOutcome = Object.freeze({ queued: true });
const WRITTEN: WriteOutcome = Object.freeze({ queued: false });

class Group {
  readonly promise: Promise<WriteOutcome>;
  size = 0;
  /** The callers were told already (queued, or failed). */
  settled = false;
  /** Taken by a flush: later readings start a new group. */
  closed = false;
  private resolveFn!: (outcome: WriteOutcome) => void;
  private rejectFn!: (err: Error) => void;

  constructor() {
    this.promise = new Promise<WriteOutcome>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
  }

  settle(outcome: WriteOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.resolveFn(outcome);
  }

  fail(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.rejectFn(err);
  }
}

/** Readings taken for one transaction (whole groups only); the columns are copies. */
export interface Batch {
  readonly rows: QueuedColumns;
  readonly count: number;
  readonly groups: number;
}

function emptyColumns(): QueuedColumns {
  return { bucket: [], bucketKey: [], ts: [], fCnt: [], fPort: [], data: [], radio: [] };
}

export class WriteQueue {
  private cols: QueuedColumns = emptyColumns();
  private groups: Group[] = [];

  constructor(private readonly groupLimit: number) {}

  get length(): number {
    return this.cols.ts.length;
  }

  /**
   * Queues a reading. `reportQueued`: the store is unreachable, so the caller learns at once that
   * the reading waits in memory; otherwise the promise settles when its transaction commits.
   */
  push(
    bucket: string,
    bucketKey: number,
    ts: number,
    fCnt: number,
    fPort: number | null,
    data: string,
    radio: string | null,
    reportQueued: boolean,
  ): Promise<WriteOutcome> {
    const c = this.cols;
    c.bucket.push(bucket);
    c.bucketKey.push(bucketKey);
    c.ts.push(ts);
    c.fCnt.push(fCnt);
    c.fPort.push(fPort);
    c.data.push(data);
    c.radio.push(radio);
    let group = this.groups[this.groups.length - 1];
    if (!group || group.closed || group.size >= this.groupLimit || group.settled !== reportQueued) {
      group = new Group();
      if (reportQueued) group.settle(QUEUED);
      this.groups.push(group);
    }
    group.size++;
    return group.promise;
  }

  /** The oldest readings, whole groups of them, at most `max` (at least one group). */
  take(max: number): Batch {
    let count = 0;
    let groups = 0;
    while (groups < this.groups.length) {
      const group = this.groups[groups];
      if (groups > 0 && count + group.size > max) break;
      group.closed = true;
      count += group.size;
      groups++;
    }
    const c = this.cols;
    const rows: QueuedColumns = {
      bucket: c.bucket.slice(0, count),
      bucketKey: c.bucketKey.slice(0, count),
      ts: c.ts.slice(0, count),
      fCnt: c.fCnt.slice(0, count),
      fPort: c.fPort.slice(0, count),
      data: c.data.slice(0, count),
      radio: c.radio.slice(0, count),
    };
    return { rows, count, groups };
  }

  /** The batch is committed: its readings leave the queue and their callers are told. */
  committed(batch: Batch): void {
    for (const group of this.remove(batch)) group.settle(WRITTEN);
  }

  /**
   * The batch can never be written (the database refuses its data): its callers get `err`.
   * Returns how many of its readings had been reported as queued (their callers cannot be told).
   */
  refused(batch: Batch, err: Error): number {
    let untold = 0;
    for (const group of this.remove(batch)) {
      if (group.settled) untold += group.size;
      else group.fail(err);
    }
    return untold;
  }

  /** The store became unreachable: every caller still waiting learns its reading is queued. */
  reportAllQueued(): void {
    for (const group of this.groups) group.settle(QUEUED);
  }

  /**
   * Empties the queue (store closing). Callers still waiting get `err`; returns how many readings
   * had been reported as queued and are now lost.
   */
  drain(err: Error): number {
    let lost = 0;
    for (const group of this.groups) {
      if (group.settled) lost += group.size;
      else group.fail(err);
    }
    this.cols = emptyColumns();
    this.groups = [];
    return lost;
  }

  private remove(batch: Batch): Group[] {
    const c = this.cols;
    for (const column of [c.bucket, c.bucketKey, c.ts, c.fCnt, c.fPort, c.data, c.radio]) column.splice(0, batch.count);
    return this.groups.splice(0, batch.groups);
  }
}
