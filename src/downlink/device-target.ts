import { isTtsId } from '../tts/protocol';
import type { DeviceRecord } from '../store/types';
import { DownlinkInputError } from './errors';

/** The part of the device registry the downlink node needs. */
export interface DeviceLookup {
  resolveDevice(ref: string | { applicationId: string; deviceId: string }): Promise<DeviceRecord | undefined>;
}

/** The device a downlink goes to. */
export interface DownlinkDevice {
  applicationId: string;
  deviceId: string;
  /** The registry record, when the device is in the store (needed for the stored `downlink`). */
  record?: DeviceRecord;
  /** Where the target came from. */
  source: 'msg.device' | 'msg.tts' | 'node';
  /** The registry could not be asked (store unreachable); the TTS ids alone are still usable. */
  lookupError?: string;
}

export interface TargetInput {
  device?: unknown;
  tts?: unknown;
  /** The node's fixed device: a registry id or `application_id/device_id`. */
  configured?: string;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function checkIds(applicationId: string, deviceId: string, what: string): void {
  if (!isTtsId(applicationId)) throw new DownlinkInputError(`${what}: application ID ${JSON.stringify(applicationId)} is not a valid TTS ID`);
  if (!isTtsId(deviceId)) throw new DownlinkInputError(`${what}: device ID ${JSON.stringify(deviceId)} is not a valid TTS ID`);
}

function fromRecord(record: DeviceRecord, source: DownlinkDevice['source']): DownlinkDevice {
  return { applicationId: record.applicationId, deviceId: record.deviceId, record, source };
}

async function byIds(applicationId: string, deviceId: string, source: DownlinkDevice['source'], registry: DeviceLookup | undefined): Promise<DownlinkDevice> {
  checkIds(applicationId, deviceId, source);
  if (!registry) return { applicationId, deviceId, source };
  let record: DeviceRecord | undefined;
  try {
    record = await registry.resolveDevice({ applicationId, deviceId });
  } catch (err) {
    // The ids are enough to send: a store outage must not stop downlinks that carry their data.
    return { applicationId, deviceId, source, lookupError: (err as Error).message };
  }
  return record ? fromRecord(record, source) : { applicationId, deviceId, source };
}

async function byReference(ref: string, source: DownlinkDevice['source'], registry: DeviceLookup | undefined): Promise<DownlinkDevice> {
  const record = registry ? await registry.resolveDevice(ref) : undefined;
  if (record) return fromRecord(record, source);
  const slash = ref.indexOf('/');
  if (slash > 0) return byIds(ref.slice(0, slash), ref.slice(slash + 1), source, undefined);
  throw new DownlinkInputError(
    registry
      ? `${source}: no device "${ref}" in the registry (give a registry id or "application-id/device-id")`
      : `${source}: "${ref}" is a registry id, but the node has no store to look it up in (configure a store, or give "application-id/device-id")`,
  );
}

/**
 * Which device a message addresses: msg.device (a registry id, `app/dev`, or a device record),
 * else msg.tts (the ids of the message that triggered it), else the node's fixed device.
 */
export async function resolveDownlinkDevice(input: TargetInput, registry?: DeviceLookup): Promise<DownlinkDevice> {
  const { device, tts, configured } = input;
  if (device !== undefined && device !== null && device !== '') {
    if (typeof device === 'string') return byReference(device.trim(), 'msg.device', registry);
    if (typeof device === 'object' && !Array.isArray(device)) {
      const d = device as Record<string, unknown>;
      const applicationId = str(d.applicationId) ?? str(d.application_id);
      const deviceId = str(d.deviceId) ?? str(d.device_id);
      const id = str(d.id);
      if (id && registry) {
        const record = await registry.resolveDevice(id);
        if (record) return fromRecord(record, 'msg.device');
      }
      if (applicationId && deviceId) return byIds(applicationId, deviceId, 'msg.device', registry);
      if (id) return byReference(id, 'msg.device', registry);
    }
    throw new DownlinkInputError('msg.device must be a registry id, "application-id/device-id" or a device record with applicationId and deviceId');
  }
  if (tts !== undefined && tts !== null && typeof tts === 'object') {
    const t = tts as Record<string, unknown>;
    const applicationId = str(t.application_id);
    const deviceId = str(t.device_id);
    if (applicationId && deviceId) return byIds(applicationId, deviceId, 'msg.tts', registry);
  }
  const fixed = str(configured);
  if (fixed) return byReference(fixed, 'node', registry);
  throw new DownlinkInputError('no target device: set msg.device, pass a message with msg.tts ids, or configure a device on the node');
}
