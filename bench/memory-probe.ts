// Loaded into a bench Node-RED with `--require` (BENCH_MEMORY=1): when a file `<n>.request`
// appears in $BENCH_MEMORY_DIR (Node-RED takes SIGUSR2 for a restart) it writes what the
// process's memory is made of to `<n>.json` (n counting from 1), before and,
// when the process runs with --expose-gc, after a full collection (live data against garbage not
// yet collected). With BENCH_MEMORY_SAMPLING=1 a sampling heap profile runs from start and each
// probe also writes the allocation sites of what is live (`<n>.heapprofile`). (Node 20's
// includeObjectsCollectedByMajorGC kept objects that never left the young generation: no help
// in telling promoted garbage apart; --trace-gc-nvp's `promoted=` per scavenge is.)
import { existsSync, readFileSync, renameSync, watch, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { isMainThread } from 'node:worker_threads';

const MB = 1024 * 1024;
const mb = (n: number): number => Math.round((n / MB) * 10) / 10;

export interface MemoryFacts {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** Main isolate's V8 heap spaces: used / committed, MB. */
  spaces: Record<string, [number, number]>;
  /** Memory V8 allocated with malloc (outside its heap: compiler zones, handles...). */
  malloced: number;
  /** /proc/self/smaps_rollup, MB: anonymous (heaps, malloc) and file-backed (code, mapped files). */
  anonymous: number;
  fileBacked: number;
  threads: number;
}

function facts(): MemoryFacts {
  const usage = process.memoryUsage();
  const spaces: MemoryFacts['spaces'] = {};
  for (const s of getHeapSpaceStatistics()) spaces[s.space_name] = [mb(s.space_used_size), mb(s.space_size)];
  const rollup = readFileSync('/proc/self/smaps_rollup', 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? NaN) * 1024;
  const rss = kb('Rss');
  const anonymous = kb('Anonymous');
  const threads = Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
  return {
    rss: mb(usage.rss),
    heapTotal: mb(usage.heapTotal),
    heapUsed: mb(usage.heapUsed),
    external: mb(usage.external),
    arrayBuffers: mb(usage.arrayBuffers),
    spaces,
    malloced: mb(getHeapStatistics().malloced_memory),
    anonymous: mb(anonymous),
    fileBacked: mb(rss - anonymous),
    threads,
  };
}

const dir = process.env.BENCH_MEMORY_DIR;
// Worker threads inherit --require: only the main isolate answers.
if (dir && isMainThread) {
  let n = 0;
  const session = new Session();
  const sampling = process.env.BENCH_MEMORY_SAMPLING === '1';
  if (sampling) {
    session.connect();
    session.post('HeapProfiler.startSampling', { samplingInterval: 4096 });
  }
  const write = (name: string, text: string): void => {
    // Written whole, then renamed: the bench waits for the name to appear.
    writeFileSync(join(dir, `${name}.part`), text);
    renameSync(join(dir, `${name}.part`), join(dir, name));
  };
  const probe = (): void => {
    if (!existsSync(join(dir, `${n + 1}.request`))) return;
    n += 1;
    const id = n;
    const before = facts();
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const after = gc ? facts() : undefined;
    const done = (): void => write(`${id}.json`, JSON.stringify({ before, after }));
    if (!sampling) return done();
    session.post('HeapProfiler.getSamplingProfile', (err, result) => {
      if (err) process.emitWarning(`memory probe: no heap profile: ${err.message}`);
      else write(`${id}.heapprofile`, JSON.stringify(result.profile));
      done();
    });
  };
  watch(dir, probe).unref();
}
