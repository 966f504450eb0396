import crypto, { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerTokenOf(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(value);
  return match ? match[1] : undefined;
}

/**
 * Constant-time comparison. Both sides are hashed first so that neither the comparison nor
 * timingSafeEqual's equal-length requirement leaks the expected token's length.
 */
export function tokensEqual(presented: string, expected: string): boolean {
  if (expected === '') return false;
  return timingSafeEqual(tokenDigest(presented), tokenDigest(expected));
}

// crypto.hash (Node 20.12+) is the one-shot form: half the cost of a Hash object per request.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'buffer') => Buffer }).hash;

export function tokenDigest(token: string): Buffer {
  return oneShot ? oneShot('sha256', token, 'buffer') : createHash('sha256').update(token, 'utf8').digest();
}

/** Constant-time comparison of two digests from tokenDigest. */
export function digestsEqual(a: Buffer, b: Buffer): boolean {
  return timingSafeEqual(a, b);
}

/** Strong random token for the "generate" button and tests: 32 random bytes, base64url. */
export function generateWebhookToken(): string {
  return randomBytes(32).toString('base64url');
}
