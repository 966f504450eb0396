import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import vm from 'node:vm';
import { createCodec } from '../../src/codec';
import { REPO_ROOT } from '../helpers/node-red-process';

// The script editors declare to Monaco exactly what the codec sandbox gives a script. These
// tests compare the declarations in resources/tts-editor.js with a running sandbox, so a global
// added to or removed from either side fails here instead of in a user's editor.

function editorDeclarations(): string {
  const source = readFileSync(join(REPO_ROOT, 'resources', 'tts-editor.js'), 'utf8');
  const window: { TtsEditor?: { scriptEditor: { sandboxGlobals: string } } } = {};
  vm.runInNewContext(source, { window });
  return window.TtsEditor!.scriptEditor.sandboxGlobals;
}

/** What a script running in the sandbox sees: its global names and Buffer's members. */
function sandboxView(): { globals: string[]; bufferStatics: string[]; bufferMethods: string[] } {
  const codec = createCodec(
    // The plugin form declares no top-level name of its own (a function declaration would
    // appear among the globals).
    'module.exports.uplink = function () { return {' +
      ' globals: Object.getOwnPropertyNames(globalThis),' +
      ' bufferStatics: Object.getOwnPropertyNames(Buffer).filter(function (n) { return typeof Buffer[n] === "function"; }),' +
      ' bufferMethods: Object.getOwnPropertyNames(Buffer.prototype).filter(function (n) { return n !== "constructor"; })' +
      ' }; };',
  );
  const result = codec.decodeUplink({ bytes: [], fPort: 1 });
  assert.deepEqual(result.errors ?? [], []);
  return result.data as { globals: string[]; bufferStatics: string[]; bufferMethods: string[] };
}

describe('script editor declarations of the codec sandbox globals', () => {
  const declarations = editorDeclarations();
  const sandbox = sandboxView();

  it('declares every global the sandbox adds to ECMAScript, and no other', () => {
    const ecmascript = new Set(vm.runInNewContext('Object.getOwnPropertyNames(globalThis)') as string[]);
    // V8 puts a console in every context, but TypeScript's ES lib does not declare one.
    ecmascript.delete('console');
    const added = sandbox.globals.filter((name) => !ecmascript.has(name) && !name.startsWith('__tts'));
    const declared = [...declarations.matchAll(/^declare (?:var|class) (\w+)/gm)].map((m) => m[1]);
    assert.deepEqual(declared.sort(), added.sort());
    assert.ok(declared.includes('Buffer') && declared.includes('console'));
  });

  it('declares what the sandbox removes nowhere (no DOM, no Node.js)', () => {
    for (const name of ['require', 'process', 'setTimeout', 'setInterval', 'fetch', 'window', 'document', 'msg', 'node']) {
      assert.ok(!sandbox.globals.includes(name), `${name} in the sandbox`);
      assert.doesNotMatch(declarations, new RegExp(`declare (var|class|function) ${name}\\b`));
    }
  });

  it('declares exactly the Buffer members the sandbox shim has', () => {
    const body = (name: string): string => {
      const start = declarations.indexOf(name);
      return declarations.slice(start, declarations.indexOf('\n}', start));
    };
    const members = (text: string): string[] => [...new Set([...text.matchAll(/(\w+)\(/g)].map((m) => m[1]))].sort();
    assert.deepEqual(members(body('interface TtsBuffer')), [...sandbox.bufferMethods].sort());
    const statics = members(body('declare var Buffer'));
    assert.deepEqual(statics.filter((n) => !sandbox.bufferStatics.includes(n)), [], 'declared statics the shim lacks');
  });
});
