import assert from 'node:assert/strict';
import { createCodec, type DecodeResult } from '../../src/codec';

// How TTS runs a codec: a classic script in its own global scope, entry functions called as
// plain functions, the result exported out of the script runtime (goja) without failing on
// values JSON has no form for.

const decode = (source: string, bytes: number[] = [1, 2, 3]): DecodeResult => createCodec(source).decodeUplink({ bytes, fPort: 1 });

describe('codec engine: TTS script semantics', () => {
  describe('global scope', () => {
    it('top-level functions and vars are properties of the global, also from plain-called helpers', () => {
      const r = decode(`var unit = 'C';
        function scale(v) { return v / 10; }
        function inner() { return this.scale(250) + this.unit + globalThis.scale(10) + self.unit + global.unit; }
        function decodeUplink(input) { return { data: { direct: this.scale(5), inner: inner(), same: this === globalThis } }; }`);
      assert.deepEqual(r.data, { direct: 0.5, inner: '25C1CC', same: true });
    });

    it('writes through the global reach the top-level binding, and the other way round', () => {
      const r = decode(`var level = 1;
        function bump() { this.level = this.level + 1; level = level * 10; }
        function decodeUplink() { bump(); return { data: { level: level, global: globalThis.level } }; }`);
      assert.deepEqual(r.data, { level: 20, global: 20 });
    });

    it('let, const and class stay off the global; the top-level `this` is the global', () => {
      const r = decode(`let a = 1; const b = 2; class C {}
        var top = this === globalThis;
        function decodeUplink() { return { data: { a: typeof this.a, b: typeof globalThis.b, c: typeof this.C, top: top, own: a + b } }; }`);
      assert.deepEqual(r.data, { a: 'undefined', b: 'undefined', c: 'undefined', top: true, own: 3 });
    });

    it("in a 'use strict' script `this` is undefined in the entry function, the global at the top level", () => {
      const r = decode(`'use strict';
        var topIsGlobal = this === globalThis;
        function decodeUplink() { return { data: { entry: typeof this, top: topIsGlobal, onGlobal: typeof globalThis.decodeUplink } }; }`);
      assert.deepEqual(r.data, { entry: 'undefined', top: true, onGlobal: 'function' });
      assert.match(decode("'use strict';\nfunction decodeUplink() { undeclared = 1; return { data: {} }; }").errors[0], /^ReferenceError: undeclared is not defined \(line 2/);
    });

    it('helpers defined in the top level through `this` and module.exports', () => {
      const r = decode(`this.helper = function (b) { return b.length; };
        module.exports.decodeUplink = function (input) { return { data: { n: helper(input.bytes), m: typeof module, e: exports === module.exports } }; };`);
      assert.deepEqual(r.data, { n: 3, m: 'object', e: true });
    });

    it('a helper found on the global at the top level, before its declaration runs (hoisting)', () => {
      const r = decode(`var early = typeof this.later;
        function later() { return 1; }
        function decodeUplink() { return { data: { early: early } }; }`);
      assert.deepEqual(r.data, { early: 'function' });
    });
  });

  describe('output export', () => {
    it('functions and symbols become null; symbol keys, inherited and non-enumerable properties are left out', () => {
      const r = decode(`function decodeUplink() {
        var proto = { inherited: 1 };
        var d = Object.create(proto);
        d.f = function () {}; d.s = Symbol('x'); d[Symbol('k')] = 1; d.u = undefined;
        Object.defineProperty(d, 'hidden', { value: 1, enumerable: false });
        d.list = [function () {}, Symbol(), undefined, 1];
        return { data: d };
      }`);
      assert.deepEqual(r.errors, []);
      assert.deepEqual(r.data, { f: null, s: null, u: null, list: [null, null, null, 1] });
    });

    it('typed arrays, Buffers and ArrayBuffers become arrays of numbers; DataView, Map and Set plain objects', () => {
      const r = decode(`function decodeUplink(input) {
        var u8 = new Uint8Array(input.bytes);
        return { data: { u8: u8, i16: new Int16Array([-2, 3]), f32: new Float32Array([0.5]), buf: Buffer.from([9]), ab: u8.buffer, dv: new DataView(u8.buffer), map: new Map([['a', 1]]), set: new Set([1]) } };
      }`);
      assert.deepEqual(r.data, { u8: [1, 2, 3], i16: [-2, 3], f32: [0.5], buf: [9], ab: [1, 2, 3], dv: {}, map: {}, set: {} });
    });

    it('Dates become ISO text (invalid ones null), boxed primitives their value, toJSON is not called', () => {
      const r = decode(`function decodeUplink() {
        return { data: { when: new Date(0), bad: new Date('x'), n: new Number(2), s: new String('t'), b: new Boolean(false),
          custom: { v: 1, toJSON: function () { return 'replaced'; } } } };
      }`);
      assert.deepEqual(r.data, { when: '1970-01-01T00:00:00.000Z', bad: null, n: 2, s: 't', b: false, custom: { v: 1, toJSON: null } });
    });

    it('keeps -0, large and small numbers as numbers; holes in arrays become null', () => {
      const r = decode('function decodeUplink() { var a = [1]; a[3] = 4; return { data: { z: -0, big: 2 ** 60, tiny: 5e-324, a: a } }; }');
      assert.ok(Object.is(r.data?.z, -0));
      assert.deepEqual(r.data, { z: -0, big: 2 ** 60, tiny: 5e-324, a: [1, null, null, 4] });
    });

    it('runs getters (own ones) and fails on NaN, Infinity, BigInt and cycles', () => {
      assert.deepEqual(decode('function decodeUplink() { var n = 2; return { data: { get twice() { return n * 2; } } }; }').data, { twice: 4 });
      assert.match(decode('function decodeUplink() { return { data: { v: 0 / 0 } }; }').errors[0], /^data\.v is NaN/);
      assert.match(decode('function decodeUplink() { return { data: { v: [-1 / 0] } }; }').errors[0], /^data\.v\[0\] is -Infinity/);
      assert.match(decode('function decodeUplink() { return { data: { v: 1n } }; }').errors[0], /^data\.v is a bigint/);
      assert.match(decode('function decodeUplink() { var o = {}; o.o = o; return { data: o }; }').errors[0], /nested more than 64 levels deep/);
    });
  });
});
