// What the editor's sidebar shows of a store: device summaries, bucket statistics, the newest
// rows and a chart series. Plain data, no secret (a store holds none; its connection string is a
// credential of the config node and never reaches here).
import { toChartPoints } from '../store/chart';
import { StoreInputError } from '../store/errors';
import { readingToRow } from '../store/export';
import type { TtsStore } from '../store/store';
import type { BucketStats, DeviceRecord, LocationRecord, StoredReading } from '../store/types';

export interface SignalSummary {
  bestRssi?: number;
  bestSnr?: number;
  gatewayCount: number;
  dataRate?: string;
  spreadingFactor?: number;
  frequency?: number;
}

export interface DeviceSummary {
  id: string;
  applicationId: string;
  deviceId: string;
  devEui?: string;
  profileId: string;
  assetType: string;
  assetGroup: string;
  bucket: string;
  online: boolean;
  lastSeen?: number;
  stateChangedAt?: number;
  location?: LocationRecord;
  signal?: SignalSummary;
  uplinkCount: number;
  lostFrames: number;
  /** The newest reading in the device's bucket. */
  latest?: { ts: number; data: Record<string, unknown> };
}

export interface ChartSeries {
  field: string;
  points: Array<{ x: number; y: number }>;
  /** More rows matched than were read: the newest `maxRows` are shown. */
  truncated: boolean;
}

/** Devices listed per store, at most (the sidebar filters and sorts them in the browser). */
export const DEVICE_LIST_LIMIT = 1000;
/** Rows read for one chart, at most. */
export const CHART_MAX_ROWS = 5000;
export const NEWEST_ROWS_MAX = 200;

function signalOf(device: DeviceRecord): SignalSummary | undefined {
  const m = device.metadata;
  if (!m) return undefined;
  return {
    gatewayCount: m.gatewayCount,
    ...(m.bestRssi !== undefined ? { bestRssi: m.bestRssi } : {}),
    ...(m.bestSnr !== undefined ? { bestSnr: m.bestSnr } : {}),
    ...(m.dataRate !== undefined ? { dataRate: m.dataRate } : {}),
    ...(m.spreadingFactor !== undefined ? { spreadingFactor: m.spreadingFactor } : {}),
    ...(m.frequency !== undefined ? { frequency: m.frequency } : {}),
  };
}

/** The newest reading of a bucket, or undefined when it has none (or does not exist yet). */
export async function latestReading(store: TtsStore, bucket: string): Promise<StoredReading | undefined> {
  try {
    return (await store.query({ bucket, limit: 1, order: 'desc' })).rows[0];
  } catch (err) {
    if (err instanceof StoreInputError) return undefined; // no such bucket: nothing stored yet
    throw err;
  }
}

export function summariseDevice(device: DeviceRecord, latest?: StoredReading): DeviceSummary {
  const signal = signalOf(device);
  return {
    id: device.id,
    applicationId: device.applicationId,
    deviceId: device.deviceId,
    ...(device.devEui ? { devEui: device.devEui } : {}),
    profileId: device.profileId,
    assetType: device.assetType,
    assetGroup: device.assetGroup,
    bucket: device.bucket,
    online: device.online,
    ...(device.lastSeen !== undefined ? { lastSeen: device.lastSeen } : {}),
    ...(device.stateChangedAt !== undefined ? { stateChangedAt: device.stateChangedAt } : {}),
    ...(device.location ? { location: device.location } : {}),
    ...(signal ? { signal } : {}),
    uplinkCount: device.uplinkCount,
    lostFrames: device.lostFrames,
    ...(latest ? { latest: { ts: latest.ts, data: latest.data } } : {}),
  };
}

/** Every device of the store (up to DEVICE_LIST_LIMIT), with its latest reading. */
export async function listDeviceSummaries(store: TtsStore, limit = DEVICE_LIST_LIMIT): Promise<{ devices: DeviceSummary[]; more: boolean }> {
  const devices: DeviceRecord[] = [];
  let after: string | undefined;
  let more = false;
  for (;;) {
    const page = await store.listDevices({ limit: Math.min(500, limit - devices.length), ...(after ? { after } : {}) });
    devices.push(...page.devices);
    if (!page.next) break;
    if (devices.length >= limit) {
      more = true;
      break;
    }
    after = page.next;
  }
  const summaries: DeviceSummary[] = [];
  for (const device of devices) summaries.push(summariseDevice(device, await latestReading(store, device.bucket)));
  return { devices: summaries, more };
}

/** One device with all its properties (the `downlink` property included) and its latest reading. */
export async function deviceDetail(store: TtsStore, id: string): Promise<(DeviceRecord & { latest?: StoredReading }) | undefined> {
  const device = await store.getDevice(id);
  if (!device) return undefined;
  const latest = await latestReading(store, device.bucket);
  return { ...device, ...(latest ? { latest } : {}) };
}

export async function bucketSummaries(store: TtsStore): Promise<BucketStats[]> {
  const out: BucketStats[] = [];
  for (const bucket of await store.listBuckets()) {
    const stats = await store.bucketStats(bucket.id);
    if (stats) out.push(stats);
  }
  return out;
}

/** The newest rows of a bucket, newest first, in the shape of query results and exports. */
export async function newestRows(store: TtsStore, bucket: string, limit: number): Promise<Array<Record<string, unknown>>> {
  const page = await store.query({ bucket, limit: Math.max(1, Math.min(limit, NEWEST_ROWS_MAX)), order: 'desc' });
  return page.rows.map(readingToRow);
}

/** One numeric field (nested: `a.b`) of a bucket over a time range, oldest first. */
export async function chartSeries(store: TtsStore, bucket: string, field: string, range: { from?: number; to?: number }, maxRows = CHART_MAX_ROWS): Promise<ChartSeries> {
  if (field.trim() === '') throw new StoreInputError('choose a field to chart');
  const page = await store.query({ bucket, ...range, limit: maxRows, order: 'desc' });
  const points = toChartPoints(page.rows, [field]).map((p) => ({ x: p.x, y: p.y }));
  return { field, points, truncated: page.next !== undefined };
}
