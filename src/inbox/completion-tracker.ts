/**
 * Knows when the flow has finished with a message: every node it was delivered to has called
 * done() (or, for nodes whose input handler takes no `done`, has returned from its handler), and
 * nothing is on its way to another node. Fed from Node-RED's message hooks (preDeliver,
 * onReceive, postReceive, onComplete), keyed by `msg._msgid`, which Node-RED keeps when it
 * clones a message for a second wire, a Catch or a Complete node.
 *
 * Nodes are compared by identity, so a node that was redeployed while it held a message can be
 * told from its successor with the same id (see `orphans`).
 */
import { ChurnMap } from '../util/churn-map';

export interface Holder {
  readonly id: string;
}

interface Tracked<T> {
  value: T;
  /** Deliveries scheduled and not yet received, per destination node. */
  pending: Map<Holder, number>;
  /** Nodes handling it now. */
  active: Map<Holder, number>;
  /** The node that sent it first, until its send() returned. */
  origin: boolean;
  held: boolean;
}

function add(map: Map<Holder, number>, node: Holder): void {
  map.set(node, (map.get(node) ?? 0) + 1);
}

function take(map: Map<Holder, number>, node: Holder): boolean {
  const n = map.get(node);
  if (n === undefined) return false;
  if (n <= 1) map.delete(node);
  else map.set(node, n - 1);
  return true;
}

export class CompletionTracker<T> {
  private readonly tracked = new ChurnMap<string, Tracked<T>>();
  /**
   * While flows are stopping, a node that ends a message with an error is usually failing it
   * because it is being closed (an engine shut down, a store closing), not because of the
   * message: such messages are kept to be fed again rather than finished.
   */
  stopping = false;

  /**
   * @param finished called once per message when the flow is done with it; `held` says whether
   *   a node handed it back (holdForRetry) instead of finishing it.
   */
  constructor(private readonly finished: (msgid: string, value: T, held: boolean) => void) {}

  get size(): number {
    return this.tracked.size;
  }

  has(msgid: unknown): boolean {
    return typeof msgid === 'string' && this.tracked.has(msgid);
  }

  valueOf(msgid: unknown): T | undefined {
    return typeof msgid === 'string' ? this.tracked.get(msgid)?.value : undefined;
  }

  /** Starts tracking a message its origin is about to send; call `sent` once send() returned. */
  track(msgid: string, value: T): void {
    this.tracked.set(msgid, { value, pending: new Map(), active: new Map(), origin: true, held: false });
  }

  sent(msgid: string): void {
    const t = this.tracked.get(msgid);
    if (!t) return;
    t.origin = false;
    this.settle(msgid, t);
  }

  delivered(msgid: unknown, node: Holder): void {
    const t = typeof msgid === 'string' ? this.tracked.get(msgid) : undefined;
    if (t) add(t.pending, node);
  }

  received(msgid: unknown, node: Holder): void {
    const t = typeof msgid === 'string' ? this.tracked.get(msgid) : undefined;
    if (!t) return;
    // Catch, Status and Complete nodes receive without a delivery: they just become active.
    take(t.pending, node);
    add(t.active, node);
  }

  /** A node's handler returned; for nodes that never call done() this is their completion. */
  returned(msgid: unknown, node: Holder, callsDone: boolean): void {
    if (!callsDone) this.completed(msgid, node);
  }

  completed(msgid: unknown, node: Holder, failed = false): void {
    const t = typeof msgid === 'string' ? this.tracked.get(msgid) : undefined;
    if (!t || !take(t.active, node)) return;
    if (failed && this.stopping) t.held = true;
    this.settle(msgid as string, t);
  }

  /** Marks a message as handed back; false when it is not tracked. */
  hold(msgid: unknown): boolean {
    const t = typeof msgid === 'string' ? this.tracked.get(msgid) : undefined;
    if (!t) return false;
    t.held = true;
    return true;
  }

  /** Stops tracking without finishing (its origin closed: the message stays unfinished). */
  forget(msgid: string): T | undefined {
    const t = this.tracked.get(msgid);
    this.tracked.delete(msgid);
    return t?.value;
  }

  /** Messages of which a node (or a pending delivery) is no longer a live node. */
  orphans(isLive: (node: Holder) => boolean): string[] {
    const found: string[] = [];
    for (const [msgid, t] of this.tracked) {
      const stale = (map: Map<Holder, number>): boolean => {
        for (const node of map.keys()) if (!isLive(node)) return true;
        return false;
      };
      if (stale(t.active) || stale(t.pending)) found.push(msgid);
    }
    return found;
  }

  /** Tracked message ids whose value matches. */
  where(predicate: (value: T) => boolean): string[] {
    const found: string[] = [];
    for (const [msgid, t] of this.tracked) if (predicate(t.value)) found.push(msgid);
    return found;
  }

  private settle(msgid: string, t: Tracked<T>): void {
    if (t.origin || t.pending.size > 0 || t.active.size > 0) return;
    this.tracked.delete(msgid);
    this.finished(msgid, t.value, t.held);
  }
}
