import type { Node, NodeDef } from 'node-red';
import type { DeviceRegistry } from '../../src/registry/registry';
import type { TtsStore } from '../../src/store/store';

/** tts-store's stored config: shared by the runtime, the tests and the flow factories. */
export interface TtsStoreDef extends NodeDef {
  backend?: 'sqlite' | 'postgres';
  /** SQLite file, relative to the Node-RED user directory (default tts-data.db). */
  path?: string;
}

export interface TtsStoreCredentials {
  /** postgres:// URL (may be `${ENV_VAR}`). */
  connection?: string;
}

/**
 * What other nodes get from `RED.nodes.getNode(config.store)`: the store (readings, buckets) and
 * the device registry (devices, their `downlink` property, lifecycle events). Both are undefined
 * when the configuration is invalid; `configError` then says why.
 */
export interface TtsStoreNode extends Node<TtsStoreCredentials> {
  store?: TtsStore;
  registry?: DeviceRegistry;
  configError?: string;
}
