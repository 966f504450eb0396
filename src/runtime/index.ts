// The package's process-wide state, in one place: one instance per Node-RED process, shared by
// every node of the package. State this module cannot hold without an import cycle (the event
// log, which the monitor's log entries write to beside the profile registry) or that belongs to
// the node glue (the shared inbox, warnings given once) registers its reset here. Tests call
// resetRuntime() once, when a flow is unloaded (test/helpers/runtime.ts unloadFlow).
import { MessageHolders, type MessageHolder } from '../inbox/hold';
import { WebhookInputs } from '../inbox/inputs';
import { ProfileRegistry } from '../profile/profile-registry';
import { DownlinkTargets } from '../tts/downlink-targets';
import { TtsMessageBus } from '../tts/message-bus';

/** The deployed tts-profile nodes' profiles. */
export const profileRegistry = new ProfileRegistry();
/** Downlink addresses and keys TTS announced in webhook headers, per application. */
export const downlinkTargets = new DownlinkTargets();
/** Every message webhook-in accepts, for nodes not wired after it. */
export const ttsMessageBus = new TtsMessageBus();
/** The inboxes that can take a message back (durable acceptance). */
export const messageHolders = new MessageHolders();
/** The deployed tts-webhook-in nodes, for messages brought in without a request (backfill). */
export const webhookInputs = new WebhookInputs();

export function registerHolder(holder: MessageHolder): () => void {
  return messageHolders.register(holder);
}

/**
 * Asks the inbox to keep `msg` and feed it again later. On true the caller must call `done()`
 * without an error and must not send the message on; on false it reports its error as before.
 */
export function holdForRetry(msg: object, reason: string): boolean {
  return messageHolders.hold(msg, reason);
}

const registeredResets = new Map<string, () => void>();

/**
 * Registers process-wide state kept outside this module: `reset` forgets it as a fresh process
 * would start. One registration per name (a module loaded again replaces its own).
 */
export function registerRuntimeState(name: string, reset: () => void): void {
  registeredResets.set(name, reset);
}

/** The names of the state registered from outside this module. */
export function registeredRuntimeState(): string[] {
  return [...registeredResets.keys()];
}

/** Forgets everything, as a fresh process would start (tests, after their flows are unloaded). */
export function resetRuntime(): void {
  profileRegistry.clear();
  downlinkTargets.forget();
  ttsMessageBus.removeAllListeners();
  messageHolders.clear();
  webhookInputs.clear();
  for (const reset of registeredResets.values()) reset();
}
