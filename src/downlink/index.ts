// The downlink core: target device, data choice, encoding, settings and overrides, guard-rails,
// where to post, and the lifecycle tracker that follows each downlink through TTS's events.
export * from './device-target';
export * from './downlink-sender';
export * from './encoder';
export * from './endpoint';
export * from './errors';
export * from './lifecycle-tracker';
export * from './raw-payload';
export * from './settings';
export * from './encode-preview';
export * from './property-change';
