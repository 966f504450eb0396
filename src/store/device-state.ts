import type { DeviceRecord, DeviceSighting, LocationRecord, SightingResult } from './types';

/** The device columns a sighting changes (both backends write exactly these). */
export interface DeviceStateUpdate {
  lastSeen: number;
  uplinkCount: number;
  lastFCnt: number | undefined;
  lastUplinkAt: number | undefined;
  lostFrames: number;
  online: boolean;
  stateChangedAt: number | undefined;
  metadata: DeviceRecord['metadata'];
  location: LocationRecord | undefined;
  locationRank: number | undefined;
  updatedAt: number;
}

/** Columns the backends keep beside the record to apply sightings. */
export interface DeviceBookkeeping {
  lastUplinkAt?: number;
  locationRank?: number;
}

function sameLocation(a: LocationRecord | undefined, b: LocationRecord): boolean {
  return (
    a !== undefined &&
    a.source === b.source &&
    Math.abs(a.latitude - b.latitude) < 1e-7 &&
    Math.abs(a.longitude - b.longitude) < 1e-7 &&
    (a.altitude ?? null) === (b.altitude ?? null)
  );
}

/**
 * Applies one sighting to a device's current state. Backends call it inside a transaction that
 * holds the device row (BEGIN IMMEDIATE on SQLite, SELECT … FOR UPDATE on PostgreSQL), so two
 * instances handling the same device never lose each other's counts.
 *
 * - An exact replay of the latest uplink (same f_cnt, same time) is not counted again.
 * - f_cnt gaps count as lost frames; a lower f_cnt on a newer uplink is a session reset, and an
 *   older uplink arriving late does not move the reference.
 * - A location replaces the stored one when its source ranks at least as well, or when the stored
 *   one is older than the device's connection timeout (a stale better fix loses to a fresh one).
 */
export function applySighting(
  device: DeviceRecord,
  book: DeviceBookkeeping,
  sighting: DeviceSighting,
  now: number,
): { update: DeviceStateUpdate; result: Omit<SightingResult, 'device'> } {
  const duplicate =
    sighting.fCnt !== undefined && device.lastFCnt === sighting.fCnt && book.lastUplinkAt === sighting.at;
  const update: DeviceStateUpdate = {
    lastSeen: Math.max(device.lastSeen ?? 0, sighting.at),
    uplinkCount: device.uplinkCount,
    lastFCnt: device.lastFCnt,
    lastUplinkAt: book.lastUplinkAt,
    lostFrames: device.lostFrames,
    online: device.online,
    stateChangedAt: device.stateChangedAt,
    metadata: device.metadata,
    location: device.location,
    locationRank: book.locationRank,
    updatedAt: now,
  };
  let cameOnline = false;
  let locationChanged = false;
  if (!duplicate) {
    if (!device.online && sighting.at > (device.lastSeen ?? 0)) {
      update.online = true;
      update.stateChangedAt = now;
      cameOnline = true;
    }
    if (sighting.fCnt !== undefined) {
      update.uplinkCount += 1;
      const newest = book.lastUplinkAt === undefined || sighting.at >= book.lastUplinkAt;
      if (newest) {
        if (device.lastFCnt !== undefined && sighting.fCnt > device.lastFCnt + 1) {
          update.lostFrames += sighting.fCnt - device.lastFCnt - 1;
        }
        update.lastFCnt = sighting.fCnt;
        update.lastUplinkAt = sighting.at;
      }
      if (sighting.metadata && newest) update.metadata = sighting.metadata;
    }
    const loc = sighting.location;
    if (loc) {
      const rank = sighting.locationRank ?? 0;
      const stale = device.location === undefined || device.location.at < sighting.at - device.connectionTimeout;
      const allowed = book.locationRank === undefined || rank >= book.locationRank || stale;
      if (allowed && !sameLocation(device.location, loc)) {
        update.location = loc;
        update.locationRank = rank;
        locationChanged = true;
      } else if (allowed) {
        update.locationRank = rank;
      }
    }
  }
  return { update, result: { cameOnline, locationChanged, duplicate } };
}

export function withUpdate(device: DeviceRecord, update: DeviceStateUpdate): DeviceRecord {
  const next: DeviceRecord = {
    ...device,
    lastSeen: update.lastSeen,
    uplinkCount: update.uplinkCount,
    lostFrames: update.lostFrames,
    online: update.online,
    updatedAt: update.updatedAt,
  };
  if (update.lastFCnt !== undefined) next.lastFCnt = update.lastFCnt;
  if (update.stateChangedAt !== undefined) next.stateChangedAt = update.stateChangedAt;
  if (update.metadata !== undefined) next.metadata = update.metadata;
  if (update.location !== undefined) next.location = update.location;
  return next;
}
