import fs from 'node:fs';
import path from 'node:path';
import { nanosToTimestamp, timestampNanos } from '../tts/timestamps';
import { uplinkKeys, type UplinkIdentity } from './uplink-keys';

/** One uplink near the newest one seen, kept so the start of a gap can be matched exactly. */
interface EdgeEntry {
  at: string;
  keys: string[];
}

/** In memory the time is kept parsed too. */
interface LiveEdgeEntry extends EdgeEntry {
  nanos: bigint;
}

/** Where a backfill of an application must start, kept until that backfill has finished. */
export interface OpenGap {
  from: string;
  /** Keys of the uplinks at `from` and just before it, already received. */
  keys: string[];
}

interface AppState {
  lastSeen: string;
  edge: EdgeEntry[];
  gap?: OpenGap;
}

interface LiveAppState extends AppState {
  lastSeenNanos: bigint;
  edge: LiveEdgeEntry[];
}

interface StateFile {
  version: 1;
  applications: Record<string, AppState>;
}

export interface GapTrackerOptions {
  /** The state file (in the Node-RED user directory). */
  file: string;
  /** Writes are at most this often (ms); close() writes at once. Default 2000. */
  writeIntervalMs?: number;
  /**
   * Uplinks this close (ms) to the newest are kept as the edge: webhook deliveries are not
   * ordered, so a gap may start a little before the newest uplink seen. Default 30 000.
   */
  edgeWindowMs?: number;
  /** At most this many edge entries per application. Default 200. */
  edgeMax?: number;
  /** Keys remembered per application while running, to skip what arrived already. Default 5000. */
  recentMax?: number;
  onWriteError?: (err: Error) => void;
}

/**
 * Per application: the newest received_at of the uplinks that reached the flow (live through
 * webhook-in, or fed in by a backfill), the uplinks at that edge, and the open gap a backfill
 * still has to fill. Kept in a small JSON file, written throttled and on close, so that after a
 * stop or a crash the package knows where the gap starts.
 */
export class GapTracker {
  private readonly file: string;
  private readonly writeIntervalMs: number;
  private readonly edgeWindowNanos: bigint;
  private readonly edgeMax: number;
  private readonly recentMax: number;
  private readonly apps = new Map<string, LiveAppState>();
  private readonly recent = new Map<string, Set<string>>();
  private timer?: NodeJS.Timeout;
  private dirty = false;
  private closed = false;

  constructor(private readonly options: GapTrackerOptions) {
    this.file = options.file;
    this.writeIntervalMs = options.writeIntervalMs ?? 2000;
    this.edgeWindowNanos = BigInt(options.edgeWindowMs ?? 30_000) * 1_000_000n;
    this.edgeMax = options.edgeMax ?? 200;
    this.recentMax = options.recentMax ?? 5000;
    this.load();
  }

  /**
   * Opens a gap for every application known from the state file: whatever it missed while
   * Node-RED was not running starts at its edge. Called once, when the runtime starts.
   */
  openGapsFromFile(): string[] {
    const opened: string[] = [];
    for (const appId of this.apps.keys()) if (this.openGap(appId)) opened.push(appId);
    return opened;
  }

  /** Marks the edge of an application as the start of a gap (unless one is open already). */
  openGap(appId: string, before?: { lastSeen: string; edge: EdgeEntry[] }): boolean {
    const app = this.apps.get(appId);
    if (!app) return false;
    if (app.gap) return true;
    const edge = before?.edge ?? app.edge;
    const lastSeen = timestampNanos(before?.lastSeen ?? app.lastSeen)!;
    // Deliveries are not ordered: one just before the newest may have failed. The whole edge
    // window is asked for again (its uplinks are known and skipped), unless the edge is full
    // and covers less.
    const windowStart = lastSeen - this.edgeWindowNanos;
    const edgeStart = edge.length >= this.edgeMax && edge[0] ? timestampNanos(edge[0].at)! : windowStart;
    app.gap = { from: nanosToTimestamp(edgeStart > windowStart ? edgeStart : windowStart), keys: edge.flatMap((e) => e.keys) };
    this.changed();
    return true;
  }

  gap(appId: string): OpenGap | undefined {
    return this.apps.get(appId)?.gap;
  }

  /** Moves the start of an open gap forward (progress of a backfill, so a restart resumes). */
  advanceGap(appId: string, from: string, keys: string[]): void {
    const gap = this.apps.get(appId)?.gap;
    if (!gap) return;
    const current = timestampNanos(gap.from) ?? 0n;
    const next = timestampNanos(from) ?? 0n;
    if (next < current) return;
    gap.keys = next === current ? [...new Set([...gap.keys, ...keys])] : keys;
    gap.from = from;
    this.changed();
  }

  closeGap(appId: string): void {
    const app = this.apps.get(appId);
    if (!app?.gap) return;
    delete app.gap;
    this.changed();
  }

  /** The newest received_at seen for the application, and its edge, as they are now. */
  snapshot(appId: string): { lastSeen: string; edge: EdgeEntry[] } | undefined {
    const app = this.apps.get(appId);
    return app ? { lastSeen: app.lastSeen, edge: app.edge.map((e) => ({ at: e.at, keys: [...e.keys] })) } : undefined;
  }

  applications(): string[] {
    return [...this.apps.keys()];
  }

  /** True when an uplink with any of these keys reached the flow already (or sits at the gap's start). */
  seen(appId: string, keys: readonly string[]): boolean {
    const recent = this.recent.get(appId);
    const gapKeys = this.apps.get(appId)?.gap?.keys;
    return keys.some((k) => recent?.has(k) || gapKeys?.includes(k));
  }

  /** Records an uplink that reached the flow. */
  received(appId: string, id: UplinkIdentity): void {
    const nanos = timestampNanos(id.receivedAt);
    if (nanos === undefined) return;
    const keys = uplinkKeys(id);
    this.remember(appId, keys);
    let app = this.apps.get(appId);
    if (!app) {
      app = { lastSeen: nanosToTimestamp(nanos), lastSeenNanos: nanos, edge: [] };
      this.apps.set(appId, app);
    }
    if (nanos > app.lastSeenNanos) {
      app.lastSeenNanos = nanos;
      app.lastSeen = nanosToTimestamp(nanos);
    }
    const oldest = app.lastSeenNanos - this.edgeWindowNanos;
    if (nanos >= oldest) {
      // Nearly always the newest: insert from the end.
      let i = app.edge.length;
      while (i > 0 && app.edge[i - 1].nanos > nanos) i--;
      app.edge.splice(i, 0, { at: nanosToTimestamp(nanos), nanos, keys });
      let drop = 0;
      while (drop < app.edge.length && (app.edge.length - drop > this.edgeMax || app.edge[drop].nanos < oldest)) drop++;
      if (drop > 0) app.edge.splice(0, drop);
    }
    this.changed();
  }

  /** Writes pending changes now (synchronously: used on close, must finish before the runtime stops). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.dirty) return;
    this.dirty = false;
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      const tmp = `${this.file}.tmp`;
      fs.writeFileSync(tmp, this.serialise());
      fs.renameSync(tmp, this.file);
    } catch (err) {
      this.options.onWriteError?.(err as Error);
    }
  }

  /** Final write; later changes are kept in memory only. */
  close(): void {
    this.flush();
    this.closed = true;
  }

  private remember(appId: string, keys: readonly string[]): void {
    let set = this.recent.get(appId);
    if (!set) this.recent.set(appId, (set = new Set()));
    for (const key of keys) {
      set.delete(key);
      set.add(key);
    }
    // A Set iterates in insertion order: the first entries are the oldest.
    for (const key of set) {
      if (set.size <= this.recentMax) break;
      set.delete(key);
    }
  }

  private changed(): void {
    this.dirty = true;
    if (this.closed || this.timer) return;
    // Written synchronously (a few kB, no fsync): no write can overtake another.
    this.timer = setTimeout(() => this.flush(), this.writeIntervalMs);
    this.timer.unref();
  }

  private serialise(): string {
    const applications: Record<string, AppState> = {};
    for (const [appId, app] of this.apps) {
      applications[appId] = { lastSeen: app.lastSeen, edge: app.edge.map(({ at, keys }) => ({ at, keys })), ...(app.gap ? { gap: app.gap } : {}) };
    }
    const state: StateFile = { version: 1, applications };
    return JSON.stringify(state);
  }

  private load(): void {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return; // first start: no gap known
    }
    try {
      const state = JSON.parse(text) as Partial<StateFile>;
      for (const [appId, app] of Object.entries(state.applications ?? {})) {
        if (!app || typeof app.lastSeen !== 'string' || timestampNanos(app.lastSeen) === undefined) continue;
        const edge: LiveEdgeEntry[] = [];
        for (const e of Array.isArray(app.edge) ? app.edge : []) {
          const nanos = typeof e?.at === 'string' && Array.isArray(e.keys) ? timestampNanos(e.at) : undefined;
          if (nanos !== undefined) edge.push({ at: e.at, nanos, keys: e.keys.filter((k) => typeof k === 'string') });
        }
        edge.sort((a, b) => (a.nanos < b.nanos ? -1 : a.nanos > b.nanos ? 1 : 0));
        const gap = app.gap && typeof app.gap.from === 'string' && timestampNanos(app.gap.from) !== undefined ? { from: app.gap.from, keys: (app.gap.keys ?? []).filter((k) => typeof k === 'string') } : undefined;
        this.apps.set(appId, { lastSeen: app.lastSeen, lastSeenNanos: timestampNanos(app.lastSeen)!, edge, ...(gap ? { gap } : {}) });
        this.remember(appId, edge.flatMap((e) => e.keys));
      }
    } catch (err) {
      this.options.onWriteError?.(new Error(`the backfill state file ${this.file} is not valid JSON and is ignored (${(err as Error).message})`));
    }
  }
}
