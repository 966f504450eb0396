import type { Node, NodeStatus } from 'node-red';

/**
 * The one way nodes of this package show status, with a fixed vocabulary:
 * waiting = yellow ring, working = blue dot, ok = green dot, error = red ring, clear = nothing.
 * Busy updates (working/ok) are throttled to about one a second; errors show at once.
 */
export class StatusReporter {
  private pending: NodeStatus | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastWrite = 0;

  constructor(private readonly node: Node, private readonly intervalMs = 1000) {}

  waiting(text: string): void {
    this.write({ fill: 'yellow', shape: 'ring', text }, true);
  }

  working(text: string): void {
    this.write({ fill: 'blue', shape: 'dot', text }, false);
  }

  ok(text: string): void {
    this.write({ fill: 'green', shape: 'dot', text }, false);
  }

  error(text: string): void {
    this.write({ fill: 'red', shape: 'ring', text }, true);
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

  private write(status: NodeStatus, immediate: boolean): void {
    const now = Date.now();
    if (immediate || now - this.lastWrite >= this.intervalMs) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.pending = undefined;
      this.lastWrite = now;
      this.node.status(status);
      return;
    }
    this.pending = status;
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (this.pending) {
          this.lastWrite = Date.now();
          this.node.status(this.pending);
          this.pending = undefined;
        }
      }, this.intervalMs - (now - this.lastWrite));
    }
  }
}
