import { randomInt } from 'node:crypto';
import type { ApplicationDownlink, ApplicationUp, Location, RxMetadata, TtsErrorDetails } from '../tts/types';
import { airtimeSeconds, SIM_GATEWAYS, type SimDevice } from './devices';
import { randomBase64, timestamp, ulid } from './ids';
import { encodeUplink, nextReading } from './payloads';
import { omitDefaults } from './prune';

// EU868 default and additional channels (Hz), index = channel_index.
const EU868_CHANNELS = [868_100_000, 868_300_000, 868_500_000, 867_100_000, 867_300_000, 867_500_000, 867_700_000, 867_900_000];

function endDeviceIds(device: SimDevice, applicationId: string): ApplicationUp['end_device_ids'] {
  return omitDefaults({
    device_id: device.deviceId,
    application_ids: { application_id: applicationId },
    dev_eui: device.devEui,
    join_eui: device.joinEui,
    dev_addr: device.devAddr,
  });
}

/** The next uplink of a device: advances its reading and FCnt. */
export function buildUplink(device: SimDevice, applicationId: string, now = new Date()): ApplicationUp {
  device.reading = nextReading(device.reading);
  const encoded = encodeUplink(device.payload, device.reading);
  const fCnt = device.fCntUp++;
  const channel = randomInt(EU868_CHANNELS.length);
  const concentratorTime = randomInt(0x1_0000_0000);
  const gateways = SIM_GATEWAYS.slice(0, 1 + randomInt(SIM_GATEWAYS.length));
  const rx: RxMetadata[] = gateways.map((gw, i) => {
    const rssi = -60 - randomInt(60) - i * 7;
    return {
      gateway_ids: { gateway_id: gw.gatewayId, eui: gw.eui },
      time: new Date(now.getTime() - 60).toISOString().replace(/\.(\d{3})Z$/, '.$1730Z'),
      timestamp: (concentratorTime + i * 17) >>> 0,
      rssi,
      channel_rssi: rssi,
      snr: Math.round((12 - randomInt(200) / 10) * 4) / 4,
      location: { ...gw.location, source: 'SOURCE_REGISTRY' },
      uplink_token: randomBase64(36),
      channel_index: channel,
      received_at: timestamp(new Date(now.getTime() - 40)),
    };
  });
  const locations: Record<string, Location> = {};
  if (device.location) locations.user = { ...device.location, source: 'SOURCE_REGISTRY' };
  const gps = encoded.decoded?.gps_4 as { latitude: number; longitude: number; altitude: number } | undefined;
  if (gps) locations['frm-payload'] = { ...gps, source: 'SOURCE_GPS' };

  return omitDefaults({
    end_device_ids: endDeviceIds(device, applicationId),
    correlation_ids: [`gs:uplink:${ulid()}`, `as:up:${ulid()}`],
    received_at: timestamp(now),
    uplink_message: {
      session_key_id: device.sessionKeyId,
      f_port: encoded.fPort,
      f_cnt: fCnt,
      frm_payload: encoded.bytes.toString('base64'),
      decoded_payload: encoded.decoded,
      rx_metadata: rx,
      settings: {
        data_rate: { lora: { bandwidth: 125_000, spreading_factor: device.spreadingFactor, coding_rate: '4/5' } },
        frequency: String(EU868_CHANNELS[channel]), // 64-bit: a string on the wire
        timestamp: concentratorTime,
      },
      received_at: timestamp(new Date(now.getTime() - 20)),
      consumed_airtime: `${airtimeSeconds(device.spreadingFactor, encoded.bytes.length).toFixed(6)}s`,
      locations,
      version_ids: { brand_id: 'sim-sensors', model_id: `sim-${device.payload}`, hardware_version: '1.0', firmware_version: '1.2.0', band_id: 'EU_863_870' },
      network_ids: { net_id: '000013', tenant_id: 'ttn', cluster_id: 'sim1', cluster_address: 'localhost' },
    },
  });
}

export function buildJoinAccept(device: SimDevice, applicationId: string, now = new Date()): ApplicationUp {
  return omitDefaults({
    end_device_ids: endDeviceIds(device, applicationId),
    correlation_ids: [`as:up:${ulid()}`, `ns:uplink:${ulid()}`],
    received_at: timestamp(now),
    join_accept: { session_key_id: device.sessionKeyId, received_at: timestamp(new Date(now.getTime() - 30)) },
  });
}

/** A `location_solved` message, as TTS sends it when decoded_payload carries a position. */
export function buildLocationSolved(uplink: ApplicationUp): ApplicationUp | undefined {
  const location = uplink.uplink_message?.locations?.['frm-payload'];
  if (!location) return undefined;
  return omitDefaults({
    end_device_ids: uplink.end_device_ids,
    correlation_ids: uplink.correlation_ids,
    received_at: uplink.received_at,
    location_solved: { service: 'frm-payload', location },
  });
}

export type DownlinkEventType = 'downlink_queued' | 'downlink_sent' | 'downlink_ack' | 'downlink_nack';

export function buildDownlinkEvent(type: DownlinkEventType, device: SimDevice, applicationId: string, downlink: ApplicationDownlink): ApplicationUp {
  return omitDefaults({
    end_device_ids: endDeviceIds(device, applicationId),
    correlation_ids: downlink.correlation_ids,
    received_at: timestamp(),
    [type]: downlink,
  });
}

export function buildDownlinkFailed(device: SimDevice, applicationId: string, downlink: ApplicationDownlink, error: TtsErrorDetails): ApplicationUp {
  return omitDefaults({
    end_device_ids: endDeviceIds(device, applicationId),
    correlation_ids: downlink.correlation_ids,
    received_at: timestamp(),
    downlink_failed: { downlink, error },
  });
}
