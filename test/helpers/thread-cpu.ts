// CPU time of the calling thread alone. process.cpuUsage() counts every thread of the process (V8's
// garbage-collection helpers, the SQLite and codec worker threads, libuv's pool) as if the event
// loop had spent it, and Node 20 has no per-thread figure. Linux keeps one per thread in
// /proc/thread-self/schedstat (nanoseconds on the CPU, first field); the synchronous read runs on
// the calling thread, so that is the thread it describes.
import { readFileSync } from 'node:fs';

/** CPU time the calling thread has used so far, ms (nanosecond resolution). */
export function threadCpuMs(): number {
  const text = readFileSync('/proc/thread-self/schedstat', 'utf8');
  return Number(text.slice(0, text.indexOf(' '))) / 1e6;
}
