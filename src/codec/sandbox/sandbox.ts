import vm from 'node:vm';
import type { CodecError, DecodeResult, EncodeResult } from '../types';
import { createBufferShim } from './buffer-shim';
import { describePosition, positionFromStack, positionFromSyntaxError } from './error-location';
import { CopierRegistry, exportBytes, exportObject, exportStringList, OutputError, OutputSite, type ExportBudget } from './export-value';
import { analyseScriptState } from './state-analysis';
import { ASYNC_GLOBALS, findAsyncSyntax } from './async-syntax';
import { installRunner, type RunnerJob } from './runner';
import { TtsError } from '../../util/errors';

/*
 * Why the engine batches (the performance note the issue asks for).
 *
 * `script.runInContext(ctx, { timeout })` starts a watchdog thread per call: ~60-90 µs here,
 * while the user's decoder itself often costs well under 1 µs. Guarding each message on its own
 * would cap a core at ~10k decodes/s before any work is done. So one protected run serves many
 * messages: the sandbox-side runner loops over a job's inputs and calls the user's function for
 * each, under ONE watchdog.
 *
 * - Time limit per message is kept: the runner stops taking new messages once `sliceMs` has
 *   passed since the run began, and the watchdog is set to `sliceMs + timeout`; the message in
 *   flight therefore always gets at least its full `timeout`, and no run blocks the event loop
 *   longer than `sliceMs + timeout` (≤ 2 × timeout, since sliceMs ≤ timeout).
 * - Blame is exact without re-running: before each call the runner writes the input's index into
 *   the job (`job.current`) and every result is handed to the host as soon as it exists. When the
 *   watchdog fires, the results before `current` are already kept, `current` gets the timeout
 *   error, and the next run resumes at `current + 1`. (Re-running a failed batch one by one would
 *   cost a second full time limit for the runaway message and repeat side effects.)
 * - A run after a timeout starts a fresh watchdog, and the queued API yields to the event loop
 *   between runs, so a stream of runaway messages still leaves Node-RED responsive.
 * - Everything user-controlled (the call, getters, Proxy traps, toJSON, the copy of the output
 *   into host objects) happens inside the protected run; the host only reads primitives and the
 *   copies made by its own export functions.
 *
 * What a decode costs beyond the user's function, once batching has amortised the watchdog
 * (bench/codec.bench.ts prints each part):
 * - Fresh top level (TTS semantics): re-running the script's top level per message costs more
 *   than many decoders (0.3–0.6 µs for a 200-line codec). state-analysis.ts proves most codecs
 *   cannot tell the difference; those are evaluated once, the others per message as before.
 * - Input copy: the script gets sandbox-realm copies (never host objects, whose constructors lead
 *   to the host's Function). The usual `{ bytes, fPort }` is built as one literal.
 * - Output copy: plain host JSON, validated; per-shape compiled copiers (export-value.ts).
 * - Collecting the host copies: results live until the caller takes them, so they are promoted
 *   by the young-generation GC; this, not the copying, is the largest share for small codecs.
 */

export type Operation = 'decodeUplink' | 'encodeDownlink' | 'decodeDownlink';
export type OperationResult = DecodeResult | EncodeResult;

export interface SandboxOptions {
  timeout: number;
  filename: string;
  /** TTS semantics: every message sees a freshly evaluated top level. */
  freshScope: boolean;
  /**
   * How fresh scope is provided. 'auto' (default): evaluate the top level once when
   * state-analysis.ts proves no message can tell the difference, else once per message.
   * 'always': once per message whatever the script (the bench measures what 'auto' saves).
   */
  reevaluate?: 'auto' | 'always';
  maxOutputSize: number;
  batchSliceMs: number;
}

/** Raised by the constructor when the script does not compile or its top level fails. */
export class CodecLoadError extends TtsError {
  constructor(readonly codecError: CodecError) {
    super(codecError.message + describePosition(codecError.line === undefined ? undefined : { line: codecError.line, column: codecError.column }), {
      code: 'script_error',
      httpStatus: 422,
      statusKey: 'invalid',
    });
    this.name = 'CodecLoadError';
  }
}

/** A job in progress: the host's view of one list of inputs being worked through. */
export interface SandboxJob {
  readonly op: Operation;
  readonly inputs: unknown[];
  readonly results: Array<OperationResult | undefined>;
  /** Set by the runner: index of the next input to process. */
  readonly runner: RunnerJob;
}

const LOAD_TIMEOUT_MS = 1000;

// Names the wrapper reports back in this order (see installRunner's NAMES).
const TOP_LEVEL_NAMES = ['decodeUplink', 'encodeDownlink', 'decodeDownlink', 'Decoder', 'Encoder'];

// Globals the engine's own sandbox code uses. A global read inside a vm context goes through the
// contextified global object's interceptor (~70 ns); as parameters of an enclosing function they
// are plain closure reads. They are bound before any user code runs, so they are the intrinsics.
const ENGINE_GLOBALS = ['String', 'Number', 'Math', 'Array', 'Object', 'Date', 'JSON', 'Error', 'TypeError', 'RangeError', 'DataView', 'ArrayBuffer', 'Uint8Array', 'parseInt', 'Symbol'];

const PRELUDE = `(function (g, host) {
  'use strict';
  return (function (${ENGINE_GLOBALS.join(', ')}) {
    const shim = (${createBufferShim.toString()})();
    (${installRunner.toString()})(g, host, shim);
  })(${ENGINE_GLOBALS.join(', ')});
})`;

export class CodecSandbox {
  /** Functions the script defines (decodeUplink, uplink, Decoder, …). */
  readonly functions: readonly string[];
  /**
   * Whether one evaluation of the top level serves every message (see state-analysis.ts), and
   * if not, why. With freshScope false it is always shared (state is meant to survive).
   */
  readonly scope: { reevaluated: boolean; reason?: string };
  private readonly context: vm.Context;
  private readonly trampoline: vm.Script;
  private readonly userLines: number;
  private job: SandboxJob | null = null;
  /** The sandbox realm's Array (recognising its arrays without a cross-realm builtin call). */
  private readonly realm: { Array: unknown; Object: unknown };
  private jobTaken = false;
  private loaded: string[] = [];
  private loadError: CodecError | undefined;
  /** Where each operation's output object sits, with the copiers learnt for its shapes. */
  private readonly sites: Record<Operation, OutputSite>;
  /** Reused for every message (reset before each copy): no allocation per message. */
  private readonly budget: ExportBudget;

  constructor(source: string, private readonly options: SandboxOptions) {
    if (typeof source !== 'string') throw new CodecLoadError({ kind: 'compile', message: 'the script must be a string' });
    this.userLines = source.split('\n').length;
    if (!options.freshScope) {
      this.scope = { reevaluated: false, reason: 'freshScope is false: top-level state is kept on purpose' };
    } else if (options.reevaluate === 'always') {
      this.scope = { reevaluated: true, reason: 'reevaluate: always' };
    } else {
      const analysis = analyseScriptState(source);
      this.scope = analysis.shared
        ? { reevaluated: false }
        : { reevaluated: true, reason: analysis.reason + (analysis.line === undefined ? '' : ` (line ${analysis.line})`) };
    }
    const asyncSyntax = findAsyncSyntax(source);
    if (asyncSyntax) {
      throw new CodecLoadError({
        kind: 'compile',
        message: `${asyncSyntax.what} is not supported: codec functions must be synchronous`,
        line: asyncSyntax.line,
        column: asyncSyntax.column,
      });
    }
    // A null-prototype sandbox: `this.constructor` then resolves inside the context, not to the
    // host's Object (the classic `this.constructor.constructor('return process')()` escape).
    // No code generation from strings: eval / new Function could build async code at run time
    // (see async-syntax.ts) and hide state from the analysis.
    this.context = vm.createContext(Object.create(null) as object, {
      name: options.filename,
      codeGeneration: { strings: false, wasm: false },
      microtaskMode: 'afterEvaluate',
    });
    const global = vm.runInContext('globalThis', this.context) as Record<string, unknown>;
    for (const name of ASYNC_GLOBALS) delete global[name];
    vm.runInContext('delete Atomics.waitAsync; if (Array.fromAsync) delete Array.fromAsync;', this.context);
    const install = vm.runInContext(PRELUDE, this.context, { filename: 'tts-codec-prelude' }) as (
      g: Record<string, unknown>,
      host: object,
    ) => void;
    install(global, {
      takeJob: () => this.takeJob(),
      exportResult: (index: number, status: 'ok' | 'error', value: unknown, logs: string[] | null) =>
        this.exportResult(index, status, value, logs),
      Array,
      Date,
      Object,
    });
    this.realm = { Array: vm.runInContext('Array', this.context) as unknown, Object: vm.runInContext('Object', this.context) as unknown };
    const registry = new CopierRegistry();
    this.sites = { decodeUplink: new OutputSite(registry), decodeDownlink: new OutputSite(registry), encodeDownlink: new OutputSite(registry) };
    this.budget = { remaining: 0, realm: this.realm };
    this.trampoline = new vm.Script('__ttsRun()', { filename: 'tts-codec-runner' });

    const factory = this.compile(source);
    const loaded = this.load(factory);
    this.functions = loaded;
  }

  /** Runs every input to completion (synchronously; one protected run per time slice). */
  runAll(op: Operation, inputs: unknown[]): OperationResult[] {
    const job = this.startJob(op, inputs);
    while (!this.runSlice(job)) {
      /* keep going: each iteration is one bounded, protected run */
    }
    return job.results as OperationResult[];
  }

  startJob(op: Operation, inputs: unknown[]): SandboxJob {
    return { op, inputs, results: new Array(inputs.length), runner: { op, fresh: this.scope.reevaluated, clearGlobals: this.options.freshScope, inputs, next: 0, current: -1, sliceMs: this.options.batchSliceMs } };
  }

  /**
   * One protected run over the job's remaining inputs. Returns true when every input has a
   * result. A timeout blames the input in flight and leaves the rest for the next call.
   */
  runSlice(job: SandboxJob): boolean {
    const runner = job.runner;
    if (runner.next >= job.inputs.length) return true;
    runner.current = -1;
    this.job = job;
    this.jobTaken = false;
    try {
      this.trampoline.runInContext(this.context, { timeout: this.options.batchSliceMs + this.options.timeout });
    } catch (err) {
      const index = runner.current >= 0 ? runner.current : runner.next;
      if (job.results[index] === undefined) job.results[index] = this.failure(this.errorFromHostCatch(err), []);
      runner.next = index + 1;
    } finally {
      this.job = null;
    }
    return runner.next >= job.inputs.length;
  }

  // ---- host bridge (called from the sandbox runner, inside the protected run) ----------------

  private takeJob(): RunnerJob {
    if (!this.job || this.jobTaken) throw new Error('the codec runner is not callable from a script');
    this.jobTaken = true;
    return this.job.runner;
  }

  private exportResult(index: number, status: 'ok' | 'error', value: unknown, logs: string[] | null): void {
    const job = this.job;
    if (!job) return;
    if (job.runner.op === 'load') {
      if (status === 'ok') this.loaded = exportStringList(value, 'functions', { remaining: 10_000, realm: this.realm });
      else this.loadError = this.errorFromSandbox(value);
      return;
    }
    let copiedLogs: string[] = [];
    if (logs !== null) copiedLogs = exportStringList(logs, 'logs', { remaining: Number.MAX_SAFE_INTEGER, realm: this.realm });
    if (status === 'error') {
      job.results[index] = this.failure(this.errorFromSandbox(value), copiedLogs);
      return;
    }
    const budget = this.budget;
    budget.remaining = this.options.maxOutputSize;
    try {
      job.results[index] = this.shape(job.op, value as Record<string, unknown>, budget, copiedLogs);
    } catch (err) {
      const error: CodecError =
        err instanceof OutputError
          ? { kind: 'output', message: err.message }
          : this.errorFromSandbox(describeThrown(err));
      job.results[index] = this.failure(error, copiedLogs);
    }
  }

  /** Copies one operation's output into the TTS codec API shape, validating it. */
  private shape(op: Operation, value: Record<string, unknown>, budget: ExportBudget, logs: string[]): OperationResult {
    const warnings = exportStringList(value.warnings, 'warnings', budget);
    const errors = exportStringList(value.errors, 'errors', budget);
    if (errors.length > 0) return { warnings, errors, error: { kind: 'script', message: errors.join('; ') }, logs };
    if (op === 'encodeDownlink') {
      const result: EncodeResult = { warnings, errors, logs };
      if (value.decodedPayload !== undefined) result.decodedPayload = exportObject(value.decodedPayload, 'decoded_payload', budget, this.sites.encodeDownlink);
      else result.bytes = exportBytes(value.bytes, 'bytes');
      const fPort = value.fPort;
      if (fPort !== undefined && fPort !== null) {
        if (typeof fPort !== 'number' || !Number.isInteger(fPort) || fPort < 0 || fPort > 255) {
          throw new OutputError(`fPort must be an integer 1..223, got ${typeof fPort === 'number' ? fPort : typeof fPort}`);
        }
        result.fPort = fPort;
      }
      return result;
    }
    return { data: exportObject(value.data, 'data', budget, this.sites[op]), warnings, errors, logs };
  }

  private failure(error: CodecError, logs: string[]): OperationResult {
    const message = error.message + describePosition(error.line === undefined ? undefined : { line: error.line, column: error.column });
    return { warnings: [], errors: [message], error, logs };
  }

  private errorFromSandbox(value: unknown): CodecError {
    const described = (value ?? {}) as { kind?: unknown; message?: unknown; stack?: unknown };
    const kind = typeof described.kind === 'string' ? (described.kind as CodecError['kind']) : 'runtime';
    const message = typeof described.message === 'string' ? described.message : 'unknown error';
    const stack = typeof described.stack === 'string' ? described.stack : '';
    const position = stack ? positionFromStack(stack, this.options.filename, this.userLines) : undefined;
    return { kind, message, ...(position ?? {}) };
  }

  /** An exception that escaped the runner: the watchdog, or something the runner could not catch. */
  private errorFromHostCatch(err: unknown): CodecError {
    if (isTimeout(err)) return { kind: 'timeout', message: `the script did not finish within ${this.options.timeout} ms` };
    return this.errorFromSandbox(describeThrown(err));
  }

  // ---- loading -------------------------------------------------------------------------------

  private compile(source: string): unknown {
    // A name the source never mentions cannot be defined by it; skipping its `typeof` saves a
    // (slow, intercepted) global lookup on every fresh instantiation.
    const names = TOP_LEVEL_NAMES.map((n) => (new RegExp(`\\b${n}\\b`).test(source) ? `typeof ${n} === 'function' ? ${n} : undefined` : 'undefined')).join(', ');
    // The wrapper line sits above the user's first line and lineOffset -1 cancels it, so V8's
    // line numbers are the user's. Closing lines come after a newline (a trailing // comment).
    const wrapped = `(function (module, exports) {\n${source}\n;return [${names}];\n})`;
    let script: vm.Script;
    try {
      script = new vm.Script(wrapped, { filename: this.options.filename, lineOffset: -1 });
    } catch (err) {
      throw new CodecLoadError(this.syntaxError(err, source));
    }
    // Evaluating the wrapper only creates the factory function; no user code runs here.
    return script.runInContext(this.context, { timeout: Math.max(this.options.timeout, LOAD_TIMEOUT_MS) });
  }

  private syntaxError(err: unknown, source: string): CodecError {
    let stack = err instanceof Error ? String(err.stack) : '';
    let message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    let position = positionFromSyntaxError(stack, this.options.filename, this.userLines);
    if (!position || position.column === undefined) {
      // The parser tripped over the wrapper's closing lines (an unclosed block, say): compiling
      // the bare source gives the message the user expects ("Unexpected end of input").
      try {
        new vm.Script(source, { filename: this.options.filename });
      } catch (bare) {
        if (bare instanceof SyntaxError) {
          stack = String(bare.stack);
          message = `${bare.name}: ${bare.message}`;
          position = positionFromSyntaxError(stack, this.options.filename, this.userLines) ?? position;
        }
      }
    }
    return { kind: 'compile', message, ...(position ?? {}) };
  }

  /** Runs the script's top level once (protected) and reports which functions it defines. */
  private load(factory: unknown): string[] {
    const job = this.startJob('decodeUplink', [null]);
    job.runner.op = 'load';
    job.runner.factory = factory;
    this.job = job;
    this.jobTaken = false;
    // Loading happens once per deploy and includes V8's first compilation of the script, so it
    // gets a wider limit than a message (a busy machine must not fail a deploy).
    const loadLimit = Math.max(this.options.timeout, LOAD_TIMEOUT_MS);
    try {
      this.trampoline.runInContext(this.context, { timeout: loadLimit });
    } catch (err) {
      this.loadError = this.errorFromHostCatch(err);
      if (this.loadError.kind === 'timeout') this.loadError.message = `the script's top level did not finish within ${loadLimit} ms`;
    } finally {
      this.job = null;
    }
    const error = this.loadError;
    if (error) throw new CodecLoadError({ ...error, kind: error.kind === 'timeout' ? 'timeout' : 'compile' });
    return this.loaded;
  }
}

function isTimeout(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT';
}

/** Reads a thrown value defensively (it may come from user code). */
function describeThrown(err: unknown): { kind: string; message: string; stack: string } {
  try {
    if (err instanceof Error || (typeof err === 'object' && err !== null)) {
      const e = err as { name?: unknown; message?: unknown; stack?: unknown };
      return { kind: 'runtime', message: `${String(e.name ?? 'Error')}: ${String(e.message ?? '')}`, stack: typeof e.stack === 'string' ? e.stack : '' };
    }
    return { kind: 'runtime', message: `Uncaught ${String(err)}`, stack: '' };
  } catch {
    return { kind: 'runtime', message: 'the script threw a value that cannot be printed', stack: '' };
  }
}
