import type { NodeAPI } from '../shared/red-types';
import { onClose } from '../shared/input';
import { createStore, type StoreConfig } from '../../src/store';
import { describeError } from '../../src/store/errors';
import type { StoreState } from '../../src/store/store';
import { DeviceRegistry } from '../../src/registry/registry';
import { resolveEnvReference } from '../../src/util/env-reference';
import type { TtsStoreDef, TtsStoreNode } from './types';

/** A positive number of ms from a runtime setting, else the default. */
function msSetting(value: unknown, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

export = (RED: NodeAPI): void => {
  function TtsStoreConfig(this: TtsStoreNode, config: TtsStoreDef): void {
    RED.nodes.createNode(this, config);
    const settings = RED.settings as unknown as Record<string, unknown>;
    let storeConfig: StoreConfig;
    if (config.backend === 'postgres') {
      const lookup = (name: string): unknown => RED.util.getSetting(this, name);
      storeConfig = { backend: 'postgres', connection: resolveEnvReference(this.credentials?.connection, lookup) };
    } else {
      storeConfig = { backend: 'sqlite', path: config.path ?? '', userDir: RED.settings.userDir as string | undefined };
    }
    try {
      this.store = createStore(storeConfig, {
        maxQueue: msSetting(settings.ttsStoreQueueLimit, 10_000),
        retentionInterval: msSetting(settings.ttsRetentionInterval, 60_000),
      });
    } catch (err) {
      this.configError = describeError(err);
      this.error(RED._('tts-store.errors.config', { error: this.configError }));
      return;
    }
    const store = this.store;
    const registry = new DeviceRegistry(store, { sweepInterval: msSetting(settings.ttsSweepInterval, 30_000) });
    this.registry = registry;

    let wasReady = false;
    const onState = (state: StoreState): void => {
      if (state.status === 'ready' && !wasReady) {
        wasReady = true;
        // First sweep as soon as the store is reachable: reports devices that went silent while stopped.
        registry.sweep().catch((err: unknown) => this.warn(RED._('tts-store.warn.background', { error: describeError(err) })));
      } else if (state.status === 'unavailable' && wasReady) {
        wasReady = false;
        this.error(RED._('tts-store.errors.unavailable', { error: state.error }));
      }
    };
    store.on('state', onState);
    const onWarning = (text: string): void => this.warn(RED._('tts-store.warn.background', { error: text }));
    store.on('warning', onWarning);
    registry.on('warning', onWarning);
    store.start().catch((err: unknown) => this.error(RED._('tts-store.errors.unavailable', { error: describeError(err) })));
    registry.startSweeper();

    onClose(this, async () => {
      await registry.close();
      const { refused } = await store.close();
      store.off('state', onState);
      store.off('warning', onWarning);
      if (refused > 0) this.warn(RED._('tts-store.warn.lost', { count: refused }));
    });
  }

  RED.nodes.registerType('tts-store', TtsStoreConfig as unknown as Parameters<NodeAPI['nodes']['registerType']>[1], {
    credentials: {
      connection: { type: 'password' },
    },
  });
};
