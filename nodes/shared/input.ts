import type { Node, NodeMessage, NodeMessageInFlow } from 'node-red';
import { doneError } from './errors';

export type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;

/**
 * Registers an input handler that may be async: its result ends in exactly one `done()` or
 * `done(err)`, so errors reach Catch nodes once and are never also logged with node.error.
 */
export function onInput(node: Node, handler: (msg: NodeMessageInFlow, send: Send) => Promise<void> | void): void {
  node.on('input', (msg: NodeMessageInFlow, send: Send, done: (err?: Error) => void) => {
    let result: Promise<void> | void;
    try {
      result = handler(msg, send);
    } catch (err) {
      done(doneError(err));
      return;
    }
    Promise.resolve(result).then(
      () => done(),
      (err: unknown) => done(doneError(err)),
    );
  });
}

/** Registers a close handler that always calls done, whatever the cleanup throws. */
export function onClose(node: Node, cleanup: (removed: boolean) => Promise<void> | void): void {
  node.on('close', (removed: boolean, done: () => void) => {
    Promise.resolve()
      .then(() => cleanup(removed))
      .catch((err: unknown) => node.warn(`close: ${(err as Error).message}`))
      .finally(() => done());
  });
}
