// Copies a value returned by a user script (a sandbox-realm object) into a fresh host-realm JSON
// value, the way TTS marshals formatter output: `undefined` becomes `null`, `NaN`/`±Infinity`
// and non-JSON values (functions, symbols, BigInt) are errors, and the size is bounded.
// Runs inside the protected run (called from the sandbox runner), so user getters, Proxy traps
// and `toJSON` methods it triggers are still under the time limit.

export class OutputError extends Error {}

export interface ExportBudget {
  /** JSON characters still allowed (approximate: keys, strings and one per scalar). */
  remaining: number;
}

const MAX_DEPTH = 64;

export function exportJson(value: unknown, path: string, budget: ExportBudget, depth = 0): unknown {
  if (--budget.remaining < 0) throw new OutputError('output is too large');
  switch (typeof value) {
    case 'undefined':
      return null;
    case 'boolean':
      return value;
    case 'string':
      budget.remaining -= value.length;
      if (budget.remaining < 0) throw new OutputError('output is too large');
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new OutputError(`${path} is ${String(value)}, which JSON cannot represent`);
      return value;
    case 'bigint':
    case 'symbol':
    case 'function':
      throw new OutputError(`${path} is a ${typeof value}, which JSON cannot represent`);
  }
  if (value === null) return null;
  if (depth >= MAX_DEPTH) throw new OutputError(`${path} is nested more than ${MAX_DEPTH} levels deep (a cycle?)`);
  const obj = value as Record<string, unknown> & { toJSON?: unknown };
  if (typeof obj.toJSON === 'function') {
    // Dates and the sandbox Buffer, as JSON.stringify would see them.
    return exportJson((obj.toJSON as () => unknown)(), path, budget, depth + 1);
  }
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    const src = value as ArrayLike<unknown>;
    const out = new Array<unknown>(src.length);
    for (let i = 0; i < src.length; i++) out[i] = exportJson(src[i], `${path}[${i}]`, budget, depth + 1);
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(obj)) {
    budget.remaining -= key.length;
    out[key] = exportJson(obj[key], `${path}.${key}`, budget, depth + 1);
  }
  return out;
}

/** A reading: a JSON object (not an array, not null). */
export function exportObject(value: unknown, what: string, budget: ExportBudget): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : value === undefined ? 'nothing' : `a ${typeof value}`;
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
  const out: string[] = [];
  for (let i = 0; i < value.length && i < 100; i++) {
    const entry = value[i] as unknown;
    const text = typeof entry === 'string' ? entry : String(entry);
    budget.remaining -= text.length;
    out.push(text);
  }
  if (budget.remaining < 0) throw new OutputError('output is too large');
  return out;
}
