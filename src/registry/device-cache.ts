// The registry's memory of devices, so that a message is provisioned without a database round
// trip. Two parts of different size:
//  - hot: every device seen since start, the columns a sighting reads and changes (DeviceState),
//    kept as rows of typed arrays (numbers, flags) beside shared strings: about 250 bytes per
//    device, and a sighting changes numbers in place instead of leaving the objects it replaced
//    behind in the old generation (they outlived the young one, waiting for the device's next
//    message, and were the larger part of what the heap grew by under load);
//  - cold: the full records (asset fields, downlink, radio summary) of the most recently seen
//    devices seen twice (or created) since start, bounded, loaded again from the store on a miss.
// A state read from the cache is a fresh object (it lives as long as the message using it); a
// device is addressed by a Slot, which tells a row that was freed and reused from the one it named.
// The hot state is optimistic between flushes (sightings applied as they are accepted) and
// replaced by the committed state once no write of the device is pending.
import type { DeviceState } from '../store/device-state';
import type { DeviceRecord, LocationRecord } from '../store/types';

/** A device's row and the generation it had when it was looked up. */
export interface Slot {
  readonly row: number;
  readonly generation: number;
}

// Columns of the numeric rows; NaN stands for undefined.
const CONNECTION_TIMEOUT = 0;
const LAST_SEEN = 1;
const UPLINK_COUNT = 2;
const LAST_FCNT = 3;
const LAST_UPLINK_AT = 4;
const LOST_FRAMES = 5;
const STATE_CHANGED_AT = 6;
const LOCATION_RANK = 7;
const LATITUDE = 8;
const LONGITUDE = 9;
const ALTITUDE = 10;
const ACCURACY = 11;
const LOCATION_AT = 12;
const WIDTH = 13;

const ONLINE = 1;
const LOCATED = 2;

/** Strings that repeat across devices (application ids, location sources, asset fields): one copy each, up to a bound. */
class Interned {
  private readonly values = new Map<string, string>();
  constructor(private readonly limit: number) {}

  get(s: string): string {
    const v = this.values.get(s);
    if (v !== undefined) return v;
    if (this.values.size < this.limit) this.values.set(s, s);
    return s;
  }

  clear(): void {
    this.values.clear();
  }
}

type Column = Float64Array | Uint8Array | Int32Array | Uint32Array | Uint16Array;

/** A longer column of the same kind holding the old one's values. */
function enlarged<T extends Column>(column: T, length: number): T {
  const next = new (column.constructor as new (length: number) => T)(length);
  next.set(column);
  return next;
}

const orNaN = (v: number | undefined): number => (v === undefined ? NaN : v);
const orUndefined = (v: number): number | undefined => (Number.isNaN(v) ? undefined : v);

export class DeviceCache {
  /** application id → device id → row. */
  private readonly index = new Map<string, Map<string, number>>();
  private numbers = new Float64Array(0);
  private flags = new Uint8Array(0);
  private pendingWrites = new Int32Array(0);
  private generations = new Uint32Array(0);
  /** Index into `sources` of each row's location source. */
  private sourceOf = new Uint16Array(0);
  private readonly sources: string[] = [];
  private readonly sourceIndex = new Map<string, number>();
  private readonly ids: string[] = [];
  private readonly applicationIds: string[] = [];
  private readonly deviceIds: string[] = [];
  private readonly buckets: string[] = [];
  private readonly free: number[] = [];
  private rows = 0;
  private generation = 0;
  private readonly shared = new Interned(1024);
  private readonly records = new Map<string, DeviceRecord>();

  constructor(private readonly coldLimit = 5_000) {}

  /** Devices held in memory (hot part). */
  get size(): number {
    return this.rows - this.free.length;
  }

  /** Full records held (cold part). */
  get recordCount(): number {
    return this.records.size;
  }

  find(applicationId: string, deviceId: string): Slot | undefined {
    const row = this.index.get(applicationId)?.get(deviceId);
    return row === undefined ? undefined : { row, generation: this.generations[row] };
  }

  /** Whether the slot still names the device it was looked up for (not forgotten meanwhile). */
  holds(slot: Slot): boolean {
    return this.generations[slot.row] === slot.generation;
  }

  /** The device's hot state, as a new object. */
  read(slot: Slot): DeviceState {
    const r = slot.row;
    const n = this.numbers;
    const at = r * WIDTH;
    const state: DeviceState = {
      id: this.ids[r],
      applicationId: this.applicationIds[r],
      deviceId: this.deviceIds[r],
      bucket: this.buckets[r],
      connectionTimeout: n[at + CONNECTION_TIMEOUT],
      lastSeen: orUndefined(n[at + LAST_SEEN]),
      uplinkCount: n[at + UPLINK_COUNT],
      lastFCnt: orUndefined(n[at + LAST_FCNT]),
      lastUplinkAt: orUndefined(n[at + LAST_UPLINK_AT]),
      lostFrames: n[at + LOST_FRAMES],
      online: (this.flags[r] & ONLINE) !== 0,
      stateChangedAt: orUndefined(n[at + STATE_CHANGED_AT]),
      location: undefined,
      locationRank: orUndefined(n[at + LOCATION_RANK]),
    };
    if (this.flags[r] & LOCATED) {
      const location: LocationRecord = { latitude: n[at + LATITUDE], longitude: n[at + LONGITUDE], source: this.sources[this.sourceOf[r]], at: n[at + LOCATION_AT] };
      if (!Number.isNaN(n[at + ALTITUDE])) location.altitude = n[at + ALTITUDE];
      if (!Number.isNaN(n[at + ACCURACY])) location.accuracy = n[at + ACCURACY];
      state.location = location;
    }
    return state;
  }

  /** Stores `state` as the device's hot state (its ids are the row's and are not changed). */
  write(slot: Slot, state: DeviceState): void {
    const r = slot.row;
    const n = this.numbers;
    const at = r * WIDTH;
    n[at + CONNECTION_TIMEOUT] = state.connectionTimeout;
    n[at + LAST_SEEN] = orNaN(state.lastSeen);
    n[at + UPLINK_COUNT] = state.uplinkCount;
    n[at + LAST_FCNT] = orNaN(state.lastFCnt);
    n[at + LAST_UPLINK_AT] = orNaN(state.lastUplinkAt);
    n[at + LOST_FRAMES] = state.lostFrames;
    n[at + STATE_CHANGED_AT] = orNaN(state.stateChangedAt);
    n[at + LOCATION_RANK] = orNaN(state.locationRank);
    let flags = state.online ? ONLINE : 0;
    const loc = state.location;
    if (loc) {
      flags |= LOCATED;
      n[at + LATITUDE] = loc.latitude;
      n[at + LONGITUDE] = loc.longitude;
      n[at + ALTITUDE] = orNaN(loc.altitude);
      n[at + ACCURACY] = orNaN(loc.accuracy);
      n[at + LOCATION_AT] = loc.at;
      this.sourceOf[r] = this.sourceNumber(loc.source);
    }
    this.flags[r] = flags;
  }

  /** Keeps `state` as the device's hot state, adding the device when it is not held; returns its slot. */
  put(state: DeviceState): Slot {
    let devices = this.index.get(state.applicationId);
    if (!devices) {
      devices = new Map();
      this.index.set(this.shared.get(state.applicationId), devices);
    }
    let row = devices.get(state.deviceId);
    if (row === undefined) {
      row = this.newRow();
      // One copy of the ids: records read from the database bring their own.
      const deviceId = state.deviceId;
      this.ids[row] = state.id === deviceId ? deviceId : state.id;
      this.applicationIds[row] = this.shared.get(state.applicationId);
      this.deviceIds[row] = deviceId;
      this.buckets[row] = state.bucket === state.id ? this.ids[row] : state.bucket === deviceId ? deviceId : state.bucket;
      this.pendingWrites[row] = 0;
      this.generations[row] = ++this.generation;
      devices.set(deviceId, row);
    }
    const slot = { row, generation: this.generations[row] };
    this.write(slot, state);
    return slot;
  }

  /** Counts a write more (+1) or less (-1) as pending; returns how many remain. */
  addPending(slot: Slot, delta: 1 | -1): number {
    this.pendingWrites[slot.row] += delta;
    return this.pendingWrites[slot.row];
  }

  /** The device went offline (found by the sweep). */
  markOffline(applicationId: string, deviceId: string, stateChangedAt: number | undefined): void {
    const slot = this.find(applicationId, deviceId);
    if (!slot) return;
    this.flags[slot.row] &= ~ONLINE;
    this.numbers[slot.row * WIDTH + STATE_CHANGED_AT] = orNaN(stateChangedAt);
  }

  /** Forgets a device (its state may be wrong: a write failed); it is loaded again on its next message. */
  evict(slot: Slot): void {
    if (!this.holds(slot)) return;
    const r = slot.row;
    this.index.get(this.applicationIds[r])?.delete(this.deviceIds[r]);
    this.records.delete(this.ids[r]);
    this.ids[r] = '';
    this.applicationIds[r] = '';
    this.deviceIds[r] = '';
    this.buckets[r] = '';
    this.generations[r] = ++this.generation;
    this.free.push(r);
  }

  /** The device's full record, when among the recently seen. */
  record(id: string): DeviceRecord | undefined {
    const r = this.records.get(id);
    if (r) {
      // Most recently used last: the first key is the one to drop.
      this.records.delete(id);
      this.records.set(id, r);
    }
    return r;
  }

  putRecord(record: DeviceRecord): void {
    // Asset fields and profile ids repeat across devices: records read from the database bring a copy each.
    record.applicationId = this.shared.get(record.applicationId);
    record.profileId = this.shared.get(record.profileId);
    record.assetType = this.shared.get(record.assetType);
    record.assetGroup = this.shared.get(record.assetGroup);
    if (record.id === record.deviceId) record.id = record.deviceId;
    if (record.bucket === record.id) record.bucket = record.id;
    this.records.delete(record.id);
    this.records.set(record.id, record);
    if (this.records.size > this.coldLimit) this.records.delete(this.records.keys().next().value as string);
  }

  clear(): void {
    this.index.clear();
    this.records.clear();
    this.shared.clear();
    this.ids.length = 0;
    this.applicationIds.length = 0;
    this.deviceIds.length = 0;
    this.buckets.length = 0;
    this.free.length = 0;
    this.rows = 0;
    this.numbers = new Float64Array(0);
    this.flags = new Uint8Array(0);
    this.pendingWrites = new Int32Array(0);
    this.generations = new Uint32Array(0);
    this.sourceOf = new Uint16Array(0);
  }

  private sourceNumber(source: string): number {
    let i = this.sourceIndex.get(source);
    if (i === undefined) {
      // A handful of names in practice; past the bound the last one is reused rather than growing.
      if (this.sources.length >= 0xffff) return this.sources.length - 1;
      i = this.sources.length;
      this.sources.push(source);
      this.sourceIndex.set(source, i);
    }
    return i;
  }

  private newRow(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    const row = this.rows++;
    if (row >= this.flags.length) this.grow(Math.max(256, Math.ceil(this.flags.length * 1.5)));
    // Dense arrays (pushed in order): a hole would turn them into dictionaries.
    this.ids.push('');
    this.applicationIds.push('');
    this.deviceIds.push('');
    this.buckets.push('');
    return row;
  }

  private grow(capacity: number): void {
    this.numbers = enlarged(this.numbers, capacity * WIDTH);
    this.flags = enlarged(this.flags, capacity);
    this.pendingWrites = enlarged(this.pendingWrites, capacity);
    this.generations = enlarged(this.generations, capacity);
    this.sourceOf = enlarged(this.sourceOf, capacity);
  }
}
