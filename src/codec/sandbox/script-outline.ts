// What the engine needs to know about a script before running it, from one parse:
//
// - Asynchronous syntax is refused. A script that leaves a promise job behind makes the time
//   limit end inside V8's microtask processing, and when anything in the process has enabled
//   async hooks (AsyncLocalStorage in another node, an APM agent) Node then aborts the whole
//   process with "async hook stack has become corrupted" (nodejs/node#38503). Codecs are
//   synchronous in TTS too, so the sandbox makes promises unreachable: this check refuses the
//   syntax that creates them (async functions, await, dynamic import()), the context refuses
//   code generation from strings, and the globals that hand out promises or run callbacks outside
//   a protected run are removed (ASYNC_GLOBALS).
// - The names the top level declares with `function` and `var`: in TTS they are properties of
//   the global object (the script is a classic script), so the engine exposes them there.
// - Whether the script starts with a 'use strict' directive.
import { parse } from 'acorn';

export interface AsyncSyntax {
  what: string;
  line: number;
  column: number;
}

export interface ScriptOutline {
  /** The first construct that would create a promise. */
  asyncSyntax?: AsyncSyntax;
  /** Top-level function declarations (hoisted: defined before the first statement runs). */
  functions: string[];
  /** Other top-level `var` bindings (and, in sloppy code, functions declared in top-level blocks). */
  vars: string[];
  strict: boolean;
}

interface EsNode {
  type: string;
  async?: boolean;
  await?: boolean;
  kind?: string;
  directive?: string;
  loc?: { start: { line: number; column: number } };
  [key: string]: unknown;
}

function describeAsync(node: EsNode): string | undefined {
  switch (node.type) {
    case 'FunctionDeclaration':
    case 'FunctionExpression':
    case 'ArrowFunctionExpression':
      return node.async ? 'an async function' : undefined;
    case 'AwaitExpression':
      return 'await';
    case 'ForOfStatement':
      return node.await ? 'for await' : undefined;
    case 'ImportExpression':
      return 'import()';
    default:
      return undefined;
  }
}

function children(node: EsNode): EsNode[] {
  const out: EsNode[] = [];
  for (const key of Object.keys(node)) {
    if (key === 'loc') continue;
    const value = node[key];
    if (Array.isArray(value)) {
      for (const item of value) if (item && typeof item === 'object' && typeof item.type === 'string') out.push(item as EsNode);
    } else if (value && typeof value === 'object' && typeof (value as EsNode).type === 'string') {
      out.push(value as EsNode);
    }
  }
  return out;
}

function findAsync(program: EsNode): AsyncSyntax | undefined {
  const stack: EsNode[] = [program];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const what = describeAsync(node);
    if (what) {
      const start = node.loc?.start ?? { line: 1, column: 0 };
      return { what, line: start.line, column: start.column + 1 };
    }
    stack.push(...children(node).reverse());
  }
  return undefined;
}

/** Identifiers bound by a declaration pattern (`a`, `{ a, b: [c] }`, `...rest`, `d = 1`). */
function boundNames(pattern: EsNode, out: string[]): void {
  switch (pattern.type) {
    case 'Identifier':
      out.push(pattern.name as string);
      break;
    case 'ObjectPattern':
      for (const p of pattern.properties as EsNode[]) boundNames(p.type === 'Property' ? (p.value as EsNode) : p, out);
      break;
    case 'ArrayPattern':
      for (const e of pattern.elements as Array<EsNode | null>) if (e) boundNames(e, out);
      break;
    case 'RestElement':
      boundNames(pattern.argument as EsNode, out);
      break;
    case 'AssignmentPattern':
      boundNames(pattern.left as EsNode, out);
      break;
  }
}

/** `var` bindings of the top level: statements are searched, function and class bodies are not. */
function collectVars(node: EsNode, strict: boolean, out: string[]): void {
  if (node.type === 'VariableDeclaration') {
    if (node.kind === 'var') for (const d of node.declarations as EsNode[]) boundNames(d.id as EsNode, out);
    return;
  }
  if (node.type === 'FunctionDeclaration') {
    // Only reached inside a block: sloppy code binds such a function in the enclosing scope too.
    if (!strict && !node.async && !node.generator) out.push((node.id as EsNode).name as string);
    return;
  }
  if (/Function|Class|Expression$/.test(node.type)) return;
  for (const child of children(node)) collectVars(child, strict, out);
}

/** Parses the script once. A script that does not parse gets an empty outline: the compiler reports it. */
export function outlineScript(source: string): ScriptOutline {
  let program: EsNode;
  try {
    program = parse(source, { ecmaVersion: 'latest', sourceType: 'script', locations: true }) as unknown as EsNode;
  } catch {
    return { functions: [], vars: [], strict: false };
  }
  const body = program.body as EsNode[];
  let strict = false;
  for (const statement of body) {
    if (typeof statement.directive !== 'string') break;
    if (statement.directive === 'use strict') strict = true;
  }
  const functions: string[] = [];
  const vars: string[] = [];
  for (const statement of body) {
    if (statement.type === 'FunctionDeclaration') functions.push((statement.id as EsNode).name as string);
    else collectVars(statement, strict, vars);
  }
  const fnSet = new Set(functions);
  return {
    asyncSyntax: findAsync(program),
    functions: [...fnSet],
    vars: [...new Set(vars)].filter((name) => !fnSet.has(name)),
    strict,
  };
}

/** Globals of a fresh context that hand out promises or run callbacks outside a protected run. */
export const ASYNC_GLOBALS = ['Promise', 'WebAssembly', 'FinalizationRegistry', 'WeakRef'] as const;
