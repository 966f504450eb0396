// WAL checkpoints off the event loop. With SQLite's automatic checkpoint the commit that crosses
// the threshold copies the WAL into the database file itself: with better-sqlite3 that blocks the
// event loop (and the commit) for as long as the copy takes, ~100 ms at 10,000 pages. Here the
// writing connection never checkpoints; a worker thread with its own connection runs PASSIVE
// checkpoints (they never wait for, nor block, the writer) at a fixed interval. SQLite restarts
// the WAL from its beginning once a checkpoint has copied all of it, so the file stays bounded.
import Database from 'better-sqlite3';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

export interface CheckpointStats {
  /** Checkpoints run so far. */
  runs: number;
  /** The longest one, ms (it ran in the worker: no commit waited for it). */
  maxMs: number;
  /** WAL frames copied by the last one. */
  lastFrames: number;
}

interface WorkerInput {
  file: string;
  interval: number;
}

interface WorkerReport {
  ms: number;
  frames: number;
}

/** Runs in the worker thread. */
function runWorker(input: WorkerInput): void {
  const db = new Database(input.file);
  db.pragma('busy_timeout = 5000');
  // The writer owns checkpoints' timing; this connection must never trigger one of its own.
  db.pragma('wal_autocheckpoint = 0');
  const tick = (): void => {
    const t = performance.now();
    try {
      const rows = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ checkpointed: number }>;
      parentPort!.postMessage({ ms: performance.now() - t, frames: rows[0]?.checkpointed ?? 0 } satisfies WorkerReport);
    } catch {
      // Busy or the file went away: the next tick tries again.
    }
  };
  const timer = setInterval(tick, input.interval);
  parentPort!.on('message', (message: unknown) => {
    if (message !== 'stop') return;
    clearInterval(timer);
    db.close();
    parentPort!.close();
  });
}

if (!isMainThread && (workerData as { ttsCheckpointer?: WorkerInput } | undefined)?.ttsCheckpointer) {
  runWorker((workerData as { ttsCheckpointer: WorkerInput }).ttsCheckpointer);
}

// The worker runs one pragma per tick and keeps nothing: without limits its heap was sized like
// the main thread's (a 4 MB young generation, 8.5 MB committed after start, in every Node-RED
// with a SQLite store). A runaway worker ends with an error, and the writer checkpoints itself again.
const RESOURCE_LIMITS = { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 1 };

/** The main thread's handle on the checkpoint worker of one SQLite file. */
export class Checkpointer {
  readonly stats: CheckpointStats = { runs: 0, maxMs: 0, lastFrames: 0 };
  private worker: Worker | undefined;

  /** `fallback` runs when the worker cannot start or dies: the caller checkpoints on its own again. */
  constructor(file: string, interval: number, fallback: () => void) {
    const worker = new Worker(__filename, { workerData: { ttsCheckpointer: { file, interval } satisfies WorkerInput }, resourceLimits: RESOURCE_LIMITS });
    worker.unref();
    worker.on('message', (r: WorkerReport) => {
      this.stats.runs += 1;
      this.stats.maxMs = Math.max(this.stats.maxMs, r.ms);
      this.stats.lastFrames = r.frames;
    });
    worker.on('error', () => {
      this.worker = undefined;
      fallback();
    });
    this.worker = worker;
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    // Unref'd while it runs (it must not keep a process alive); waited for now, so ref'd again.
    worker.ref();
    worker.postMessage('stop');
    await exited;
  }
}
