import { EventEmitter } from 'node:events';
import type { TtsEnvelope } from './envelope-types';

/**
 * Every message webhook-in accepts is also published here, so that nodes which are not wired
 * after webhook-in (the downlink node tracking its downlinks' outcomes) can follow them.
 */
export class TtsMessageBus extends EventEmitter {
  constructor() {
    super();
    // One listener per deployed downlink node: no leak warning however many there are.
    this.setMaxListeners(0);
  }

  publish(envelope: TtsEnvelope): void {
    this.emit('message', envelope);
  }

  subscribe(listener: (envelope: TtsEnvelope) => void): () => void {
    this.on('message', listener);
    return () => this.off('message', listener);
  }
}

