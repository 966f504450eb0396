/**
 * The sandbox side of the engine: evaluated INSIDE the codec's vm context from its source text
 * (`installRunner.toString()`), so everything user code can touch (console, Buffer, the inputs,
 * the functions that call it) belongs to the sandbox realm. It must not reference anything
 * outside its own body and arguments.
 *
 * The host reaches it through one global function, `__ttsRun`, called by a tiny precompiled
 * script under `runInContext({ timeout })`. Each protected run takes a job from the host
 * (`host.takeJob()`), handles as many queued messages as fit in the job's time slice, and hands
 * each result to `host.exportResult()`, which copies the output into host-realm objects. That
 * copy (and every user getter or Proxy trap it triggers) happens inside the protected run, so no
 * user code ever runs unguarded.
 *
 * Per message, as TTS does it: the script's top level runs afresh (the compiled factory is
 * called again; its first statement hands over accessors to this run's top-level `function` and
 * `var` bindings, and `host.beginMessage` clears what earlier messages left on the global), then
 * the entry function is called as a plain function, so `this` in sloppy code is the global.
 * Those bindings appear on the global through `declarations`, an object made once at load with
 * one accessor per name, which the host puts in the global's prototype chain.
 */
export function installRunner(
  g: Record<string, unknown>,
  host: {
    takeJob(): RunnerJob;
    exposeDeclarations(declarations: object): void;
    beginMessage(): void;
    exportResult(index: number, status: 'ok' | 'error', value: unknown, logs: string[] | null): void;
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

  const define = (name: string, value: unknown): void => {
    Object.defineProperty(g, name, { value, writable: true, configurable: true, enumerable: false });
  };
  define('console', console);
  define('Buffer', shim.Buffer);
  define('TextEncoder', shim.TextEncoder);
  define('TextDecoder', shim.TextDecoder);
  define('global', g);
  define('self', g);

  /** Copies a host value into this realm: user code never holds a host object. */
  function importValue(value: unknown, depth: number): unknown {
    if (value === null || typeof value !== 'object') return typeof value === 'function' ? undefined : value;
    if (depth > 64) throw new EngineError('input', 'input is nested too deeply');
    if (ObjectToString.call(value) === '[object Date]') return new DateCtor((value as Date).getTime());
    if (ArrayIsArray(value) || typeof (value as { BYTES_PER_ELEMENT?: unknown }).BYTES_PER_ELEMENT === 'number') {
      const src = value as ArrayLike<unknown>;
      const out: unknown[] = [];
      for (let i = 0; i < src.length; i++) out.push(importValue(src[i], depth + 1));
      return out;
    }
    const out: Record<string, unknown> = {};
    const keys = ObjectKeys(value);
    for (let i = 0; i < keys.length; i++) out[keys[i]] = importValue((value as Record<string, unknown>)[keys[i]], depth + 1);
    return out;
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
  let kept: Api | null = null;
  type Read = (index: number) => unknown;
  type Write = (index: number, value: unknown) => void;
  let read: Read = () => undefined;
  let write: Write = () => undefined;
  function beginMessage(r: Read, w: Write): void {
    read = r;
    write = w;
    host.beginMessage();
  }
  function exposeDeclarations(names: readonly string[]): void {
    const declarations = {};
    for (let i = 0; i < names.length; i++) {
      Object.defineProperty(declarations, names[i], {
        get: () => read(i),
        set: (value: unknown) => write(i, value),
        enumerable: true,
        configurable: false,
      });
    }
    host.exposeDeclarations(declarations);
  }

  /** Runs the script's top level and picks the codec functions it defined. */
  function instantiate(): Api {
    const module = { exports: {} as Record<string, unknown> };
    const top = (factory as Fn).call(g, module, module.exports, beginMessage) as unknown[];
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

  // ---- operations: every script form mapped onto the TTS codec API ---------------------------
  // Entry functions are called as plain functions (`fn(x)`, not `api.fn(x)`), as TTS calls them.
  type Input = Record<string, unknown>;
  const operations: Record<string, (api: Api, input: Input) => Record<string, unknown>> = {
    decodeUplink(api, input) {
      let fn: Fn | undefined;
      if ((fn = api.decodeUplink)) return requireObject(fn(input), 'decodeUplink', '{ data: {...} }');
      if ((fn = api.uplink)) {
        const decoded = input.decodedPayload;
        const payload = decoded !== undefined && decoded !== null ? decoded : shim.bytesToBase64(input.bytes as number[], false);
        const data = fn(payload, input.message);
        rejectPromise(data, 'uplink');
        return { data };
      }
      if ((fn = api.Decoder)) {
        const data = fn(input.bytes, input.fPort);
        rejectPromise(data, 'Decoder');
        return { data };
      }
      throw new EngineError('form', 'the script defines no uplink decoder (decodeUplink, module.exports.uplink or Decoder)');
    },
    encodeDownlink(api, input) {
      let fn: Fn | undefined;
      if ((fn = api.encodeDownlink)) return requireObject(fn(input), 'encodeDownlink', '{ bytes: [...], fPort }');
      if ((fn = api.downlink)) {
        const out = fn(input.data, input.device);
        rejectPromise(out, 'downlink');
        if (typeof out === 'string') return { bytes: shim.base64ToBytes(out) };
        const obj = requireObject(out, 'downlink', 'a base64 string or { f_port, frm_payload | decoded_payload }');
        const fPort = obj.f_port !== undefined ? obj.f_port : obj.fPort;
        if (typeof obj.frm_payload === 'string') return { bytes: shim.base64ToBytes(obj.frm_payload), fPort };
        if (obj.decoded_payload !== undefined) return { decodedPayload: obj.decoded_payload, fPort };
        if (obj.bytes !== undefined) return { bytes: obj.bytes, fPort };
        throw new EngineError('output', 'downlink returned an object without frm_payload or decoded_payload');
      }
      if ((fn = api.Encoder)) {
        const bytes = fn(input.data, input.fPort);
        rejectPromise(bytes, 'Encoder');
        return { bytes, fPort: input.fPort };
      }
      throw new EngineError('form', 'the script defines no downlink encoder (encodeDownlink, module.exports.downlink or Encoder)');
    },
    decodeDownlink(api, input) {
      const fn = api.decodeDownlink;
      if (fn) return requireObject(fn(input), 'decodeDownlink', '{ data: {...} }');
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
    const job = host.takeJob();
    if (job.op === 'load') {
      factory = job.factory as Fn;
      job.current = 0;
      try {
        exposeDeclarations(job.names as string[]);
        const api = instantiate();
        kept = job.fresh ? null : api;
        host.exportResult(0, 'ok', ObjectKeys(api), logs);
      } catch (err) {
        host.exportResult(0, 'error', describeError(err), logs);
      }
      return;
    }
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
        const api = kept ?? instantiate();
        host.exportResult(i, 'ok', operation(api, importValue(inputs[i], 0) as Input), logs);
      } catch (err) {
        host.exportResult(i, 'error', describeError(err), logs);
      }
    }
    job.next = i;
  }
  Object.defineProperty(g, '__ttsRun', { value: run, writable: false, configurable: false, enumerable: false });
}

/** The job the host hands to the runner (host-realm object, never given to user code). */
export interface RunnerJob {
  op: 'load' | 'decodeUplink' | 'encodeDownlink' | 'decodeDownlink';
  factory?: unknown;
  /** Top-level function and var names, in the order of the factory's binding accessors. */
  names?: readonly string[];
  /** Evaluate the top level for every message (false: the load's instance serves every message). */
  fresh: boolean;
  inputs: unknown[];
  /** First input this run should process; the runner advances it. */
  next: number;
  /** Input in flight (set before each call), so a timeout blames the right message. */
  current: number;
  sliceMs: number;
}
