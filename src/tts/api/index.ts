// TTS HTTP API client: downlink queueing, webhook management, API keys, webhook set-up.
export * from './api-types';
export * from './client';
export * from './downlink-validation';
export * from './errors';
export { TtsHttp, DEFAULT_TIMEOUT_MS, type RetryInfo, type TtsHttpOptions } from './http';
export * from './retry';
export * from './webhook-request';
export * from './webhook-setup';
