// Copies a value returned by a user script (a sandbox-realm object) into a fresh host-realm JSON
// value, the way TTS exports a formatter's output from its script runtime (goja's Export, then
// a protobuf Struct):
// - own enumerable string keys only (inherited and symbol keys are not part of the output);
//   getters run; `toJSON` is not called (goja does not), so it is just another property;
// - `undefined`, functions and symbols become `null` (a helper object with methods attached
//   keeps its readings instead of failing the decode); array holes become `null`;
// - typed arrays (the sandbox Buffer included) and ArrayBuffers become arrays of numbers;
//   boxed primitives (`new Number(1)`) their primitive; a Date its ISO text (`null` if invalid);
// - NaN and ±Infinity fail the decode, as in TTS since 3.28; so do BigInts;
// - the output is bounded in size and depth (a cycle fails at depth 64).
// It runs inside the protected run (called from the sandbox runner), so user getters and Proxy
// traps it triggers are under the time limit.

export class OutputError extends Error {}

/** Raised deep inside a copy; the path to the bad value is built only while it unwinds. */
class PathError extends Error {
  constructor(readonly problem: string, readonly path: string[] = []) {
    super(problem);
  }
}

export interface ExportBudget {
  /** JSON characters still allowed (approximate: keys, strings and one per scalar). */
  remaining: number;
}

export const MAX_DEPTH = 64;
const TOO_LARGE = 'output is too large';
const tag = (value: object): string => Object.prototype.toString.call(value);

function copy(value: unknown, budget: ExportBudget, depth: number): unknown {
  if (--budget.remaining < 0) throw new PathError(TOO_LARGE);
  switch (typeof value) {
    case 'undefined':
    case 'function':
    case 'symbol':
      return null;
    case 'boolean':
      return value;
    case 'string':
      budget.remaining -= value.length;
      if (budget.remaining < 0) throw new PathError(TOO_LARGE);
      return value;
    case 'number':
      if (value - value !== 0) throw new PathError(`is ${String(value)}, which JSON cannot represent`);
      return value;
    case 'bigint':
      throw new PathError('is a bigint, which JSON cannot represent');
  }
  if (value === null) return null;
  if (depth >= MAX_DEPTH) throw new PathError(`is nested more than ${MAX_DEPTH} levels deep (a cycle?)`);
  const obj = value as Record<string, unknown>;
  if (Array.isArray(obj)) return copyList(obj, budget, depth);
  if (ArrayBuffer.isView(obj)) return tag(obj) === '[object DataView]' ? {} : copyList(obj as unknown as ArrayLike<unknown>, budget, depth);
  switch (tag(obj)) {
    case '[object ArrayBuffer]':
      return copyList(new Uint8Array(obj as unknown as ArrayBuffer), budget, depth);
    case '[object Date]': {
      const time = (obj as unknown as Date).getTime();
      return Number.isNaN(time) ? null : copy(new Date(time).toISOString(), budget, depth);
    }
    case '[object Number]':
    case '[object String]':
    case '[object Boolean]':
      return copy((obj as unknown as { valueOf(): unknown }).valueOf(), budget, depth);
  }
  const out: Record<string, unknown> = {};
  let current = '';
  try {
    for (const key of Object.keys(obj)) {
      current = key;
      budget.remaining -= key.length;
      const item = copy(obj[key], budget, depth + 1);
      // `out.__proto__ = …` would set the prototype; a JSON key of that name is a plain property.
      if (key === '__proto__') Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
      else out[key] = item;
    }
  } catch (err) {
    if (err instanceof PathError) err.path.unshift(`.${current}`);
    throw err;
  }
  return out;
}

function copyList(src: ArrayLike<unknown>, budget: ExportBudget, depth: number): unknown[] {
  const length = src.length;
  // Every element costs at least one character: a list longer than the budget is refused
  // before anything is copied (a 2-million-element array must not be walked to find out).
  if (length > budget.remaining) throw new PathError(TOO_LARGE);
  const out: unknown[] = [];
  let i = 0;
  try {
    for (; i < length; i++) out.push(copy(src[i], budget, depth + 1));
  } catch (err) {
    if (err instanceof PathError) err.path.unshift(`[${i}]`);
    throw err;
  }
  return out;
}

function exportJson(value: unknown, path: string, budget: ExportBudget): unknown {
  try {
    return copy(value, budget, 0);
  } catch (err) {
    if (!(err instanceof PathError)) throw err;
    if (err.problem === TOO_LARGE) throw new OutputError(TOO_LARGE);
    throw new OutputError(`${path}${err.path.join('')} ${err.problem}`);
  }
}

/** A reading: a JSON object (not an array, not null). */
export function exportObject(value: unknown, what: string, budget: ExportBudget): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value)) {
    const got = value === null ? 'null' : typeof value === 'object' ? 'an array' : value === undefined ? 'nothing' : `a ${typeof value}`;
    throw new OutputError(`${what} must be an object, got ${got}`);
  }
  return exportJson(value, what, budget) as Record<string, unknown>;
}

/** Downlink bytes: integers 0..255 (an array, typed array or Buffer). */
export function exportBytes(value: unknown, what: string): number[] {
  if (!Array.isArray(value) && !ArrayBuffer.isView(value)) {
    throw new OutputError(`${what} must be an array of bytes, got ${value === null ? 'null' : typeof value}`);
  }
  const src = value as ArrayLike<unknown>;
  if (src.length > 4096) throw new OutputError(`${what} has ${src.length} bytes; a LoRaWAN frame holds far fewer`);
  const out = new Array<number>(src.length);
  for (let i = 0; i < src.length; i++) {
    const b = src[i];
    if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b > 255) {
      throw new OutputError(`${what}[${i}] is ${String(b)}, not a byte (integer 0..255)`);
    }
    out[i] = b;
  }
  return out;
}

/** warnings/errors lists: strings (other entries are stringified, as TTS would print them). */
export function exportStringList(value: unknown, what: string, budget: ExportBudget): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new OutputError(`${what} must be an array of strings`);
  const count = Math.min(value.length, 100);
  const out = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    const entry: unknown = value[i];
    const text = typeof entry === 'string' ? entry : String(entry);
    budget.remaining -= text.length;
    out[i] = text;
  }
  if (budget.remaining < 0) throw new OutputError(TOO_LARGE);
  return out;
}
