import assert from 'node:assert/strict';
import { createCodec, resolveOptions, type UplinkInput } from '../../src/codec';
import { CodecSandbox } from '../../src/codec/sandbox/sandbox';
import { analyseScriptState } from '../../src/codec/sandbox/state-analysis';
import { fixture, hex } from './fixtures';

// TTS evaluates a script afresh for every message. The engine evaluates it once when the
// analysis proves no message can tell the difference; these tests hold it to that.

/** Scripts that keep state between calls in some way, each with what every call must see. */
const STATEFUL: Array<{ name: string; source: string; reason: RegExp }> = [
  { name: 'a top-level var counter', source: 'var calls = 0;\nfunction decodeUplink(i) { calls++; return { data: { n: calls } }; }', reason: /assigns the top-level calls/ },
  { name: 'a closure over a top-level let', source: 'let n = 0;\nconst next = () => ++n;\nfunction decodeUplink(i) { return { data: { n: next() } }; }', reason: /assigns the top-level n/ },
  { name: 'a counter in a top-level object', source: 'const s = { n: 0 };\nfunction decodeUplink(i) { s.n += 1; return { data: { n: s.n } }; }', reason: /changes a top-level object/ },
  { name: 'a cache array', source: 'const seen = [];\nfunction decodeUplink(i) { seen.push(i.fPort); return { data: { n: seen.length } }; }', reason: /calls a method of a top-level object/ },
  { name: 'a nested table changed through a local', source: 'var T = { list: [0] };\nfunction decodeUplink(i) { var l = T.list; l[0]++; return { data: { n: l[0] } }; }', reason: /changes a top-level object/ },
  { name: 'a table handed to a helper', source: 'var T = [0];\nfunction bump(a) { a[0]++; return a[0]; }\nfunction decodeUplink(i) { return { data: { n: bump(T) } }; }', reason: /passes a top-level object/ },
  { name: 'a table returned by a helper', source: 'var T = [];\nfunction get() { return T; }\nfunction decodeUplink(i) { get().push(1); return { data: { n: get().length } }; }', reason: /returns a top-level object/ },
  { name: 'a property on a top-level function', source: 'function decodeUplink(i) { decodeUplink.n = (decodeUplink.n || 0) + 1; return { data: { n: decodeUplink.n } }; }', reason: /changes a top-level object/ },
  { name: 'Array.prototype set at the top level', source: 'Array.prototype.n = 0;\nfunction decodeUplink(i) { Array.prototype.n++; return { data: { n: [].n } }; }', reason: /uses \.prototype/ },
  { name: 'arguments', source: 'var box = [0];\nfunction touch() { var b = arguments.length ? arguments[0] : box; b[0]++; return b[0]; }\nfunction decodeUplink(i) { return { data: { n: touch() } }; }', reason: /uses arguments/ },
  { name: 'a getter defined at the top level', source: 'var n = 0;\nvar s = { get next() { return ++n; } };\nfunction decodeUplink(i) { return { data: { n: s.next } }; }', reason: /accessors/ },
  { name: 'this', source: 'function decodeUplink(i) { this.n = (this.n || 0) + 1; return { data: { n: this.n } }; }', reason: /uses this/ },
  { name: 'a value computed when the top level runs', source: 'var count = [0].map(function (x) { return x; });\nfunction decodeUplink(i) { return { data: { n: count.length } }; }', reason: /top level/ },
  { name: 'a global regex (lastIndex)', source: 'var R = /a/g;\nfunction decodeUplink(i) { return { data: { n: R.test("aa") ? R.lastIndex : -1 } }; }', reason: /regular expression/ },
];

const input = (fPort = 1): UplinkInput => ({ bytes: [1, 2, 3], fPort });

describe('codec engine: fresh top-level scope per message', () => {
  describe('scripts that can keep state are re-evaluated for every message', () => {
    for (const { name, source, reason } of STATEFUL) {
      it(`${name}: state is reset for every message`, () => {
        const analysis = analyseScriptState(source);
        assert.equal(analysis.shared, false);
        assert.match(analysis.reason ?? '', reason);
        const codec = createCodec(source);
        const first = codec.decodeUplink(input());
        assert.deepEqual(first.errors, []);
        const again = [codec.decodeUplink(input()), ...codec.decodeUplinkBatch([input(), input(), input()])];
        for (const r of again) assert.deepEqual(r.data, first.data);
      });
    }

    it('eval: seen by the analysis, and refused when it runs (no code generation from strings)', () => {
      const source = 'var n = 0;\nfunction decodeUplink(i) { eval("n++"); return { data: { n: n } }; }';
      assert.match(analyseScriptState(source).reason ?? '', /uses eval/);
      assert.match(createCodec(source).decodeUplink(input()).errors[0] ?? '', /^EvalError: Code generation from strings disallowed/);
    });

    it('a state-keeping codec still keeps state with freshScope false', () => {
      const codec = createCodec(STATEFUL[0].source, { freshScope: false });
      assert.deepEqual(codec.decodeUplinkBatch([input(), input()]).map((r) => r.data), [{ n: 1 }, { n: 2 }]);
    });
  });

  describe('scripts that cannot keep state are evaluated once', () => {
    it('recognises the vendor, plugin and DESIGN.md example codecs as stateless', () => {
      for (const name of ['acme-env-sensor.js', 'design-examples.js', 'water-meter-plugin.js']) {
        assert.deepEqual(analyseScriptState(fixture(name)), { shared: true }, name);
      }
      // Implicit globals and classes are beyond the proof: these keep the per-message evaluation.
      assert.match(analyseScriptState(fixture('door-sensor-v2.js')).reason ?? '', /undeclared/);
      assert.match(analyseScriptState(fixture('gps-tracker.js')).reason ?? '', /class/);
    });

    it('accepts reads of nested constants, local closures and module.exports forms', () => {
      const shared = [
        'var L = { t: [1, 2] };\nfunction decodeUplink(i) { var l = L.t; return { data: { a: l[0], in: "t" in L, k: Object.keys(i) } }; }',
        'function decodeUplink(i) { var c = 0; function inc() { c++; } inc(); inc(); return { data: { c: c } }; }',
        'module.exports = { decodeUplink: function (i) { return { data: { n: i.bytes.length } }; } };',
        'exports.uplink = (p) => ({ len: p.length });',
        '"use strict";\nconst K = Math.PI * 2, NAMES = ["a", "b"];\nconst f = (x) => x * K;\nfunction decodeUplink(i) { var d = {}; d[NAMES[0]] = f(i.bytes[0]); return { data: d }; }',
      ];
      for (const source of shared) assert.deepEqual(analyseScriptState(source), { shared: true }, source);
    });

    it('refuses writes through values that may be builtin prototypes and calls of unknown functions', () => {
      const cases: Array<[string, RegExp]> = [
        ['function decodeUplink(i) { var p = i.bytes["__pro" + "to__"]; p.x = 1; return { data: {} }; }', /unknown origin/],
        ['function decodeUplink(i) { var k = "x"; i[k](); return { data: {} }; }', /computed method/],
        ['function decodeUplink(i) { var f = i.bytes[i.fPort]; f(); return { data: {} }; }', /unknown origin/],
        ['function decodeUplink(i) { Object.defineProperty(i, "x", { value: 1 }); return { data: {} }; }', /\.defineProperty/],
        ['function decodeUplink(i) { return { data: { c: i.constructor.name } }; }', /\.constructor/],
        ['function decodeUplink(i) { leaked = 1; return { data: {} }; }', /undeclared leaked/],
        ['class A {}\nfunction decodeUplink(i) { return { data: {} }; }', /class/],
        ['function decodeUplink(i) { { function inner() {} } return { data: {} }; }', /inside a block/],
        ['function decodeUplink(i) { return { data: {} }; ', /parse error/],
      ];
      for (const [source, reason] of cases) {
        const analysis = analyseScriptState(source);
        assert.equal(analysis.shared, false, source);
        assert.match(analysis.reason ?? '', reason, source);
      }
    });

    it('gives the same results as re-evaluating every message (vendor codec, every operation)', () => {
      const source = fixture('acme-env-sensor.js');
      const once = createCodec(source);
      const always = new CodecSandbox(source, { ...resolveOptions(), reevaluate: 'always' });
      const onceSandbox = new CodecSandbox(source, resolveOptions());
      assert.equal(onceSandbox.scope.reevaluated, false);
      assert.equal(always.scope.reevaluated, true);
      const uplinks: UplinkInput[] = [
        { bytes: hex('01 75 5C 03 67 10 01 04 68 71 05 7D 67 04 06 73 8B 27 07 00 01 08 CB 86 09 92 E8 03 18 FC 00 00 FF 0A 01 04 FF 16 67 45 23 01 EF CD AB 89'), fPort: 5 },
        { bytes: hex('03 67 38 FE 05 7D 2C 01'), fPort: 5 },
        { bytes: hex('80 2F D4 67 F6 FF 64'), fPort: 6 },
        { bytes: hex('04 D0 07'), fPort: 7 },
        { bytes: hex('09 00 00'), fPort: 7 },
        { bytes: hex('0A 01 00'), fPort: 5 },
        { bytes: hex('03 67 10'), fPort: 5 },
        { bytes: [], fPort: 99 },
      ];
      const repeated = [...uplinks, ...uplinks, ...uplinks];
      assert.deepEqual(once.decodeUplinkBatch(repeated), always.runAll('decodeUplink', repeated));
      const downlink = { data: { interval_minutes: 15, led: 'off', temperature_high: -5.5, reboot: true } };
      assert.deepEqual(once.encodeDownlink(downlink), always.runAll('encodeDownlink', [downlink])[0]);
      const bytes = { bytes: hex('FF 03 84 03 FF 2F 00 FF 06 C9 FF FF 10 FF'), fPort: 85 };
      assert.deepEqual(once.decodeDownlink(bytes), always.runAll('decodeDownlink', [bytes])[0]);
    });

    it('hands every message a fresh input even when the script changes it', () => {
      const codec = createCodec('function decodeUplink(i) { var first = i.bytes[0]; i.bytes[0] = 99; i.seen = true; return { data: { first: first, seen: i.seen } }; }');
      const results = codec.decodeUplinkBatch([{ bytes: [1] }, { bytes: [2] }, { bytes: [3] }]);
      assert.deepEqual(results.map((r) => r.data), [{ first: 1, seen: true }, { first: 2, seen: true }, { first: 3, seen: true }]);
    });

    it('refuses string code generation reached where the analysis cannot see it', () => {
      // `i.bytes[k][k]` is the Function constructor: hidden from the proof, refused at runtime.
      const source = 'function decodeUplink(i) { var k = "constructor"; var f = JSON.parse(\'"return 7"\', i.bytes[k][k]); return { data: { t: typeof f } }; }';
      assert.deepEqual(analyseScriptState(source), { shared: true });
      const r = createCodec(source).decodeUplink(input());
      assert.match(r.errors[0], /^EvalError: Code generation from strings disallowed/);
      // Every context refuses it, whatever the analysis says.
      assert.match(createCodec(source, { freshScope: false }).decodeUplink(input()).errors[0] ?? '', /^EvalError: Code generation from strings disallowed/);
    });
  });
});
