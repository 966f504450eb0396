// Copies a value returned by a user script (a sandbox-realm object) into a fresh host-realm JSON
// value, the way TTS marshals formatter output: `undefined` becomes `null`, `NaN`/`±Infinity`
// and non-JSON values (functions, symbols, BigInt) are errors, and the size is bounded.
// Runs inside the protected run (called from the sandbox runner), so user getters, Proxy traps
// and `toJSON` methods it triggers are still under the time limit.
//
// Speed: a codec returns objects of the same few shapes message after message, and a generic
// walk (`out[key] = copy(obj[key])`) builds each host object one keyed store at a time. So each
// place in the output (an `OutputSite`: `data`, `data.status`, the elements of `data.list`…)
// remembers the key lists it has seen and compiles, per key list, a copier that checks the keys
// with one for-in and builds the host object as a single object literal (see object-copier.ts).
// Anything else (arrays, toJSON, class instances, a new key list) takes the generic walk.

import { compileObjectCopier, MISS, type CopierHelpers, type ObjectCopier } from './object-copier';

export class OutputError extends Error {}

/** Raised deep inside a copy; the path to the bad value is built only while it unwinds. */
export class PathError extends Error {
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

/** Limits on compiled copiers, so outputs whose keys change every message cannot grow code without end. */
export class CopierRegistry {
  compiled = 0;
  /** False once code generation failed (e.g. node --disallow-code-generation-from-strings). */
  enabled = true;
  constructor(readonly maxCopiers = 64) {}
}

/** One place in an output: the copiers compiled for the key lists seen there. */
export class OutputSite {
  readonly copiers: ObjectCopier[] = [];
  private elementSite: OutputSite | undefined;
  constructor(readonly registry: CopierRegistry) {}

  /** The site of this array's elements (all elements share one). */
  elements(): OutputSite {
    return (this.elementSite ??= new OutputSite(this.registry));
  }
}

const MAX_COPIERS_PER_SITE = 4;
const MAX_COPIER_KEYS = 64;

function isArrayLike(value: object, budget: ExportBudget): boolean {
  const ctor = (value as { constructor?: unknown }).constructor;
  if (budget.realm) {
    if (ctor === budget.realm.Array) return true;
    if (ctor === budget.realm.Object) return false;
  }
  return Array.isArray(value) || ArrayBuffer.isView(value);
}

export const MAX_DEPTH = 64;
export const TOO_LARGE = 'output is too large';

export function exportJson(value: unknown, path: string, budget: ExportBudget, site?: OutputSite): unknown {
  try {
    return copy(value, budget, 0, site);
  } catch (err) {
    if (!(err instanceof PathError)) throw err;
    if (err.problem === TOO_LARGE) throw new OutputError(TOO_LARGE);
    throw new OutputError(`${path}${err.path.join('')} ${err.problem}`);
  }
}

/** A value that is not a finite number (the compiled copiers inline that common case). */
export function copyValue(value: unknown, budget: ExportBudget, depth: number, site: OutputSite | undefined): unknown {
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
  return copyObject(value as object, budget, depth, site);
}

function copy(value: unknown, budget: ExportBudget, depth: number, site: OutputSite | undefined): unknown {
  if (--budget.remaining < 0) throw new PathError(TOO_LARGE);
  return copyValue(value, budget, depth, site);
}

function copyObject(value: object, budget: ExportBudget, depth: number, site: OutputSite | undefined): unknown {
  if (site !== undefined) {
    const copiers = site.copiers;
    for (let c = 0; c < copiers.length; c++) {
      const out = copiers[c](value, budget, depth);
      if (out !== MISS) return out;
    }
  }
  if (depth >= MAX_DEPTH) throw new PathError(`is nested more than ${MAX_DEPTH} levels deep (a cycle?)`);
  const obj = value as Record<string, unknown> & { toJSON?: unknown };
  if (typeof obj.toJSON === 'function') {
    // Dates and the sandbox Buffer, as JSON.stringify would see them.
    return copy((obj.toJSON as () => unknown)(), budget, depth + 1, undefined);
  }
  if (isArrayLike(obj, budget)) return copyArray(value as ArrayLike<unknown>, budget, depth, site);
  const learn =
    site !== undefined &&
    site.copiers.length < MAX_COPIERS_PER_SITE &&
    site.registry.enabled &&
    site.registry.compiled < site.registry.maxCopiers &&
    budget.realm !== undefined &&
    (obj as { constructor?: unknown }).constructor === budget.realm.Object;
  const keys: string[] | null = learn ? [] : null;
  const out: Record<string, unknown> = {};
  let current = '';
  try {
    // for-in also lists inherited enumerable keys; plain objects have none unless a script
    // adds enumerable properties to Object.prototype, and then they are part of what it returns.
    for (const key in obj) {
      current = key;
      budget.remaining -= key.length;
      if (keys !== null) keys.push(key);
      const item = copy(obj[key], budget, depth + 1, undefined);
      // `out.__proto__ = …` would set the prototype; a JSON key of that name is a plain property.
      if (key === '__proto__') Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
      else out[key] = item;
    }
  } catch (err) {
    if (err instanceof PathError) err.path.unshift(`.${current}`);
    throw err;
  }
  if (keys !== null && site !== undefined && keys.length <= MAX_COPIER_KEYS && !keys.includes('__proto__')) {
    const copier = compileObjectCopier(keys, budget.realm?.Object, site.registry, copierHelpers(site.registry));
    if (copier) site.copiers.push(copier);
  }
  return out;
}

const helpersByRegistry = new WeakMap<CopierRegistry, CopierHelpers>();

function copierHelpers(registry: CopierRegistry): CopierHelpers {
  let helpers = helpersByRegistry.get(registry);
  if (!helpers) {
    helpers = {
      copyValue: copyValue,
      tooLarge: () => new PathError(TOO_LARGE),
      atKey: (err, key) => {
        if (err instanceof PathError) err.path.unshift(`.${key}`);
        return err;
      },
      maxDepth: MAX_DEPTH,
      newSite: () => new OutputSite(registry),
    };
    helpersByRegistry.set(registry, helpers);
  }
  return helpers;
}

function copyArray(src: ArrayLike<unknown>, budget: ExportBudget, depth: number, site: OutputSite | undefined): unknown[] {
  const length = src.length;
  // Every element costs at least one character: a list longer than the budget is refused
  // before anything is copied (a 2-million-element array must not be walked to find out).
  if (length > budget.remaining) throw new PathError(TOO_LARGE);
  budget.remaining -= length;
  const out: unknown[] = []; // packed (push) rather than holey (new Array(n)): faster to fill and read
  const elements = site === undefined ? undefined : site.elements();
  let i = 0;
  try {
    for (; i < length; i++) {
      const item = src[i];
      out.push(typeof item === 'number' && item - item === 0 ? item : copyValue(item, budget, depth + 1, elements));
    }
  } catch (err) {
    if (err instanceof PathError) err.path.unshift(`[${i}]`);
    throw err;
  }
  return out;
}

/** A reading: a JSON object (not an array, not null). */
export function exportObject(value: unknown, what: string, budget: ExportBudget, site?: OutputSite): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || isArrayLike(value, budget)) {
    const got = value === null ? 'null' : typeof value === 'object' ? 'an array' : value === undefined ? 'nothing' : `a ${typeof value}`;
    throw new OutputError(`${what} must be an object, got ${got}`);
  }
  return exportJson(value, what, budget, site) as Record<string, unknown>;
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
  const count = Math.min(list.length, 100);
  const out = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    const entry = list[i];
    const text = typeof entry === 'string' ? entry : String(entry);
    budget.remaining -= text.length;
    out[i] = text;
  }
  if (budget.remaining < 0) throw new OutputError('output is too large');
  return out;
}
