// Database rows → records, shared by both backends. SQLite hands back JSON as text and booleans as
// 0/1; PostgreSQL hands back parsed JSONB and booleans. `json` and `bool` smooth that over.
import type { DeviceState } from './device-state';
import type { BucketRecord, DeviceRecord, Retention, StoredReading } from './types';

export interface DeviceRow {
  id: string;
  application_id: string;
  device_id: string;
  dev_eui: string | null;
  join_eui: string | null;
  bucket: string;
  profile_id: string;
  asset_type: string;
  asset_group: string;
  connection_timeout: number;
  location: unknown;
  metadata: unknown;
  downlink: unknown;
  created_at: number;
  updated_at: number;
  last_seen: number | null;
  uplink_count: number;
  last_f_cnt: number | null;
  online: number | boolean;
  state_changed_at: number | null;
  lost_frames: number;
  last_uplink_at: number | null;
  location_rank: number | null;
}

export interface BucketRow {
  key: number;
  id: string;
  device: string | null;
  created_at: number;
  max_age: number | null;
  max_rows: number | null;
}

export interface ReadingRow {
  ts: number;
  f_cnt: number;
  f_port: number | null;
  data: unknown;
  radio: unknown;
}

export function json<T>(value: unknown): T | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return JSON.parse(value) as T;
  return value as T;
}

/** JSON text for a column, or null. */
export function toJsonText(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

function opt<T>(value: T | null): T | undefined {
  return value === null ? undefined : value;
}

export function deviceFromRow(row: DeviceRow): DeviceRecord {
  const device: DeviceRecord = {
    id: row.id,
    applicationId: row.application_id,
    deviceId: row.device_id,
    bucket: row.bucket,
    profileId: row.profile_id,
    assetType: row.asset_type,
    assetGroup: row.asset_group,
    connectionTimeout: Number(row.connection_timeout),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    uplinkCount: Number(row.uplink_count),
    lostFrames: Number(row.lost_frames),
    online: row.online === true || row.online === 1,
  };
  if (row.dev_eui !== null) device.devEui = row.dev_eui;
  if (row.join_eui !== null) device.joinEui = row.join_eui;
  const location = json<DeviceRecord['location']>(row.location);
  if (location) device.location = location;
  const metadata = json<DeviceRecord['metadata']>(row.metadata);
  if (metadata) device.metadata = metadata;
  if (row.downlink !== null && row.downlink !== undefined) device.downlink = json<unknown>(row.downlink);
  const lastSeen = opt(row.last_seen);
  if (lastSeen !== undefined) device.lastSeen = Number(lastSeen);
  const lastFCnt = opt(row.last_f_cnt);
  if (lastFCnt !== undefined) device.lastFCnt = Number(lastFCnt);
  const changed = opt(row.state_changed_at);
  if (changed !== undefined) device.stateChangedAt = Number(changed);
  return device;
}

/** The columns a flush locks and rewrites (see DeviceState). */
export const STATE_COLUMNS =
  'id, application_id, device_id, bucket, connection_timeout, last_seen, uplink_count, last_f_cnt, last_uplink_at, lost_frames, online, state_changed_at, location, location_rank';

export type DeviceStateRow = Pick<
  DeviceRow,
  | 'id'
  | 'application_id'
  | 'device_id'
  | 'bucket'
  | 'connection_timeout'
  | 'last_seen'
  | 'uplink_count'
  | 'last_f_cnt'
  | 'last_uplink_at'
  | 'lost_frames'
  | 'online'
  | 'state_changed_at'
  | 'location'
  | 'location_rank'
>;

const num = (v: number | null): number | undefined => (v === null ? undefined : Number(v));

export function stateFromRow(row: DeviceStateRow): DeviceState {
  return {
    id: row.id,
    applicationId: row.application_id,
    deviceId: row.device_id,
    bucket: row.bucket,
    connectionTimeout: Number(row.connection_timeout),
    lastSeen: num(row.last_seen),
    uplinkCount: Number(row.uplink_count),
    lastFCnt: num(row.last_f_cnt),
    lastUplinkAt: num(row.last_uplink_at),
    lostFrames: Number(row.lost_frames),
    online: row.online === true || row.online === 1,
    stateChangedAt: num(row.state_changed_at),
    location: json<DeviceState['location']>(row.location),
    locationRank: num(row.location_rank),
  };
}

export function retentionFromRow(row: Pick<BucketRow, 'max_age' | 'max_rows'>): Retention {
  const retention: Retention = {};
  if (row.max_age !== null && Number(row.max_age) > 0) retention.maxAge = Number(row.max_age);
  if (row.max_rows !== null && Number(row.max_rows) > 0) retention.maxRows = Number(row.max_rows);
  return retention;
}

export function bucketFromRow(row: BucketRow): BucketRecord & { key: number } {
  const bucket: BucketRecord & { key: number } = {
    key: Number(row.key),
    id: row.id,
    createdAt: Number(row.created_at),
    retention: retentionFromRow(row),
  };
  if (row.device !== null) bucket.device = row.device;
  return bucket;
}

export function readingFromRow(row: ReadingRow): StoredReading {
  const reading: StoredReading = {
    ts: Number(row.ts),
    fCnt: Number(row.f_cnt) < 0 ? null : Number(row.f_cnt),
    fPort: row.f_port === null ? null : Number(row.f_port),
    data: json<Record<string, unknown>>(row.data) ?? {},
  };
  const radio = json<StoredReading['radio']>(row.radio);
  if (radio) reading.radio = radio;
  return reading;
}
