/**
 * How a node hands a message back to the durable inbox it came from, instead of failing it,
 * when the reason is passing (the store is unreachable, its queue is full, Node-RED is stopping).
 *
 * The inbox that accepted the message registers itself here; a message that no inbox tracks
 * (it did not come from tts-webhook-in, or durable acceptance is off) cannot be held, and the
 * caller reports its error as usual.
 */
export interface MessageHolder {
  /** True when the message will be fed into the flow again later (marked as a replay). */
  hold(msg: object, reason: string): boolean;
}

/** The inboxes that can take messages back (one per process: see src/runtime). */
export class MessageHolders {
  private readonly holders = new Set<MessageHolder>();

  register(holder: MessageHolder): () => void {
    this.holders.add(holder);
    return () => {
      this.holders.delete(holder);
    };
  }

  /**
   * Asks the inbox to keep `msg` and feed it again later. On true the caller must call `done()`
   * without an error and must not send the message on; on false it reports its error as before.
   */
  hold(msg: object, reason: string): boolean {
    for (const holder of this.holders) if (holder.hold(msg, reason)) return true;
    return false;
  }

  clear(): void {
    this.holders.clear();
  }
}
