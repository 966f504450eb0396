// Where a Node-RED process's CPU goes: a V8 `--cpu-prof` profile, restricted to a time window
// (the measured load), each sample charged to the innermost frame of its stack that belongs to
// one of the buckets below (a sample in JSON.parse called by the inbox is inbox time; one in
// i18next called from anywhere is status time). The profile's clock is the system's monotonic
// clock, the same as process.hrtime in the bench. A sample stands for the wall time until the
// next one, which on a busy machine includes time the process was not running: the shares are
// what the profile says, the bench scales them to the CPU time /proc measured.
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export const BUCKETS = ['status', 'store', 'HTTP path', 'inbox', 'codec', 'rest'] as const;
export type Bucket = (typeof BUCKETS)[number];

const RULES: Array<[Exclude<Bucket, 'rest'>, RegExp]> = [
  ['status', /\/nodes\/shared\/status\.js|\/i18next\/|@node-red\/util\/lib\/i18n\.js/],
  ['inbox', /\/dist\/src\/inbox\/|\/dist\/nodes\/shared\/inbox-runtime\.js/],
  ['codec', /\/dist\/src\/codec\/|\/dist\/nodes\/tts-uplink-decode\//],
  ['store', /\/dist\/src\/(store|registry)\/|\/dist\/nodes\/tts-(provision|bucket|store)\/|\/node_modules\/(better-sqlite3|pg|pg-[a-z-]+|pgpass|postgres-[a-z-]+)\//],
  [
    'HTTP path',
    /\/dist\/src\/webhook\/|\/dist\/nodes\/tts-webhook-in\/|\/node_modules\/(express|router|body-parser|raw-body|cors|finalhandler|on-finished|type-is|content-type|media-typer|qs|iconv-lite|parseurl|accepts|negotiator|vary|statuses|http-errors|depd|send|serve-static|cookie-parser|cookie|passport|path-to-regexp|utils-merge|merge-descriptors|setprototypeof|bytes|unpipe|destroy|encodeurl|escape-html|etag|fresh|range-parser|proxy-addr|forwarded|ipaddr\.js)\/|^node:(_http_|http$|net$|stream|internal\/(http|streams|stream_base))/,
  ],
];

export interface Breakdown {
  /** Share of the non-idle samples per bucket (0..1). */
  share: Record<Bucket, number>;
  /** Sampled µs per uplink of all non-idle samples in the window (wall time between samples: more than CPU time when the machine is busy). */
  total: number;
  /** The largest contributors to `rest` (module or native function), share of all samples. */
  restTop: Array<[string, number]>;
  /** Samples in the window, and whether the window had to fall back to the whole profile. */
  samples: number;
  wholeProfile: boolean;
}

function restLabel(frame: CallFrame): string {
  const url = frame.url;
  if (!url) return frame.functionName || '(anonymous native)';
  const dist = /\/dist\/(.+)$/.exec(url);
  if (dist) return dist[1];
  const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (mod) return mod[1];
  return url.replace(/^file:\/\//, '');
}

/**
 * Breaks down the samples taken between `fromUs` and `toUs` (monotonic µs, process.hrtime
 * scale) over `uplinks`.
 */
export function breakdown(file: string, fromUs: number, toUs: number, uplinks: number): Breakdown {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  // Each node's bucket (innermost matching frame on its stack), memoised per node.
  const bucketOf = new Map<number, Bucket>();
  const classify = (id: number): Bucket => {
    const known = bucketOf.get(id);
    if (known) return known;
    const frame = byId.get(id)!.callFrame;
    const rule = RULES.find(([, re]) => re.test(frame.url));
    const parentId = parent.get(id);
    const bucket: Bucket = rule ? rule[0] : parentId === undefined ? 'rest' : classify(parentId);
    bucketOf.set(id, bucket);
    return bucket;
  };

  const within = (t: number): boolean => t >= fromUs && t <= toUs;
  let t = profile.startTime;
  const stamps = profile.timeDeltas.map((d) => (t += d));
  const wholeProfile = !stamps.some(within);
  const totals = Object.fromEntries(BUCKETS.map((b) => [b, 0])) as Record<Bucket, number>;
  const rest = new Map<string, number>();
  let samples = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    if (!wholeProfile && !within(stamps[i])) continue;
    const id = profile.samples[i];
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') continue;
    // A sample stands for the time until the next one.
    const us = (stamps[i + 1] ?? profile.endTime) - stamps[i];
    const bucket = classify(id);
    totals[bucket] += us;
    samples += 1;
    if (bucket === 'rest') rest.set(restLabel(frame), (rest.get(restLabel(frame)) ?? 0) + us);
  }
  const all = BUCKETS.reduce((sum, b) => sum + totals[b], 0) || 1;
  const share = Object.fromEntries(BUCKETS.map((b) => [b, totals[b] / all])) as Record<Bucket, number>;
  const restTop = [...rest].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([label, us]) => [label, us / all] as [string, number]);
  return { share, total: all / uplinks, restTop, samples, wholeProfile };
}
