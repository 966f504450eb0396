// What both backends do the same way around their SQL: the device part of a flush applied in
// JavaScript to the rows they locked, and the checks shared by their device inserts.
import type { DeviceWrite, DeviceWriteResult } from './backend';
import { applySighting, copyState, type DeviceState } from './device-state';
import { StoreDataError } from './errors';
import type { DeviceRecord, NewDevice, RadioSummary } from './types';

export function assertSameDevice(existing: Pick<DeviceRecord, 'applicationId' | 'deviceId'>, wanted: NewDevice): void {
  if (existing.applicationId !== wanted.applicationId || existing.deviceId !== wanted.deviceId) {
    throw new StoreDataError(
      `registry id "${wanted.id}" already belongs to device "${existing.deviceId}" of application "${existing.applicationId}"`,
    );
  }
}

/** The device ids a batch touches, sorted: every instance locks rows in this order (no deadlocks). */
export function lockOrder(writes: readonly DeviceWrite[], alias: ReadonlyMap<string, string>): string[] {
  const ids = new Set<string>();
  for (const w of writes) ids.add(alias.get(w.id) ?? w.id);
  return [...ids].sort();
}

/** What a device's row must become after a batch: its final state and, if any sighting brought one, a radio summary. */
export interface DeviceChange {
  state: DeviceState;
  metadata: RadioSummary | undefined;
}

/**
 * Applies the batch's device writes, in order, to the states read under lock. `created` holds the
 * ids this transaction inserted (the first write creating each reports created), `alias` maps a
 * wanted id to the id the device already has (the same TTS device under another registry id).
 */
export function applyDeviceWrites(
  writes: readonly DeviceWrite[],
  states: Map<string, DeviceState>,
  created: Set<string>,
  alias: ReadonlyMap<string, string>,
  now: number,
): { results: DeviceWriteResult[]; changes: DeviceChange[] } {
  const changes = new Map<string, DeviceChange>();
  const results: DeviceWriteResult[] = [];
  for (const w of writes) {
    const id = alias.get(w.id) ?? w.id;
    const state = states.get(id);
    const result: DeviceWriteResult = { created: w.create !== undefined && created.delete(id) };
    if (state) {
      if (w.sighting) {
        const effect = applySighting(state, w.sighting, now);
        result.effect = effect;
        if (!effect.duplicate) {
          const change = changes.get(id) ?? { state, metadata: undefined };
          if (effect.metadata) change.metadata = effect.metadata;
          changes.set(id, change);
        }
      }
      result.state = copyState(state);
    }
    results.push(result);
  }
  return { results, changes: [...changes.values()] };
}

/** A new device's state before its first sighting. */
export function newDeviceState(d: NewDevice): DeviceState {
  return {
    id: d.id,
    applicationId: d.applicationId,
    deviceId: d.deviceId,
    bucket: d.bucket,
    connectionTimeout: d.connectionTimeout,
    lastSeen: d.at,
    uplinkCount: 0,
    lastFCnt: undefined,
    lastUplinkAt: undefined,
    lostFrames: 0,
    online: true,
    stateChangedAt: d.at,
    location: undefined,
    locationRank: undefined,
  };
}
