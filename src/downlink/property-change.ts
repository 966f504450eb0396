import type { DownlinkChange, DownlinkOrigin } from '../registry/registry';
import type { DeviceRecord } from '../store/types';
import { resolveDownlinkDevice, type DeviceLookup } from './device-target';
import type { DownlinkMessage } from './downlink-sender';
import { DownlinkInputError } from './errors';

export interface PropertyChangeRule {
  /** The node's fixed device (registry id or `application-id/device-id`); empty: any device it serves. */
  configuredDevice?: string;
  /** Whether the node serves the device's application (its profile, or the Default profile). */
  serves(applicationId: string): boolean;
}

/**
 * Whether a change of a device's stored `downlink` property should make a downlink node send it,
 * as the hosted plugin's "send on property change" does. Changes a downlink node made while
 * sending (origin `downlink`) never trigger: that data is on its way already.
 */
export function triggersDownlink(change: DownlinkChange, device: DeviceRecord | undefined, rule: PropertyChangeRule): boolean {
  if (change.origin === 'downlink' || !device) return false;
  if (change.value === undefined || change.value === null) return false; // cleared: nothing to send
  const fixed = rule.configuredDevice?.trim();
  if (fixed) return fixed === device.id || fixed === `${device.applicationId}/${device.deviceId}`;
  return rule.serves(device.applicationId);
}

/** The registry calls storing without sending needs. */
export interface PropertyStore extends DeviceLookup {
  setDownlink(id: string, value: unknown, origin?: DownlinkOrigin): Promise<boolean>;
}

/**
 * `msg.storeOnly`: saves msg.payload as the addressed device's `downlink` property without
 * sending it (nodes with "on change" for that device then send it).
 */
export async function storeDownlinkOnly(msg: DownlinkMessage, registry: PropertyStore | undefined, configuredDevice?: string): Promise<{ stored: true; device: string }> {
  if (!registry) throw new DownlinkInputError('msg.storeOnly needs a store on this node: the downlink property lives in the device registry');
  if (msg.payload === undefined || msg.payload === null) throw new DownlinkInputError('msg.storeOnly: msg.payload is empty, nothing to store');
  try {
    JSON.stringify(msg.payload);
  } catch (err) {
    throw new DownlinkInputError(`msg.storeOnly: msg.payload cannot be stored as JSON: ${(err as Error).message}`);
  }
  const target = await resolveDownlinkDevice({ device: msg.device, tts: msg.tts, configured: configuredDevice }, registry);
  if (target.lookupError) throw new DownlinkInputError(`msg.storeOnly: the device registry cannot be read: ${target.lookupError}`);
  if (!target.record) throw new DownlinkInputError(`msg.storeOnly: ${target.applicationId}/${target.deviceId} is not in the device registry`);
  if (!(await registry.setDownlink(target.record.id, msg.payload, 'flow'))) {
    throw new DownlinkInputError(`msg.storeOnly: device "${target.record.id}" is no longer in the device registry`);
  }
  return { stored: true, device: target.record.id };
}
