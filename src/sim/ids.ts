import { randomBytes, randomInt } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A ULID-shaped id (time prefix + randomness), as TTS uses in correlation ids. */
export function ulid(now = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  let rand = '';
  for (const byte of randomBytes(16)) rand += CROCKFORD[byte % 32];
  return time + rand;
}

export function upperHex(bytes: number): string {
  return randomBytes(bytes).toString('hex').toUpperCase();
}

export function randomBase64(bytes: number): string {
  return randomBytes(bytes).toString('base64');
}

function base32(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE32[randomInt(32)];
  return out;
}

/** A key shaped like TTS's: `NNSXS.<key id>.<secret>`. */
export function newApiKey(): { id: string; key: string } {
  const id = base32(39);
  return { id, key: `NNSXS.${id}.${base32(52)}` };
}

/** RFC 3339 UTC with nanosecond digits, like Go's time marshalling. */
export function timestamp(date = new Date()): string {
  const iso = date.toISOString(); // …T09:26:53.512Z
  const extra = String(randomInt(1_000_000)).padStart(6, '0');
  return `${iso.slice(0, -1)}${extra}Z`;
}

/** A hex correlation id as in TTS error details. */
export function errorCorrelationId(): string {
  return randomBytes(16).toString('hex');
}
