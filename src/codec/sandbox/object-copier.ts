// A copier compiled for one key list: checks with one for-in that the object has exactly these
// enumerable keys in this order, then builds the host object as ONE object literal. V8 creates a
// literal from a boilerplate with its final hidden class, where the generic walk
// (`out[key] = …`) pays a keyed store and a map transition per key; the literal's property reads
// (`o["battery"]`) are monomorphic for a codec's usual output. About 3× faster than the walk.
//
// Semantics are the generic walk's: keys read and copied in for-in order (so getters and Proxy
// traps run in the same order), each value copied before the next key is read, undefined → null,
// finite numbers inline, everything else through `copyValue`. Anything the copier does not
// handle (another key list, a class instance, toJSON, too deep) answers MISS before reading a
// single value, and the caller takes the generic walk.
//
// Code is generated from key names the script chose: each key enters the source only through
// JSON.stringify (a string literal), and `__proto__` (which a literal would treat as the
// prototype) is never compiled.

export const MISS: unique symbol = Symbol('no copier for this shape');

export type ObjectCopier = (value: object, budget: { remaining: number }, depth: number) => unknown;

/** What a compiled copier calls back into (export-value.ts). */
export interface CopierHelpers {
  copyValue(value: unknown, budget: { remaining: number }, depth: number, site: unknown): unknown;
  tooLarge(): Error;
  /** Adds `.key` to a PathError's path (and returns the error to rethrow). */
  atKey(err: unknown, key: string): unknown;
  maxDepth: number;
  newSite(): unknown;
}

export function compileObjectCopier(
  keys: readonly string[],
  realmObject: unknown,
  registry: { compiled: number; enabled: boolean },
  helpers: CopierHelpers,
): ObjectCopier | undefined {
  const sites = keys.map(() => helpers.newSite());
  const cost = 1 + keys.length + keys.reduce((sum, key) => sum + key.length, 0);
  const props = keys.map((key, i) => {
    const name = JSON.stringify(key);
    return `${name}: (at = ${i}, t = o[${name}], typeof t === "number" && t - t === 0 ? t : copyValue(t, b, d + 1, S[${i}]))`;
  });
  const body = `
    "use strict";
    return function copyObject(o, b, d) {
      var k = 0;
      for (var key in o) {
        if (key !== K[k]) return MISS;
        k++;
      }
      if (k !== ${keys.length} || d >= ${helpers.maxDepth} || o.constructor !== RO || o.toJSON !== undefined) return MISS;
      if ((b.remaining -= ${cost}) < 0) throw tooLarge();
      var at = 0, t;
      try {
        return { ${props.join(',\n')} };
      } catch (err) {
        throw atKey(err, K[at]);
      }
    };`;
  let copier: ObjectCopier;
  try {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- compiles the copier from a fixed template; keys enter only JSON-encoded
    const factory = new Function('K', 'S', 'RO', 'MISS', 'copyValue', 'tooLarge', 'atKey', body) as (...args: unknown[]) => ObjectCopier;
    copier = factory(keys.slice(), sites, realmObject, MISS, helpers.copyValue, helpers.tooLarge, helpers.atKey);
  } catch {
    registry.enabled = false;
    return undefined;
  }
  registry.compiled++;
  return copier;
}
