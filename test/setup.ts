// Mocha root hooks shared by the whole suite (loaded through .mocharc.json `require`).
// Suites register their own teardown with `onSuiteEnd` so shared servers (PostgreSQL,
// Chromium) are started lazily by the first test that needs them and stopped once.
const teardowns: Array<() => Promise<void> | void> = [];

export function onSuiteEnd(fn: () => Promise<void> | void): void {
  teardowns.push(fn);
}

export const mochaHooks = {
  async afterAll(): Promise<void> {
    while (teardowns.length > 0) {
      const fn = teardowns.pop()!;
      await fn();
    }
  },
};
