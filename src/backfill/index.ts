// Backfill from TTS's Storage Integration after downtime (no Node-RED import).
export { BackfillService, type BackfillEnvironment, type BackfillEvent, type BackfillProfile, type BackfillServiceOptions } from './backfill-service';
export { runBackfill, InjectFailure, BackfillCancelled, type BackfillOutcome, type BackfillTarget } from './backfill-run';
export { GapTracker, type GapTrackerOptions, type OpenGap } from './gap-tracker';
export { uplinkKeys, identityOfEnvelope, identityOfStored, type UplinkIdentity } from './uplink-keys';
