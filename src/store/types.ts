// The records the store keeps and the shapes its API takes. Times are milliseconds since the
// epoch everywhere inside the store (both backends keep them as 64-bit integers), so keys are
// time-ordered and comparisons are cheap; the node layer turns them into ISO strings.

export interface LocationRecord {
  latitude: number;
  longitude: number;
  altitude?: number;
  accuracy?: number;
  /** Where the position came from: location_solved service, frm-payload, user, gateway, gateways. */
  source: string;
  /** When it was recorded (ms). */
  at: number;
}

export interface GatewaySignal {
  gatewayId: string;
  rssi?: number;
  snr?: number;
}

/** The last uplink's radio summary (profile setting "save metadata"). */
export interface RadioSummary {
  gateways: GatewaySignal[];
  gatewayCount: number;
  bestRssi?: number;
  bestSnr?: number;
  dataRate?: string;
  spreadingFactor?: number;
  bandwidth?: number;
  frequency?: number;
  airtimeMs?: number;
  fCnt?: number;
  fPort?: number;
  versionIds?: Record<string, string>;
  battery?: number;
}

export interface DeviceRecord {
  /** Registry id: the profile's device prefix + the TTS device_id. */
  id: string;
  applicationId: string;
  deviceId: string;
  devEui?: string;
  joinEui?: string;
  bucket: string;
  profileId: string;
  assetType: string;
  assetGroup: string;
  /** Milliseconds without a message after which the device counts as offline. */
  connectionTimeout: number;
  location?: LocationRecord;
  metadata?: RadioSummary;
  /** The device's stored downlink (the profile's initial data, or what a flow set). */
  downlink?: unknown;
  createdAt: number;
  updatedAt: number;
  lastSeen?: number;
  uplinkCount: number;
  lastFCnt?: number;
  /** Frames missing from the f_cnt sequence (sum of gaps). */
  lostFrames: number;
  online: boolean;
  /** When online last changed (ms). */
  stateChangedAt?: number;
}

/** What creating a device needs; the rest starts empty. */
export interface NewDevice {
  id: string;
  applicationId: string;
  deviceId: string;
  devEui?: string;
  joinEui?: string;
  bucket: string;
  profileId: string;
  assetType: string;
  assetGroup: string;
  connectionTimeout: number;
  downlink?: unknown;
  /** Creation time, also the first "last seen". */
  at: number;
}

/** One message seen from a device (an uplink or a join). */
export interface DeviceSighting {
  at: number;
  /** Present for data uplinks: counts the uplink and tracks f_cnt gaps. */
  fCnt?: number;
  metadata?: RadioSummary;
  location?: LocationRecord;
  /** Rank of `location`'s source: a stored location is replaced only by one of equal or better rank. */
  locationRank?: number;
  /**
   * Whether `location` is a real move from the stored one (the registry's threshold rule); default:
   * any difference. Only a move replaces the stored position and reports a location change.
   */
  moved?: (stored: LocationRecord, candidate: LocationRecord) => boolean;
  /** The message is an inbox replay: if the device already counted an uplink this old, it is not counted again. */
  replay?: boolean;
}

export interface SightingResult {
  device: DeviceRecord;
  /** The device was offline and is online again. */
  cameOnline: boolean;
  /** The stored location changed. */
  locationChanged: boolean;
  /** The same uplink (f_cnt and time) was already counted. */
  duplicate: boolean;
}

export interface Retention {
  /** Rows older than this many ms are deleted (0 or undefined: keep). */
  maxAge?: number;
  /** Only the newest this many rows are kept (0 or undefined: no limit). */
  maxRows?: number;
}

export interface BucketRecord {
  id: string;
  /** Registry id of the device it belongs to, if any. */
  device?: string;
  createdAt: number;
  retention: Retention;
}

export interface BucketStats extends BucketRecord {
  rows: number;
  first?: number;
  last?: number;
}

export interface Reading {
  bucket: string;
  /** Timestamp (ms): the uplink's received_at, or the time of writing. */
  ts: number;
  /**
   * Frame counter of the uplink. Together with bucket and ts it is the reading's identity, so a
   * replay of the same uplink is stored once. Readings without an uplink get a unique negative
   * value from the store.
   */
  fCnt?: number;
  fPort?: number;
  data: Record<string, unknown>;
  radio?: RadioSummary;
}

export interface StoredReading {
  ts: number;
  fCnt: number | null;
  fPort: number | null;
  data: Record<string, unknown>;
  radio?: RadioSummary;
}

export interface ReadingQuery {
  bucket: string;
  /** Inclusive lower bound (ms). */
  from?: number;
  /** Inclusive upper bound (ms). */
  to?: number;
  /** Page size; the store caps it at MAX_PAGE. */
  limit?: number;
  order?: 'asc' | 'desc';
  /** Continue after this position (the `next` of the previous page). */
  after?: ReadingCursor;
}

export interface ReadingCursor {
  ts: number;
  fCnt: number;
}

export interface ReadingPage {
  rows: StoredReading[];
  /** Position to pass as `after` for the next page; absent on the last page. */
  next?: ReadingCursor;
}

export interface DevicePage {
  devices: DeviceRecord[];
  /** The id to pass as `after` for the next page; absent on the last page. */
  next?: string;
}

export const MAX_PAGE = 10_000;
export const DEFAULT_PAGE = 1_000;
