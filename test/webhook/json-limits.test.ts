import { strict as assert } from 'node:assert';
import { jsonLimitBroken, type JsonLimits } from '../../src/webhook/json-limits';

const small: JsonLimits = { maxDepth: 3, maxEntries: 3, maxString: 5, maxValues: 12 };

describe('JSON limits', () => {
  it('passes a body within every bound', () => {
    assert.equal(jsonLimitBroken({ a: [1, 'abcde', { b: null }], c: true }, small), undefined);
    assert.equal(jsonLimitBroken('abcde', small), undefined);
    assert.equal(jsonLimitBroken(null, small), undefined);
  });

  it('names the bound a body breaks', () => {
    assert.equal(jsonLimitBroken({ a: { b: { c: { d: 1 } } } }, small), 'nested deeper than 3 levels');
    assert.equal(jsonLimitBroken({ a: [1, 2, 3, 4] }, small), 'an array of more than 3 elements');
    assert.equal(jsonLimitBroken({ a: 1, b: 2, c: 3, d: 4 }, small), 'an object with more than 3 keys');
    assert.equal(jsonLimitBroken({ abcdef: 1 }, small), 'a key longer than 5 characters');
    assert.equal(jsonLimitBroken({ a: 'abcdef' }, small), 'a string longer than 5 characters');
    assert.equal(jsonLimitBroken({ a: [1, 2, 3], b: [1, 2, 3], c: [1, 2, 3] }, small), 'more than 12 values in the body');
  });

  it('counts own keys only', () => {
    const inherited = Object.create({ x: 1, y: 2, z: 3 }) as Record<string, number>;
    inherited.a = 1;
    assert.equal(jsonLimitBroken(inherited, small), undefined);
  });

  it('starts afresh after a body it refused halfway through its walk', () => {
    assert.match(jsonLimitBroken([[1, 2], { a: 'abcdefgh' }, [3, 4]], small) ?? '', /string longer/);
    // Nothing of the refused body is left on the walk's stack to be counted or checked again.
    assert.equal(jsonLimitBroken([1, 2, 3], small), undefined);
    assert.equal(jsonLimitBroken({ a: { b: 1 } }, small), undefined);
  });

  it('walks a body deeper than the call stack without overflowing', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.equal(jsonLimitBroken(deep), 'nested deeper than 32 levels');
  });
});
