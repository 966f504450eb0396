import type { Node, NodeStatus } from 'node-red';

/** Status text, or a function that builds it: called only when the status is actually written. */
export type StatusText = string | (() => string);

type PendingStatus = Omit<NodeStatus, 'text'> & { text?: StatusText };

/**
 * The one way nodes of this package show status, with a fixed vocabulary:
 * waiting = yellow ring, working = blue dot, ok = green dot, error = red ring, clear = nothing.
 * Busy updates (working/ok) are throttled to about one a second; errors show at once. Pass busy
 * text as a function so that nothing is formatted or translated for updates that are dropped.
 */
export class StatusReporter {
  private pending: PendingStatus | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastWrite = 0;

  constructor(private readonly node: Node, private readonly intervalMs = 1000) {}

  waiting(text: StatusText): void {
    this.write({ fill: 'yellow', shape: 'ring', text }, true);
  }

  working(text: StatusText): void {
    this.write({ fill: 'blue', shape: 'dot', text }, false);
  }

  ok(text: StatusText): void {
    this.write({ fill: 'green', shape: 'dot', text }, false);
  }

  /** Shows at once; `throttled` for a count that stays red while messages keep flowing. */
  error(text: StatusText, throttled = false): void {
    this.write({ fill: 'red', shape: 'ring', text }, !throttled);
  }

  clear(): void {
    this.write({}, true);
  }

  /** Call from the node's close handler. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
  }

  private show(status: PendingStatus): void {
    const { text, ...rest } = status;
    this.node.status(text === undefined ? rest : { ...rest, text: typeof text === 'function' ? text() : text });
  }

  private write(status: PendingStatus, immediate: boolean): void {
    const now = Date.now();
    if (immediate || now - this.lastWrite >= this.intervalMs) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.pending = undefined;
      this.lastWrite = now;
      this.show(status);
      return;
    }
    this.pending = status;
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (this.pending) {
          this.lastWrite = Date.now();
          const pending = this.pending;
          this.pending = undefined;
          this.show(pending);
        }
      }, this.intervalMs - (now - this.lastWrite));
    }
  }
}
