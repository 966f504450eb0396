// The device rows a PostgreSQL backend wrote or read last, each with its row version (xmin), so
// that the next flush to them needs no read first: its write is checked against that version and
// a row another instance (or anyone) changed since is written again from the row as it is then.
// Only a hint: a wrong or missing entry costs a round trip, never a count.
import { copyState, type DeviceState } from './device-state';

/** Entries kept, at most (a few hundred bytes each); the least recently used go first. */
const DEFAULT_LIMIT = 10_000;

export interface KnownRow {
  state: DeviceState;
  /** The row's xmin as text: changes with every write to the row, whoever makes it. */
  version: string;
}

interface Entry extends KnownRow {
  /**
   * Someone else wrote the row since this backend's previous write: a write from the state kept
   * would most likely be refused (a commit for nothing), so the row is read first instead, until a
   * read finds it as this backend left it.
   */
  shared: boolean;
}

export class KnownRows {
  private readonly rows = new Map<string, Entry>();

  constructor(private readonly limit = DEFAULT_LIMIT) {}

  get size(): number {
    return this.rows.size;
  }

  /** A copy of the state (the caller may change it) with its version, unless the row is shared. */
  trusted(id: string): KnownRow | undefined {
    const row = this.rows.get(id);
    return row && !row.shared ? { state: copyState(row.state), version: row.version } : undefined;
  }

  /** The version this backend last wrote or read the row at, shared or not. */
  lastVersion(id: string): string | undefined {
    return this.rows.get(id)?.version;
  }

  /** Remembers `state` (copied) as the row's content at `version`. */
  set(state: DeviceState, version: string, shared = false): void {
    this.rows.delete(state.id);
    this.rows.set(state.id, { state: copyState(state), version, shared });
    if (this.rows.size > this.limit) this.rows.delete(this.rows.keys().next().value as string);
  }

  forget(id: string): void {
    this.rows.delete(id);
  }

  clear(): void {
    this.rows.clear();
  }
}
