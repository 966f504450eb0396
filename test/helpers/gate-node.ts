import type { Node, NodeAPI, NodeMessageInFlow } from 'node-red';

/**
 * A node type for tests (`test-gate`) that keeps every message it receives until the test lets
 * it go: `done()` (the flow is finished with it there), `pass()` (send it on, then done), or
 * `done(err)`. Nothing it holds finishes by itself, which is what durability tests need.
 */
export interface GatedMessage {
  /** The id of the gate that holds it. */
  node: string;
  msg: NodeMessageInFlow & { payload?: unknown; tts?: { type?: string; replay?: boolean; received_at?: string; f_cnt?: number } };
  done(err?: Error): void;
  pass(): void;
}

export const gated: GatedMessage[] = [];
const waiting: Array<() => void> = [];

export function gateModule(RED: NodeAPI): void {
  function Gate(this: Node, config: { id: string }): void {
    RED.nodes.createNode(this, config as never);
    const onInput = (msg: NodeMessageInFlow, send: (m: unknown) => void, done: (err?: Error) => void): void => {
      gated.push({
        node: config.id,
        msg,
        done,
        pass: () => {
          send(msg);
          done();
        },
      });
      waiting.splice(0).forEach((wake) => wake());
    };
    this.on('input', onInput as never);
  }
  RED.nodes.registerType('test-gate', Gate as never);
}

/** Resolves once gates hold `count` messages in all (since the last reset). */
export function gatesHold(count: number): Promise<GatedMessage[]> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (gated.length >= count) resolve(gated.slice(0, count));
      else waiting.push(check);
    };
    check();
  });
}

/**
 * Resolves with the first held message (since the last reset) that `matches`: for flows where
 * other messages reach the gates too (TTS's downlink events, say) at times of their own.
 */
export function gateHolding(matches: (held: GatedMessage) => boolean): Promise<GatedMessage> {
  return new Promise((resolve) => {
    const check = (): void => {
      const found = gated.find(matches);
      if (found) resolve(found);
      else waiting.push(check);
    };
    check();
  });
}

export function resetGates(): void {
  gated.length = 0;
}
