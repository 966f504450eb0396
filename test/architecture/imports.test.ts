import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO_ROOT } from '../helpers/node-red-process';

const SRC = join(REPO_ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every module specifier a file imports, re-exports or requires (type-only imports included). */
function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const re of [/\bfrom\s+'([^']+)'/g, /\bimport\s+'([^']+)'/g, /\brequire\('([^']+)'\)/g, /\bimport\('([^']+)'\)/g]) {
    for (const m of text.matchAll(re)) found.push(m[1]);
  }
  return found;
}

/** The top-level src/ folder (one area of the code) a path lies in; '.' for src/ itself. */
function areaOf(path: string): string {
  const rel = relative(SRC, path);
  return rel.includes('/') ? rel.split('/')[0] : '.';
}

/** src/ area → the areas its files import from, with one file as the witness. */
function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sourceFiles(SRC)) {
    const from = areaOf(file);
    const edges = graph.get(from) ?? new Map<string, string>();
    graph.set(from, edges);
    for (const spec of specifiers(file)) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec);
      if (relative(SRC, target).startsWith('..')) continue;
      const targetDir = areaOf(readdirSafeIsDir(target) ? join(target, 'index.ts') : target);
      if (targetDir === from) continue;
      if (!edges.has(targetDir)) edges.set(targetDir, relative(REPO_ROOT, file));
    }
  }
  return graph;
}

function readdirSafeIsDir(path: string): boolean {
  try {
    readdirSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The first cycle found, as folder → folder (witness file) steps. */
function findCycle(graph: Map<string, Map<string, string>>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node)?.keys() ?? []) {
      if (state.get(next) === 'open') {
        const cycle = [...stack.slice(stack.indexOf(next)), next];
        return cycle.slice(1).map((to, i) => `${cycle[i]} → ${to} (${graph.get(cycle[i])?.get(to)})`);
      }
      if (!state.has(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of graph.keys()) {
    if (!state.has(node)) {
      const found = visit(node);
      if (found) return found;
    }
  }
  return undefined;
}

describe('module structure of src/', () => {
  it('has no import cycle between its folders (src/tts, src/profile, src/store …)', () => {
    const cycle = findCycle(folderGraph());
    assert.equal(cycle, undefined, `import cycle: ${cycle?.join(', ')}`);
  });

  it('finds a cycle when there is one (the check itself works)', () => {
    const graph = new Map([
      ['a', new Map([['b', 'src/a/x.ts']])],
      ['b', new Map([['a', 'src/b/y.ts']])],
    ]);
    assert.deepEqual(findCycle(graph), ['a → b (src/a/x.ts)', 'b → a (src/b/y.ts)']);
  });

  it('keeps core free of Node-RED and of the node glue', () => {
    const offenders = sourceFiles(SRC).filter((file) =>
      specifiers(file).some((spec) => spec === 'node-red' || spec.startsWith('@node-red/') || /(^|\/)nodes\//.test(spec)),
    );
    assert.deepEqual(offenders.map((f) => relative(REPO_ROOT, f)), []);
  });

  it('keeps the protocol rules free of imports, so the editor can load them as they are', () => {
    assert.deepEqual(specifiers(join(SRC, 'tts', 'protocol.ts')), []);
  });
});
