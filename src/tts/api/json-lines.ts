import type { Readable } from 'node:stream';

/** Longest line accepted: far above a TTS message (a few kB), far below what could hurt memory. */
export const MAX_JSON_LINE_BYTES = 4 * 1024 * 1024;

export class JsonLineError extends Error {}

/**
 * The JSON values of a newline-delimited body, one at a time as the bytes arrive, so a large
 * answer is never held whole. Blank lines are skipped. The stream is destroyed when the consumer
 * stops early or a line is unusable.
 */
export async function* jsonLines(stream: Readable, maxLineBytes = MAX_JSON_LINE_BYTES): AsyncGenerator<unknown> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const parse = (line: Buffer): unknown => {
    const text = line.toString('utf8').trim();
    if (text === '') return undefined;
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new JsonLineError(`the answer holds a line that is not JSON (${(err as Error).message})`);
    }
  };
  try {
    for await (const chunk of stream) {
      let buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a)) {
        const line = pending.length > 0 ? Buffer.concat([...pending, buf.subarray(0, nl)]) : buf.subarray(0, nl);
        pending = [];
        pendingBytes = 0;
        buf = buf.subarray(nl + 1);
        if (line.length > maxLineBytes) throw new JsonLineError(`the answer holds a line longer than ${maxLineBytes} bytes`);
        const value = parse(line);
        if (value !== undefined) yield value;
      }
      if (buf.length > 0) {
        pendingBytes += buf.length;
        if (pendingBytes > maxLineBytes) throw new JsonLineError(`the answer holds a line longer than ${maxLineBytes} bytes`);
        pending.push(buf);
      }
    }
    if (pending.length > 0) {
      const value = parse(Buffer.concat(pending));
      if (value !== undefined) yield value;
    }
  } finally {
    stream.destroy();
  }
}
