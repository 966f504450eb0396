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

export class KnownRows {
  private readonly rows = new Map<string, KnownRow>();

  constructor(private readonly limit = DEFAULT_LIMIT) {}

  get size(): number {
    return this.rows.size;
  }

  /** A copy of the state (the caller may change it) with its version. */
  get(id: string): KnownRow | undefined {
    const row = this.rows.get(id);
    return row && { state: copyState(row.state), version: row.version };
  }

  /** Remembers `state` (copied) as the row's content at `version`. */
  set(state: DeviceState, version: string): void {
    this.rows.delete(state.id);
    this.rows.set(state.id, { state: copyState(state), version });
    if (this.rows.size > this.limit) this.rows.delete(this.rows.keys().next().value as string);
  }

  forget(id: string): void {
    this.rows.delete(id);
  }

  clear(): void {
    this.rows.clear();
  }
}
