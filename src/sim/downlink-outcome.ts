/**
 * How the simulated network ends a downlink once it is queued:
 * - `ack`: sent; a confirmed downlink is then acknowledged (unconfirmed ones end at sent);
 * - `nack`: every transmission of a confirmed downlink is not acknowledged; after the allowed
 *   attempts it fails;
 * - `{ nacks: n }`: n not-acknowledged attempts, then an ack;
 * - `failed`: dropped before transmission (downlink_failed);
 * - `sent-only`: sent, then nothing more (a device that never answers);
 * - `queued-only`: stays queued, never sent.
 * A payload larger than the device's data rate allows always fails at transmit time, as in TTS.
 */
export type DownlinkOutcome = 'ack' | 'nack' | { nacks: number } | 'failed' | 'sent-only' | 'queued-only';

export function parseOutcome(text: string): DownlinkOutcome | undefined {
  if (text === 'ack' || text === 'nack' || text === 'failed' || text === 'sent-only' || text === 'queued-only') return text;
  const m = /^nacks?:(\d+)$/.exec(text);
  return m ? { nacks: Number(m[1]) } : undefined;
}
