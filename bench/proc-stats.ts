// CPU time and resident memory of another process, from /proc (Linux).
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (getconf CLK_TCK: 100 on Linux). */
const CLOCK_TICKS = 100;

function statCpuMicros(statFile: string): number {
  const stat = readFileSync(statFile, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1_000_000) / CLOCK_TICKS;
}

/** User + system CPU time the process (or its thread `tid`) has used so far, in µs (10 ms resolution). */
export function cpuMicros(pid: number, tid?: number): number {
  return statCpuMicros(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`);
}

/**
 * CPU time so far per thread kind: the main thread (the event loop) apart from the others,
 * which are grouped by name (libuv's pool, V8's helpers, worker threads...). Threads that ended
 * are not counted: compare two readings of long-lived threads only.
 */
export function threadCpuMicros(pid: number): Map<string, number> {
  const byKind = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const kind = Number(tid) === pid ? 'main thread' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      byKind.set(kind, (byKind.get(kind) ?? 0) + cpuMicros(pid, Number(tid)));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return byKind;
}

/**
 * CPU time of a process and of its children (live ones from /proc, ended ones from the parent's
 * cutime/cstime), in µs: a PostgreSQL server is its postmaster and one process per connection.
 */
export function treeCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  let total = ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 1_000_000) / CLOCK_TICKS;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const child = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(child.slice(child.lastIndexOf(')') + 2).split(' ')[1]) === pid) total += statCpuMicros(`/proc/${entry}/stat`);
    } catch {
      // ended between the listing and the read
    }
  }
  return total;
}

/**
 * A PostgreSQL server's CPU time so far in µs: its connection backends (their command line names
 * the client's address) apart from the rest (postmaster, WAL writer, checkpointer, ended processes).
 */
export function postgresCpuMicros(postmaster: number): { backends: number; rest: number } {
  const total = treeCpuMicros(postmaster);
  let backends = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== postmaster) continue;
      if (/\(\d+\)/.test(readFileSync(`/proc/${entry}/cmdline`, 'utf8'))) backends += statCpuMicros(`/proc/${entry}/stat`);
    } catch {
      // ended between the listing and the read
    }
  }
  return { backends, rest: total - backends };
}

/** The whole machine's CPU time so far, all cores, and the idle part of it (idle + iowait), in ticks. */
export function machineTicks(): { total: number; idle: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { total: fields.reduce((a, b) => a + b, 0), idle: fields[3] + fields[4] };
}

/** Resident set size in MB. */
export function rssMB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
  return kb / 1024;
}
