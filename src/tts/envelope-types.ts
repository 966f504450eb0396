import type { ApplicationUp, Location, MessageType, RxMetadata, TxSettings, VersionIds } from './types';

/**
 * The normalised form of one TTS webhook message that every node works with (`msg.tts`).
 * Fields TTS omitted as defaults are filled (f_port 0, correlation_ids []), so flows never need
 * to test for presence; `message` is the type-specific object and `raw` the body as received.
 */
export interface TtsEnvelope {
  type: MessageType;
  application_id: string;
  device_id: string;
  dev_eui?: string;
  join_eui?: string;
  dev_addr?: string;
  received_at: string;
  correlation_ids: string[];
  simulated: boolean;
  /** Uplink fields (from uplink_message; for downlink events from the downlink). */
  f_port?: number;
  f_cnt?: number;
  frm_payload?: string;
  decoded_payload?: Record<string, unknown>;
  rx_metadata?: RxMetadata[];
  settings?: TxSettings;
  locations?: Record<string, Location>;
  version_ids?: VersionIds;
  /** The type-specific object (body[type]). */
  message: Record<string, unknown>;
  raw: ApplicationUp;
  /**
   * True when the message is fed again from the durable inbox (after a restart, a redeploy or a
   * store outage) or brought in by backfill, rather than just received.
   */
  replay?: boolean;
  /** Added by tts-uplink-decode. */
  decodeWarnings?: string[];
}
