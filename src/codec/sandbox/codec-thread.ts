// Queued decodes run in one worker thread per process instead of the event loop. A protected
// run in the event loop needs vm's watchdog, which starts a thread per run (60-250 µs, more than
// the decode itself, and now and then a spurious timeout on a busy machine). The codec thread
// runs the same sandbox without it; this side watches the clock and, when an input runs past its
// limit, ends the thread, fails that input with a timeout and hands every other outstanding
// input to a fresh thread. The decode work itself leaves the event loop too.
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { failedResult, timeoutError, type CodecError } from './results';
import type { Operation, OperationResult, SandboxOptions } from './sandbox';
import { ChurnMap } from '../../util/churn-map';

export type ThreadRequest =
  | { t: 'init'; progress: SharedArrayBuffer }
  | { t: 'load'; id: number; source: string; options: SandboxOptions }
  | { t: 'drop'; id: number }
  | { t: 'run'; seq: number; id: number; op: Operation; inputs: unknown[]; from: number };

/** `results` null: the codec did not load in the thread (its top level ran past the load limit on a busy machine, say). */
export type ThreadReply = { t: 'done'; seq: number; results: OperationResult[] | null };

interface Registered {
  source: string;
  options: SandboxOptions;
}

interface Job {
  seq: number;
  id: number;
  op: Operation;
  inputs: unknown[];
  /** Results so far (a job restarted after a timeout keeps the ones it had). */
  results: Array<OperationResult | undefined>;
  /** First input not answered yet: where a restarted thread resumes. */
  from: number;
  resolve(results: Array<OperationResult | undefined>): void;
}

/** One result per input; undefined where the thread could not run it: the caller runs that one itself. */
export type Answer = Array<OperationResult | undefined>;

const ENTRY = join(__dirname, 'codec-thread-entry.js');
// A script that allocates without bound ends the thread, not Node-RED. Decodes make short-lived
// garbage only: a small young generation keeps the thread's share of RSS small (2 MB, as the
// SQLite thread's: each MB of young generation is resident once used).
const RESOURCE_LIMITS = { maxOldGenerationSizeMb: 512, maxYoungGenerationSizeMb: 2 };

export class CodecThread {
  private worker: Worker | undefined;
  /** [job seq, input index, since (ms, 0 when idle)], written by the thread before each input. */
  private progress = newProgress();
  private readonly codecs = new Map<number, Registered>();
  private readonly jobs = new ChurnMap<number, Job>();
  private nextId = 1;
  private nextSeq = 1;
  private watch: NodeJS.Timeout | undefined;

  /** Number of threads started so far (one more after every timeout or crash). */
  started = 0;
  /** Set when a thread ended without having run anything: from then on callers decode themselves. */
  private broken = false;

  /** Whether a thread is up (it ends with the last registered codec). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  register(source: string, options: SandboxOptions): number {
    const id = this.nextId++;
    this.codecs.set(id, { source, options });
    this.worker?.postMessage({ t: 'load', id, source, options } satisfies ThreadRequest);
    return id;
  }

  unregister(id: number): void {
    if (!this.codecs.delete(id)) return;
    this.worker?.postMessage({ t: 'drop', id } satisfies ThreadRequest);
    if (this.codecs.size === 0 && this.jobs.size === 0) this.stopWorker();
  }

  /**
   * Runs `inputs` through the codec; resolves with one result per input, in order. An entry is
   * undefined when the codec could not be loaded in the thread: the caller runs it itself.
   */
  run(id: number, op: Operation, inputs: unknown[]): Promise<Answer> {
    if (this.broken) return Promise.resolve(new Array<OperationResult | undefined>(inputs.length));
    return new Promise((resolve) => {
      const job: Job = { seq: this.nextSeq++, id, op, inputs, results: new Array(inputs.length), from: 0, resolve };
      this.jobs.set(job.seq, job);
      this.post(job);
      this.watchClock();
    });
  }

  private post(job: Job): void {
    this.ensureWorker().postMessage({ t: 'run', seq: job.seq, id: job.id, op: job.op, inputs: job.inputs, from: job.from } satisfies ThreadRequest);
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(ENTRY, { resourceLimits: RESOURCE_LIMITS });
    this.started += 1;
    this.worker = worker;
    this.progress = newProgress();
    worker.postMessage({ t: 'init', progress: this.progress.buffer as SharedArrayBuffer } satisfies ThreadRequest);
    for (const [id, codec] of this.codecs) worker.postMessage({ t: 'load', id, source: codec.source, options: codec.options } satisfies ThreadRequest);
    worker.on('message', (reply: ThreadReply) => {
      if (worker === this.worker) this.onReply(reply);
    });
    // A thread that dies by itself (out of memory, say) fails the input it was on. One that
    // dies before running anything would die again: callers then decode in the event loop.
    const lost = (reason: string): void => {
      if (worker !== this.worker) return;
      if (!(this.progress[2] > 0)) this.broken = true;
      this.restart({ kind: 'runtime', message: `the codec thread stopped: ${reason}` });
    };
    worker.on('error', (err) => lost(err.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    return worker;
  }

  private onReply(reply: ThreadReply): void {
    const job = this.jobs.get(reply.seq);
    if (!job) return;
    this.jobs.delete(reply.seq);
    if (reply.results) for (let i = 0; i < reply.results.length; i++) job.results[job.from + i] = reply.results[i];
    job.resolve(job.results);
    if (this.jobs.size === 0) this.idle();
  }

  /** Ends the thread; the input it was on fails with `error`, everything outstanding goes to a new one. */
  private restart(error: CodecError): void {
    const [seq, index, since] = this.progress;
    this.stopWorker();
    const current = since > 0 ? this.jobs.get(seq) : undefined;
    if (current && index >= current.from && index < current.inputs.length) {
      current.results[index] = failedResult(error);
      current.from = index + 1;
    }
    for (const job of [...this.jobs.values()]) {
      if (job.from >= job.inputs.length || this.broken) {
        this.jobs.delete(job.seq);
        job.resolve(job.results);
      } else {
        this.post(job);
      }
    }
    if (this.jobs.size === 0) this.idle();
  }

  /** While jobs are outstanding, checks a few times per limit whether the input in flight is over it. */
  private watchClock(): void {
    this.worker?.ref();
    if (this.watch) return;
    let shortest = Infinity;
    for (const codec of this.codecs.values()) shortest = Math.min(shortest, codec.options.timeout);
    const every = Math.max(5, Math.min(50, Math.floor((Number.isFinite(shortest) ? shortest : 100) / 4)));
    this.watch = setInterval(() => this.check(), every);
  }

  private check(): void {
    const p = this.progress;
    const since = p[2];
    if (!(since > 0)) return;
    const seq = p[0];
    // The thread may have moved on while these were read: look again at the next tick.
    if (p[2] !== since) return;
    const job = this.jobs.get(seq);
    if (!job) return;
    const limit = this.codecs.get(job.id)?.options.timeout ?? 100;
    if (performance.timeOrigin + performance.now() - since <= limit) return;
    this.restart(timeoutError(limit));
  }

  private idle(): void {
    if (this.watch) clearInterval(this.watch);
    this.watch = undefined;
    if (this.codecs.size === 0) this.stopWorker();
    else this.worker?.unref();
  }

  private stopWorker(): void {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) void worker.terminate();
  }
}

function newProgress(): Float64Array {
  return new Float64Array(new SharedArrayBuffer(3 * Float64Array.BYTES_PER_ELEMENT));
}

let shared: CodecThread | undefined;

/** The process's codec thread (started on the first queued decode, ended with the last codec). */
export function codecThread(): CodecThread {
  shared ??= new CodecThread();
  return shared;
}
