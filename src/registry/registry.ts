import { EventEmitter } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import type { ProfileSettings } from '../profile/profile-settings';
import type { DeviceWriteResult } from '../store/backend';
import { newDeviceState } from '../store/backend-shared';
import { applySighting, withState } from '../store/device-state';
import { describeError } from '../store/errors';
import type { TtsStore } from '../store/store';
import type { DeviceRecord, DeviceSighting, LocationRecord, NewDevice } from '../store/types';
import type { TtsEnvelope } from '../tts/envelope-types';
import { DeviceCache, type Slot } from './device-cache';
import { bestLocation, locationMoved } from './location';
import { radioSummary } from './radio-summary';
import { ChurnMap } from '../util/churn-map';

export type LifecycleEventName = 'created' | 'location' | 'offline' | 'online';

export interface LifecycleEvent {
  event: LifecycleEventName;
  device: DeviceRecord;
  /** When it happened (ms). */
  at: number;
  /** For `location`: the new position. */
  location?: LocationRecord;
}

export interface ProvisionResult {
  /** The device record after this message; undefined for an unknown device that was not created. */
  device?: DeviceRecord;
  created: boolean;
  /** Set when there is no device: why. */
  skipped?: 'auto-provision-off' | 'not-provisioning-message';
  events: LifecycleEvent[];
}

/** A message provisioned from memory: what to send on now, and its events once committed. */
export interface AcceptedMessage {
  device?: DeviceRecord;
  /** The device is new as far as this instance knows (the `created` event says whether it really was). */
  created: boolean;
  skipped?: ProvisionResult['skipped'];
  /**
   * Resolves with the message's lifecycle events once its creation or sighting is committed;
   * rejects with the store's error (StoreUnavailableError, QueueFullError: hand the message back).
   */
  committed: Promise<LifecycleEvent[]>;
}

/** Who changed a device's `downlink` property: `downlink` = a tts-downlink node storing what it sends. */
export type DownlinkOrigin = 'downlink' | 'flow' | 'admin';

/** Emitted as `downlink` after a device's stored `downlink` property changed. */
export interface DownlinkChange {
  id: string;
  value: unknown;
  origin: DownlinkOrigin;
}

export interface RegistryOptions {
  /** How often the offline sweep runs, ms (default 30,000). */
  sweepInterval?: number;
  /**
   * Full device records kept in memory (default 5,000; the state of every device seen is kept).
   * A device's record is kept from its second message since start (or its creation) on.
   */
  recordCache?: number;
}

/** A device the store knew and this registry did not: its slot, and its record for the message that loaded it. */
interface Loaded {
  slot: Slot;
  record: DeviceRecord;
}

const NO_EVENTS: Promise<LifecycleEvent[]> = Promise.resolve([]);

/** Messages that may create a device, and that show it is alive. */
const SIGHTING_TYPES = new Set(['uplink_message', 'join_accept', 'location_solved']);
const CREATING_TYPES = new Set(['uplink_message', 'join_accept']);

function timeOf(envelope: TtsEnvelope, now: number): number {
  const t = Date.parse(envelope.received_at);
  // A clock running ahead must not keep a device "online" into the future.
  return Number.isFinite(t) ? Math.min(t, now) : now;
}

/**
 * The device registry: provisioning rules applied to TTS messages, connection state, and the
 * device properties other nodes need (the downlink node reads devices and their `downlink`).
 *
 * Emits `lifecycle` (LifecycleEvent) for offline transitions found by the sweeper; the events a
 * message causes (created, location, online) are returned by `process` to its caller. Emits
 * `changed` (the device id) after a message updated a device, and `downlink` (DownlinkChange) after
 * its `downlink` property changed (for the editor's sidebar and downlinks on property change).
 */
export class DeviceRegistry extends EventEmitter {
  private readonly sweepInterval: number;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<DeviceRecord[]> | undefined;
  private readonly cache: DeviceCache;
  /** Loads in progress, so that a burst of one unknown device asks the store once. */
  private readonly loading = new ChurnMap<string, Promise<Loaded | undefined>>();
  /** The last `downlink` property write (they run one after the other). */
  private downlinkWrites: Promise<unknown> = Promise.resolve();

  constructor(
    readonly store: TtsStore,
    options: RegistryOptions = {},
  ) {
    super();
    this.sweepInterval = options.sweepInterval ?? 30_000;
    this.cache = new DeviceCache(options.recordCache);
  }

  /** Devices whose state is held in memory. */
  get cachedDevices(): number {
    return this.cache.size;
  }

  /** Devices whose full record is held in memory (seen twice or created since start, the most recent ones). */
  get cachedRecords(): number {
    return this.cache.recordCount;
  }

  // ---- what the downlink node (and others) use ------------------------------------------

  /** A device by registry id (prefix + device_id). */
  getDevice(id: string): Promise<DeviceRecord | undefined> {
    return this.store.getDevice(id);
  }

  /** A device by its TTS ids. */
  findDevice(applicationId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    return this.store.findDevice(applicationId, deviceId);
  }

  /** A device by registry id, or by TTS ids given as `application_id/device_id`. */
  async resolveDevice(ref: string | { applicationId: string; deviceId: string }): Promise<DeviceRecord | undefined> {
    if (typeof ref !== 'string') return this.findDevice(ref.applicationId, ref.deviceId);
    const byId = await this.getDevice(ref);
    if (byId) return byId;
    const slash = ref.indexOf('/');
    return slash > 0 ? this.findDevice(ref.slice(0, slash), ref.slice(slash + 1)) : undefined;
  }

  /** The device's stored `downlink` property (undefined if none or no such device). */
  async getDownlink(id: string): Promise<unknown> {
    return (await this.getDevice(id))?.downlink;
  }

  /**
   * Replaces the device's `downlink` property; false when there is no such device. Emits
   * `downlink` only when the stored value really changes: nodes with "On change" send on that
   * event, and saving the value a device already has (an unchanged sidebar or dashboard form)
   * must not send it again.
   */
  setDownlink(id: string, value: unknown, origin: DownlinkOrigin = 'flow'): Promise<boolean> {
    // One at a time, so that two saves of the same new value cannot both see the old one and
    // both report a change.
    const run = this.downlinkWrites.then(() => this.writeDownlink(id, value, origin));
    this.downlinkWrites = run.catch(() => undefined);
    return run;
  }

  private async writeDownlink(id: string, value: unknown, origin: DownlinkOrigin): Promise<boolean> {
    const before = await this.store.getDevice(id);
    if (!before) return false;
    const found = await this.store.setDownlink(id, value);
    const record = this.cache.record(id);
    if (found && record) record.downlink = value;
    if (found && !sameJson(before.downlink, value)) this.emit('downlink', { id, value, origin } satisfies DownlinkChange);
    return found;
  }

  // ---- provisioning ---------------------------------------------------------------------

  /** Applies a profile's uplink settings to one message and waits until that is committed. */
  async process(envelope: TtsEnvelope, profile: ProfileSettings, now = Date.now()): Promise<ProvisionResult> {
    const accepted = await this.accept(envelope, profile, now);
    const events = await accepted.committed;
    const result: ProvisionResult = { created: events.some((e) => e.event === 'created'), events };
    if (accepted.device) result.device = accepted.device;
    if (accepted.skipped) result.skipped = accepted.skipped;
    return result;
  }

  /**
   * Applies a profile's uplink settings to one message from memory: the device record to send on
   * is known at once (the store is asked only for a device not seen since start), and the
   * creation and sighting are written behind, with the next flush of the store. The lifecycle
   * events are derived in that flush from the committed state, so a replay, or a second instance
   * on the same PostgreSQL, never reports a transition twice.
   */
  async accept(envelope: TtsEnvelope, profile: ProfileSettings, now = Date.now()): Promise<AcceptedMessage> {
    const at = timeOf(envelope, now);
    const replay = (envelope as { replay?: unknown }).replay === true;
    let slot = this.cache.find(envelope.application_id, envelope.device_id);
    // The record of a device loaded for this message serves this message only (see recordOf).
    let loadedRecord: DeviceRecord | undefined;
    if (!slot) {
      const loaded = await this.load(envelope.application_id, envelope.device_id);
      slot = loaded?.slot;
      loadedRecord = loaded?.record;
    }
    let create: NewDevice | undefined;
    if (!slot) {
      if (!CREATING_TYPES.has(envelope.type)) return { created: false, skipped: 'not-provisioning-message', committed: NO_EVENTS };
      if (!profile.autoProvision) return { created: false, skipped: 'auto-provision-off', committed: NO_EVENTS };
      create = newDevice(envelope, profile, at);
      slot = this.cache.put(newDeviceState(create));
      this.cache.putRecord(recordOf(create));
    }
    const sighting = SIGHTING_TYPES.has(envelope.type) ? sightingOf(envelope, profile, at, replay) : undefined;
    const state = this.cache.read(slot);
    if (!create && !sighting) return { device: withState(loadedRecord ?? (await this.recordOf(state.id)), state), created: false, committed: NO_EVENTS };

    // Optimistic: the next messages of this device see this one; the flush decides for real.
    const effect = sighting ? applySighting(state, sighting, now) : undefined;
    if (sighting) this.cache.write(slot, state);
    const target = slot;
    this.cache.addPending(target, 1);
    let record: DeviceRecord;
    try {
      record = loadedRecord ?? (await this.recordOf(state.id));
    } catch (err) {
      this.settle(target);
      this.cache.evict(target);
      throw err;
    }
    if (effect?.metadata) record.metadata = effect.metadata;
    const device = withState(record, state);
    const write = this.store.writeDevice({ id: state.id, ...(create ? { create } : {}), ...(sighting ? { sighting } : {}) });
    const committed = write.then(
      (result) => this.committed(target, result, at, record),
      (err: unknown) => {
        this.settle(target);
        this.cache.evict(target);
        throw err;
      },
    );
    return { device, created: create !== undefined, committed };
  }

  /** One pending write of the device less; how many remain (0 when the device was forgotten meanwhile). */
  private settle(slot: Slot): number {
    return this.cache.holds(slot) ? this.cache.addPending(slot, -1) : 0;
  }

  /**
   * Refreshes the cache with the committed state and names the transitions this write caused;
   * `record` is the one the message was sent on with (its device's events show the same fields).
   */
  private committed(slot: Slot, result: DeviceWriteResult, at: number, record: DeviceRecord): LifecycleEvent[] {
    const remaining = this.settle(slot);
    const state = result.state;
    if (!state) {
      this.cache.evict(slot); // deleted meanwhile
      return [];
    }
    if (remaining === 0 && this.cache.holds(slot)) this.cache.write(slot, state);
    const events: LifecycleEvent[] = [];
    const effect = result.effect;
    // Listeners (the sidebar) want to know which devices to read again, not a record: building one
    // per uplink only for them cost the event loop ~2 % of its time per uplink.
    if (result.created || (effect !== undefined && !effect.duplicate)) this.emit('changed', state.id);
    if (!result.created && !effect?.cameOnline && !effect?.locationChanged) return events;
    const device = withState(record, state, effect?.metadata);
    if (result.created) events.push({ event: 'created', device, at });
    if (effect?.cameOnline && !result.created) events.push({ event: 'online', device, at });
    if (effect?.locationChanged && state.location) events.push({ event: 'location', device, at, location: state.location });
    return events;
  }

  /**
   * Loads a device the store has and this registry has not seen since start. Its state joins the
   * cache; its record does not: after a restart, or in a fleet far larger than the record cache,
   * most devices send one message before the record would be used again, and a record kept for
   * each outlived the young generation (a few hundred bytes, radio summary included, promoted per
   * message and left as garbage in the old one, which grew the heap). The messages of a burst
   * that waited for this load share the record; the device's next message reads it again and keeps it.
   */
  private load(applicationId: string, deviceId: string): Promise<Loaded | undefined> {
    const key = `${applicationId}/${deviceId}`;
    let loading = this.loading.get(key);
    if (!loading) {
      loading = this.store
        .loadDevice(applicationId, deviceId)
        .then((found) => {
          if (!found) return undefined;
          const slot = this.cache.find(applicationId, deviceId) ?? this.cache.put(found.state);
          return { slot, record: found.record };
        })
        .finally(() => this.loading.delete(key));
      this.loading.set(key, loading);
    }
    return loading;
  }

  /** The full record of a cached device (from the store when it is not among the recent ones), kept from now on. */
  private async recordOf(id: string): Promise<DeviceRecord> {
    let record = this.cache.record(id);
    if (!record) {
      // Without waiting for the queued writes: the device's state comes from the cache, and the
      // cold columns are not what a sighting changes. Only a device whose creation is still
      // queued (its record dropped from the cache meanwhile) needs the read after the writes.
      record = (await this.store.getDeviceNow(id)) ?? (await this.store.getDevice(id));
      if (!record) throw new Error(`device "${id}" is no longer in the store`);
      this.cache.putRecord(record);
    }
    return record;
  }

  // ---- offline sweeper ------------------------------------------------------------------

  /**
   * Starts the periodic offline check; the first runs at once, so devices that went silent while
   * Node-RED was stopped are reported right after a restart.
   */
  startSweeper(): void {
    if (this.sweepTimer) return;
    const tick = () => {
      this.sweep().catch((err: unknown) => this.emit('warning', `offline sweep: ${describeError(err)}`));
    };
    this.sweepTimer = setInterval(tick, this.sweepInterval);
    this.sweepTimer.unref?.();
    tick();
  }

  stopSweeper(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /** Marks silent devices offline and emits `lifecycle` for each; on PostgreSQL one instance at a time does it. */
  sweep(now = Date.now()): Promise<DeviceRecord[]> {
    this.sweeping ??= (async () => {
      if (this.store.state.status !== 'ready') return [];
      const offline = await this.store.markOffline(now);
      for (const device of offline) {
        this.cache.markOffline(device.applicationId, device.deviceId, device.stateChangedAt);
        this.emit('lifecycle', { event: 'offline', device, at: now } satisfies LifecycleEvent);
      }
      return offline;
    })().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  async close(): Promise<void> {
    this.stopSweeper();
    if (this.sweeping) await this.sweeping.catch(() => []);
    this.removeAllListeners('lifecycle');
    this.cache.clear();
    this.removeAllListeners('changed');
    this.removeAllListeners('downlink');
  }
}

/**
 * Whether two `downlink` values are the same once stored: the store keeps their JSON, and reads
 * an empty property (null, undefined) back as undefined. Key order does not count, as it does
 * not for the encoder.
 */
function sameJson(a: unknown, b: unknown): boolean {
  const view = (v: unknown): unknown => {
    const text = v === undefined ? undefined : JSON.stringify(v);
    return text === undefined ? null : JSON.parse(text);
  };
  return isDeepStrictEqual(view(a), view(b));
}

function newDevice(envelope: TtsEnvelope, profile: ProfileSettings, at: number): NewDevice {
  return {
    id: profile.devicePrefix + envelope.device_id,
    applicationId: envelope.application_id,
    deviceId: envelope.device_id,
    ...(envelope.dev_eui ? { devEui: envelope.dev_eui } : {}),
    ...(envelope.join_eui ? { joinEui: envelope.join_eui } : {}),
    bucket: profile.bucketPrefix + envelope.device_id,
    profileId: profile.id,
    assetType: profile.assetType,
    assetGroup: profile.assetGroup,
    connectionTimeout: profile.connectionTimeout * 60_000,
    ...(profile.initDownlink && profile.downlinkData !== undefined ? { downlink: profile.downlinkData } : {}),
    at,
  };
}

/** The record a new device will have once created. */
function recordOf(d: NewDevice): DeviceRecord {
  const record: DeviceRecord = {
    id: d.id,
    applicationId: d.applicationId,
    deviceId: d.deviceId,
    bucket: d.bucket,
    profileId: d.profileId,
    assetType: d.assetType,
    assetGroup: d.assetGroup,
    connectionTimeout: d.connectionTimeout,
    createdAt: d.at,
    updatedAt: d.at,
    lastSeen: d.at,
    uplinkCount: 0,
    lostFrames: 0,
    online: true,
    stateChangedAt: d.at,
  };
  if (d.devEui) record.devEui = d.devEui;
  if (d.joinEui) record.joinEui = d.joinEui;
  if (d.downlink !== undefined) record.downlink = d.downlink;
  return record;
}

function sightingOf(envelope: TtsEnvelope, profile: ProfileSettings, at: number, replay: boolean): DeviceSighting {
  const sighting: DeviceSighting = { at };
  if (replay) sighting.replay = true;
  if (envelope.type === 'uplink_message') {
    sighting.fCnt = envelope.f_cnt ?? 0;
    if (profile.saveMetadata) sighting.metadata = radioSummary(envelope);
  }
  if (profile.updateLocation || envelope.type === 'location_solved') {
    const candidate = bestLocation(envelope, at);
    if (candidate) {
      sighting.location = candidate.location;
      sighting.locationRank = candidate.rank;
      sighting.moved = locationMoved;
    }
  }
  return sighting;
}
