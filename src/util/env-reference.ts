const ENV_REFERENCE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/**
 * Resolves a credential written as `${NAME}` through `lookup` (Node-RED's flow/global/process
 * env). Node-RED maps `${ENV}` in node properties but not in credentials, so nodes do it here.
 * An unset variable resolves to '' rather than the literal text, which would otherwise be used
 * as a secret.
 */
export function resolveEnvReference(value: string | undefined, lookup: (name: string) => unknown): string {
  if (!value) return '';
  const match = ENV_REFERENCE.exec(value.trim());
  if (!match) return value;
  const resolved = lookup(match[1]);
  return resolved === undefined || resolved === null ? '' : String(resolved);
}
