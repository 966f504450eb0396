export { DeviceRegistry, type DownlinkChange, type DownlinkOrigin, type LifecycleEvent, type LifecycleEventName, type ProvisionResult, type RegistryOptions } from './registry';
export { bestLocation, gatewayLocation, LOCATION_RANK, type LocationCandidate } from './location';
export { radioSummary, durationMs } from './radio-summary';
