import assert from 'node:assert/strict';
import { createCodec, type UplinkInput } from '../../src/codec';

// TTS evaluates a script afresh for every message: nothing one message does is seen by the next.

/** Scripts that would keep state between calls in some way, each with what every call must see. */
const STATEFUL: Array<{ name: string; source: string }> = [
  { name: 'a top-level var counter', source: 'var calls = 0;\nfunction decodeUplink(i) { calls++; return { data: { n: calls } }; }' },
  { name: 'a closure over a top-level let', source: 'let n = 0;\nconst next = () => ++n;\nfunction decodeUplink(i) { return { data: { n: next() } }; }' },
  { name: 'a counter in a top-level object', source: 'const s = { n: 0 };\nfunction decodeUplink(i) { s.n += 1; return { data: { n: s.n } }; }' },
  { name: 'a cache array', source: 'const seen = [];\nfunction decodeUplink(i) { seen.push(i.fPort); return { data: { n: seen.length } }; }' },
  { name: 'a nested table changed through a local', source: 'var T = { list: [0] };\nfunction decodeUplink(i) { var l = T.list; l[0]++; return { data: { n: l[0] } }; }' },
  { name: 'a table handed to a helper', source: 'var T = [0];\nfunction bump(a) { a[0]++; return a[0]; }\nfunction decodeUplink(i) { return { data: { n: bump(T) } }; }' },
  { name: 'a table returned by a helper', source: 'var T = [];\nfunction get() { return T; }\nfunction decodeUplink(i) { get().push(1); return { data: { n: get().length } }; }' },
  { name: 'a property on a top-level function', source: 'function decodeUplink(i) { decodeUplink.n = (decodeUplink.n || 0) + 1; return { data: { n: decodeUplink.n } }; }' },
  { name: 'Array.prototype set at the top level', source: 'Array.prototype.n = 0;\nfunction decodeUplink(i) { Array.prototype.n++; return { data: { n: [].n } }; }' },
  { name: 'arguments', source: 'var box = [0];\nfunction touch() { var b = arguments.length ? arguments[0] : box; b[0]++; return b[0]; }\nfunction decodeUplink(i) { return { data: { n: touch() } }; }' },
  { name: 'a getter defined at the top level', source: 'var n = 0;\nvar s = { get next() { return ++n; } };\nfunction decodeUplink(i) { return { data: { n: s.next } }; }' },
  { name: 'this', source: 'function decodeUplink(i) { this.n = (this.n || 0) + 1; return { data: { n: this.n } }; }' },
  { name: 'a value computed when the top level runs', source: 'var count = [0].map(function (x) { return x; });\nfunction decodeUplink(i) { return { data: { n: count.length } }; }' },
  { name: 'a global regex (lastIndex)', source: 'var R = /a/g;\nfunction decodeUplink(i) { return { data: { n: R.test("aa") ? R.lastIndex : -1 } }; }' },
];

const input = (fPort = 1): UplinkInput => ({ bytes: [1, 2, 3], fPort });

describe('codec engine: fresh top-level scope per message', () => {
  for (const { name, source } of STATEFUL) {
    it(`${name}: state is reset for every message`, () => {
      const codec = createCodec(source);
      const first = codec.decodeUplink(input());
      assert.deepEqual(first.errors, []);
      const again = [codec.decodeUplink(input()), ...codec.decodeUplinkBatch([input(), input(), input()])];
      for (const r of again) assert.deepEqual(r.data, first.data);
    });
  }

  it('eval is refused when it runs (no code generation from strings)', () => {
    const source = 'var n = 0;\nfunction decodeUplink(i) { eval("n++"); return { data: { n: n } }; }';
    assert.match(createCodec(source).decodeUplink(input()).errors[0] ?? '', /^EvalError: Code generation from strings disallowed/);
  });

  it('a state-keeping codec still keeps state with freshScope false', () => {
    const codec = createCodec(STATEFUL[0].source, { freshScope: false });
    assert.deepEqual(codec.decodeUplinkBatch([input(), input()]).map((r) => r.data), [{ n: 1 }, { n: 2 }]);
  });

  it('clears what a message put on the global and restores replaced engine globals', () => {
    const codec = createCodec(`function decodeUplink(i) {
      var seen = { leaked: typeof leaked, viaThis: typeof this.viaThis, viaGlobal: typeof globalThis.viaGlobal, buffer: typeof Buffer.from, log: typeof console.log };
      leaked = 1; this.viaThis = 2; globalThis.viaGlobal = 3; Buffer = null; console = {};
      return { data: seen };
    }`);
    const fresh = { leaked: 'undefined', viaThis: 'undefined', viaGlobal: 'undefined', buffer: 'function', log: 'function' };
    assert.deepEqual(codec.decodeUplink(input()).data, fresh);
    assert.deepEqual(codec.decodeUplinkBatch([input(), input()]).map((r) => r.data), [fresh, fresh]);
  });

  it('hands every message a fresh input even when the script changes it', () => {
    const codec = createCodec('function decodeUplink(i) { var first = i.bytes[0]; i.bytes[0] = 99; i.seen = true; return { data: { first: first, seen: i.seen } }; }');
    const results = codec.decodeUplinkBatch([{ bytes: [1] }, { bytes: [2] }, { bytes: [3] }]);
    assert.deepEqual(results.map((r) => r.data), [{ first: 1, seen: true }, { first: 2, seen: true }, { first: 3, seen: true }]);
  });

  it('refuses string code generation reached through the input', () => {
    const source = 'function decodeUplink(i) { var k = "constructor"; var f = i.bytes[k][k]("return 7"); return { data: { t: typeof f } }; }';
    assert.match(createCodec(source).decodeUplink(input()).errors[0] ?? '', /^EvalError: Code generation from strings disallowed/);
    assert.match(createCodec(source, { freshScope: false }).decodeUplink(input()).errors[0] ?? '', /^EvalError: Code generation from strings disallowed/);
  });
});
