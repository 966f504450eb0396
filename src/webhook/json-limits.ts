/**
 * Bounds on the shape of a webhook body, checked before anything else looks at it. A TTS
 * message is shallow (depth < 10) and small; a body nested 10,000 levels deep parses fine but
 * later overflows the stack of anything recursive (Node-RED's message clone for a Catch node).
 */
export interface JsonLimits {
  maxDepth: number;
  /** Keys of one object, elements of one array. */
  maxEntries: number;
  /** Characters of one string (or key). */
  maxString: number;
  /** Values in the whole body. */
  maxValues: number;
}

export const DEFAULT_JSON_LIMITS: JsonLimits = {
  maxDepth: 32,
  maxEntries: 10_000,
  maxString: 128 * 1024,
  maxValues: 100_000,
};

// The walk's stack, kept between calls: an object per value walked was the largest allocation of a
// webhook request's handling (about 3 KB per uplink), all of it garbage a moment later.
const pending: unknown[] = [];
const depths: number[] = [];

/** The first bound the value breaks, as a sentence for the 422 answer; undefined when it fits. */
export function jsonLimitBroken(value: unknown, limits: JsonLimits = DEFAULT_JSON_LIMITS): string | undefined {
  try {
    return walk(value, limits);
  } finally {
    // No reference to the body outlives the check.
    pending.length = 0;
    depths.length = 0;
  }
}

// Iterative, so the check itself cannot overflow the stack.
function walk(value: unknown, limits: JsonLimits): string | undefined {
  pending.push(value);
  depths.push(0);
  let values = 0;
  while (pending.length > 0) {
    const v = pending.pop();
    const depth = depths.pop()!;
    if (++values > limits.maxValues) return `more than ${limits.maxValues} values in the body`;
    if (typeof v === 'string') {
      if (v.length > limits.maxString) return `a string longer than ${limits.maxString} characters`;
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= limits.maxDepth) return `nested deeper than ${limits.maxDepth} levels`;
    if (Array.isArray(v)) {
      if (v.length > limits.maxEntries) return `an array of more than ${limits.maxEntries} elements`;
      for (const item of v) {
        pending.push(item);
        depths.push(depth + 1);
      }
      continue;
    }
    let entries = 0;
    for (const key in v) {
      if (!Object.hasOwn(v, key)) continue;
      if (++entries > limits.maxEntries) return `an object with more than ${limits.maxEntries} keys`;
      if (key.length > limits.maxString) return `a key longer than ${limits.maxString} characters`;
      pending.push((v as Record<string, unknown>)[key]);
      depths.push(depth + 1);
    }
  }
  return undefined;
}
