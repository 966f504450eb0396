// TTS's JSON marshaller omits default values (0, false, "", empty lists and objects). Builders
// write every field and prune here, except inside free-form JSON where zeros are real data.
const FREE_FORM = new Set(['decoded_payload', 'normalized_payload', 'data', 'attributes', 'details', 'headers']);

export function omitDefaults<T>(value: T): T {
  return prune(value) as T;
}

function prune(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(prune);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    if (FREE_FORM.has(key)) {
      if (child !== undefined) out[key] = child;
      continue;
    }
    const pruned = prune(child);
    if (isDefault(pruned)) continue;
    out[key] = pruned;
  }
  return out;
}

function isDefault(value: unknown): boolean {
  if (value === undefined || value === null || value === 0 || value === false || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.keys(value).length === 0;
  return false;
}
