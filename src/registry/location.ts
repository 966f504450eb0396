import type { TtsEnvelope } from '../tts/envelope-types';
import type { Location, RxMetadata } from '../tts/types';
import type { LocationRecord } from '../store/types';

/**
 * Source ranks: a stored location is only replaced by one whose source ranks at least as well
 * (or when it has gone stale). A solver's answer beats the device's own GPS report, which beats
 * the position typed into the registry, which beats "near the gateway that heard it".
 */
export const LOCATION_RANK = {
  location_solved: 4,
  'frm-payload': 3,
  service: 3,
  user: 2,
  gateway: 1,
  gateways: 1,
} as const;

export interface LocationCandidate {
  location: LocationRecord;
  rank: number;
}

function valid(loc: Location | undefined): loc is Location & { latitude: number; longitude: number } {
  if (!loc) return false;
  const { latitude: lat, longitude: lon } = loc;
  if (typeof lat !== 'number' || typeof lon !== 'number' || !Number.isFinite(lat) || !Number.isFinite(lon)) return false;
  if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return false;
  return !(lat === 0 && lon === 0); // "no fix" as reported by many gateways and trackers
}

function record(loc: Location & { latitude: number; longitude: number }, source: string, at: number): LocationRecord {
  const r: LocationRecord = { latitude: loc.latitude, longitude: loc.longitude, source, at };
  if (typeof loc.altitude === 'number' && Number.isFinite(loc.altitude)) r.altitude = loc.altitude;
  if (typeof loc.accuracy === 'number' && Number.isFinite(loc.accuracy)) r.accuracy = loc.accuracy;
  return r;
}

function signal(m: RxMetadata): number | undefined {
  const v = m.rssi ?? m.channel_rssi ?? m.signal_rssi;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * The gateways' contribution: the one gateway with a known position, or a centroid of several
 * weighted by received power (dBm → mW, so a gateway 10 dB stronger weighs ten times more).
 */
export function gatewayLocation(rx: RxMetadata[] | undefined, at: number): LocationRecord | undefined {
  const located = (rx ?? []).filter((m) => valid(m.location)) as Array<RxMetadata & { location: Location & { latitude: number; longitude: number } }>;
  // The same gateway may appear once per antenna: keep its strongest entry.
  const byGateway = new Map<string, (typeof located)[number]>();
  for (const m of located) {
    const id = m.gateway_ids?.gateway_id ?? m.gateway_ids?.eui ?? `${m.location.latitude},${m.location.longitude}`;
    const prev = byGateway.get(id);
    if (!prev || (signal(m) ?? -Infinity) > (signal(prev) ?? -Infinity)) byGateway.set(id, m);
  }
  const gateways = [...byGateway.values()];
  if (gateways.length === 0) return undefined;
  if (gateways.length === 1) return record(gateways[0].location, 'gateway', at);
  let wSum = 0;
  let lat = 0;
  let lon = 0;
  for (const g of gateways) {
    const w = 10 ** ((signal(g) ?? -120) / 10);
    wSum += w;
    lat += g.location.latitude * w;
    lon += g.location.longitude * w;
  }
  return { latitude: lat / wSum, longitude: lon / wSum, source: 'gateways', at };
}

/** The best location a message offers, with its rank; undefined when it offers none. */
export function bestLocation(envelope: TtsEnvelope, at: number): LocationCandidate | undefined {
  if (envelope.type === 'location_solved') {
    const loc = (envelope.message as { location?: Location }).location;
    return valid(loc) ? { location: record(loc, 'location_solved', at), rank: LOCATION_RANK.location_solved } : undefined;
  }
  const locations = envelope.locations ?? {};
  const payload = locations['frm-payload'];
  if (valid(payload)) return { location: record(payload, 'frm-payload', at), rank: LOCATION_RANK['frm-payload'] };
  for (const [key, loc] of Object.entries(locations)) {
    if (key !== 'user' && key !== 'frm-payload' && valid(loc)) return { location: record(loc, key, at), rank: LOCATION_RANK.service };
  }
  const user = locations.user;
  if (valid(user)) return { location: record(user, 'user', at), rank: LOCATION_RANK.user };
  const gw = gatewayLocation(envelope.rx_metadata, at);
  return gw ? { location: gw, rank: LOCATION_RANK.gateway } : undefined;
}

// The move rule runs where the store applies sightings (its SQLite worker thread too), so it lives in the store.
export { GATEWAY_MOVE_THRESHOLD_M, MOVE_THRESHOLD_M, distanceM, locationMoved } from '../store/location-move';
