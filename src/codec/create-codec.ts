import { CayenneLppError, cayenneLpp } from './cayenne-lpp';
import { CodecLoadError, CodecSandbox, type SandboxJob, type SandboxOptions } from './sandbox/sandbox';
import { codecThread } from './sandbox/codec-thread';
import { failedResult } from './sandbox/results';
import type { Codec, CodecError, CodecOptions, DecodeResult, DownlinkDecodeInput, DownlinkEncodeInput, EncodeResult, ScriptForm, UplinkInput } from './types';

export { CodecLoadError };

export const DEFAULT_TIMEOUT_MS = 100;
export const MAX_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_OUTPUT = 1024 * 1024;

/** Validated, defaulted options. Throws TypeError on nonsense (a caller bug, not user data). */
export function resolveOptions(options: CodecOptions = {}): SandboxOptions {
  const timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeout) || timeout < 1 || timeout > MAX_TIMEOUT_MS) throw new TypeError(`timeout must be 1..${MAX_TIMEOUT_MS} ms`);
  const batchSliceMs = Math.min(options.batchSliceMs ?? 10, timeout);
  const filename = (options.filename ?? 'codec.js').replace(/[^\w.\-:]/g, '_');
  return {
    timeout: Math.round(timeout),
    filename,
    freshScope: options.freshScope ?? true,
    maxOutputSize: options.maxOutputSize ?? DEFAULT_MAX_OUTPUT,
    batchSliceMs: Math.max(1, batchSliceMs),
    watchdog: true,
  };
}

function formOf(functions: readonly string[]): ScriptForm | undefined {
  const has = (n: string): boolean => functions.includes(n);
  if (has('decodeUplink') || has('encodeDownlink') || has('decodeDownlink')) return 'tts';
  if (has('uplink') || has('downlink')) return 'plugin';
  if (has('Decoder') || has('Encoder')) return 'ttn-v2';
  return undefined;
}

/**
 * Compiles a user codec script once and returns the TTS-codec-API-shaped engine. Throws
 * CodecLoadError (with `codecError.line/column`) when the script does not compile, its top level
 * throws or runs past the limit, or it defines no codec function at all.
 */
export function createCodec(source: string, options: CodecOptions = {}): Codec {
  const resolved = resolveOptions(options);
  const sandbox = new CodecSandbox(source, resolved);
  const form = formOf(sandbox.functions);
  if (!form) {
    throw new CodecLoadError({
      kind: 'form',
      message: 'the script defines no codec function: expected decodeUplink/encodeDownlink/decodeDownlink, module.exports.uplink/downlink, or Decoder/Encoder',
    });
  }
  const has = (n: string): boolean => sandbox.functions.includes(n);
  const queue = new BatchQueue(sandbox, source, resolved);
  const uplinkInput = form === 'plugin' ? checkBytesInput : (input: UplinkInput) => withoutPluginArguments(checkBytesInput(input));
  return {
    form,
    capabilities: {
      decodeUplink: has('decodeUplink') || has('uplink') || has('Decoder'),
      encodeDownlink: has('encodeDownlink') || has('downlink') || has('Encoder'),
      decodeDownlink: has('decodeDownlink'),
    },
    decodeUplink: (input) => sandbox.runAll('decodeUplink', [uplinkInput(input)])[0],
    encodeDownlink: (input) => sandbox.runAll('encodeDownlink', [checkObjectInput(input)])[0],
    decodeDownlink: (input) => sandbox.runAll('decodeDownlink', [checkBytesInput(input)])[0],
    decodeUplinkBatch: (inputs) => sandbox.runAll('decodeUplink', inputs.map(uplinkInput)),
    decodeUplinkQueued: (input) => {
      try {
        return queue.push(uplinkInput(input));
      } catch (err) {
        return Promise.reject(err);
      }
    },
    close: () => queue.close(),
  };
}

/**
 * TTS hands decodeUplink and Decoder the bytes, the port and the time only; the TTS message and
 * its decoded payload are the plugin form's arguments (`uplink(payload, message)`). Leaving them
 * out keeps a script's view as in TTS and spares copying the message to the codec thread (about
 * 10 µs of the event loop per uplink: structured clone of ~1 KB of rx_metadata).
 */
function withoutPluginArguments(input: UplinkInput): UplinkInput {
  if (input.message === undefined && input.decodedPayload === undefined) return input;
  const { message: _message, decodedPayload: _decoded, ...rest } = input;
  return rest as UplinkInput;
}

function checkObjectInput<T>(input: T): T {
  if (input === null || typeof input !== 'object') throw new TypeError('codec input must be an object like { data, fPort }');
  return input;
}

/** Bytes must be an array-like of numbers; anything else is a clear input error, not a crash. */
function checkBytesInput<T extends { bytes: ArrayLike<number> }>(input: T): T {
  if (input === null || typeof input !== 'object') throw new TypeError('codec input must be an object like { bytes, fPort }');
  const bytes = input.bytes as unknown;
  if (bytes === null || typeof bytes !== 'object' || typeof (bytes as ArrayLike<number>).length !== 'number') {
    throw new TypeError('input.bytes must be an array of bytes');
  }
  return input;
}

/**
 * Collects queued decodes and runs them as one job in the codec thread (codec-thread.ts),
 * registered there on the first decode. A round trip to the thread costs the event loop ~12 µs
 * here, more than a decode, so jobs are made fewer: a decode that finds the thread idle waits up
 * to QUEUE_GATHER_MS for others (not when QUEUE_GATHER_BELOW are queued), and while a job is out,
 * all that arrive go as the next job once it is answered. Results keep the order of calls. Where the thread cannot run the codec, the job runs here, in protected runs
 * of one time slice each, yielding with setImmediate in between so the event loop is never held
 * longer than one run (≤ slice + timeout).
 */
const QUEUE_GATHER_MS = 1;
const QUEUE_GATHER_BELOW = 16;

class BatchQueue {
  private inputs: unknown[] = [];
  private resolvers: Array<(result: DecodeResult) => void> = [];
  private scheduled = false;
  private gather: NodeJS.Timeout | undefined;
  /** A job is out: inputs wait for its answer and go as the next one. */
  private busy = false;
  private threadId: number | undefined;
  private closed = false;

  constructor(
    private readonly sandbox: CodecSandbox,
    private readonly source: string,
    private readonly options: SandboxOptions,
  ) {}

  push(input: unknown): Promise<DecodeResult> {
    this.inputs.push(input);
    this.schedule();
    return new Promise((resolve) => {
      this.resolvers.push(resolve);
    });
  }

  close(): void {
    this.closed = true;
    if (this.threadId !== undefined) codecThread().unregister(this.threadId);
    this.threadId = undefined;
  }

  private schedule(): void {
    if (this.busy || this.inputs.length === 0) return;
    if (this.inputs.length >= QUEUE_GATHER_BELOW) {
      if (this.gather) {
        clearTimeout(this.gather);
        this.gather = undefined;
        this.scheduled = false;
      }
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.drain);
      }
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    this.gather = setTimeout(this.drain, QUEUE_GATHER_MS);
  }

  private readonly drain = (): void => {
    if (this.gather) clearTimeout(this.gather);
    this.gather = undefined;
    if (!this.scheduled) return;
    this.scheduled = false;
    this.busy = true;
    const inputs = this.inputs;
    const resolvers = this.resolvers;
    this.inputs = [];
    this.resolvers = [];
    if (!this.closed && this.threadId === undefined) this.threadId = codecThread().register(this.source, this.options);
    const answer = this.threadId === undefined ? Promise.resolve([]) : codecThread().run(this.threadId, 'decodeUplink', inputs);
    void answer
      .then((results) => {
        let i = 0;
        for (; i < inputs.length && results[i] !== undefined; i++) resolvers[i](results[i] as DecodeResult);
        if (i === inputs.length) return undefined;
        return new Promise<void>((resolve) => this.runHere(this.sandbox.startJob('decodeUplink', inputs.slice(i)), resolvers.slice(i), 0, resolve));
      })
      // Resolving twice is harmless: whatever was still waiting fails instead of hanging.
      .catch((err: unknown) => {
        for (const resolve of resolvers) resolve(failedResult({ kind: 'runtime', message: err instanceof Error ? err.message : String(err) }) as DecodeResult);
      })
      .finally(() => {
        this.busy = false;
        this.schedule();
      });
  };

  private runHere(job: SandboxJob, resolvers: Array<(result: DecodeResult) => void>, resolved: number, finished: () => void): void {
    const done = this.sandbox.runSlice(job);
    const upTo = done ? resolvers.length : job.runner.next;
    const results = job.results as DecodeResult[];
    for (let i = resolved; i < upTo; i++) resolvers[i](results[i]);
    if (done) finished();
    else setImmediate(() => this.runHere(job, resolvers, upTo, finished));
  }
}

// ---- built-in codecs ---------------------------------------------------------------------------

function ok<T extends object>(value: T): T & { warnings: string[]; errors: string[]; logs: string[] } {
  return { ...value, warnings: [], errors: [], logs: [] };
}

const failed = (error: CodecError): DecodeResult & EncodeResult => failedResult(error);

function guard<R>(fn: () => R): R | (DecodeResult & EncodeResult) {
  try {
    return fn();
  } catch (err) {
    const kind = err instanceof CayenneLppError ? 'script' : 'input';
    return failed({ kind, message: err instanceof Error ? err.message : String(err) });
  }
}

function builtinCodec(form: 'cayennelpp' | 'passthrough', ops: Pick<Codec, 'decodeUplink' | 'encodeDownlink' | 'decodeDownlink'>, capabilities: Codec['capabilities']): Codec {
  return {
    form,
    capabilities,
    ...ops,
    decodeUplinkBatch: (inputs) => inputs.map((i) => ops.decodeUplink(i)),
    decodeUplinkQueued: (input) => Promise.resolve(ops.decodeUplink(input)),
    close: () => undefined,
  };
}

/** Cayenne LPP through the same interface (uplink frames; downlinks in the value_<ch> form). */
export const cayenneLppCodec: Codec = builtinCodec(
  'cayennelpp',
  {
    decodeUplink: (input: UplinkInput) => guard(() => ok({ data: cayenneLpp.decode(checkBytesInput(input).bytes) })),
    encodeDownlink: (input: DownlinkEncodeInput) =>
      guard(() => ok({ bytes: cayenneLpp.encodeDownlink(input.data as Record<string, unknown>), ...(input.fPort === undefined ? {} : { fPort: input.fPort }) })),
    decodeDownlink: (input: DownlinkDecodeInput) => guard(() => ok({ data: cayenneLpp.decodeDownlink(checkBytesInput(input).bytes) })),
  },
  { decodeUplink: true, encodeDownlink: true, decodeDownlink: true },
);

/** Uses what TTS already decoded (`decodedPayload`); a frame TTS did not decode is an error. */
export const passthroughCodec: Codec = builtinCodec(
  'passthrough',
  {
    decodeUplink: (input: UplinkInput) => {
      const decoded = input?.decodedPayload;
      if (decoded === null || typeof decoded !== 'object' || Array.isArray(decoded)) {
        return failed({ kind: 'input', message: 'no decoded_payload from TTS to pass through (is a payload formatter set in the TTS console?)' });
      }
      return ok({ data: decoded });
    },
    encodeDownlink: () => failed({ kind: 'form', message: 'pass-through cannot encode a downlink' }),
    decodeDownlink: () => failed({ kind: 'form', message: 'pass-through cannot decode a downlink' }),
  },
  { decodeUplink: true, encodeDownlink: false, decodeDownlink: false },
);
