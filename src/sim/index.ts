// The TTS simulator: programmatic API (the CLI is cli.ts).
export { TtsSimulator, type SimulatorOptions, type SimWebhookTarget, type ReceivedDownlinkRequest, type ApiRequestRecord, type SimFault, type SimulatorEvents } from './simulator';
export type { SimDeviceSpec, SimDevice } from './devices';
export { parseOutcome, type DownlinkOutcome } from './downlink-outcome';
export { PAYLOAD_KINDS, type PayloadKind } from './payloads';
export type { WebhookPostResult } from './webhook-sender';
export { DEFAULT_MAX_ATTEMPTS, QUEUE_MAX_PAYLOAD, type DownlinkTiming } from './downlink-engine';
