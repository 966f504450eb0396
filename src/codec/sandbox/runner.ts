/**
 * The sandbox side of the engine: evaluated INSIDE the codec's vm context from its source text
 * (`installRunner.toString()`), so everything user code can touch (console, Buffer, the inputs,
 * the functions that call it) belongs to the sandbox realm. It must not reference anything
 * outside its own body and arguments.
 *
 * The host reaches it through one global function, `__ttsRun`, called by a tiny precompiled
 * script under `runInContext({ timeout })`. Each protected run takes a job from the host
 * (`host.takeJob()`), calls the user's function for as many queued messages as fit in the job's
 * time slice, and hands each result to `host.exportResult()` — a host function that copies the
 * output into host-realm objects. Because that copy (and every user getter, Proxy trap or
 * `toJSON` it triggers) happens inside the protected run, no user code ever runs unguarded.
 */
export function installRunner(
  g: Record<string, unknown>,
  host: {
    takeJob(): RunnerJob;
    exportResult(index: number, status: 'ok' | 'error', value: unknown, logs: string[] | null): void;
    /** The host realm's Array, Date and Object, to recognise host values without builtin calls. */
    Array: unknown;
    Date: unknown;
    Object: unknown;
  },
  shim: { Buffer: unknown; TextEncoder: unknown; TextDecoder: unknown; bytesToBase64(bytes: ArrayLike<number>, url: boolean): string; base64ToBytes(text: string): number[] },
): void {
  'use strict';
  type Fn = (...args: unknown[]) => unknown;
  type Api = { decodeUplink?: Fn; encodeDownlink?: Fn; decodeDownlink?: Fn; uplink?: Fn; downlink?: Fn; Decoder?: Fn; Encoder?: Fn };
  const NAMES = ['decodeUplink', 'encodeDownlink', 'decodeDownlink', 'Decoder', 'Encoder'] as const;
  const MAX_LOG_LINES = 100;
  const MAX_LOG_LINE = 2000;

  // Intrinsics captured before user code runs, so a script that redefines them cannot break us.
  const ObjectKeys = Object.keys;
  const ArrayIsArray = Array.isArray;
  const JSONStringify = JSON.stringify;
  const DateNow = Date.now;
  const ObjectToString = Object.prototype.toString;
  const DateCtor = Date;

  /** An error the engine raises about the script's behaviour (not thrown by user code). */
  class EngineError extends Error {
    constructor(readonly kind: string, message: string) { super(message); }
  }

  let logs: string[] | null = null;
  function formatArg(value: unknown): string {
    if (typeof value === 'string') return value;
    if (value instanceof Error) return String(value.stack || value);
    try {
      const text = JSONStringify(value);
      return text === undefined ? String(value) : text;
    } catch {
      return String(value);
    }
  }
  function capture(level: string): (...args: unknown[]) => void {
    return function (...args: unknown[]): void {
      if (logs === null) logs = [];
      if (logs.length >= MAX_LOG_LINES) return;
      let line = args.map(formatArg).join(' ');
      if (line.length > MAX_LOG_LINE) line = line.slice(0, MAX_LOG_LINE) + '…';
      logs.push(level === 'log' ? line : level + ': ' + line);
    };
  }
  const console = {
    log: capture('log'), info: capture('info'), debug: capture('debug'),
    warn: capture('warn'), error: capture('error'), trace: capture('trace'),
  };

  const define = (name: string, value: unknown, writable: boolean): void => {
    Object.defineProperty(g, name, { value, writable, configurable: writable, enumerable: false });
  };
  define('console', console, true);
  define('Buffer', shim.Buffer, true);
  define('TextEncoder', shim.TextEncoder, true);
  define('TextDecoder', shim.TextDecoder, true);
  define('global', g, true);
  define('globalThis', g, true);
  define('self', g, true);
  const baselineKeys = ObjectKeys(g).length;

  /**
   * Copies a host value into this realm: user code never holds a host object. Builtins called on
   * another realm's objects (Object.keys, Array.isArray…) cost ~0.15 µs each, so host values are
   * recognised by their constructor (a plain property read) and walked with for-in.
   */
  const HostArray = host.Array;
  const HostDate = host.Date;
  const HostObject = host.Object;
  function importArray(src: ArrayLike<unknown>, depth: number): unknown[] {
    const length = src.length;
    // Grown with push, not preallocated: `new Array(n)` makes a holey array, which is about
    // twice as slow to fill and to read in the user's decoder.
    const out: unknown[] = [];
    for (let i = 0; i < length; i++) {
      const item = src[i];
      // Byte arrays are the common case: numbers need no recursion.
      out.push(typeof item === 'number' ? item : importValue(item, depth + 1));
    }
    return out;
  }
  function importValue(value: unknown, depth: number): unknown {
    if (value === null || typeof value !== 'object') return typeof value === 'function' ? undefined : value;
    if (depth > 64) throw new EngineError('input', 'input is nested too deeply');
    const ctor = (value as { constructor?: unknown }).constructor;
    if (ctor === HostArray) return importArray(value as ArrayLike<unknown>, depth);
    // Plain host objects (the usual input) skip the checks below: a builtin called on another
    // realm's object (Object.prototype.toString here) costs more than the rest of the import.
    if (ctor !== HostObject) {
      if (ctor === HostDate || ObjectToString.call(value) === '[object Date]') return new DateCtor((value as Date).getTime());
      if (typeof (value as { BYTES_PER_ELEMENT?: unknown }).BYTES_PER_ELEMENT === 'number' || ArrayIsArray(value)) return importArray(value as ArrayLike<unknown>, depth);
    }
    const out: Record<string, unknown> = {};
    for (const key in value as Record<string, unknown>) {
      const item = (value as Record<string, unknown>)[key];
      out[key] = item === null || typeof item !== 'object' ? (typeof item === 'function' ? undefined : item) : importValue(item, depth + 1);
    }
    return out;
  }

  /**
   * The input object itself. Uplink inputs nearly always have exactly the keys `bytes, fPort` (or
   * `bytes, fPort, recvTime`) with a byte array: those are built as one literal (the generic
   * walk adds keys one store at a time); the for-in check keeps key order and anything else
   * generic.
   */
  function importInput(value: unknown): unknown {
    if (value === null || typeof value !== 'object' || (value as { constructor?: unknown }).constructor !== HostObject) return importValue(value, 0);
    let count = 0;
    let shape = 0;
    for (const key in value as Record<string, unknown>) {
      if (count === 0 ? key !== 'bytes' : count === 1 ? key !== 'fPort' : count === 2 ? key !== 'recvTime' : true) return importValue(value, 0);
      count++;
    }
    if (count === 2) shape = 1;
    else if (count === 3) shape = 2;
    else return importValue(value, 0);
    const v = value as { bytes: unknown; fPort: unknown; recvTime?: unknown };
    const b = v.bytes;
    const bytes = b !== null && typeof b === 'object' && (b as { constructor?: unknown }).constructor === HostArray ? importArray(b as ArrayLike<unknown>, 0) : importValue(b, 1);
    const f = v.fPort;
    const fPort = f === null || typeof f !== 'object' ? (typeof f === 'function' ? undefined : f) : importValue(f, 1);
    if (shape === 1) return { bytes, fPort };
    return { bytes, fPort, recvTime: importValue(v.recvTime, 1) };
  }

  function rejectPromise(result: unknown, name: string): void {
    if (result !== null && (typeof result === 'object' || typeof result === 'function') && typeof (result as { then?: unknown }).then === 'function') {
      // Keep a rejected promise from surfacing as an unhandled rejection in Node-RED.
      try { (result as Promise<unknown>).then(undefined, () => undefined); } catch { /* ignore */ }
      throw new EngineError('output', name + ' returned a Promise; codec functions must be synchronous');
    }
  }

  function requireObject(result: unknown, name: string, shape: string): Record<string, unknown> {
    rejectPromise(result, name);
    if (result === null || typeof result !== 'object' || ArrayIsArray(result)) {
      throw new EngineError('output', name + ' must return an object like ' + shape + ', got ' + (result === null ? 'null' : ArrayIsArray(result) ? 'an array' : typeof result));
    }
    return result as Record<string, unknown>;
  }

  // ---- the user's script -------------------------------------------------------------------
  let factory: Fn | null = null;
  let fresh = true;
  let cached: Api | null = null;

  function instantiate(): Api {
    const module = { exports: {} as Record<string, unknown> };
    const top = (factory as Fn).call(g, module, module.exports) as unknown[];
    const ex = module.exports;
    const api: Api = {};
    for (let i = 0; i < NAMES.length; i++) {
      const fromExports = ex !== null && typeof ex === 'object' ? ex[NAMES[i]] : undefined;
      const fn = typeof top[i] === 'function' ? top[i] : typeof fromExports === 'function' ? fromExports : undefined;
      if (fn) api[NAMES[i]] = fn as Fn;
    }
    if (ex !== null && typeof ex === 'object') {
      if (typeof ex.uplink === 'function') api.uplink = ex.uplink as Fn;
      if (typeof ex.downlink === 'function') api.downlink = ex.downlink as Fn;
    }
    return api;
  }

  function apiForCall(): Api {
    if (!fresh && cached) return cached;
    const api = instantiate();
    if (!fresh) cached = api;
    return api;
  }

  /**
   * Fresh scope: drop globals earlier messages created by assigning undeclared names. Listing the
   * contextified global costs ~1 µs, so this runs once per protected run, not per message.
   */
  function clearImplicitGlobals(): void {
    const keys = ObjectKeys(g);
    if (keys.length === baselineKeys) return;
    for (let i = baselineKeys; i < keys.length; i++) delete g[keys[i]];
  }

  // ---- operations: every script form mapped onto the TTS codec API ---------------------------
  type Input = Record<string, unknown>;
  const operations: Record<string, (api: Api, input: Input) => Record<string, unknown>> = {
    decodeUplink(api, input) {
      if (api.decodeUplink) return requireObject(api.decodeUplink(input), 'decodeUplink', '{ data: {...} }');
      if (api.uplink) {
        const decoded = input.decodedPayload;
        const payload = decoded !== undefined && decoded !== null ? decoded : shim.bytesToBase64(input.bytes as number[], false);
        const data = api.uplink(payload, input.message);
        rejectPromise(data, 'uplink');
        return { data };
      }
      if (api.Decoder) {
        const data = api.Decoder(input.bytes, input.fPort);
        rejectPromise(data, 'Decoder');
        return { data };
      }
      throw new EngineError('form', 'the script defines no uplink decoder (decodeUplink, module.exports.uplink or Decoder)');
    },
    encodeDownlink(api, input) {
      if (api.encodeDownlink) return requireObject(api.encodeDownlink(input), 'encodeDownlink', '{ bytes: [...], fPort }');
      if (api.downlink) {
        const out = api.downlink(input.data, input.device);
        rejectPromise(out, 'downlink');
        if (typeof out === 'string') return { bytes: shim.base64ToBytes(out) };
        const obj = requireObject(out, 'downlink', 'a base64 string or { f_port, frm_payload | decoded_payload }');
        const fPort = obj.f_port !== undefined ? obj.f_port : obj.fPort;
        if (typeof obj.frm_payload === 'string') return { bytes: shim.base64ToBytes(obj.frm_payload), fPort };
        if (obj.decoded_payload !== undefined) return { decodedPayload: obj.decoded_payload, fPort };
        if (obj.bytes !== undefined) return { bytes: obj.bytes, fPort };
        throw new EngineError('output', 'downlink returned an object without frm_payload or decoded_payload');
      }
      if (api.Encoder) {
        const bytes = api.Encoder(input.data, input.fPort);
        rejectPromise(bytes, 'Encoder');
        return { bytes, fPort: input.fPort };
      }
      throw new EngineError('form', 'the script defines no downlink encoder (encodeDownlink, module.exports.downlink or Encoder)');
    },
    decodeDownlink(api, input) {
      if (api.decodeDownlink) return requireObject(api.decodeDownlink(input), 'decodeDownlink', '{ data: {...} }');
      throw new EngineError('form', 'the script defines no decodeDownlink');
    },
  };

  function describeError(err: unknown): Record<string, unknown> {
    try {
      if (err instanceof EngineError) return { kind: err.kind, message: err.message, stack: '' };
      if (err !== null && (typeof err === 'object' || typeof err === 'function')) {
        const e = err as { name?: unknown; message?: unknown; stack?: unknown };
        const stack = typeof e.stack === 'string' ? e.stack.slice(0, 4000) : '';
        const name = e.name === undefined ? 'Error' : String(e.name);
        const message = e.message === undefined ? String(err) : String(e.message);
        return { kind: 'runtime', message: name + ': ' + message, stack };
      }
      return { kind: 'runtime', message: 'Uncaught ' + String(err), stack: '' };
    } catch {
      return { kind: 'runtime', message: 'the script threw a value that cannot be printed', stack: '' };
    }
  }

  // No re-entrancy flag here: a timeout skips `finally` blocks. The host hands a job out once
  // per protected run, so a script calling __ttsRun itself only gets an error.
  function run(): void {
    {
      const job = host.takeJob();
      if (job.op === 'load') {
        factory = job.factory as Fn;
        fresh = job.fresh;
        cached = null;
        job.current = 0;
        try {
          const api = instantiate();
          if (!fresh) cached = api;
          host.exportResult(0, 'ok', Object.keys(api), logs);
        } catch (err) {
          host.exportResult(0, 'error', describeError(err), logs);
        }
        return;
      }
      if (job.clearGlobals) clearImplicitGlobals();
      const operation = operations[job.op];
      const inputs = job.inputs;
      const started = DateNow();
      let i = job.next;
      for (; i < inputs.length; i++) {
        // Stop taking messages once the slice is used: the watchdog allows slice + timeout, so
        // the message in flight still gets its whole time limit.
        if (i > job.next && DateNow() - started >= job.sliceMs) break;
        job.current = i;
        logs = null;
        try {
          const input = importInput(inputs[i]) as Input;
          host.exportResult(i, 'ok', operation(apiForCall(), input), logs);
        } catch (err) {
          host.exportResult(i, 'error', describeError(err), logs);
        }
      }
      job.next = i;
    }
  }
  Object.defineProperty(g, '__ttsRun', { value: run, writable: false, configurable: false, enumerable: false });

}

/** The job the host hands to the runner (host-realm object, never given to user code). */
export interface RunnerJob {
  op: 'load' | 'decodeUplink' | 'encodeDownlink' | 'decodeDownlink';
  factory?: unknown;
  /** Evaluate the top level for every message (false: one instance serves every message). */
  fresh: boolean;
  /** Drop globals created by assigning undeclared names, once per protected run. */
  clearGlobals: boolean;
  inputs: unknown[];
  /** First input this run should process; the runner advances it. */
  next: number;
  /** Input in flight (set before each call), so a timeout blames the right message. */
  current: number;
  sliceMs: number;
}
