import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '../helpers/node-red-process';

const SRC = join(REPO_ROOT, 'src');
const NODES = join(REPO_ROOT, 'nodes');

/** from → to → one witness (the import that makes the edge). */
type Graph = Map<string, Map<string, string>>;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every module specifier a file imports, re-exports or requires (type-only imports included), as TypeScript reads them. */
function specifiers(file: string): string[] {
  return ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles.map((f) => f.fileName);
}

/** The .ts file a relative specifier names (`./x` → x.ts, `./dir` → dir/index.ts), if it is one of ours. */
function resolveLocal(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const target = resolve(dirname(from), spec);
  if (existsSync(`${target}.ts`)) return `${target}.ts`;
  if (existsSync(target) && statSync(target).isDirectory() && existsSync(join(target, 'index.ts'))) return join(target, 'index.ts');
  return undefined;
}

/** File → the files it imports, every path relative to the repository. */
function fileGraph(roots: string[]): Graph {
  const graph: Graph = new Map();
  for (const file of roots.flatMap(sourceFiles)) {
    const from = relative(REPO_ROOT, file);
    const edges = graph.get(from) ?? new Map<string, string>();
    graph.set(from, edges);
    for (const spec of specifiers(file)) {
      const target = resolveLocal(file, spec);
      if (target) edges.set(relative(REPO_ROOT, target), `${from} imports '${spec}'`);
    }
  }
  return graph;
}

/** The graph of the groups `groupOf` puts files in (a group's own imports left out). */
function grouped(files: Graph, groupOf: (file: string) => string): Graph {
  const graph: Graph = new Map();
  for (const [file, edges] of files) {
    const from = groupOf(file);
    const out = graph.get(from) ?? new Map<string, string>();
    graph.set(from, out);
    for (const [target, witness] of edges) {
      const to = groupOf(target);
      if (to !== from && !out.has(to)) out.set(to, witness);
    }
  }
  return graph;
}

/** The folder right under src/ or nodes/ (one area of the code: src/tts with src/tts/api, nodes/shared …). */
function areaOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts[0];
}

/** The first cycle found, as from → to (witness) steps. */
function findCycle(graph: Graph): string[] | undefined {
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

describe('module structure of src/ and nodes/', () => {
  const files = fileGraph([SRC, NODES]);

  it('has no import cycle between files', () => {
    const cycle = findCycle(files);
    assert.equal(cycle, undefined, `import cycle: ${cycle?.join(', ')}`);
  });

  it('has no import cycle between folders, a folder and its subfolders included (src/codec and src/codec/sandbox …)', () => {
    const cycle = findCycle(grouped(files, dirname));
    assert.equal(cycle, undefined, `import cycle: ${cycle?.join(', ')}`);
  });

  it('has no import cycle between areas (src/tts with its subfolders, src/profile, src/store …)', () => {
    const cycle = findCycle(grouped(files, areaOf));
    assert.equal(cycle, undefined, `import cycle: ${cycle?.join(', ')}`);
  });

  it('sees the imports that make cycles: type-only, re-exports, index folders', () => {
    const graph = fileGraph([join(SRC, 'codec')]);
    assert.ok(graph.get('src/codec/types.ts')?.has('src/codec/sandbox/results.ts'), 'a type-only re-export is an edge');
    assert.ok(graph.get('src/codec/sandbox/sandbox.ts')?.has('src/codec/sandbox/results.ts'), 'an import type is an edge');
    assert.ok(fileGraph([join(SRC, 'backfill')]).get('src/backfill/backfill-service.ts')?.size, 'imports are found');
    assert.equal(resolveLocal(join(NODES, 'tts-profile', 'tts-profile.ts'), '../../src/backfill'), join(SRC, 'backfill', 'index.ts'));
  });

  it('finds a cycle when there is one, also through a parent folder (the check itself works)', () => {
    const graph: Graph = new Map([
      ['a', new Map([['b', 'src/a/x.ts']])],
      ['b', new Map([['a', 'src/b/y.ts']])],
    ]);
    assert.deepEqual(findCycle(graph), ['a → b (src/a/x.ts)', 'b → a (src/b/y.ts)']);
    const files: Graph = new Map([
      ['src/c/outer.ts', new Map([['src/c/inner/one.ts', 'outer imports one']])],
      ['src/c/inner/one.ts', new Map([['src/c/types.ts', 'one imports types']])],
      ['src/c/types.ts', new Map()],
    ]);
    assert.equal(findCycle(files), undefined, 'no cycle between the files');
    assert.deepEqual(findCycle(grouped(files, dirname)), ['src/c → src/c/inner (outer imports one)', 'src/c/inner → src/c (one imports types)']);
  });

  it('keeps core free of Node-RED and of the node glue', () => {
    const offenders = sourceFiles(SRC).filter((file) =>
      specifiers(file).some((spec) => spec === 'node-red' || spec.startsWith('@node-red/') || /(^|\/)nodes\//.test(spec)),
    );
    assert.deepEqual(offenders.map((f) => relative(REPO_ROOT, f)), []);
  });

  it('keeps the protocol rules and the time format free of imports, so the editor can load them as they are', () => {
    assert.deepEqual(specifiers(join(SRC, 'tts', 'protocol.ts')), []);
    assert.deepEqual(specifiers(join(SRC, 'util', 'time-format.ts')), []);
  });
});
