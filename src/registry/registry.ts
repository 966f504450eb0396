import { EventEmitter } from 'node:events';
import type { ProfileSettings } from '../profile/profile-settings';
import { describeError } from '../store/errors';
import type { TtsStore } from '../store/store';
import type { DeviceRecord, DeviceSighting, LocationRecord } from '../store/types';
import type { TtsEnvelope } from '../tts/envelope-types';
import { bestLocation } from './location';
import { radioSummary } from './radio-summary';

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
}

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
 * `device` (DeviceRecord) after a message updated a device, and `downlink` (DownlinkChange) after
 * its `downlink` property changed (for the editor's sidebar and downlinks on property change).
 */
export class DeviceRegistry extends EventEmitter {
  private readonly sweepInterval: number;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<DeviceRecord[]> | undefined;

  constructor(
    readonly store: TtsStore,
    options: RegistryOptions = {},
  ) {
    super();
    this.sweepInterval = options.sweepInterval ?? 30_000;
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

  /** Replaces the device's `downlink` property; false when there is no such device. */
  async setDownlink(id: string, value: unknown, origin: DownlinkOrigin = 'flow'): Promise<boolean> {
    const changed = await this.store.setDownlink(id, value);
    if (changed) this.emit('downlink', { id, value, origin } satisfies DownlinkChange);
    return changed;
  }

  // ---- provisioning ---------------------------------------------------------------------

  /** Applies a profile's uplink settings to one message. */
  async process(envelope: TtsEnvelope, profile: ProfileSettings, now = Date.now()): Promise<ProvisionResult> {
    const at = timeOf(envelope, now);
    const events: LifecycleEvent[] = [];
    let device = await this.store.findDevice(envelope.application_id, envelope.device_id);
    let created = false;
    if (!device) {
      if (!CREATING_TYPES.has(envelope.type)) return { created, skipped: 'not-provisioning-message', events };
      if (!profile.autoProvision) return { created, skipped: 'auto-provision-off', events };
      const result = await this.store.createDevice({
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
      });
      device = result.device;
      created = result.created;
      if (created) events.push({ event: 'created', device, at });
    }
    if (!SIGHTING_TYPES.has(envelope.type)) {
      if (created) this.emit('device', device);
      return { device, created, events };
    }

    const sighting: DeviceSighting = { at };
    if (envelope.type === 'uplink_message') {
      sighting.fCnt = envelope.f_cnt ?? 0;
      if (profile.saveMetadata) sighting.metadata = radioSummary(envelope);
    }
    if (profile.updateLocation || envelope.type === 'location_solved') {
      const candidate = bestLocation(envelope, at);
      if (candidate) {
        sighting.location = candidate.location;
        sighting.locationRank = candidate.rank;
      }
    }
    const seen = await this.store.recordSighting(device.id, sighting);
    if (!seen) return { device, created, events }; // deleted meanwhile
    if (seen.cameOnline && !created) events.push({ event: 'online', device: seen.device, at });
    if (seen.locationChanged && seen.device.location) {
      events.push({ event: 'location', device: seen.device, at, location: seen.device.location });
    }
    this.emit('device', seen.device);
    return { device: seen.device, created, events };
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
      for (const device of offline) this.emit('lifecycle', { event: 'offline', device, at: now } satisfies LifecycleEvent);
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
    this.removeAllListeners('device');
    this.removeAllListeners('downlink');
  }
}
