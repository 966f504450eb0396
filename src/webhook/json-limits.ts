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

/** The first bound the value breaks, as a sentence for the 422 answer; undefined when it fits. */
export function jsonLimitBroken(value: unknown, limits: JsonLimits = DEFAULT_JSON_LIMITS): string | undefined {
  // Iterative, so the check itself cannot overflow the stack.
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  let values = 0;
  while (stack.length > 0) {
    const { value: v, depth } = stack.pop()!;
    if (++values > limits.maxValues) return `more than ${limits.maxValues} values in the body`;
    if (typeof v === 'string') {
      if (v.length > limits.maxString) return `a string longer than ${limits.maxString} characters`;
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= limits.maxDepth) return `nested deeper than ${limits.maxDepth} levels`;
    if (Array.isArray(v)) {
      if (v.length > limits.maxEntries) return `an array of more than ${limits.maxEntries} elements`;
      for (const item of v) stack.push({ value: item, depth: depth + 1 });
      continue;
    }
    const keys = Object.keys(v);
    if (keys.length > limits.maxEntries) return `an object with more than ${limits.maxEntries} keys`;
    for (const key of keys) {
      if (key.length > limits.maxString) return `a key longer than ${limits.maxString} characters`;
      stack.push({ value: (v as Record<string, unknown>)[key], depth: depth + 1 });
    }
  }
  return undefined;
}
