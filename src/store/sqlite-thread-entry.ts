// The SQLite thread's side (a worker_threads worker, see sqlite-thread.ts): one SqliteBackend, its
// connection and statements, answering the main thread's calls in the order they arrive. Each
// call is synchronous underneath, so answers go back in that order too.
import { parentPort, workerData } from 'node:worker_threads';
import type { RetentionBucket } from './backend';
import { SqliteBackend } from './sqlite-backend';
import { batchFromWire, resultToWire, toWireError, type ThreadAnswer, type ThreadCall, type ThreadInput } from './sqlite-thread-wire';

const port = parentPort;
if (!port) throw new Error('sqlite-thread-entry runs in a worker thread');

const input = (workerData as { ttsSqliteThread: ThreadInput }).ttsSqliteThread;
const backend = new SqliteBackend(input.file, input.options);

// One retention step per call: SQLite takes no lock for a run (each step is its own transaction).
const retention = <T>(step: Parameters<SqliteBackend['withRetentionLock']>[0]): Promise<T> =>
  backend.withRetentionLock(step) as Promise<T>;

function answer(call: ThreadCall): Promise<unknown> {
  const a = call.a as never[];
  switch (call.m) {
    case 'writeBatch':
      return backend.writeBatch(batchFromWire(a[0])).then(resultToWire);
    case 'retentionBuckets':
      return retention((run) => run.buckets());
    case 'retentionTrim':
      return retention((run) => run.trim(a[0] as RetentionBucket, a[1], a[2]));
    default:
      return (backend[call.m] as (...args: unknown[]) => Promise<unknown>).apply(backend, a);
  }
}

port.on('message', (call: ThreadCall) => {
  let pending: Promise<unknown>;
  try {
    pending = answer(call);
  } catch (err) {
    pending = Promise.reject(err);
  }
  pending.then(
    (v) => port.postMessage({ s: call.s, v } satisfies ThreadAnswer),
    (err: unknown) => port.postMessage({ s: call.s, e: toWireError(err, backend) } satisfies ThreadAnswer),
  );
});
