// TTS v3 ApplicationUp wire types (see docs tts-protocol.md §1). Every field is optional on the
// wire because TTS omits default values; the envelope parser fills what a flow relies on.

export type Hex = string;
export type Base64 = string;
export type Timestamp = string;

export interface ApplicationIds {
  application_id: string;
}

export interface EndDeviceIds {
  device_id: string;
  application_ids: ApplicationIds;
  dev_eui?: Hex;
  join_eui?: Hex;
  dev_addr?: Hex;
}

export interface Location {
  latitude?: number;
  longitude?: number;
  altitude?: number;
  accuracy?: number;
  source?: string;
}

export interface RxMetadata {
  gateway_ids?: { gateway_id?: string; eui?: Hex };
  antenna_index?: number;
  time?: Timestamp;
  timestamp?: number;
  rssi?: number;
  channel_rssi?: number;
  signal_rssi?: number;
  snr?: number;
  location?: Location;
  uplink_token?: Base64;
  received_at?: Timestamp;
  channel_index?: number;
  [key: string]: unknown;
}

export interface TxSettings {
  data_rate?: {
    lora?: { bandwidth?: number; spreading_factor?: number; coding_rate?: string };
    fsk?: { bit_rate?: number };
    lrfhss?: Record<string, unknown>;
  };
  frequency?: string;
  timestamp?: number;
  time?: Timestamp;
  [key: string]: unknown;
}

export interface VersionIds {
  brand_id?: string;
  model_id?: string;
  hardware_version?: string;
  firmware_version?: string;
  band_id?: string;
}

export interface ApplicationUplink {
  session_key_id?: Base64;
  f_port?: number;
  f_cnt?: number;
  frm_payload?: Base64;
  decoded_payload?: Record<string, unknown>;
  decoded_payload_warnings?: string[];
  normalized_payload?: Record<string, unknown>[];
  normalized_payload_warnings?: string[];
  rx_metadata?: RxMetadata[];
  settings?: TxSettings;
  received_at?: Timestamp;
  confirmed?: boolean;
  consumed_airtime?: string;
  packet_error_rate?: number;
  locations?: Record<string, Location>;
  version_ids?: VersionIds;
  network_ids?: Record<string, unknown>;
  last_battery_percentage?: { f_cnt?: number; value?: number; received_at?: Timestamp };
  [key: string]: unknown;
}

export interface ApplicationDownlink {
  session_key_id?: Base64;
  f_port?: number;
  f_cnt?: number;
  frm_payload?: Base64;
  decoded_payload?: Record<string, unknown>;
  confirmed?: boolean;
  priority?: Priority;
  correlation_ids?: string[];
  confirmed_retry?: { attempt?: number; max_attempts?: number };
  [key: string]: unknown;
}

export interface TtsErrorDetails {
  namespace?: string;
  name?: string;
  message_format?: string;
  attributes?: Record<string, unknown>;
  correlation_id?: string;
  code?: number;
  [key: string]: unknown;
}

export { DOWNLINK_EVENT_TYPES, MESSAGE_TYPES, PRIORITIES, type MessageType, type Priority } from './protocol';
import type { Priority } from './protocol';

export interface ApplicationUp {
  end_device_ids: EndDeviceIds;
  correlation_ids?: string[];
  received_at?: Timestamp;
  simulated?: boolean;
  uplink_message?: ApplicationUplink;
  uplink_normalized?: Record<string, unknown>;
  join_accept?: Record<string, unknown>;
  downlink_queued?: ApplicationDownlink;
  downlink_sent?: ApplicationDownlink;
  downlink_ack?: ApplicationDownlink;
  downlink_nack?: ApplicationDownlink;
  downlink_failed?: { downlink?: ApplicationDownlink; error?: TtsErrorDetails };
  downlink_queue_invalidated?: { downlinks?: ApplicationDownlink[]; last_f_cnt_down?: number; session_key_id?: Base64 };
  location_solved?: { service?: string; location?: Location; attributes?: Record<string, string> };
  service_data?: { service?: string; data?: Record<string, unknown> };
  [key: string]: unknown;
}
