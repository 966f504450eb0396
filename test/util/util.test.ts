import { strict as assert } from 'node:assert';
import { resolveEnvReference } from '../../src/util/env-reference';
import { RateLimitedReporter } from '../../src/util/rate-limited';

describe('util', () => {
  it('resolves ${NAME} credentials and leaves other text alone', () => {
    const env: Record<string, string> = { TOKEN: 'from-env' };
    const lookup = (name: string) => env[name];
    assert.equal(resolveEnvReference('${TOKEN}', lookup), 'from-env');
    assert.equal(resolveEnvReference('${MISSING}', lookup), '');
    assert.equal(resolveEnvReference('plain-${TOKEN}', lookup), 'plain-${TOKEN}');
    assert.equal(resolveEnvReference(undefined, lookup), '');
  });

  it('lets one report per key through per interval and counts the rest', () => {
    let now = 0;
    const reporter = new RateLimitedReporter(1000, () => now);
    const emitted: Array<[string, number]> = [];
    const report = (key: string) => reporter.report(key, (suppressed) => emitted.push([key, suppressed]));
    report('a');
    report('a');
    report('b');
    now = 999;
    report('a');
    now = 1000;
    report('a');
    assert.deepEqual(emitted, [['a', 0], ['b', 0], ['a', 2]]);
  });
});
