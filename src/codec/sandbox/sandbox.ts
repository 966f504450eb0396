import vm from 'node:vm';
import { timeoutError, type CodecError, type DecodeResult, type EncodeResult } from './results';
import { createBufferShim } from './buffer-shim';
import { describePosition, positionFromStack, positionFromSyntaxError } from './error-location';
import { exportBytes, exportObject, exportStringList, OutputError, type ExportBudget } from './export-value';
import { ASYNC_GLOBALS, outlineScript, type ScriptOutline } from './script-outline';
import { installRunner, type RunnerJob } from './runner';
import { TtsError } from '../../util/errors';

/*
 * How a codec runs (TTS semantics, at a cost the pipeline does not notice).
 *
 * TTS evaluates the script as a classic script in a fresh runtime for every message and calls
 * the entry function as a plain function. A fresh vm context per message costs ~1 ms, and
 * re-running a classic script in one context costs ~2 µs per top-level declaration (each goes
 * through the contextified global's interceptors): ~100 µs for a 20 kB codec. So:
 *
 * - The script is compiled once as the body of a factory function. Calling the factory re-runs
 *   the top level with fresh bindings: that is the fresh state per message, at the cost of
 *   creating the script's closures and tables (a few µs for 20 kB).
 * - The top level's `function` and `var` declarations are properties of the global in TTS.
 *   Here the context's sandbox object gets, once, a prototype with one accessor per such name,
 *   and the factory's first statement hands the runner a reader and a writer of the current
 *   run's bindings: `this.helper()`, `globalThis.helper` and `this.state = 1` work as in TTS,
 *   while the script's own calls stay fast closure calls. (A fresh object of accessors per
 *   message, or re-running a classic script, would cost 10-20 times more.)
 * - What a message leaves on the global (assignments to undeclared names, `this.x = …`) is
 *   removed before the next one; the engine's own globals are put back if a script replaced them.
 *   Changes to builtins (`Array.prototype.x = …`) are not undone (a script's top level that makes
 *   them redoes them every message).
 * - `runInContext({ timeout })` starts a watchdog per call (~60-200 µs), so one protected run
 *   serves many messages: the runner stops taking new ones after `batchSliceMs`, the watchdog
 *   allows slice + timeout, so the message in flight always gets its full limit, and the input
 *   in flight is recorded before each call so a timeout blames exactly that message.
 */

export type Operation = 'decodeUplink' | 'encodeDownlink' | 'decodeDownlink';
export type OperationResult = DecodeResult | EncodeResult;

export interface SandboxOptions {
  timeout: number;
  filename: string;
  /** TTS semantics: every message sees a freshly evaluated top level. */
  freshScope: boolean;
  maxOutputSize: number;
  batchSliceMs: number;
  /**
   * Whether each protected run starts vm's watchdog (a thread per run: 60-250 µs, and now and
   * then a spurious timeout on a busy machine). The codec thread runs without it: its parent
   * watches the clock and ends the thread instead (codec-thread.ts).
   */
  watchdog: boolean;
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
const ENTRY_NAMES = ['decodeUplink', 'encodeDownlink', 'decodeDownlink', 'Decoder', 'Encoder'];
const PRELUDE = `(function (g, host) {
  'use strict';
  const shim = (${createBufferShim.toString()})();
  (${installRunner.toString()})(g, host, shim);
})`;

/**
 * The factory's first statement: hands the runner a reader and a writer of this run's
 * top-level `function` / `var` bindings (by index into TopLevel.names), so the global's accessors
 * (defined once, see the runner) reach the live bindings of the current message.
 */
function bindingAccessors(names: readonly string[]): string {
  const reads = names.map((name, i) => `case ${i}: return ${name};`).join(' ');
  const writes = names.map((name, i) => `case ${i}: ${name} = __ttsValue; break;`).join(' ');
  return `function (__ttsIndex) { switch (__ttsIndex) { ${reads} } }, function (__ttsIndex, __ttsValue) { switch (__ttsIndex) { ${writes} } }`;
}

export class CodecSandbox {
  /** Functions the script defines (decodeUplink, uplink, Decoder, …). */
  readonly functions: readonly string[];
  /** The object the context was created from: the host's view of the script's global. */
  private readonly sandbox: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  private readonly baseline: Map<string, unknown>;
  private readonly context: vm.Context;
  /** The context's global object, seen from the host. */
  private readonly global: Record<string, unknown>;
  private readonly trampoline = new vm.Script('__ttsRun()', { filename: 'tts-codec-runner' });
  private readonly userLines: number;
  /** The top level's function and var names (exposed on the global, as in a classic script). */
  private readonly names: string[];
  private job: SandboxJob | null = null;
  private jobTaken = false;
  private loaded: string[] = [];
  private loadError: CodecError | undefined;

  constructor(source: string, private readonly options: SandboxOptions) {
    if (typeof source !== 'string') throw new CodecLoadError({ kind: 'compile', message: 'the script must be a string' });
    this.userLines = source.split('\n').length;
    const outline = outlineScript(source);
    if (outline.asyncSyntax) {
      const { what, line, column } = outline.asyncSyntax;
      throw new CodecLoadError({ kind: 'compile', message: `${what} is not supported: codec functions must be synchronous`, line, column });
    }
    // The sandbox object has no prototype of the host's: `this.constructor` resolves inside the
    // context (the classic `this.constructor.constructor('return process')()` escape). No code
    // generation from strings: eval / new Function could build async code at run time.
    this.context = vm.createContext(this.sandbox, {
      name: options.filename,
      codeGeneration: { strings: false, wasm: false },
      microtaskMode: 'afterEvaluate',
    });
    const global = (this.global = vm.runInContext('globalThis', this.context) as Record<string, unknown>);
    for (const name of ASYNC_GLOBALS) delete global[name];
    vm.runInContext('delete Atomics.waitAsync; if (Array.fromAsync) delete Array.fromAsync;', this.context);
    const install = vm.runInContext(PRELUDE, this.context, { filename: 'tts-codec-prelude' }) as (g: Record<string, unknown>, host: object) => void;
    install(global, {
      takeJob: () => this.takeJob(),
      exposeDeclarations: (declarations: object) => this.exposeDeclarations(declarations),
      beginMessage: () => this.beginMessage(),
      exportResult: (index: number, status: 'ok' | 'error', value: unknown, logs: string[] | null) => this.exportResult(index, status, value, logs),
    });
    this.baseline = new Map(Object.getOwnPropertyNames(this.sandbox).map((name) => [name, this.sandbox[name]]));
    this.names = [...outline.functions, ...outline.vars.filter((name) => name !== 'arguments')];
    this.functions = this.load(this.compile(source, outline));
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
    return { op, inputs, results: new Array(inputs.length), runner: { op, fresh: this.options.freshScope, inputs, next: 0, current: -1, sliceMs: this.options.batchSliceMs } };
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
      this.trampoline.runInContext(this.context, this.options.watchdog ? { timeout: this.options.batchSliceMs + this.options.timeout } : undefined);
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

  /** The script's top-level declarations become properties of its global (see the runner). */
  private exposeDeclarations(declarations: object): void {
    if (this.job?.runner.op !== 'load') throw new Error('the codec runner is not callable from a script');
    Object.setPrototypeOf(this.sandbox, declarations);
  }

  /** A fresh global for the next run of the top level: what a message added goes, engine globals come back. */
  private beginMessage(): void {
    if (!this.job) throw new Error('the codec runner is not callable from a script');
    const sandbox = this.sandbox;
    // The engine's own globals are not enumerable: anything listed here was added by a script.
    // Changes go through the global itself: V8 keeps a copy of what a script sets there.
    for (const name of Object.keys(sandbox)) delete this.global[name];
    for (const [name, value] of this.baseline) {
      if (sandbox[name] !== value) Object.defineProperty(this.global, name, { value, writable: true, configurable: true, enumerable: false });
    }
  }

  private exportResult(index: number, status: 'ok' | 'error', value: unknown, logs: string[] | null): void {
    const job = this.job;
    if (!job) return;
    if (job.runner.op === 'load') {
      if (status === 'ok') this.loaded = exportStringList(value, 'functions', { remaining: 10_000 });
      else this.loadError = this.errorFromSandbox(value);
      return;
    }
    const copiedLogs = logs === null ? [] : exportStringList(logs, 'logs', { remaining: Number.MAX_SAFE_INTEGER });
    if (status === 'error') {
      job.results[index] = this.failure(this.errorFromSandbox(value), copiedLogs);
      return;
    }
    try {
      job.results[index] = this.shape(job.op, value as Record<string, unknown>, { remaining: this.options.maxOutputSize }, copiedLogs);
    } catch (err) {
      const error: CodecError = err instanceof OutputError ? { kind: 'output', message: err.message } : this.errorFromSandbox(describeThrown(err));
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
      if (value.decodedPayload !== undefined) result.decodedPayload = exportObject(value.decodedPayload, 'decoded_payload', budget);
      else result.bytes = exportBytes(value.bytes, 'bytes');
      const fPort = value.fPort;
      if (fPort !== undefined && fPort !== null) {
        if (typeof fPort !== 'number' || !Number.isInteger(fPort) || fPort < 0 || fPort > 255) {
          throw new OutputError(`fPort must be an integer 0..255, got ${typeof fPort === 'number' ? fPort : typeof fPort}`);
        }
        result.fPort = fPort;
      }
      return result;
    }
    return { data: exportObject(value.data, 'data', budget), warnings, errors, logs };
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
    if (isTimeout(err)) return timeoutError(this.options.timeout);
    return this.errorFromSandbox(describeThrown(err));
  }

  // ---- loading -------------------------------------------------------------------------------

  private compile(source: string, outline: ScriptOutline): unknown {
    // The wrapper line sits above the user's first line and lineOffset -1 cancels it, so V8's
    // line numbers are the user's. Closing lines come after a newline (a trailing // comment).
    // A leading 'use strict' would no longer be a directive after the wrapper's first statement,
    // so the wrapper states it itself.
    const entries = ENTRY_NAMES.map((n) => `typeof ${n} === 'function' ? ${n} : undefined`).join(', ');
    const head = `${outline.strict ? "'use strict'; " : ''}__ttsBegin(${bindingAccessors(this.names)});`;
    const wrapped = `(function (module, exports, __ttsBegin) {${head}\n${source}\n;return [${entries}];\n})`;
    let script: vm.Script;
    try {
      script = new vm.Script(wrapped, { filename: this.options.filename, lineOffset: -1 });
    } catch (err) {
      throw new CodecLoadError(this.syntaxError(err, source));
    }
    // Evaluating the wrapper only creates the factory function; no user code runs here.
    return script.runInContext(this.context, { timeout: LOAD_TIMEOUT_MS });
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
    job.runner.names = this.names;
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
