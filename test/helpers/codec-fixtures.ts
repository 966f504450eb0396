import fs from 'node:fs';
import path from 'node:path';

/** Source of a codec script in test/codec/fixtures (copied beside the compiled tests). */
export function fixture(name: string): string {
  return fs.readFileSync(path.join(__dirname, '..', 'codec', 'fixtures', name), 'utf8');
}

export function b64(text: string): number[] {
  return [...Buffer.from(text, 'base64')];
}

export function hex(text: string): number[] {
  return [...Buffer.from(text.replace(/\s+/g, ''), 'hex')];
}
