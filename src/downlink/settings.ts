import { isValidFPort, type ProfileSettings } from '../profile/profile-settings';
import { PRIORITIES, type Priority } from '../tts/types';
import type { QueueOperation } from '../tts/api/api-types';
import { DownlinkInputError } from './errors';

/** How one downlink is queued. */
export interface DownlinkSettings {
  fPort: number;
  confirmed: boolean;
  priority: Priority;
  queue: QueueOperation;
}

/** The per-message overrides as they arrive on msg (any type: checked here). */
export interface MessageOverrides {
  fPort?: unknown;
  confirmed?: unknown;
  priority?: unknown;
  queue?: unknown;
}

export interface ResolvedSettings extends DownlinkSettings {
  /** True when msg.fPort chose the port (it then wins over a port the encoder returns). */
  fPortFromMessage: boolean;
}

const given = (value: unknown): boolean => value !== undefined && value !== null && value !== '';

function parseFPort(value: unknown): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value.trim()) : value;
  if (!isValidFPort(n)) throw new DownlinkInputError(`msg.fPort must be a whole number from 1 to 223 (got ${JSON.stringify(value)})`);
  return n;
}

function parseConfirmed(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new DownlinkInputError(`msg.confirmed must be true or false (got ${JSON.stringify(value)})`);
}

/** A priority name (any case) or its number 0 (LOWEST) … 6 (HIGHEST), as TTS accepts enums. */
export function parsePriority(value: unknown, what = 'msg.priority'): Priority {
  if (typeof value === 'string') {
    const name = value.trim().toUpperCase();
    if ((PRIORITIES as readonly string[]).includes(name)) return name as Priority;
  }
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < PRIORITIES.length) return PRIORITIES[value];
  throw new DownlinkInputError(`${what} must be one of ${PRIORITIES.join(', ')} (or 0-6), not ${JSON.stringify(value)}`);
}

function parseQueue(value: unknown): QueueOperation {
  if (value === 'push' || value === 'replace') return value;
  throw new DownlinkInputError(`msg.queue must be "push" or "replace" (got ${JSON.stringify(value)})`);
}

/** The profile's downlink settings with the message's overrides applied (each one checked). */
export function resolveSettings(profile: Pick<ProfileSettings, 'fPort' | 'confirmed' | 'priority' | 'queue'>, overrides: MessageOverrides): ResolvedSettings {
  return {
    fPort: given(overrides.fPort) ? parseFPort(overrides.fPort) : profile.fPort,
    fPortFromMessage: given(overrides.fPort),
    confirmed: given(overrides.confirmed) ? parseConfirmed(overrides.confirmed) : profile.confirmed,
    priority: given(overrides.priority) ? parsePriority(overrides.priority) : profile.priority,
    queue: given(overrides.queue) ? parseQueue(overrides.queue) : profile.queue,
  };
}
