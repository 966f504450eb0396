import type { Node, NodeAPI, NodeMessageInFlow } from 'node-red';

/**
 * A node type for tests (`test-gate`) that keeps every message it receives until the test lets
 * it go: `done()` (the flow is finished with it there), `pass()` (send it on, then done), or
 * `done(err)`. Nothing it holds finishes by itself, which is what durability tests need.
 */
export interface GatedMessage {
  msg: NodeMessageInFlow & { payload?: unknown; downlink?: unknown; tts?: { type?: string; replay?: boolean; received_at?: string; f_cnt?: number } };
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

/** Resolves once gates hold `count` messages in all (since the last reset), of those `match` takes. */
export function gatesHold(count: number, match: (g: GatedMessage) => boolean = () => true): Promise<GatedMessage[]> {
  return new Promise((resolve) => {
    const check = (): void => {
      const held = gated.filter(match);
      if (held.length >= count) resolve(held.slice(0, count));
      else waiting.push(check);
    };
    check();
  });
}

export function resetGates(): void {
  gated.length = 0;
}
