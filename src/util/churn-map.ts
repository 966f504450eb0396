// Maps and sets for keys that come and go all the time (one per message in flight), kept in a
// fresh V8 table now and then.
//
// Why: a Map's entries live in a hash table that V8 replaces whenever it fills up (deleted
// entries count until then), and allocates the new table where the old one is. Once a table
// has lived long enough to reach the old generation (a quiet spell after start is enough),
// every later table of that Map is allocated there, and each replaced one stays behind as old
// garbage still pointing at the entries it held. A scavenge keeps whatever old objects point
// at, so every value that was in the map when its table was replaced (and all it references: a
// message's promise, its continuation, the message) reaches the old generation even after it
// was deleted, until the next full collection. Measured in a loop of 50 entries in flight:
// 618 MB promoted over 200,000 messages with the table in the old generation, 0.2 MB with a
// young one; in the pipeline it was most of what each uplink promoted, and V8 sizes the old
// generation by that rate (about four times the live data). A new Map starts with a young
// table: these start one whenever the map is empty, and at least every RENEW_AFTER keys added.

/**
 * Keys added between two fresh tables, at most (the live entries are copied then). A map that
 * holds this many live entries or more (an inbox filling during a store outage) is not copied:
 * its entries outlive the young generation anyway, and a copy per 1,024 messages of tens of
 * thousands of entries would cost more than it saves.
 */
export const RENEW_AFTER = 1024;

/** A Map (the part of its interface used here) that moves to a fresh table now and then. */
export class ChurnMap<K, V> implements Iterable<[K, V]> {
  private map = new Map<K, V>();
  private added = 0;

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  set(key: K, value: V): this {
    if (this.added >= RENEW_AFTER && this.map.size < RENEW_AFTER && !this.map.has(key)) this.renew(new Map(this.map));
    this.map.set(key, value);
    this.added += 1;
    return this;
  }

  delete(key: K): boolean {
    if (!this.map.delete(key)) return false;
    if (this.map.size === 0) this.renew(new Map());
    return true;
  }

  clear(): void {
    this.renew(new Map());
  }

  values(): IterableIterator<V> {
    return this.map.values();
  }

  keys(): IterableIterator<K> {
    return this.map.keys();
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.map[Symbol.iterator]();
  }

  private renew(map: Map<K, V>): void {
    this.map = map;
    this.added = 0;
  }
}

/** A Set (the part of its interface used here) that moves to a fresh table now and then. */
export class ChurnSet<T> implements Iterable<T> {
  private set = new Set<T>();
  private added = 0;

  get size(): number {
    return this.set.size;
  }

  has(value: T): boolean {
    return this.set.has(value);
  }

  add(value: T): this {
    if (this.added >= RENEW_AFTER && this.set.size < RENEW_AFTER && !this.set.has(value)) this.renew(new Set(this.set));
    this.set.add(value);
    this.added += 1;
    return this;
  }

  delete(value: T): boolean {
    if (!this.set.delete(value)) return false;
    if (this.set.size === 0) this.renew(new Set());
    return true;
  }

  clear(): void {
    this.renew(new Set());
  }

  values(): IterableIterator<T> {
    return this.set.values();
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this.set[Symbol.iterator]();
  }

  private renew(set: Set<T>): void {
    this.set = set;
    this.added = 0;
  }
}
