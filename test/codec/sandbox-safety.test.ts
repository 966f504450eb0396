import assert from 'node:assert/strict';
import { createCodec, CodecLoadError, type DecodeResult, type UplinkInput } from '../../src/codec';
import { threadCpuMs } from '../helpers/thread-cpu';

function loadError(source: string, options = {}): CodecLoadError {
  try {
    createCodec(source, options);
  } catch (err) {
    assert.ok(err instanceof CodecLoadError, `expected CodecLoadError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the script to be rejected');
}

const decodeWith = (body: string, input = { bytes: [1, 2, 3], fPort: 1 }): DecodeResult =>
  createCodec(`function decodeUplink(input) {\n${body}\n}`).decodeUplink(input);

describe('codec engine: failure modes and sandbox', () => {
  describe('loading', () => {
    it('reports a syntax error with the line and column in the user script', () => {
      const err = loadError('function decodeUplink(input) {\n  var x = 1;\n  return { data: { x: x + } };\n}');
      assert.equal(err.codecError.kind, 'compile');
      assert.equal(err.codecError.line, 3);
      assert.equal(err.codecError.column, 27);
      assert.match(err.message, /^SyntaxError: Unexpected token '}' \(line 3, column 27\)$/);
    });

    it('blames the last line for an unclosed block', () => {
      const err = loadError('function decodeUplink(input) {\n  return { data: {} };\n');
      assert.equal(err.codecError.line, 3);
      assert.match(err.message, /SyntaxError: Unexpected end of input/);
    });

    it('reports a throw in the top level with its line', () => {
      const err = loadError('var table = null;\nvar first = table[0];\nfunction decodeUplink() { return { data: {} }; }');
      assert.equal(err.codecError.kind, 'compile');
      assert.equal(err.codecError.line, 2);
      assert.match(err.message, /TypeError: Cannot read properties of null/);
    });

    it('stops an endless top level', () => {
      const started = Date.now();
      const err = loadError('while (true) {}\nfunction decodeUplink() {}', { timeout: 20 });
      assert.equal(err.codecError.kind, 'timeout');
      assert.match(err.message, /top level did not finish within 1000 ms/);
      assert.ok(Date.now() - started < 3000);
    });

    it('rejects nonsense options and non-string sources clearly', () => {
      assert.throws(() => createCodec('function Decoder() {}', { timeout: 0 }), /timeout must be 1\.\.10000 ms/);
      assert.throws(() => createCodec(42 as unknown as string), /the script must be a string/);
    });
  });

  describe('runtime errors', () => {
    it('maps a throw to the line and column of the user script', () => {
      const r = decodeWith('  var a = input.bytes;\n  if (a.length > 2) throw new RangeError("too long: " + a.length);\n  return { data: {} };');
      assert.equal(r.data, undefined);
      assert.deepEqual(r.error, { kind: 'runtime', message: 'RangeError: too long: 3', line: 3, column: 27 });
      assert.deepEqual(r.errors, ['RangeError: too long: 3 (line 3, column 27)']);
    });

    it('reports thrown non-errors and unprintable values without crashing', () => {
      assert.deepEqual(decodeWith('throw "boom";').errors, ['Uncaught boom']);
      assert.deepEqual(decodeWith('throw { message: "plain object" };').errors, ['Error: plain object']);
      const evil = decodeWith('throw { get message() { throw new Error("no"); } };');
      assert.deepEqual(evil.errors, ['the script threw a value that cannot be printed']);
    });

    it('keeps working after an error', () => {
      const codec = createCodec('function decodeUplink(i) { if (i.fPort === 1) throw new Error("x"); return { data: { ok: true } }; }');
      assert.equal(codec.decodeUplink({ bytes: [], fPort: 1 }).error?.kind, 'runtime');
      assert.deepEqual(codec.decodeUplink({ bytes: [], fPort: 2 }).data, { ok: true });
    });
  });

  describe('time limit', () => {
    it('stops an infinite loop within about the limit and keeps the codec usable', () => {
      const codec = createCodec('function decodeUplink(i) { while (i.fPort === 9) {} return { data: { port: i.fPort } }; }', { timeout: 50 });
      const started = Date.now();
      const r = codec.decodeUplink({ bytes: [], fPort: 9 });
      const took = Date.now() - started;
      assert.equal(r.error?.kind, 'timeout');
      assert.deepEqual(r.errors, ['the script did not finish within 50 ms']);
      assert.ok(took >= 50 && took < 100 + 200, `took ${took} ms`);
      assert.deepEqual(codec.decodeUplink({ bytes: [], fPort: 1 }).data, { port: 1 });
    });

    it('blames exactly the runaway message of a batch; the others keep their results', () => {
      const codec = createCodec(
        'function decodeUplink(i) { if (i.fPort === 9) for (;;) {} if (i.fPort === 8) throw new Error("bad"); return { data: { port: i.fPort } }; }',
        { timeout: 40 },
      );
      const results = codec.decodeUplinkBatch([1, 9, 2, 8, 3, 9, 4].map((fPort) => ({ bytes: [], fPort })));
      assert.deepEqual(
        results.map((r) => r.data?.port ?? r.error?.kind),
        [1, 'timeout', 2, 'runtime', 3, 'timeout', 4],
      );
    });

    it('never blocks the event loop for much longer than twice the limit (queued decodes)', async () => {
      const timeout = 100;
      const codec = createCodec('function decodeUplink(i) { if (i.fPort === 9) for (;;) {} return { data: { port: i.fPort } }; }', { timeout });
      // Blocked means the event loop ran without a turn: the main thread's own CPU time between
      // two ticks. Wall-clock gaps also count the process waiting for a core on a busy machine.
      let last = threadCpuMs();
      let longestGap = 0;
      const ticker = setInterval(() => {
        const now = threadCpuMs();
        longestGap = Math.max(longestGap, now - last);
        last = now;
      }, 1);
      try {
        const ports = [1, 9, 2, 9, 9, 3];
        const results = await Promise.all(ports.map((fPort) => codec.decodeUplinkQueued({ bytes: [], fPort })));
        assert.deepEqual(results.map((r) => r.data?.port ?? r.error?.kind), [1, 'timeout', 2, 'timeout', 'timeout', 3]);
      } finally {
        clearInterval(ticker);
      }
      assert.ok(longestGap <= 2 * timeout + 50, `event loop blocked for ${longestGap.toFixed(1)} ms of main-thread CPU`);
    });

    it('gives scripts no way to leave promise jobs or finalizers behind', () => {
      const codec = createCodec(
        'function decodeUplink(i) { return { data: { promise: typeof Promise, wasm: typeof WebAssembly, registry: typeof FinalizationRegistry, weakRef: typeof WeakRef, waitAsync: typeof Atomics.waitAsync } }; }',
      );
      assert.deepEqual(codec.decodeUplink({ bytes: [] }).data, { promise: 'undefined', wasm: 'undefined', registry: 'undefined', weakRef: 'undefined', waitAsync: 'undefined' });
      for (const code of ['eval("1")', 'new Function("return 1")()', '(function(){}).constructor("return 1")()', 'Object.getPrototypeOf(function(){}).constructor("return 1")()']) {
        const r = createCodec(`function decodeUplink(i) { return { data: { v: ${code} } }; }`).decodeUplink({ bytes: [] });
        assert.match(r.errors[0] ?? '', /Code generation from strings disallowed/, code);
      }
    });
  });

  describe('output checks', () => {
    it('rejects uplink output that is not a JSON object', () => {
      const cases: Array<[string, RegExp]> = [
        ['return { data: 5 };', /^data must be an object, got a number$/],
        ['return { data: [1, 2] };', /^data must be an object, got an array$/],
        ['return { data: null };', /^data must be an object, got null$/],
        ['return {};', /^data must be an object, got nothing$/],
        ['return 42;', /^decodeUplink must return an object like \{ data: \{\.\.\.\} \}, got number$/],
        ['return { data: { t: NaN } };', /^data\.t is NaN, which JSON cannot represent$/],
        ['return { data: { list: [1, Infinity] } };', /^data\.list\[1\] is Infinity/],
        ['return { data: { n: 10n } };', /^data\.n is a bigint/],
        ['var o = {}; o.self = o; return { data: o };', /nested more than 64 levels deep/],
        ['return { data: {}, warnings: "one" };', /^warnings must be an array of strings$/],
      ];
      for (const [body, expected] of cases) {
        const r = decodeWith(body);
        assert.equal(r.error?.kind, 'output', body);
        assert.match(r.errors[0], expected, body);
      }
      assert.match(createCodec('function Decoder() { return "text"; }').decodeUplink({ bytes: [] }).errors[0], /^data must be an object, got a string$/);
    });

    it('rejects huge output', () => {
      // The scripts themselves build megabytes; a generous limit keeps a loaded machine from
      // turning the size error into a timeout (the size check is what this test is about).
      const generous = (body: string): DecodeResult => createCodec(`function decodeUplink(input) {\n${body}\n}`, { timeout: 5000 }).decodeUplink({ bytes: [] });
      assert.deepEqual(generous('return { data: { s: "x".repeat(2 * 1024 * 1024) } };').errors, ['output is too large']);
      assert.deepEqual(generous('return { data: { a: new Array(2000000).fill(1) } };').errors, ['output is too large']);
      assert.deepEqual(generous('var a = []; for (var i = 0; i < 400000; i++) a.push({ k: i }); return { data: { a: a } };').errors, ['output is too large']);
      const small = createCodec('function decodeUplink() { return { data: { s: "x".repeat(100) } }; }', { maxOutputSize: 50 });
      assert.deepEqual(small.decodeUplink({ bytes: [] }).errors, ['output is too large']);
    });

    it('gives the same results and errors when an output shape repeats or varies', () => {
      // fPort picks the variant; port 1 is the learnt shape, the others differ from it in one way.
      const codec = createCodec(`function decodeUplink(input) {
        var p = input.fPort;
        var order = [];
        var d = { a: 1, b: { c: "x", e: undefined }, list: [1, { z: 2 }] };
        if (p === 2) d.b.c = NaN;
        if (p === 3) d = { b: { c: "x", e: undefined }, a: 1, list: [1, { z: 2 }] };
        if (p === 4) d.extra = true;
        if (p === 5) d.b = new Date(0);
        if (p === 6) d.b = ["c", "e"];
        if (p === 7) d = JSON.parse('{"__proto__": 1, "a": 2}');
        if (p === 8) d = { get a() { order.push("a"); return order.length; }, b: { get c() { order.push("c"); return order.join(); }, e: 0 }, list: [] };
        if (p === 9) d.b.c = "y".repeat(200);
        if (p === 10) d.list = [1, { z: Infinity }];
        return { data: d };
      }`, { maxOutputSize: 150 });
      const run = (fPort: number): DecodeResult => codec.decodeUplink({ bytes: [], fPort });
      for (let i = 0; i < 3; i++) assert.deepEqual(run(1).data, { a: 1, b: { c: 'x', e: null }, list: [1, { z: 2 }] });
      assert.deepEqual(run(2).errors, ['data.b.c is NaN, which JSON cannot represent']);
      assert.deepEqual(Object.keys(run(3).data ?? {}), ['b', 'a', 'list']);
      assert.deepEqual(run(4).data, { a: 1, b: { c: 'x', e: null }, list: [1, { z: 2 }], extra: true });
      assert.deepEqual(run(5).data, { a: 1, b: '1970-01-01T00:00:00.000Z', list: [1, { z: 2 }] });
      assert.deepEqual(run(6).data, { a: 1, b: ['c', 'e'], list: [1, { z: 2 }] });
      const proto = run(7).data as Record<string, unknown>;
      assert.deepEqual(Object.getOwnPropertyNames(proto), ['__proto__', 'a']);
      assert.equal(Object.getPrototypeOf(proto), Object.prototype);
      for (let i = 0; i < 3; i++) assert.deepEqual(run(8).data, { a: 1, b: { c: 'a,c', e: 0 }, list: [] });
      assert.deepEqual(run(9).errors, ['output is too large']);
      assert.deepEqual(run(10).errors, ['data.list[1].z is Infinity, which JSON cannot represent']);
      assert.deepEqual(run(1).data, { a: 1, b: { c: 'x', e: null }, list: [1, { z: 2 }] });
    });

    it('turns undefined inside results into null, as TTS does', () => {
      const r = decodeWith('return { data: { a: undefined, list: [1, undefined], nested: { b: undefined } } };');
      assert.deepEqual(r.data, { a: null, list: [1, null], nested: { b: null } });
    });

    it('copies output through getters inside the protected run', () => {
      const r = decodeWith('var d = { get v() { return 7; }, when: new Date(0) }; return { data: d };');
      assert.deepEqual(r.data, { v: 7, when: '1970-01-01T00:00:00.000Z' });
      const slow = createCodec('function decodeUplink() { return { data: { get v() { for (;;) {} } } }; }', { timeout: 30 });
      assert.equal(slow.decodeUplink({ bytes: [] }).error?.kind, 'timeout');
    });

    it('validates downlink bytes and fPort', () => {
      const enc = (body: string) => createCodec(`function encodeDownlink(input) { ${body} }`).encodeDownlink({ data: {} });
      assert.match(enc('return { bytes: [1, 300] };').errors[0], /^bytes\[1\] is 300, not a byte/);
      assert.match(enc('return { bytes: "AQ==" };').errors[0], /^bytes must be an array of bytes, got string$/);
      assert.match(enc('return { bytes: [1], fPort: 1.5 };').errors[0], /^fPort must be an integer 0\.\.255, got 1\.5$/);
      assert.match(enc('return { bytes: [1], fPort: 256 };').errors[0], /^fPort must be an integer 0\.\.255, got 256$/);
      assert.equal(enc('return { bytes: [1], fPort: 255 };').fPort, 255);
      assert.deepEqual(enc('return { bytes: new Uint8Array([1, 2]) };').bytes, [1, 2]);
      assert.deepEqual(enc('return { bytes: Buffer.from("AQoU", "base64"), fPort: 3 };').bytes, [1, 10, 20]);
    });

    it('refuses asynchronous scripts when they load, naming the construct and its line', () => {
      const cases: Array<[string, string, number]> = [
        ['async function decodeUplink(input) {\n  return { data: {} };\n}', 'an async function', 1],
        ['module.exports.uplink = async (p) => ({ a: 1 });', 'an async function', 1],
        ['function decodeUplink(input) {\n  var x = { async m() { return 1; } };\n  return { data: {} };\n}', 'an async function', 2],
        ['function decodeUplink(input) {\n  import("fs");\n  return { data: {} };\n}', 'import()', 2],
        ['async function* g() {}\nfunction decodeUplink() { return { data: {} }; }', 'an async function', 1],
      ];
      for (const [source, what, line] of cases) {
        assert.throws(() => createCodec(source), (err: unknown) => {
          assert.ok(err instanceof CodecLoadError, String(err));
          assert.match(err.message, new RegExp(`^${what.replace(/[()]/g, '\\$&')} is not supported: codec functions must be synchronous`));
          assert.equal(err.codecError.line, line, source);
          return true;
        });
      }
    });

    it('still refuses a thenable result', () => {
      const codec = createCodec('function decodeUplink(input) { return { then: function (ok) { ok(1); } }; }');
      assert.deepEqual(codec.decodeUplink({ bytes: [] }).errors, ['decodeUplink returned a Promise; codec functions must be synchronous']);
    });
  });

  describe('sandbox boundaries (vm is not a security boundary; these are the doors it can close)', () => {
    it('has no require, process, module loading, timers or network', () => {
      const r = decodeWith(
        'return { data: { require: typeof require, process: typeof process, setTimeout: typeof setTimeout, setInterval: typeof setInterval, setImmediate: typeof setImmediate, queueMicrotask: typeof queueMicrotask, fetch: typeof fetch, importScripts: typeof importScripts } };',
      );
      assert.deepEqual(r.data, { require: 'undefined', process: 'undefined', setTimeout: 'undefined', setInterval: 'undefined', setImmediate: 'undefined', queueMicrotask: 'undefined', fetch: 'undefined', importScripts: 'undefined' });
      assert.match(decodeWith('return { data: { env: process.env } };').errors[0], /^ReferenceError: process is not defined/);
      assert.match(decodeWith('return { data: { fs: require("fs") } };').errors[0], /^ReferenceError: require is not defined/);
    });

    it('blocks the constructor-chain escapes to the host realm', () => {
      const attempts = [
        'this.constructor.constructor("return process")()',
        '(function () { return this; })().constructor.constructor("return process")()',
        'globalThis.constructor.constructor("return process")()',
        'Buffer.constructor.constructor("return process")()',
        'Buffer.from([1]).constructor.constructor("return process")()',
        'console.log.constructor("return process")()',
        'input.constructor.constructor("return process")()',
        'input.bytes.constructor.constructor("return process")()',
        'Object.getPrototypeOf(input).constructor.constructor("return process")()',
        'new TextEncoder().encode("x").constructor.constructor("return process")()',
        '(function () { try { null.x; } catch (e) { return e; } })().constructor.constructor("return process")()',
      ];
      for (const attempt of attempts) {
        const r = decodeWith(`var p = ${attempt}; return { data: { escaped: typeof p } };`);
        assert.equal(r.data, undefined, `escaped with: ${attempt}`);
        // The realm's own Function constructor either refuses to compile strings or, where
        // reached, finds no process.
        assert.match(r.errors[0], /^(EvalError: Code generation from strings disallowed|ReferenceError: process is not defined)/, attempt);
      }
    });

    it('does not let a script call the runner itself', () => {
      const r = decodeWith('__ttsRun(); return { data: {} };');
      assert.match(r.errors[0], /not callable from a script/);
      assert.deepEqual(decodeWith('__ttsRun = null; return { data: { t: typeof __ttsRun } };').data, { t: 'function' });
    });

    it('hands the script a copy of its input (TTS passes a copy of the bytes)', () => {
      const codec = createCodec('function decodeUplink(input) { input.bytes[0] = 99; input.extra.x = 1; return { data: { b: input.bytes[0] } }; }');
      const input = { bytes: [1, 2], fPort: 1, extra: { x: 0 } };
      assert.deepEqual(codec.decodeUplink(input).data, { b: 99 });
      assert.deepEqual(input, { bytes: [1, 2], fPort: 1, extra: { x: 0 } });
    });

    it('imports every input shape with its keys in order (bytes as array, Buffer or typed array; Dates)', () => {
      const codec = createCodec(
        'function decodeUplink(i) { return { data: { keys: Object.keys(i).join(), b: Array.isArray(i.bytes) ? i.bytes.join() : "not an array", t: i.recvTime instanceof Date ? i.recvTime.toISOString() : typeof i.recvTime, p: i.fPort } }; }',
      );
      const when = new Date('2025-01-02T03:04:05.000Z');
      const cases: Array<[UplinkInput, Record<string, unknown>]> = [
        [{ bytes: [1, 2], fPort: 3 }, { keys: 'bytes,fPort', b: '1,2', t: 'undefined', p: 3 }],
        [{ bytes: Buffer.from([4, 5]), fPort: 6, recvTime: when }, { keys: 'bytes,fPort,recvTime', b: '4,5', t: '2025-01-02T03:04:05.000Z', p: 6 }],
        [{ bytes: new Uint8Array([7]), fPort: 8 }, { keys: 'bytes,fPort', b: '7', t: 'undefined', p: 8 }],
        [{ fPort: 9, bytes: [1] }, { keys: 'fPort,bytes', b: '1', t: 'undefined', p: 9 }],
        [{ bytes: [1], fPort: 2, extra: { n: 1 } }, { keys: 'bytes,fPort,extra', b: '1', t: 'undefined', p: 2 }],
        // The plugin form's arguments are not decodeUplink's (as in TTS): left out.
        [{ bytes: [1], fPort: 2, recvTime: when, decodedPayload: { a: 1 } }, { keys: 'bytes,fPort,recvTime', b: '1', t: '2025-01-02T03:04:05.000Z', p: 2 }],
      ];
      for (let round = 0; round < 2; round++) {
        assert.deepEqual(codec.decodeUplinkBatch(cases.map(([input]) => input)).map((r) => r.data), cases.map(([, expected]) => expected));
      }
    });

    it('passes the input object as given, keys beside data and fPort included', () => {
      const codec = createCodec('function encodeDownlink(input) { return { bytes: [input.data.v, input.confirmed ? 1 : 0, input.meta.n], fPort: input.fPort }; }');
      assert.deepEqual(codec.encodeDownlink({ data: { v: 5 }, fPort: 12, confirmed: true, meta: { n: 3 } }).bytes, [5, 1, 3]);
    });

    it('gives clear errors for bad input instead of crashing', () => {
      const codec = createCodec('function decodeUplink(i) { return { data: {} }; }');
      assert.throws(() => codec.decodeUplink(null as never), /codec input must be an object/);
      assert.throws(() => codec.decodeUplink({ bytes: 'AQ==' as never }), /input.bytes must be an array of bytes/);
      assert.throws(() => codec.encodeDownlink(7 as never), /codec input must be an object/);
    });
  });

  describe('TTS evaluates the script afresh for every message', () => {
    const counter = 'var calls = 0;\nfunction decodeUplink(input) { calls++; return { data: { calls: calls } }; }';

    it('resets top-level state between messages, also within one batch', () => {
      const codec = createCodec(counter);
      assert.deepEqual(codec.decodeUplink({ bytes: [] }).data, { calls: 1 });
      assert.deepEqual(codec.decodeUplink({ bytes: [] }).data, { calls: 1 });
      assert.deepEqual(codec.decodeUplinkBatch([{ bytes: [] }, { bytes: [] }, { bytes: [] }]).map((r) => r.data), [{ calls: 1 }, { calls: 1 }, { calls: 1 }]);
    });

    it('keeps state across messages when freshScope is false', () => {
      const codec = createCodec(counter, { freshScope: false });
      assert.deepEqual(codec.decodeUplinkBatch([{ bytes: [] }, { bytes: [] }]).map((r) => r.data), [{ calls: 1 }, { calls: 2 }]);
      assert.deepEqual(codec.decodeUplink({ bytes: [] }).data, { calls: 3 });
    });

    it('clears implicit globals between protected runs', () => {
      const codec = createCodec('function decodeUplink(input) { var seen = typeof leaked; leaked = 1; return { data: { seen: seen } }; }');
      assert.deepEqual(codec.decodeUplink({ bytes: [] }).data, { seen: 'undefined' });
      assert.deepEqual(codec.decodeUplink({ bytes: [] }).data, { seen: 'undefined' });
    });
  });
});

describe('codec engine: runaway scripts with async hooks active', () => {
  // nodejs/node#38503: a time limit that ends inside a promise job aborts the process when async
  // hooks are on. Checked in a separate Node process with AsyncLocalStorage in use, as an APM
  // agent or another node would have it.
  it('stop every runaway script without taking the process down (checked in a separate Node process)', async () => {
    const { execFile } = await import('node:child_process');
    const entry = require.resolve('../../src/codec');
    const program = `
      const { AsyncLocalStorage } = require('node:async_hooks');
      new AsyncLocalStorage().run({}, () => {});
      const { createCodec } = require(${JSON.stringify(entry)});
      const outcomes = [];
      for (const source of [
        'function decodeUplink(i) { for (;;) {} }',
        'function decodeUplink(i) { var o = { then: function () { for (;;) {} } }; return o; }',
        'function decodeUplink(i) { try { Promise.resolve().then(function () { for (;;) {} }); } catch (e) {} for (;;) {} }',
        'async function decodeUplink(i) { for (;;) {} }',
      ]) {
        try { outcomes.push(createCodec(source, { timeout: 20 }).decodeUplink({ bytes: [] }).errors[0]); }
        catch (err) { outcomes.push(err.message); }
      }
      setImmediate(() => console.log(JSON.stringify(outcomes)));
    `;
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['-e', program], { timeout: 20000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
    });
    const outcomes = JSON.parse(out) as string[];
    assert.equal(outcomes.length, 4);
    assert.match(outcomes[0], /did not finish within 20 ms/);
    assert.match(outcomes[1], /did not finish within 20 ms/);
    assert.match(outcomes[2], /did not finish within 20 ms/);
    assert.match(outcomes[3], /an async function is not supported/);
  });
});
