// Why codec scripts may not be asynchronous: a script that leaves a promise job behind makes the
// time limit end inside V8's microtask processing, and when anything in the process has enabled
// async hooks (AsyncLocalStorage in another node, an APM agent) Node then aborts the whole
// process with "async hook stack has become corrupted" (nodejs/node#38503). Codecs are
// synchronous in TTS too (its runtime is ECMAScript 5.1), so the sandbox makes promises
// unreachable instead: this check refuses the syntax that creates them (async functions, await,
// dynamic import()), the context refuses code generation from strings, and the globals that hand
// out promises or run callbacks outside a protected run are removed.
import { parse } from 'acorn';

export interface AsyncSyntax {
  what: string;
  line: number;
  column: number;
}

interface EsNode {
  type: string;
  async?: boolean;
  await?: boolean;
  loc?: { start: { line: number; column: number } };
  [key: string]: unknown;
}

function describeNode(node: EsNode): string | undefined {
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

/** The first construct that would create a promise, or undefined (also when the source does not parse: the compiler reports that). */
export function findAsyncSyntax(source: string): AsyncSyntax | undefined {
  let program: EsNode;
  try {
    program = parse(source, { ecmaVersion: 'latest', sourceType: 'script', allowReturnOutsideFunction: true, locations: true }) as unknown as EsNode;
  } catch {
    return undefined;
  }
  const stack: EsNode[] = [program];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const what = describeNode(node);
    if (what) {
      const start = node.loc?.start ?? { line: 1, column: 0 };
      return { what, line: start.line, column: start.column + 1 };
    }
    for (const key of Object.keys(node)) {
      if (key === 'loc') continue;
      const value = node[key];
      if (Array.isArray(value)) {
        for (let i = value.length - 1; i >= 0; i--) if (value[i] && typeof value[i] === 'object' && typeof value[i].type === 'string') stack.push(value[i] as EsNode);
      } else if (value && typeof value === 'object' && typeof (value as EsNode).type === 'string') {
        stack.push(value as EsNode);
      }
    }
  }
  return undefined;
}

/** Globals of a fresh context that hand out promises or run callbacks outside a protected run. */
export const ASYNC_GLOBALS = ['Promise', 'WebAssembly', 'FinalizationRegistry', 'WeakRef'] as const;
