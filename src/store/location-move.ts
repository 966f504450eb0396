// The registry's rule for when a new position is a real move (DeviceSighting.moved). It lives in
// the store because the store applies sightings inside its transaction, in a worker thread for
// SQLite: a function cannot cross to that thread, so a sighting names its rule (MOVE_RULES).
import type { LocationRecord } from './types';

/** Minimum move (m) of a device-reported, solved or registry position before it counts as a new location. */
export const MOVE_THRESHOLD_M = 100;
/**
 * Minimum move (m) of a gateway-derived position. It only says which gateways heard the device and
 * how loudly: it shifts with every change in signal strength, by up to the distance between them.
 */
export const GATEWAY_MOVE_THRESHOLD_M = 5_000;

const EARTH_RADIUS_M = 6_371_000;

/** Distance in metres between two positions (haversine; altitude ignored). */
export function distanceM(a: { latitude: number; longitude: number }, b: { latitude: number; longitude: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLon = (b.longitude - a.longitude) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

const gatewayDerived = (source: string): boolean => source === 'gateway' || source === 'gateways';

/**
 * Whether `candidate` is a real change from the stored position: its kind of source changed
 * (one or several gateways count as one kind), or it moved further than the threshold of its kind
 * (or than the accuracy either fix reports, when that is larger).
 */
export function locationMoved(stored: LocationRecord, candidate: LocationRecord): boolean {
  const storedGw = gatewayDerived(stored.source);
  const candidateGw = gatewayDerived(candidate.source);
  if (storedGw !== candidateGw || (!candidateGw && stored.source !== candidate.source)) return true;
  const threshold = Math.max(candidateGw ? GATEWAY_MOVE_THRESHOLD_M : MOVE_THRESHOLD_M, stored.accuracy ?? 0, candidate.accuracy ?? 0);
  return distanceM(stored, candidate) > threshold;
}

/** The move rules a sighting may carry across a thread boundary, by name. */
export const MOVE_RULES: Readonly<Record<string, (stored: LocationRecord, candidate: LocationRecord) => boolean>> = {
  distance: locationMoved,
};
