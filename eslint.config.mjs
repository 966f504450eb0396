// ESLint 9 flat config: typescript-eslint's strict type-checked rules for the TypeScript, the
// recommended rules for the plain JavaScript (build scripts, editor helpers). Rules that do not
// fit this code base are turned off below, each with the reason.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', '.tmp/**', '.node-red-demo/**', 'resources/tts-protocol.js', 'test/codec/fixtures/**'],
  },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.strictTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Numbers and booleans in messages read naturally (`${count} readings`); objects still fail.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `_` marks a parameter a callback signature requires but this code does not use.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Input from flows, settings.js and TTS is `unknown` until checked; checks that TypeScript
      // deems unnecessary are often the ones that guard against a wrong runtime value.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // Node-RED callbacks (close, input) and EventEmitter listeners are handed promise-returning
      // functions on purpose; floating promises are still caught by no-floating-promises.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      // Errors here are Error subclasses; rethrowing `unknown` from catch is how Node-RED code reads.
      // Passing on what a catch received (unknown) is a rethrow, not a new non-Error rejection.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // `(x) => done(x)` and `() => res.end()` in callbacks read better than braces around them.
      '@typescript-eslint/no-confusing-void-expression': 'off',
      // Node-RED handlers and service methods are async so that a throw becomes a rejection the
      // caller handles in one place (onInput → done(err)), with or without an await inside.
      '@typescript-eslint/require-await': 'off',
      // Used where a value was checked in a closure or a map lookup TypeScript cannot follow.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Deleting computed keys is how messages (msg[prop]) and JSON bodies are edited here.
      '@typescript-eslint/no-dynamic-delete': 'off',
      // String(value) on flow input is the deliberate first step of parsing it: an object then
      // fails the parse and its text is in the error.
      '@typescript-eslint/no-base-to-string': 'off',
      // String(x) / Number(x) on values that are typed narrower than what JSON and flows deliver
      // at run time are kept as guards; removing them changes nothing when the types are right.
      '@typescript-eslint/no-unnecessary-type-conversion': 'off',
      // Casts that restate a type are harmless, and this rule's autofix removed casts here that the
      // type checker needed; type arguments that restate the default likewise.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      '@typescript-eslint/no-unnecessary-type-arguments': 'off',
      // `.catch((err: Error) => …)` documents what this code rejects with (always Errors); the
      // rule would have every such callback take `unknown` and cast again.
      '@typescript-eslint/use-unknown-in-catch-callback-variable': 'off',
      // `return void (await x)` ends a test branch; `undefined as void` types a no-op callback.
      '@typescript-eslint/no-meaningless-void-operator': 'off',
      '@typescript-eslint/no-invalid-void-type': 'off',
      // Generic helpers (registerNode, row mappers) take a type parameter so callers' own types
      // flow through; the rule wants them inlined.
      '@typescript-eslint/no-unnecessary-type-parameters': 'off',
      // Methods handed around as callbacks (assert.equal, intrinsics captured by the sandbox) are
      // written not to use `this`.
      '@typescript-eslint/unbound-method': 'off',
      // "at byte " + index reads fine; `string | undefined` and objects are still refused.
      '@typescript-eslint/restrict-plus-operands': ['error', { allowNumberAndString: true }],
      // `const node = this` for callbacks inside a Node-RED node constructor, as Node-RED's own nodes do.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['node', 'self'] }],
      // Unions of known codes with string (`'missing_token' | … | string`) document the known ones.
      '@typescript-eslint/no-redundant-type-constituents': 'off',
      // `import mod = require('…')` is how TypeScript imports the `export =` node modules.
      '@typescript-eslint/no-require-imports': ['error', { allowAsImport: true }],
    },
  },
  {
    // The codec sandbox handles values from the script's own realm (typed any on purpose) and
    // builds Buffer-shaped objects there that are not host Buffers.
    files: ['src/codec/sandbox/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      '@typescript-eslint/no-this-alias': 'off',
    },
  },
  {
    // Tests read loosely typed answers (JSON bodies, spied calls) and assert on them.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Tests build error-shaped plain objects to compare with.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
    },
  },
  {
    files: ['scripts/**/*.js', '.ci/**/*.js'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
  },
  {
    files: ['resources/**/*.js'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'script', globals: { ...globals.browser, RED: 'readonly', $: 'readonly' } },
  },
);
