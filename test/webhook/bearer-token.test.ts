import { strict as assert } from 'node:assert';
import { bearerTokenOf, generateWebhookToken, tokensEqual } from '../../src/webhook/bearer-token';

describe('bearer token', () => {
  it('extracts the token from an Authorization header', () => {
    assert.equal(bearerTokenOf('Bearer abc.DEF-123'), 'abc.DEF-123');
    assert.equal(bearerTokenOf('bearer   abc  '), 'abc');
    assert.equal(bearerTokenOf(['Bearer first', 'Bearer second']), 'first');
    assert.equal(bearerTokenOf('Basic dXNlcjpwdw=='), undefined);
    assert.equal(bearerTokenOf('Bearer'), undefined);
    assert.equal(bearerTokenOf('Bearer a b'), undefined);
    assert.equal(bearerTokenOf(undefined), undefined);
  });

  it('compares tokens of any length, and never matches an empty expected token', () => {
    assert.equal(tokensEqual('secret', 'secret'), true);
    assert.equal(tokensEqual('secret', 'secret2'), false);
    assert.equal(tokensEqual('a'.repeat(1000), 'a'), false);
    assert.equal(tokensEqual('', ''), false);
  });

  it('generates distinct 256-bit url-safe tokens', () => {
    const a = generateWebhookToken();
    const b = generateWebhookToken();
    assert.match(a, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a, b);
  });
});
