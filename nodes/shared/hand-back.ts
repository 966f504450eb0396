import type { Node } from 'node-red';
import { holdForRetry } from '../../src/runtime';
import { describeError, isPassingStoreError } from '../../src/store/errors';
import type { StatusReporter } from './status';

/**
 * Hands messages back to their durable inbox when the store refuses them for a passing reason
 * (unreachable, closing, queue full), and says so: one warning when holding starts, a waiting
 * status with the count (throttled: an outage holds every message).
 */
export class HandBack {
  private held = 0;
  private reason = '';
  private shown = 0;

  constructor(
    private readonly node: Node,
    private readonly status: StatusReporter,
    private readonly texts: { status(count: number, reason: string): string; warn(reason: string): string },
  ) {}

  /** Messages held since the store last became reachable. */
  get count(): number {
    return this.held;
  }

  /** True when `msg` was handed back: the caller calls done() without an error and does not send it on. */
  tryHold(msg: object, err: unknown): boolean {
    if (!isPassingStoreError(err)) return false;
    const reason = describeError(err);
    if (!holdForRetry(msg, reason)) return false;
    if (this.held === 0) this.node.warn(this.texts.warn(reason));
    this.held += 1;
    this.reason = reason;
    const now = Date.now();
    if (now - this.shown >= 1000) {
      this.shown = now;
      this.status.waiting(() => this.texts.status(this.held, this.reason));
    }
    return true;
  }

  /** The store is reachable again. */
  reset(): void {
    this.held = 0;
    this.shown = 0;
  }
}
