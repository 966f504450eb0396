import type { DeviceRecord, DeviceSighting, LocationRecord, RadioSummary } from './types';

/**
 * The columns a sighting reads and changes: what the store keeps per device in memory and what a
 * flush locks and rewrites. Cold columns (asset fields, downlink, radio summary) are not here.
 */
export interface DeviceState {
  id: string;
  applicationId: string;
  deviceId: string;
  bucket: string;
  connectionTimeout: number;
  lastSeen: number | undefined;
  uplinkCount: number;
  lastFCnt: number | undefined;
  /** received_at of the uplink that set lastFCnt (the reference for gaps and replays). */
  lastUplinkAt: number | undefined;
  lostFrames: number;
  online: boolean;
  stateChangedAt: number | undefined;
  location: LocationRecord | undefined;
  locationRank: number | undefined;
}

/** What one sighting did, decided against the state it was applied to. */
export interface SightingEffect {
  cameOnline: boolean;
  locationChanged: boolean;
  /** Already counted (an exact replay of the latest uplink, or an inbox replay of an older one). */
  duplicate: boolean;
  /** The radio summary to store (the newest uplink's), when this sighting brings one. */
  metadata: RadioSummary | undefined;
}

/** Same place, same source: the default move rule when the sighting brings none. */
function sameLocation(a: LocationRecord, b: LocationRecord): boolean {
  return (
    a.source === b.source &&
    Math.abs(a.latitude - b.latitude) < 1e-7 &&
    Math.abs(a.longitude - b.longitude) < 1e-7 &&
    (a.altitude ?? null) === (b.altitude ?? null)
  );
}

/**
 * Applies one sighting to a device's state, in place. A flush applies the sightings of a device in
 * the order they were accepted, to the state it read under a row lock in the same transaction, so
 * several instances on one PostgreSQL never lose each other's counts and each transition (back
 * online, location changed) is reported by exactly one of them.
 *
 * - An exact replay of the latest uplink (same f_cnt, same time) is not counted again; nor is an
 *   inbox replay (`sighting.replay`) of an uplink no newer than the latest one counted.
 * - f_cnt gaps count as lost frames; a lower f_cnt on a newer uplink is a session reset, and an
 *   older uplink arriving late does not move the reference.
 * - A location replaces the stored one when its source ranks at least as well, or when the stored
 *   one is older than the device's connection timeout (a stale better fix loses to a fresh one). It
 *   counts as changed only when `sighting.moved` says so (default: any difference); otherwise only
 *   its time is refreshed.
 */
export function applySighting(state: DeviceState, sighting: DeviceSighting, now: number): SightingEffect {
  const effect: SightingEffect = { cameOnline: false, locationChanged: false, duplicate: false, metadata: undefined };
  const at = sighting.at;
  if (sighting.fCnt !== undefined && state.lastUplinkAt !== undefined) {
    const exact = state.lastFCnt === sighting.fCnt && state.lastUplinkAt === at;
    if (exact || (sighting.replay === true && at <= state.lastUplinkAt)) effect.duplicate = true;
  } else if (sighting.replay === true && state.lastSeen !== undefined && at <= state.lastSeen && sighting.fCnt === undefined) {
    effect.duplicate = true;
  }
  if (effect.duplicate) return effect;

  if (!state.online && at > (state.lastSeen ?? 0)) {
    state.online = true;
    state.stateChangedAt = now;
    effect.cameOnline = true;
  }
  state.lastSeen = Math.max(state.lastSeen ?? 0, at);
  if (sighting.fCnt !== undefined) {
    state.uplinkCount += 1;
    const newest = state.lastUplinkAt === undefined || at >= state.lastUplinkAt;
    if (newest) {
      if (state.lastFCnt !== undefined && sighting.fCnt > state.lastFCnt + 1) state.lostFrames += sighting.fCnt - state.lastFCnt - 1;
      state.lastFCnt = sighting.fCnt;
      state.lastUplinkAt = at;
      effect.metadata = sighting.metadata;
    }
  }
  const loc = sighting.location;
  if (loc) {
    const rank = sighting.locationRank ?? 0;
    const stored = state.location;
    const stale = stored === undefined || stored.at < at - state.connectionTimeout;
    if (state.locationRank === undefined || rank >= state.locationRank || stale) {
      const moved = stored === undefined || (sighting.moved ? sighting.moved(stored, loc) : !sameLocation(stored, loc));
      if (moved) {
        state.location = loc;
        effect.locationChanged = true;
      } else if (stored.at < loc.at) {
        state.location = { ...stored, at: loc.at };
      }
      state.locationRank = rank;
    }
  }
  return effect;
}

/** A copy of the hot state (the cache and a flush must never share one object). */
export function copyState(s: DeviceState): DeviceState {
  return { ...s };
}

/** The state part of a full record. */
export function stateOf(device: DeviceRecord, book: { lastUplinkAt?: number; locationRank?: number }): DeviceState {
  return {
    id: device.id,
    applicationId: device.applicationId,
    deviceId: device.deviceId,
    bucket: device.bucket,
    connectionTimeout: device.connectionTimeout,
    lastSeen: device.lastSeen,
    uplinkCount: device.uplinkCount,
    lastFCnt: device.lastFCnt,
    lastUplinkAt: book.lastUplinkAt,
    lostFrames: device.lostFrames,
    online: device.online,
    stateChangedAt: device.stateChangedAt,
    location: device.location,
    locationRank: book.locationRank,
  };
}

/** A full record: the cold fields of `base` with the hot fields of `state`. */
export function withState(base: DeviceRecord, state: DeviceState, metadata?: RadioSummary): DeviceRecord {
  const next: DeviceRecord = {
    ...base,
    uplinkCount: state.uplinkCount,
    lostFrames: state.lostFrames,
    online: state.online,
  };
  if (state.lastSeen !== undefined) next.lastSeen = state.lastSeen;
  if (state.lastFCnt !== undefined) next.lastFCnt = state.lastFCnt;
  if (state.stateChangedAt !== undefined) next.stateChangedAt = state.stateChangedAt;
  if (state.location !== undefined) next.location = state.location;
  if (metadata !== undefined) next.metadata = metadata;
  return next;
}
