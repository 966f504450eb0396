// The registry's memory of devices, so that a message is provisioned without a database round
// trip. Two parts of different size:
//  - hot: every device seen since start, the columns a sighting reads and changes (DeviceState,
//    a few hundred bytes per device with its strings shared: 100,000 devices fit in tens of MB);
//  - cold: the full records (asset fields, downlink, radio summary) of the most recently seen
//    devices, bounded, loaded again from the store on a miss.
// The hot state is optimistic between flushes (sightings applied as they are accepted) and
// replaced by the committed state once no write of the device is pending.
import type { DeviceState } from '../store/device-state';
import type { DeviceRecord } from '../store/types';

export interface CachedDevice extends DeviceState {
  /** Writes accepted and not yet committed. */
  pending: number;
}

/** Location sources are a handful of names: one string each. */
const sources = new Map<string, string>();
function internSource(s: string): string {
  let v = sources.get(s);
  if (v === undefined) {
    if (sources.size > 64) return s;
    sources.set(s, s);
    v = s;
  }
  return v;
}

/** A literal with every field: a spread copy here cost 3× the memory (its properties out of line). */
function cachedDevice(s: DeviceState): CachedDevice {
  return {
    id: s.id,
    applicationId: s.applicationId,
    deviceId: s.deviceId,
    bucket: s.bucket,
    connectionTimeout: s.connectionTimeout,
    lastSeen: s.lastSeen,
    uplinkCount: s.uplinkCount,
    lastFCnt: s.lastFCnt,
    lastUplinkAt: s.lastUplinkAt,
    lostFrames: s.lostFrames,
    online: s.online,
    stateChangedAt: s.stateChangedAt,
    location: s.location,
    locationRank: s.locationRank,
    pending: 0,
  };
}

interface AppDevices {
  /** The one copy of the application id. */
  id: string;
  devices: Map<string, CachedDevice>;
}

export class DeviceCache {
  private readonly apps = new Map<string, AppDevices>();
  private readonly records = new Map<string, DeviceRecord>();
  private hotCount = 0;

  constructor(private readonly coldLimit = 5_000) {}

  /** Devices held in memory (hot part). */
  get size(): number {
    return this.hotCount;
  }

  get(applicationId: string, deviceId: string): CachedDevice | undefined {
    return this.apps.get(applicationId)?.devices.get(deviceId);
  }

  /** Keeps `state` (copied) as the device's hot state, with its strings shared; returns the cached object. */
  put(state: DeviceState): CachedDevice {
    let app = this.apps.get(state.applicationId);
    if (!app) {
      app = { id: state.applicationId, devices: new Map() };
      this.apps.set(app.id, app);
    }
    let entry = app.devices.get(state.deviceId);
    if (!entry) {
      entry = cachedDevice(state);
      app.devices.set(entry.deviceId, entry);
      this.hotCount++;
    } else {
      const { deviceId, pending } = entry;
      Object.assign(entry, state);
      entry.deviceId = deviceId;
      entry.pending = pending;
    }
    // Records read from the database bring their own copies of the ids: keep one.
    entry.applicationId = app.id;
    if (entry.id === entry.deviceId) entry.id = entry.deviceId;
    if (entry.bucket === entry.id) entry.bucket = entry.id;
    if (entry.location) entry.location.source = internSource(entry.location.source);
    return entry;
  }

  /** Forgets a device (its state may be wrong: a write failed); it is loaded again on its next message. */
  evict(entry: CachedDevice): void {
    const app = this.apps.get(entry.applicationId);
    if (app?.devices.get(entry.deviceId) === entry) {
      app.devices.delete(entry.deviceId);
      this.hotCount--;
    }
    this.records.delete(entry.id);
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
    this.records.delete(record.id);
    this.records.set(record.id, record);
    if (this.records.size > this.coldLimit) this.records.delete(this.records.keys().next().value as string);
  }

  clear(): void {
    this.apps.clear();
    this.records.clear();
    this.hotCount = 0;
  }
}
