/**
 * The deployed tts-webhook-in nodes, for code that brings in TTS messages other than through an
 * HTTP request (backfill from TTS's Storage Integration). Each input records what it is given in
 * its durable inbox and feeds it through its flow like any accepted webhook, marked as a replay.
 */
export interface WebhookInput {
  readonly nodeId: string;
  /** True when this input accepts messages of the application (its profile covers it). */
  serves(applicationId: string): boolean;
  /**
   * Records one ApplicationUp body (JSON text, as TTS posts it) durably and queues it for the
   * flow. Resolves once it is on disk; rejects with the reason when the body is not a valid TTS
   * message or the inbox cannot take it.
   */
  inject(body: string, source: 'backfill'): Promise<void>;
}

/** The deployed inputs by node id (one set per process: see src/runtime). */
export class WebhookInputs {
  private readonly inputs = new Map<string, WebhookInput>();

  register(input: WebhookInput): () => void {
    this.inputs.set(input.nodeId, input);
    return () => {
      if (this.inputs.get(input.nodeId) === input) this.inputs.delete(input.nodeId);
    };
  }

  /** The first deployed input that serves the application. */
  forApplication(applicationId: string): WebhookInput | undefined {
    for (const input of this.inputs.values()) if (input.serves(applicationId)) return input;
    return undefined;
  }

  all(): WebhookInput[] {
    return [...this.inputs.values()];
  }

  clear(): void {
    this.inputs.clear();
  }
}
