import { randomInt } from 'node:crypto';
import { isTtsId } from '../profile/profile-settings';
import type { DownlinkOutcome } from './downlink-outcome';
import { upperHex } from './ids';
import { PAYLOAD_KINDS, type PayloadKind, type Reading } from './payloads';

export interface SimDeviceSpec {
  deviceId: string;
  devEui?: string;
  joinEui?: string;
  payload?: PayloadKind;
  /** Uplink spreading factor 7-12 (EU868, 125 kHz); also bounds the downlink size at transmit. */
  spreadingFactor?: number;
  /** false: no session until a join accept is sent (downlinks answer no_device_session). */
  joined?: boolean;
  location?: { latitude: number; longitude: number; altitude?: number };
  /** How downlinks to this device end; overrides the simulator-wide setting. */
  outcome?: DownlinkOutcome;
}

/** A device's live state inside the simulator. */
export interface SimDevice {
  deviceId: string;
  devEui: string;
  joinEui: string;
  devAddr?: string;
  sessionKeyId?: string;
  payload: PayloadKind;
  spreadingFactor: number;
  fCntUp: number;
  /** Last application downlink frame counter assigned (AFCntDown). */
  fCntDown: number;
  reading: Reading;
  location?: { latitude: number; longitude: number; altitude?: number };
  outcome?: DownlinkOutcome;
}

export interface SimGateway {
  gatewayId: string;
  eui: string;
  location: { latitude: number; longitude: number; altitude: number };
}

// Two gateways with public locations around Wageningen (NL).
export const SIM_GATEWAYS: readonly SimGateway[] = [
  { gatewayId: 'sim-gw-barn-roof', eui: 'B827EBFFFE6A1C22', location: { latitude: 51.9871, longitude: 5.6652, altitude: 14 } },
  { gatewayId: 'sim-gw-water-tower', eui: '58A0CBFFFE8013B7', location: { latitude: 51.9702, longitude: 5.6841, altitude: 42 } },
];

const HEX16 = /^[0-9A-Fa-f]{16}$/;

export function createDevice(spec: SimDeviceSpec, index: number): SimDevice {
  if (!isTtsId(spec.deviceId)) throw new Error(`simulated device ID "${spec.deviceId}" is not a valid TTS ID`);
  if (spec.devEui !== undefined && !HEX16.test(spec.devEui)) throw new Error(`DevEUI of ${spec.deviceId} must be 16 hex digits`);
  const sf = spec.spreadingFactor ?? 7 + (index % 4);
  if (!Number.isInteger(sf) || sf < 7 || sf > 12) throw new Error(`spreading factor of ${spec.deviceId} must be 7-12`);
  const base = spec.location ?? { latitude: 51.98 + index * 0.001, longitude: 5.66 + index * 0.001, altitude: 5 };
  const device: SimDevice = {
    deviceId: spec.deviceId,
    devEui: (spec.devEui ?? `70B3D57ED0${upperHex(3)}`).toUpperCase(),
    joinEui: (spec.joinEui ?? '70B3D57ED0000001').toUpperCase(),
    payload: spec.payload ?? PAYLOAD_KINDS[index % PAYLOAD_KINDS.length],
    spreadingFactor: sf,
    fCntUp: 0,
    fCntDown: 0,
    reading: {
      temperature: 19 + randomInt(60) / 10,
      humidity: 40 + randomInt(200) / 10,
      pressure: 1005 + randomInt(150) / 10,
      latitude: base.latitude,
      longitude: base.longitude,
      altitude: base.altitude ?? 5,
    },
    location: spec.location,
    outcome: spec.outcome,
  };
  if (spec.joined !== false) startSession(device);
  return device;
}

/** A (re)join: new address and session, counters reset. */
export function startSession(device: SimDevice): void {
  device.devAddr = `260B${upperHex(2)}`;
  device.sessionKeyId = Buffer.from(upperHex(16), 'hex').toString('base64');
  device.fCntUp = 0;
  device.fCntDown = 0;
}

export function defaultDeviceSpecs(count: number, prefix = 'sim-device'): SimDeviceSpec[] {
  return Array.from({ length: count }, (_, i) => ({ deviceId: `${prefix}-${String(i + 1).padStart(2, '0')}` }));
}

/**
 * Largest downlink application payload at the device's data rate (EU868 without dwell time):
 * DR0-2 (SF12-10) 51 bytes, DR3 (SF9) 115, DR4-5 (SF8-7) 242.
 */
export function maxPayloadAtDataRate(spreadingFactor: number): number {
  if (spreadingFactor >= 10) return 51;
  if (spreadingFactor === 9) return 115;
  return 242;
}

/** LoRa time on air (s) for an uplink of `payloadBytes` application bytes, 125 kHz, CR 4/5. */
export function airtimeSeconds(spreadingFactor: number, payloadBytes: number): number {
  const bandwidth = 125_000;
  const symbol = 2 ** spreadingFactor / bandwidth;
  const lowRateOptimise = spreadingFactor >= 11 ? 1 : 0;
  const phyPayload = 13 + payloadBytes; // MHDR + FHDR + FPort + MIC
  const symbols = 8 + Math.max(Math.ceil((8 * phyPayload - 4 * spreadingFactor + 28 + 16) / (4 * (spreadingFactor - 2 * lowRateOptimise))) * 5, 0);
  return (8 + 4.25) * symbol + symbols * symbol;
}
