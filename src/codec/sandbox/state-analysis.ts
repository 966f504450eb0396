// Can this script tell whether its top level was evaluated afresh for a message?
//
// TTS evaluates a codec's script afresh for every message, so top-level state is reset each
// call. Re-running the top level costs more than many decoders do (every helper closure, table
// and object is rebuilt, and calls between fresh closures are slower to optimise), so the engine
// evaluates it ONCE when this analysis proves that no message can observe the difference: the
// top level only builds constants and functions, and nothing a message runs can change a
// top-level binding or an object the top level created (so every message sees exactly what a
// fresh evaluation would give it). Anything the analysis does not understand counts as
// "may keep state", and the script is re-evaluated for every message as before.
//
// The proof is syntactic and deliberately narrow (a parse with acorn, scopes resolved, a small
// abstract interpretation run to a fixpoint). A script is SHARED only if all of these hold:
// - top level: function declarations, `var/let/const` bound to literal data (numbers, strings,
//   arrays/objects of such, other top-level constants, `Math.X`/`Number.X`) or to functions,
//   `module.exports[.name] = …` / `exports.name = …`, directives. No calls, no regex literals
//   (their lastIndex is state), no getters/methods in top-level objects, no classes.
// - no function assigns or updates a top-level binding, and no assignment creates a global.
// - a value that may be a top-level object ("tainted": LIMITS, LIMITS.temperature, a local
//   assigned from them, a top-level function) is only read: never written, deleted, updated,
//   used as a method receiver, passed to any call, stored in another object, spread, returned,
//   thrown or yielded.
// - no `this`, `arguments`, `eval`, `Function`, `Reflect`, `globalThis`, `with`, `import()`,
//   and none of the reflective names through which builtins (and so the prototypes every
//   top-level object inherits from) could be altered or the Function constructor reached:
//   constructor, prototype, __proto__, call/apply/bind, defineProperty, Object.assign, …
// - nothing writes into an object of unknown origin (a computed read `x[k]` may be a builtin
//   prototype), and nothing calls a function of unknown origin or a computed method `x[k]()`.
// What remains reachable without those names (a string-built Function through some path this
// analysis cannot see) is closed at runtime: a shared script's context refuses code generation
// from strings (see sandbox.ts), so such a script fails loudly instead of keeping hidden state.

import { parse } from 'acorn';

export interface StateAnalysis {
  /** True when evaluating the top level once is indistinguishable from once per message. */
  shared: boolean;
  /** Why not (the first construct found), for diagnostics and the bench. */
  reason?: string;
  line?: number;
}

interface EsNode {
  type: string;
  start: number;
  loc?: { start: { line: number } };
  [key: string]: unknown;
}

const INF = 1_000_000;
/** Entry points the engine calls with fresh inputs (besides functions assigned to module.exports). */
const ENTRY_NAMES = new Set(['decodeUplink', 'encodeDownlink', 'decodeDownlink', 'Decoder', 'Encoder']);
const BANNED_IDENTIFIERS = new Set(['eval', 'Function', 'Reflect', 'globalThis', 'global', 'self', 'window', 'arguments', 'require', 'process']);
const BANNED_MEMBERS = new Set([
  'constructor', 'prototype', '__proto__', 'caller', 'callee', 'arguments', 'call', 'apply', 'bind',
  'defineProperty', 'defineProperties', 'setPrototypeOf', 'getPrototypeOf', 'getOwnPropertyDescriptor',
  'getOwnPropertyDescriptors', 'assign', '__defineGetter__', '__defineSetter__', '__lookupGetter__', '__lookupSetter__',
]);
/** Global constructors whose `new` result is a fresh object (not `Object`: `new Object(x)` is x). */
const FRESH_CONSTRUCTORS = new Set(['Array', 'Date', 'Error', 'TypeError', 'RangeError', 'Map', 'Set', 'Uint8Array', 'Int8Array', 'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array', 'ArrayBuffer', 'DataView', 'TextEncoder', 'TextDecoder']);
const TOP_CONSTANT_ROOTS = new Set(['Math', 'Number']);

class NotShared extends Error {
  constructor(readonly reason: string, readonly node?: EsNode) {
    super(reason);
  }
}

/** What a value may be. FRESH (all zero/false) is the bottom of the lattice. */
interface Abs {
  /** 0: not a top-level object; n: a top-level object whose reads give n-1; INF for functions. */
  taint: number;
  /** May be an object of unknown origin (never written through). */
  unknown: boolean;
  /** Reads from it may give objects of unknown origin. */
  contents: boolean;
}
const FRESH: Abs = { taint: 0, unknown: false, contents: false };
const UNKNOWN: Abs = { taint: 0, unknown: true, contents: true };
const join = (a: Abs, b: Abs): Abs => ({ taint: Math.max(a.taint, b.taint), unknown: a.unknown || b.unknown, contents: a.contents || b.contents });
const same = (a: Abs, b: Abs): boolean => a.taint === b.taint && a.unknown === b.unknown && a.contents === b.contents;

interface FnInfo {
  node: EsNode;
  params: Binding[];
  ret: Abs;
  /** Called by the engine with fresh inputs. */
  entry: boolean;
  /** Referenced other than as a direct callee: anything may call it with anything. */
  escaped: boolean;
}

interface Binding {
  name: string;
  top: boolean;
  value: Abs;
  /** Set when the binding is a function declaration (calls through it are direct calls). */
  fn?: FnInfo;
  param?: boolean;
}

class Scope {
  readonly vars = new Map<string, Binding>();
  constructor(readonly parent: Scope | null, readonly functionScope: boolean, readonly top: boolean) {}
  lookup(name: string): Binding | undefined {
    for (let s: Scope | null = this; s; s = s.parent) {
      const b = s.vars.get(name);
      if (b) return b;
    }
    return undefined;
  }
  declare(name: string, top = this.top): Binding {
    let b = this.vars.get(name);
    if (!b) {
      b = { name, top, value: FRESH };
      this.vars.set(name, b);
    }
    return b;
  }
}

const isNode = (v: unknown): v is EsNode => typeof v === 'object' && v !== null && typeof (v as EsNode).type === 'string';
const kids = (node: EsNode, key: string): EsNode[] => ((node[key] as Array<EsNode | null>) ?? []).filter(isNode);
const child = (node: EsNode, key: string): EsNode | null => (isNode(node[key]) ? (node[key]) : null);
const isFunction = (n: EsNode | null): boolean => !!n && (n.type === 'FunctionExpression' || n.type === 'ArrowFunctionExpression' || n.type === 'FunctionDeclaration');

/** Names declared by a pattern (params, declarators, catch clauses). */
function patternNames(p: EsNode | null, out: EsNode[] = []): EsNode[] {
  if (!p) return out;
  switch (p.type) {
    case 'Identifier':
      out.push(p);
      break;
    case 'ObjectPattern':
      for (const prop of kids(p, 'properties')) patternNames(prop.type === 'RestElement' ? child(prop, 'argument') : child(prop, 'value'), out);
      break;
    case 'ArrayPattern':
      for (const el of kids(p, 'elements')) patternNames(el, out);
      break;
    case 'RestElement':
      patternNames(child(p, 'argument'), out);
      break;
    case 'AssignmentPattern':
      patternNames(child(p, 'left'), out);
      break;
  }
  return out;
}

/** Static property name of a member expression or object key, if known. */
function staticName(node: EsNode, keyField: string, computed: boolean): string | undefined {
  const key = child(node, keyField);
  if (!key) return undefined;
  if (!computed && key.type === 'Identifier') return key.name as string;
  if (key.type === 'Literal' && (typeof key.value === 'string' || typeof key.value === 'number')) return String(key.value);
  if (!computed && key.type === 'PrivateIdentifier') return `#${String(key.name)}`;
  return undefined;
}

export function analyseScriptState(source: string): StateAnalysis {
  let program: EsNode;
  try {
    program = parse(source, { ecmaVersion: 'latest', sourceType: 'script', allowReturnOutsideFunction: true, locations: true }) as unknown as EsNode;
  } catch {
    return { shared: false, reason: 'the script could not be analysed (parse error)' };
  }
  try {
    new Analyser(program).run();
    return { shared: true };
  } catch (err) {
    if (err instanceof NotShared) return { shared: false, reason: err.reason, ...(err.node?.loc ? { line: err.node.loc.start.line } : {}) };
    return { shared: false, reason: `the analysis failed: ${String(err)}` };
  }
}

class Analyser {
  private readonly refs = new Map<EsNode, Binding | null>();
  private readonly fns = new Map<EsNode, FnInfo>();
  private readonly top = new Scope(null, true, true);
  private changed = false;
  private fn: FnInfo | null = null;

  constructor(private readonly program: EsNode) {}

  run(): void {
    this.top.declare('module').value = { taint: INF, unknown: false, contents: false };
    this.top.declare('exports').value = { taint: INF, unknown: false, contents: false };
    this.hoist(kids(this.program, 'body'), this.top);
    this.resolveBlock(kids(this.program, 'body'), this.top);
    this.checkTopLevel();
    for (let pass = 0; pass < 50; pass++) {
      this.changed = false;
      for (const info of this.fns.values()) this.analyseFunction(info);
      if (!this.changed) return;
    }
    throw new NotShared('the analysis did not settle');
  }

  // ---- scopes --------------------------------------------------------------------------------

  /** var and function declarations of a function body (not inside nested functions). */
  private hoist(statements: EsNode[], fnScope: Scope): void {
    const direct = new Set(statements);
    const visit = (node: EsNode): void => {
      switch (node.type) {
        case 'VariableDeclaration':
          if (node.kind === 'var') for (const d of kids(node, 'declarations')) for (const id of patternNames(child(d, 'id'))) fnScope.declare(id.name as string);
          return;
        case 'FunctionDeclaration':
          // A function declared in a block is also a var of the function in sloppy mode (Annex B):
          // two bindings for one name; not worth modelling.
          if (!direct.has(node)) throw new NotShared('declares a function inside a block', node);
          fnScope.declare((child(node, 'id') as EsNode).name as string);
          return;
        case 'FunctionExpression':
        case 'ArrowFunctionExpression':
        case 'ClassDeclaration':
        case 'ClassExpression':
          return;
      }
      for (const key of Object.keys(node)) {
        const v = node[key];
        if (Array.isArray(v)) v.filter(isNode).forEach(visit);
        else if (isNode(v) && !key.startsWith('loc')) visit(v);
      }
    };
    statements.forEach(visit);
  }

  private declareLexical(statements: EsNode[], scope: Scope): void {
    for (const s of statements) {
      if (s.type === 'VariableDeclaration' && s.kind !== 'var') for (const d of kids(s, 'declarations')) for (const id of patternNames(child(d, 'id'))) scope.declare(id.name as string);
      if (s.type === 'FunctionDeclaration' || s.type === 'ClassDeclaration') scope.declare((child(s, 'id') as EsNode).name as string);
    }
  }

  private resolveBlock(statements: EsNode[], scope: Scope): void {
    this.declareLexical(statements, scope);
    for (const s of statements) {
      if (s.type === 'FunctionDeclaration') {
        const binding = scope.lookup((child(s, 'id') as EsNode).name as string) as Binding;
        binding.fn = this.functionInfo(s, scope);
        // The declared name in the function scope (Annex B) refers to the same function.
        continue;
      }
      this.resolve(s, scope);
    }
  }

  private functionInfo(node: EsNode, outer: Scope): FnInfo {
    const existing = this.fns.get(node);
    if (existing) return existing;
    const info: FnInfo = { node, params: [], ret: FRESH, entry: false, escaped: false };
    this.fns.set(node, info);
    let scope = outer;
    if (node.type === 'FunctionExpression' && child(node, 'id')) {
      scope = new Scope(outer, false, false);
      const self = scope.declare((child(node, 'id') as EsNode).name as string, false);
      self.fn = info;
    }
    const fnScope = new Scope(scope, true, false);
    for (const p of kids(node, 'params')) {
      for (const id of patternNames(p)) {
        const b = fnScope.declare(id.name as string, false);
        b.param = true;
        info.params.push(b);
        this.refs.set(id, b);
      }
    }
    for (const p of kids(node, 'params')) this.resolvePatternDefaults(p, fnScope);
    const body = child(node, 'body') as EsNode;
    if (body.type === 'BlockStatement') {
      this.hoist(kids(body, 'body'), fnScope);
      this.resolveBlock(kids(body, 'body'), fnScope);
    } else {
      this.resolve(body, fnScope);
    }
    return info;
  }

  private resolvePatternDefaults(p: EsNode, scope: Scope): void {
    if (p.type === 'AssignmentPattern') this.resolve(child(p, 'right') as EsNode, scope);
    if (p.type === 'ObjectPattern') {
      for (const prop of kids(p, 'properties')) {
        if (prop.computed) this.resolve(child(prop, 'key') as EsNode, scope);
        const value = child(prop, prop.type === 'RestElement' ? 'argument' : 'value');
        if (value) this.resolvePatternDefaults(value, scope);
      }
    }
    if (p.type === 'ArrayPattern') for (const el of kids(p, 'elements')) this.resolvePatternDefaults(el, scope);
  }

  /** Records which binding every identifier reference resolves to. */
  private resolve(node: EsNode, scope: Scope): void {
    switch (node.type) {
      case 'Identifier': {
        const name = node.name as string;
        if (BANNED_IDENTIFIERS.has(name) && !scope.lookup(name)) throw new NotShared(`uses ${name}`, node);
        this.refs.set(node, scope.lookup(name) ?? null);
        return;
      }
      case 'ThisExpression':
        throw new NotShared('uses this', node);
      case 'Super':
        throw new NotShared('uses super', node);
      case 'WithStatement':
        throw new NotShared('uses with', node);
      case 'ImportExpression':
        throw new NotShared('uses import()', node);
      case 'ClassDeclaration':
      case 'ClassExpression':
        throw new NotShared('defines a class', node);
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
        this.functionInfo(node, scope);
        return;
      case 'FunctionDeclaration':
        // Nested in a statement position other than a block list (e.g. `if (x) function f() {}`).
        this.resolveBlock([node], scope);
        return;
      case 'BlockStatement':
      case 'StaticBlock':
        this.resolveBlock(kids(node, 'body'), new Scope(scope, false, false));
        return;
      case 'SwitchStatement': {
        this.resolve(child(node, 'discriminant') as EsNode, scope);
        const inner = new Scope(scope, false, false);
        const cases = kids(node, 'cases');
        this.declareLexical(cases.flatMap((c) => kids(c, 'consequent')), inner);
        for (const c of cases) {
          const test = child(c, 'test');
          if (test) this.resolve(test, inner);
          for (const s of kids(c, 'consequent')) {
            if (s.type === 'FunctionDeclaration') (inner.lookup((child(s, 'id') as EsNode).name as string) as Binding).fn = this.functionInfo(s, inner);
            else this.resolve(s, inner);
          }
        }
        return;
      }
      case 'ForStatement':
      case 'ForInStatement':
      case 'ForOfStatement': {
        const inner = new Scope(scope, false, false);
        const head = child(node, node.type === 'ForStatement' ? 'init' : 'left');
        if (head && head.type === 'VariableDeclaration' && head.kind !== 'var') this.declareLexical([head], inner);
        for (const key of ['init', 'test', 'update', 'left', 'right', 'body']) {
          const c = child(node, key);
          if (c) this.resolve(c, inner);
        }
        return;
      }
      case 'CatchClause': {
        const inner = new Scope(scope, false, false);
        for (const id of patternNames(child(node, 'param'))) {
          const b = inner.declare(id.name as string);
          b.value = UNKNOWN;
          this.refs.set(id, b);
        }
        const param = child(node, 'param');
        if (param) this.resolvePatternDefaults(param, inner);
        this.resolve(child(node, 'body') as EsNode, inner);
        return;
      }
      case 'VariableDeclarator': {
        this.resolvePatternDefaults(child(node, 'id') as EsNode, scope);
        for (const id of patternNames(child(node, 'id'))) this.refs.set(id, scope.lookup(id.name as string) ?? null);
        const init = child(node, 'init');
        if (init) this.resolve(init, scope);
        return;
      }
      case 'MemberExpression': {
        this.resolve(child(node, 'object') as EsNode, scope);
        if (node.computed) this.resolve(child(node, 'property') as EsNode, scope);
        const name = staticName(node, 'property', node.computed === true);
        if (name !== undefined && BANNED_MEMBERS.has(name)) throw new NotShared(`uses .${name}`, node);
        return;
      }
      case 'Property':
      case 'PropertyDefinition':
      case 'MethodDefinition': {
        if (node.computed) this.resolve(child(node, 'key') as EsNode, scope);
        const name = staticName(node, 'key', node.computed === true);
        if (name === '__proto__' && node.type === 'Property' && !node.computed && !node.shorthand) throw new NotShared('sets __proto__ in an object literal', node);
        const value = child(node, 'value');
        if (value) this.resolve(value, scope);
        return;
      }
      case 'LabeledStatement':
        this.resolve(child(node, 'body') as EsNode, scope);
        return;
      case 'BreakStatement':
      case 'ContinueStatement':
        return;
      case 'MetaProperty':
        return;
    }
    for (const key of Object.keys(node)) {
      if (key === 'loc') continue;
      const v = node[key];
      if (Array.isArray(v)) v.filter(isNode).forEach((c) => this.resolve(c, scope));
      else if (isNode(v)) this.resolve(v, scope);
    }
  }

  // ---- the top level -------------------------------------------------------------------------

  private checkTopLevel(): void {
    // Function declarations are hoisted: their bindings hold functions before any statement runs.
    for (const s of kids(this.program, 'body')) {
      if (s.type !== 'FunctionDeclaration') continue;
      const b = this.top.lookup((child(s, 'id') as EsNode).name as string) as Binding;
      b.value = { taint: INF, unknown: false, contents: false };
      if (ENTRY_NAMES.has(b.name) && b.fn) b.fn.entry = true;
    }
    for (const s of kids(this.program, 'body')) {
      switch (s.type) {
        case 'FunctionDeclaration':
          continue;
        case 'EmptyStatement':
          continue;
        case 'VariableDeclaration':
          for (const d of kids(s, 'declarations')) {
            const id = child(d, 'id') as EsNode;
            if (id.type !== 'Identifier') throw new NotShared('destructures at the top level', d);
            const b = this.refs.get(id) as Binding;
            const init = child(d, 'init');
            b.value = { taint: init ? this.topValue(init, true) : 0, unknown: false, contents: false };
            if (init && isFunction(init)) {
              const info = this.fns.get(init) as FnInfo;
              // One name, two functions (redeclared): calls cannot be attributed; both escape.
              if (b.fn && b.fn !== info) {
                b.fn.escaped = true;
                info.escaped = true;
              }
              b.fn = info;
              if (ENTRY_NAMES.has(b.name)) info.entry = true;
            }
          }
          continue;
        case 'ExpressionStatement': {
          const e = child(s, 'expression') as EsNode;
          if (typeof s.directive === 'string') continue;
          if (e.type === 'AssignmentExpression' && e.operator === '=' && this.isExportTarget(child(e, 'left') as EsNode)) {
            this.exportValue(child(e, 'right') as EsNode);
            continue;
          }
          throw new NotShared('runs code at the top level (not only declarations)', s);
        }
        default:
          throw new NotShared(`has a ${s.type} at the top level`, s);
      }
    }
  }

  /** `module.exports`, `module.exports.name`, `exports.name` (wrapper bindings, not shadowed). */
  private isExportTarget(left: EsNode): boolean {
    if (left.type !== 'MemberExpression' || left.computed) return false;
    const obj = child(left, 'object') as EsNode;
    const isWrapper = (id: EsNode, name: string): boolean => id.type === 'Identifier' && id.name === name && this.refs.get(id) === this.top.vars.get(name);
    if (isWrapper(obj, 'module') && staticName(left, 'property', false) === 'exports') return true;
    if (isWrapper(obj, 'exports')) return true;
    return obj.type === 'MemberExpression' && !obj.computed && isWrapper(child(obj, 'object') as EsNode, 'module') && staticName(obj, 'property', false) === 'exports';
  }

  private exportValue(value: EsNode): void {
    if (isFunction(value)) {
      (this.fns.get(value) as FnInfo).entry = true;
      return;
    }
    if (value.type === 'Identifier') {
      const b = this.refs.get(value);
      if (!b || !b.top) throw new NotShared('exports a value that is not a top-level declaration', value);
      if (b.fn) b.fn.entry = true;
      return;
    }
    if (value.type === 'ObjectExpression') {
      for (const p of kids(value, 'properties')) {
        if (p.type !== 'Property' || p.kind !== 'init' || p.computed) throw new NotShared('exports an object with computed keys, spreads or accessors', p);
        this.exportValue(child(p, 'value') as EsNode);
      }
      return;
    }
    this.topValue(value, false);
  }

  /** Taint depth of a top-level initialiser (throws if it is not plain data or a function). */
  private topValue(node: EsNode, functionAllowed: boolean): number {
    switch (node.type) {
      case 'Literal':
        if (node.regex) throw new NotShared('has a regular expression at the top level (its lastIndex is state)', node);
        return 0;
      case 'TemplateLiteral':
        kids(node, 'expressions').forEach((e) => this.topValue(e, false));
        return 0;
      case 'Identifier': {
        const b = this.refs.get(node);
        if (b && b.top) {
          if (b.fn) b.fn.escaped = true; // an alias can call it with anything
          return b.value.taint;
        }
        if (!b && (node.name === 'undefined' || node.name === 'NaN' || node.name === 'Infinity')) return 0;
        throw new NotShared(`reads ${String(node.name)} at the top level`, node);
      }
      case 'UnaryExpression':
        if (node.operator === 'delete') break;
        this.topValue(child(node, 'argument') as EsNode, false);
        return 0;
      case 'BinaryExpression':
        this.topValue(child(node, 'left') as EsNode, false);
        this.topValue(child(node, 'right') as EsNode, false);
        return 0;
      case 'LogicalExpression':
        return Math.max(this.topValue(child(node, 'left') as EsNode, false), this.topValue(child(node, 'right') as EsNode, false));
      case 'ConditionalExpression':
        this.topValue(child(node, 'test') as EsNode, false);
        return Math.max(this.topValue(child(node, 'consequent') as EsNode, false), this.topValue(child(node, 'alternate') as EsNode, false));
      case 'MemberExpression': {
        const obj = child(node, 'object') as EsNode;
        if (node.computed) this.topValue(child(node, 'property') as EsNode, false);
        if (obj.type === 'Identifier' && !this.refs.get(obj) && TOP_CONSTANT_ROOTS.has(obj.name as string) && !node.computed) return 0;
        const depth = this.topValue(obj, false);
        if (depth === 0) break;
        return depth >= INF ? INF : depth - 1;
      }
      case 'ArrayExpression': {
        let depth = 0;
        for (const el of kids(node, 'elements')) {
          if (el.type === 'SpreadElement') throw new NotShared('spreads at the top level', el);
          depth = Math.max(depth, this.topValue(el, false));
        }
        return depth + 1;
      }
      case 'ObjectExpression': {
        let depth = 0;
        for (const p of kids(node, 'properties')) {
          if (p.type !== 'Property' || p.kind !== 'init' || p.method || (p.computed && (child(p, 'key') as EsNode).type !== 'Literal')) {
            throw new NotShared('has a top-level object with accessors, methods, spreads or computed keys', p);
          }
          depth = Math.max(depth, this.topValue(child(p, 'value') as EsNode, false));
        }
        return depth + 1;
      }
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
        if (functionAllowed) return INF;
        break;
    }
    throw new NotShared(`computes a ${node.type} at the top level`, node);
  }

  // ---- functions: a flow-insensitive abstract interpretation ---------------------------------

  private update(b: Binding, value: Abs): void {
    const next = join(b.value, value);
    if (!same(next, b.value)) {
      b.value = next;
      this.changed = true;
    }
  }

  private analyseFunction(info: FnInfo): void {
    if (info.entry || info.escaped) {
      // Entry points get the engine's fresh input; an escaped function may get anything.
      for (const p of info.params) this.update(p, info.escaped ? UNKNOWN : FRESH);
    }
    const saved = this.fn;
    this.fn = info;
    for (const p of kids(info.node, 'params')) this.bindPattern(p, info.escaped ? UNKNOWN : FRESH, false);
    const body = child(info.node, 'body') as EsNode;
    if (body.type === 'BlockStatement') this.stmt(body);
    else this.returns(this.expr(body), body);
    this.fn = saved;
  }

  private returns(value: Abs, node: EsNode): void {
    if (value.taint > 0) throw new NotShared('returns a top-level object', node);
    const fn = this.fn as FnInfo;
    const next = join(fn.ret, value);
    if (!same(next, fn.ret)) {
      fn.ret = next;
      this.changed = true;
    }
  }

  private stmt(node: EsNode): void {
    switch (node.type) {
      case 'FunctionDeclaration':
        return; // analysed as its own FnInfo
      case 'VariableDeclaration':
        for (const d of kids(node, 'declarations')) {
          const init = child(d, 'init');
          const value = init ? this.expr(init) : FRESH;
          this.bindPattern(child(d, 'id') as EsNode, value, true);
          if (init && isFunction(init)) this.escape(init);
        }
        return;
      case 'ReturnStatement': {
        const arg = child(node, 'argument');
        this.returns(arg ? this.expr(arg) : FRESH, node);
        return;
      }
      case 'ThrowStatement':
        this.stored(this.expr(child(node, 'argument') as EsNode), node, 'throws');
        return;
      case 'ForInStatement':
      case 'ForOfStatement': {
        const right = this.expr(child(node, 'right') as EsNode);
        const item = node.type === 'ForInStatement' ? FRESH : this.readOf(right, true);
        const left = child(node, 'left') as EsNode;
        if (left.type === 'VariableDeclaration') for (const d of kids(left, 'declarations')) this.bindPattern(child(d, 'id') as EsNode, item, true);
        else this.assignTarget(left, item);
        this.stmt(child(node, 'body') as EsNode);
        return;
      }
      case 'ExpressionStatement':
        this.expr(child(node, 'expression') as EsNode);
        return;
      case 'CatchClause': {
        const param = child(node, 'param');
        if (param) this.bindPattern(param, UNKNOWN, true);
        this.stmt(child(node, 'body') as EsNode);
        return;
      }
    }
    // Other statements: visit their parts (tests are only read).
    for (const key of Object.keys(node)) {
      if (key === 'loc' || key === 'label') continue;
      const v = node[key];
      const list = Array.isArray(v) ? v.filter(isNode) : isNode(v) ? [v] : [];
      for (const c of list) {
        if (isStatementLike(c)) this.stmt(c);
        else this.expr(c);
      }
    }
  }

  /** Binds the names of a pattern to parts of `value` (declarations, params, catch). */
  private bindPattern(p: EsNode, value: Abs, declaration: boolean): void {
    switch (p.type) {
      case 'Identifier': {
        const b = this.refs.get(p);
        if (!b) {
          if (declaration) return;
          throw new NotShared(`assigns the undeclared ${String(p.name)} (a global)`, p);
        }
        if (b.top && !declaration) throw new NotShared(`assigns the top-level ${b.name} from a function`, p);
        this.update(b, value);
        return;
      }
      case 'AssignmentPattern':
        this.bindPattern(child(p, 'left') as EsNode, join(value, this.expr(child(p, 'right') as EsNode)), declaration);
        return;
      case 'ObjectPattern':
        for (const prop of kids(p, 'properties')) {
          if (prop.type === 'RestElement') this.bindPattern(child(prop, 'argument') as EsNode, { ...this.readOf(value, true), unknown: value.unknown || value.contents }, declaration);
          else {
            if (prop.computed) this.expr(child(prop, 'key') as EsNode);
            this.bindPattern(child(prop, 'value') as EsNode, this.readOf(value, prop.computed === true), declaration);
          }
        }
        return;
      case 'ArrayPattern':
        for (const el of kids(p, 'elements')) this.bindPattern(el.type === 'RestElement' ? (child(el, 'argument') as EsNode) : el, this.readOf(value, true), declaration);
        return;
      case 'MemberExpression':
        this.assignTarget(p, value);
        return;
    }
    throw new NotShared(`binds a ${p.type}`, p);
  }

  /** The value read out of `obj` (a property or element). */
  private readOf(obj: Abs, computed: boolean): Abs {
    if (obj.taint > 0) return { taint: obj.taint >= INF ? INF : obj.taint - 1, unknown: true, contents: true };
    const unknown = obj.unknown || obj.contents || computed;
    return { taint: 0, unknown, contents: unknown };
  }

  /** A value goes somewhere it outlives this expression: it must not be a top-level object. */
  private stored(value: Abs, node: EsNode, what: string): void {
    if (value.taint > 0) throw new NotShared(`${what} a top-level object (it could be changed or kept)`, node);
  }

  /** The binding a member chain or identifier is rooted at (for "its contents may now be unknown"). */
  private rootBinding(node: EsNode): Binding | null {
    let n = node;
    while (n.type === 'MemberExpression' || n.type === 'ChainExpression') n = child(n, n.type === 'ChainExpression' ? 'expression' : 'object') as EsNode;
    return n.type === 'Identifier' ? this.refs.get(n) ?? null : null;
  }

  private taintContents(node: EsNode, value: Abs): void {
    if (!value.unknown && !value.contents) return;
    const root = this.rootBinding(node);
    if (root && !root.top) this.update(root, { taint: 0, unknown: false, contents: true });
  }

  /** `target = value` / `target op= value` / `target++` / `delete target`. */
  private assignTarget(target: EsNode, value: Abs): void {
    if (target.type === 'Identifier' || target.type === 'ObjectPattern' || target.type === 'ArrayPattern' || target.type === 'AssignmentPattern') {
      this.bindPattern(target, value, false);
      return;
    }
    if (target.type !== 'MemberExpression') throw new NotShared(`assigns to a ${target.type}`, target);
    const obj = this.expr(child(target, 'object') as EsNode);
    if (target.computed) this.expr(child(target, 'property') as EsNode);
    if (obj.taint > 0) throw new NotShared('changes a top-level object from a function', target);
    if (obj.unknown) throw new NotShared('writes into an object of unknown origin (it could be a builtin prototype)', target);
    this.stored(value, target, 'stores');
    this.taintContents(child(target, 'object') as EsNode, value);
  }

  private escape(fnNode: EsNode): void {
    const info = this.fns.get(fnNode);
    if (info && !info.escaped) {
      info.escaped = true;
      this.changed = true;
    }
  }

  private call(node: EsNode): Abs {
    const callee = child(node, node.type === 'TaggedTemplateExpression' ? 'tag' : 'callee') as EsNode;
    const args = node.type === 'TaggedTemplateExpression' ? kids(child(node, 'quasi') as EsNode, 'expressions') : kids(node, 'arguments');
    const values = args.map((a) => {
      const v = this.expr(a.type === 'SpreadElement' ? (child(a, 'argument') as EsNode) : a);
      this.stored(v, a, 'passes');
      // The callee may store anything into an object it is given.
      const root = this.rootBinding(a.type === 'SpreadElement' ? (child(a, 'argument') as EsNode) : a);
      if (root && !root.top) this.update(root, { taint: 0, unknown: false, contents: true });
      return v;
    });
    const isNew = node.type === 'NewExpression';
    let target: FnInfo | undefined;
    let result: Abs = UNKNOWN;
    if (callee.type === 'Identifier') {
      const b = this.refs.get(callee);
      if (!b) {
        if (isNew && FRESH_CONSTRUCTORS.has(callee.name as string)) result = { taint: 0, unknown: false, contents: true };
      } else if (b.fn) {
        target = b.fn;
      } else if (b.value.unknown || (b.top && b.value.taint < INF)) {
        throw new NotShared(`calls ${b.name}, a value of unknown origin`, callee);
      }
    } else if (callee.type === 'MemberExpression') {
      if (callee.computed && (child(callee, 'property') as EsNode).type !== 'Literal') throw new NotShared('calls a computed method x[k]()', callee);
      const receiver = this.expr(child(callee, 'object') as EsNode);
      if (receiver.taint > 0) throw new NotShared('calls a method of a top-level object', callee);
      // The method may keep its arguments in the receiver (push, set…).
      if (values.some((v) => v.unknown || v.contents)) this.taintContents(child(callee, 'object') as EsNode, UNKNOWN);
      const root = child(callee, 'object') as EsNode;
      const name = staticName(callee, 'property', callee.computed === true);
      if (root.type === 'Identifier' && !this.refs.get(root) && (root.name === 'Buffer' || root.name === 'Array') && (name === 'from' || name === 'alloc' || name === 'of')) {
        result = { taint: 0, unknown: false, contents: true };
      }
    } else if (callee.type === 'FunctionExpression' || callee.type === 'ArrowFunctionExpression') {
      target = this.fns.get(callee);
    } else {
      throw new NotShared(`calls the result of a ${callee.type}`, callee);
    }
    if (target) {
      if (isNew) return UNKNOWN;
      const params = kids(target.node, 'params');
      params.forEach((p, i) => {
        const v = p.type === 'RestElement' ? values.slice(i).reduce(join, FRESH) : values[i] ?? FRESH;
        for (const id of patternNames(p)) {
          const b = target.params.find((pb) => pb.name === id.name);
          if (b) this.update(b, p.type === 'Identifier' ? v : { ...v, unknown: v.unknown || v.contents, contents: true });
        }
      });
      return target.ret;
    }
    return result;
  }

  private expr(node: EsNode): Abs {
    switch (node.type) {
      case 'Literal':
        return node.regex ? { taint: 0, unknown: false, contents: true } : FRESH;
      case 'TemplateLiteral':
        kids(node, 'expressions').forEach((e) => this.expr(e));
        return FRESH;
      case 'Identifier': {
        const b = this.refs.get(node);
        if (!b) return UNKNOWN; // a global (builtins): readable, never written through
        // Direct calls do not come here (call() reads callee identifiers itself): any other
        // reference lets the function be called with arguments this analysis does not see.
        if (b.fn) this.escape(b.fn.node);
        return b.value;
      }
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
        this.escape(node);
        return { taint: 0, unknown: false, contents: true };
      case 'ArrayExpression': {
        let contents = false;
        for (const el of kids(node, 'elements')) {
          const v = this.expr(el.type === 'SpreadElement' ? (child(el, 'argument') as EsNode) : el);
          this.stored(v, el, el.type === 'SpreadElement' ? 'spreads' : 'stores');
          contents ||= v.unknown || v.contents || el.type === 'SpreadElement';
        }
        return { taint: 0, unknown: false, contents };
      }
      case 'ObjectExpression': {
        let contents = false;
        for (const p of kids(node, 'properties')) {
          if (p.type === 'SpreadElement') {
            this.stored(this.expr(child(p, 'argument') as EsNode), p, 'spreads');
            contents = true;
            continue;
          }
          if (p.computed) this.expr(child(p, 'key') as EsNode);
          const valueNode = child(p, 'value') as EsNode;
          const v = this.expr(valueNode);
          this.stored(v, p, 'stores');
          contents ||= v.unknown || v.contents || p.kind !== 'init';
        }
        return { taint: 0, unknown: false, contents };
      }
      case 'UnaryExpression': {
        const arg = child(node, 'argument') as EsNode;
        if (node.operator === 'delete') {
          if (arg.type === 'MemberExpression') this.assignTarget(arg, FRESH);
          else this.expr(arg);
          return FRESH;
        }
        this.expr(arg);
        return FRESH;
      }
      case 'UpdateExpression':
        this.assignTarget(child(node, 'argument') as EsNode, FRESH);
        return FRESH;
      case 'BinaryExpression':
        this.expr(child(node, 'left') as EsNode);
        this.expr(child(node, 'right') as EsNode);
        return FRESH;
      case 'LogicalExpression':
        return join(this.expr(child(node, 'left') as EsNode), this.expr(child(node, 'right') as EsNode));
      case 'ConditionalExpression':
        this.expr(child(node, 'test') as EsNode);
        return join(this.expr(child(node, 'consequent') as EsNode), this.expr(child(node, 'alternate') as EsNode));
      case 'SequenceExpression': {
        let last = FRESH;
        for (const e of kids(node, 'expressions')) last = this.expr(e);
        return last;
      }
      case 'AssignmentExpression': {
        const right = this.expr(child(node, 'right') as EsNode);
        const left = child(node, 'left') as EsNode;
        if (isFunction(child(node, 'right'))) this.escape(child(node, 'right') as EsNode);
        if (node.operator === '=') {
          this.assignTarget(left, right);
          return right;
        }
        // Compound: reads the target too; logical ones may keep either value.
        const current = this.expr(left);
        const value = node.operator === '&&=' || node.operator === '||=' || node.operator === '??=' ? join(current, right) : FRESH;
        this.assignTarget(left, value);
        return value;
      }
      case 'MemberExpression': {
        const obj = this.expr(child(node, 'object') as EsNode);
        const literalKey = !node.computed || (child(node, 'property') as EsNode).type === 'Literal';
        if (node.computed) this.expr(child(node, 'property') as EsNode);
        return this.readOf(obj, !literalKey);
      }
      case 'ChainExpression':
        return this.expr(child(node, 'expression') as EsNode);
      case 'CallExpression':
      case 'NewExpression':
      case 'TaggedTemplateExpression':
        return this.call(node);
      case 'AwaitExpression':
        return join(this.expr(child(node, 'argument') as EsNode), UNKNOWN);
      case 'YieldExpression': {
        const arg = child(node, 'argument');
        if (arg) this.stored(this.expr(arg), node, 'yields');
        return UNKNOWN;
      }
      case 'ParenthesizedExpression':
        return this.expr(child(node, 'expression') as EsNode);
      case 'MetaProperty':
        return FRESH;
    }
    throw new NotShared(`uses a ${node.type}`, node);
  }
}

function isStatementLike(n: EsNode): boolean {
  return n.type.endsWith('Statement') || n.type.endsWith('Declaration') || n.type === 'SwitchCase' || n.type === 'CatchClause' || n.type === 'VariableDeclarator';
}
