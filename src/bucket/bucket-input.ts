// Parsing of tts-bucket's config and message properties.
import { StoreInputError } from '../store/errors';
import type { Retention } from '../store/types';

/** A time from msg.from/msg.to: ms since the epoch, an ISO string or a Date. */
export function parseTime(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  let t: number;
  if (typeof value === 'number') t = value;
  else if (value instanceof Date) t = value.getTime();
  else if (typeof value === 'string') t = /^-?\d+$/.test(value.trim()) ? Number(value) : Date.parse(value);
  else t = Number.NaN;
  if (!Number.isFinite(t)) throw new StoreInputError(`msg.${name} is not a time (use an ISO string, milliseconds or a Date)`);
  return t;
}

export function parseCount(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isInteger(n) || n < 1) throw new StoreInputError(`${name} must be a whole number ≥ 1`);
  return n;
}

export function bool(value: unknown): boolean {
  return value === true || value === 'true';
}

const DAY_MS = 86_400_000;

/** Retention from the node's config: max age in days (decimals allowed), max rows. */
export function retentionOf(maxAge: unknown, maxRows: unknown): Retention | undefined {
  const retention: Retention = {};
  if (maxAge !== undefined && maxAge !== '') {
    const days = Number(maxAge);
    if (!Number.isFinite(days) || days <= 0) throw new StoreInputError('max age must be a number of days > 0');
    retention.maxAge = Math.round(days * DAY_MS);
  }
  const rows = parseCount(maxRows, 'max rows');
  if (rows !== undefined) retention.maxRows = rows;
  return Object.keys(retention).length > 0 ? retention : undefined;
}
