// Copies a value returned by a user script (a sandbox-realm object) into a fresh host-realm JSON
// value, the way TTS marshals formatter output: `undefined` becomes `null`, `NaN`/`±Infinity`
// and non-JSON values (functions, symbols, BigInt) are errors, and the size is bounded.
// Runs inside the protected run (called from the sandbox runner), so user getters, Proxy traps
// and `toJSON` methods it triggers are still under the time limit.

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
  /**
   * The sandbox realm's Array and Object. Builtins called on another realm's objects
   * (Array.isArray, Object.keys) cost ~0.15 µs each, so values are recognised by constructor
   * first and walked with for-in; anything unusual falls back to the builtins.
   */
  realm?: { Array: unknown; Object: unknown };
}

function isArrayLike(value: object, budget: ExportBudget): boolean {
  const ctor = (value as { constructor?: unknown }).constructor;
  if (budget.realm) {
    if (ctor === budget.realm.Array) return true;
    if (ctor === budget.realm.Object) return false;
  }
  return Array.isArray(value) || ArrayBuffer.isView(value);
}

const MAX_DEPTH = 64;
const TOO_LARGE = 'output is too large';

export function exportJson(value: unknown, path: string, budget: ExportBudget): unknown {
  try {
    return copy(value, budget, 0);
  } catch (err) {
    if (!(err instanceof PathError)) throw err;
    if (err.problem === TOO_LARGE) throw new OutputError(TOO_LARGE);
    throw new OutputError(`${path}${err.path.join('')} ${err.problem}`);
  }
}

function copy(value: unknown, budget: ExportBudget, depth: number): unknown {
  if (--budget.remaining < 0) throw new PathError(TOO_LARGE);
  switch (typeof value) {
    case 'undefined':
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
    case 'symbol':
    case 'function':
      throw new PathError(`is a ${typeof value}, which JSON cannot represent`);
  }
  if (value === null) return null;
  if (depth >= MAX_DEPTH) throw new PathError(`is nested more than ${MAX_DEPTH} levels deep (a cycle?)`);
  const obj = value as Record<string, unknown> & { toJSON?: unknown };
  if (typeof obj.toJSON === 'function') {
    // Dates and the sandbox Buffer, as JSON.stringify would see them.
    return copy((obj.toJSON as () => unknown)(), budget, depth + 1);
  }
  if (isArrayLike(obj, budget)) {
    const src = value as ArrayLike<unknown>;
    // Every element costs at least one character: a list longer than the budget is refused
    // before anything is copied (a 2-million-element array must not be walked to find out).
    if (src.length > budget.remaining) throw new PathError(TOO_LARGE);
    const out = new Array<unknown>(src.length);
    let i = 0;
    try {
      for (; i < src.length; i++) out[i] = copy(src[i], budget, depth + 1);
    } catch (err) {
      if (err instanceof PathError) err.path.unshift(`[${i}]`);
      throw err;
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  let current = '';
  try {
    // for-in also lists inherited enumerable keys; plain objects have none unless a script
    // adds enumerable properties to Object.prototype, and then they are part of what it returns.
    for (const key in obj) {
      current = key;
      budget.remaining -= key.length;
      out[key] = copy(obj[key], budget, depth + 1);
    }
  } catch (err) {
    if (err instanceof PathError) err.path.unshift(`.${current}`);
    throw err;
  }
  return out;
}

/** A reading: a JSON object (not an array, not null). */
export function exportObject(value: unknown, what: string, budget: ExportBudget): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || isArrayLike(value, budget)) {
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
  if (typeof value !== 'object' || !isArrayLike(value, budget)) throw new OutputError(`${what} must be an array of strings`);
  const list = value as ArrayLike<unknown>;
  const out: string[] = [];
  for (let i = 0; i < list.length && i < 100; i++) {
    const entry = list[i];
    const text = typeof entry === 'string' ? entry : String(entry);
    budget.remaining -= text.length;
    out.push(text);
  }
  if (budget.remaining < 0) throw new OutputError('output is too large');
  return out;
}
