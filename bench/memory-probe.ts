// Loaded into a bench Node-RED with `--require` (BENCH_MEMORY=1): when a file `<n>.request`
// appears in $BENCH_MEMORY_DIR (Node-RED takes SIGUSR2 for a restart) it writes what the
// process's memory is made of to `<n>.json` (n counting from 1), before and,
// when the process runs with --expose-gc, after a full collection (live data against garbage not
// yet collected). With BENCH_MEMORY_SAMPLING=1 a sampling heap profile runs from start and each
// probe also writes the allocation sites of what is live (`<n>.heapprofile`). (Node 20's
// includeObjectsCollectedByMajorGC kept objects that never left the young generation: no help
// in telling promoted garbage apart; --trace-gc-nvp's `promoted=` per scavenge is, and so is the
// GC account below.) Between two probes the main thread counts its collections (v8.GCProfiler:
// no flag needed): bytes promoted to the old generation by scavenges, old space's live data after
// each full collection and its largest size, which together say whether the heap is big because
// much is live or because much garbage reaches the old generation. Worker threads (they inherit
// --require) answer a probe with their own heap as `<n>.thread-<id>.json`.
import { existsSync, readFileSync, renameSync, watch, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { GCProfiler, getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { isMainThread, threadId } from 'node:worker_threads';

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

/** One worker thread's heap at a probe. */
export interface ThreadFacts {
  /** The thread's entry module (file name). */
  entry: string;
  heapUsed: number;
  heapCommitted: number;
  spaces: Record<string, [number, number]>;
  external: number;
}

/** The main thread's collections since the previous probe. */
export interface GcAccount {
  scavenges: number;
  fullGcs: number;
  /** MB moved to the old generation (old + large object spaces) by scavenges. */
  promoted: number;
  /**
   * MB the old generation grew by between collections: allocated there directly (large objects,
   * and objects of allocation sites V8 decided to pretenure: garbage there waits for a full GC).
   */
  allocatedOld: number;
  /** MB of old generation left after each full collection (its live data then). */
  liveAfterFull: number[];
  /** Largest old generation (old + large object spaces) committed, MB. */
  peakOldCommitted: number;
}

interface GcStatistic {
  gcType: string;
  beforeGC: { heapSpaceStatistics: Array<{ spaceName: string; spaceUsedSize: number; spaceSize: number }> };
  afterGC: { heapSpaceStatistics: Array<{ spaceName: string; spaceUsedSize: number; spaceSize: number }> };
}

const OLD_SPACES = new Set(['old_space', 'large_object_space']);
const oldOf = (spaces: GcStatistic['beforeGC']['heapSpaceStatistics'], field: 'spaceUsedSize' | 'spaceSize'): number =>
  spaces.filter((s) => OLD_SPACES.has(s.spaceName)).reduce((sum, s) => sum + s[field], 0);

function account(statistics: GcStatistic[]): GcAccount {
  const a: GcAccount = { scavenges: 0, fullGcs: 0, promoted: 0, allocatedOld: 0, liveAfterFull: [], peakOldCommitted: 0 };
  let previous: number | undefined;
  for (const s of statistics) {
    const before = oldOf(s.beforeGC.heapSpaceStatistics, 'spaceUsedSize');
    const after = oldOf(s.afterGC.heapSpaceStatistics, 'spaceUsedSize');
    if (previous !== undefined) a.allocatedOld += Math.max(0, before - previous);
    previous = after;
    a.peakOldCommitted = Math.max(a.peakOldCommitted, oldOf(s.beforeGC.heapSpaceStatistics, 'spaceSize'), oldOf(s.afterGC.heapSpaceStatistics, 'spaceSize'));
    if (s.gcType === 'Scavenge' || s.gcType === 'MinorMarkCompact') {
      a.scavenges += 1;
      a.promoted += Math.max(0, after - before);
    } else if (s.gcType === 'MarkSweepCompact') {
      a.fullGcs += 1;
      a.liveAfterFull.push(mb(after));
    }
  }
  a.promoted = mb(a.promoted);
  a.allocatedOld = mb(a.allocatedOld);
  a.peakOldCommitted = mb(a.peakOldCommitted);
  return a;
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

function threadFacts(): ThreadFacts {
  const spaces: ThreadFacts['spaces'] = {};
  for (const s of getHeapSpaceStatistics()) if (s.space_size > 0) spaces[s.space_name] = [mb(s.space_used_size), mb(s.space_size)];
  const heap = getHeapStatistics();
  // The entry is the first module loaded after this one (--require runs before it).
  const entry = Object.keys(require.cache).find((f) => f !== __filename) ?? '?';
  return { entry: entry.replace(/^.*\/dist\//, ''), heapUsed: mb(heap.used_heap_size), heapCommitted: mb(heap.total_heap_size), spaces, external: mb(heap.external_memory) };
}

const dir = process.env.BENCH_MEMORY_DIR;
const writeWhole = (name: string, text: string): void => {
  // Written whole, then renamed: the bench waits for the name to appear.
  writeFileSync(join(dir!, `${name}.part`), text);
  renameSync(join(dir!, `${name}.part`), join(dir!, name));
};
if (dir && !isMainThread) {
  let n = 0;
  watch(dir, () => {
    if (!existsSync(join(dir, `${n + 1}.request`))) return;
    n += 1;
    writeWhole(`${n}.thread-${threadId}.json`, JSON.stringify(threadFacts()));
  }).unref();
}
if (dir && isMainThread) {
  const gcProfiler = new GCProfiler();
  let counting = false;
  let n = 0;
  const session = new Session();
  // BENCH_MEMORY_SAMPLING=1: what is live, by allocation site (profile taken after the full
  // collection). =promoted: what reached the old generation since start, live or garbage: the
  // profile keeps what full collections free, and is taken before the forced full collection,
  // after two scavenges (which drop what died young and promote what survives).
  // =allocated: everything allocated since start, garbage or not (both kinds of collection keep
  // their samples), taken like `promoted`.
  const samplingMode = process.env.BENCH_MEMORY_SAMPLING;
  const sampling = samplingMode === '1' || samplingMode === 'promoted' || samplingMode === 'allocated';
  const promoted = samplingMode === 'promoted' || samplingMode === 'allocated';
  if (sampling) {
    session.connect();
    session.post('HeapProfiler.startSampling', {
      samplingInterval: 4096,
      ...(promoted ? { includeObjectsCollectedByMajorGC: true } : {}),
      ...(samplingMode === 'allocated' ? { includeObjectsCollectedByMinorGC: true } : {}),
    });
  }
  const write = writeWhole;
  type Gc = (options?: { type: 'minor' | 'major'; execution: 'sync' }) => void;
  const gc = (globalThis as { gc?: Gc }).gc;
  const profileTo = (id: number, then: () => void): void => {
    if (!sampling) return then();
    session.post('HeapProfiler.getSamplingProfile', (err, result) => {
      if (err) process.emitWarning(`memory probe: no heap profile: ${err.message}`);
      else write(`${id}.heapprofile`, JSON.stringify(result.profile));
      then();
    });
  };
  const probe = (): void => {
    if (!existsSync(join(dir, `${n + 1}.request`))) return;
    n += 1;
    const id = n;
    const before = facts();
    const gcs = counting ? account((gcProfiler.stop() as { statistics: GcStatistic[] }).statistics) : undefined;
    const finish = (): void => {
      gc?.();
      const after = gc ? facts() : undefined;
      const done = (): void => {
        gcProfiler.start();
        counting = true;
        // The worker threads answer the same request; they are given a moment before the bench reads.
        setTimeout(() => write(`${id}.json`, JSON.stringify({ before, after, gcs })), 300);
      };
      if (promoted) done();
      else profileTo(id, done);
    };
    if (!promoted) return finish();
    gc?.({ type: 'minor', execution: 'sync' });
    gc?.({ type: 'minor', execution: 'sync' });
    profileTo(id, finish);
  };
  watch(dir, probe).unref();
}
