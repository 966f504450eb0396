import { type NodeAPI, registerNode } from '../shared/red-types';
import { onClose } from '../shared/input';
import { createStore, type StoreConfig } from '../../src/store';
import { describeError } from '../../src/store/errors';
import type { StoreState } from '../../src/store/store';
import { DeviceRegistry } from '../../src/registry/registry';
import { resolveEnvReference } from '../../src/util/env-reference';
import { setting } from '../shared/settings';
import type { TtsStoreDef, TtsStoreNode } from './types';

export = (RED: NodeAPI): void => {
  function TtsStoreConfig(this: TtsStoreNode, config: TtsStoreDef): void {
    RED.nodes.createNode(this, config);
    let storeConfig: StoreConfig;
    if (config.backend === 'postgres') {
      const lookup = (name: string): unknown => RED.util.getSetting(this, name);
      storeConfig = { backend: 'postgres', connection: resolveEnvReference(this.credentials?.connection, lookup) };
    } else {
      storeConfig = { backend: 'sqlite', path: config.path ?? '', userDir: RED.settings.userDir };
    }
    try {
      this.store = createStore(storeConfig, {
        maxQueue: setting(RED, 'ttsStoreQueueLimit'),
        retentionInterval: setting(RED, 'ttsRetentionInterval'),
      });
    } catch (err) {
      this.configError = describeError(err);
      this.error(RED._('tts-store.errors.config', { error: this.configError }));
      return;
    }
    const store = this.store;
    const registry = new DeviceRegistry(store, { sweepInterval: setting(RED, 'ttsSweepInterval') });
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

  registerNode(RED, 'tts-store', TtsStoreConfig, {
    credentials: {
      connection: { type: 'password' },
    },
  });
};
