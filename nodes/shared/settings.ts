import path from 'node:path';
import type { NodeAPI } from './red-types';
import { DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS } from '../../src/codec/create-codec';
import type { RetryPolicy } from '../../src/tts/api/retry';
import { registerRuntimeState } from '../../src/runtime';

/** Where and how much the durable inbox keeps (settings.js `ttsInbox`). */
export interface InboxSettings {
  directory: string;
  maxMessages: number;
  maxBytes: number;
  /** First and longest wait (ms) before a message a node handed back is fed again. */
  retryMin?: number;
  retryMax?: number;
}

/** Every runtime setting of this package (settings.js), checked and with its default applied. */
export interface TtsSettings {
  /** Time limit (ms) of decode scripts whose node sets none. */
  ttsUplinkDecodeTimeout: number;
  /** Time limit (ms) of downlink encoder scripts whose node sets none. */
  ttsDownlinkEncodeTimeout: number;
  /** Timeout (ms) of one request to TTS. */
  ttsDownlinkRequestTimeout: number;
  /** Overrides of the retry policy for TTS API calls (only the keys given). */
  ttsDownlinkRetry: Partial<RetryPolicy>;
  /** Readings held in memory while the store is unreachable. */
  ttsStoreQueueLimit: number;
  /** How often (ms) bucket retention runs. */
  ttsRetentionInterval: number;
  /** How often (ms) devices are checked against their connection timeout. */
  ttsSweepInterval: number;
  /** The durable inbox behind tts-webhook-in, or false when acceptance is not durable. */
  ttsInbox: InboxSettings | false;
  /** New connections must send complete request headers within this (ms); 0 = no limit. */
  ttsHeadersTimeout: number;
}

export type TtsSettingName = keyof TtsSettings;

export const INBOX_DEFAULT_MAX_MESSAGES = 100_000;
export const INBOX_DEFAULT_MAX_BYTES = 256 * 1024 * 1024;
export const INBOX_DEFAULT_DIRECTORY = 'tts-inbox';

/** What a setting's check sees besides the value: relative paths resolve against the user directory. */
interface Context {
  userDir: string;
}

interface Spec<T> {
  defaultValue(context: Context): T;
  /** The checked value, or undefined when it is not acceptable (the default then applies). */
  parse(value: unknown, context: Context): T | undefined;
  /** What an acceptable value looks like, for the warning about one that is not. */
  expected: string;
}

/** A number from settings.js; numeric strings are accepted as well (env-driven settings files). */
function toNumber(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value.trim()) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

/** A number within [min, max], or undefined. */
export function numberIn(value: unknown, min: number, max = Number.POSITIVE_INFINITY): number | undefined {
  const n = toNumber(value);
  return n !== undefined && n >= min && n <= max ? n : undefined;
}

/** A number greater than zero, or undefined. */
export function positiveNumber(value: unknown): number | undefined {
  const n = toNumber(value);
  return n !== undefined && n > 0 ? n : undefined;
}

function scriptTimeout(): Spec<number> {
  return {
    defaultValue: () => DEFAULT_TIMEOUT_MS,
    parse: (value) => numberIn(value, 1, MAX_TIMEOUT_MS),
    expected: `a number of ms from 1 to ${MAX_TIMEOUT_MS}`,
  };
}

function positiveSetting(fallback: number, unit: string): Spec<number> {
  return { defaultValue: () => fallback, parse: positiveNumber, expected: `a positive number of ${unit}` };
}

const RETRY_KEYS = ['maxAttempts', 'baseDelayMs', 'maxDelayMs', 'maxRetryAfterMs'] as const;

function parseRetry(value: unknown): Partial<RetryPolicy> | undefined {
  if (!isRecord(value)) return undefined;
  const out: Partial<RetryPolicy> = {};
  for (const key of RETRY_KEYS) {
    if (value[key] === undefined) continue;
    const n = numberIn(value[key], 0);
    if (n === undefined) return undefined;
    out[key] = key === 'maxAttempts' ? Math.max(1, Math.floor(n)) : n;
  }
  return out;
}

function parseInbox(value: unknown, context: Context): InboxSettings | false | undefined {
  if (value === false) return false;
  if (value === true) return defaultInbox(context);
  if (!isRecord(value)) return undefined;
  const { directory, maxMessages, maxBytes, retryMin, retryMax } = value;
  if (directory !== undefined && (typeof directory !== 'string' || directory.trim() === '')) return undefined;
  const messages = maxMessages === undefined ? INBOX_DEFAULT_MAX_MESSAGES : numberIn(maxMessages, 1);
  const bytes = maxBytes === undefined ? INBOX_DEFAULT_MAX_BYTES : numberIn(maxBytes, 1);
  const waits = [retryMin, retryMax].map((v) => (v === undefined ? undefined : positiveNumber(v)));
  if (messages === undefined || bytes === undefined) return undefined;
  if (waits.some((w, i) => w === undefined && [retryMin, retryMax][i] !== undefined)) return undefined;
  return {
    directory: path.resolve(context.userDir, directory ?? INBOX_DEFAULT_DIRECTORY),
    maxMessages: Math.floor(messages),
    maxBytes: Math.floor(bytes),
    ...(waits[0] !== undefined ? { retryMin: waits[0] } : {}),
    ...(waits[1] !== undefined ? { retryMax: waits[1] } : {}),
  };
}

function defaultInbox(context: Context): InboxSettings {
  return {
    directory: path.resolve(context.userDir, INBOX_DEFAULT_DIRECTORY),
    maxMessages: INBOX_DEFAULT_MAX_MESSAGES,
    maxBytes: INBOX_DEFAULT_MAX_BYTES,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const SPECS: { [K in TtsSettingName]: Spec<TtsSettings[K]> } = {
  ttsUplinkDecodeTimeout: scriptTimeout(),
  ttsDownlinkEncodeTimeout: scriptTimeout(),
  ttsDownlinkRequestTimeout: positiveSetting(10_000, 'ms'),
  ttsDownlinkRetry: {
    defaultValue: () => ({}),
    parse: parseRetry,
    expected: `an object with numbers ≥ 0 for any of ${RETRY_KEYS.join(', ')}`,
  },
  ttsStoreQueueLimit: positiveSetting(10_000, 'readings'),
  ttsRetentionInterval: positiveSetting(60_000, 'ms'),
  ttsSweepInterval: positiveSetting(30_000, 'ms'),
  ttsInbox: {
    defaultValue: defaultInbox,
    parse: parseInbox,
    expected: 'false, or { directory?: string, maxMessages?: number ≥ 1, maxBytes?: number ≥ 1, retryMin?: ms, retryMax?: ms }',
  },
  ttsHeadersTimeout: {
    defaultValue: () => 10_000,
    parse: (value) => numberIn(value, 0),
    expected: 'a number of ms ≥ 0 (0: no limit)',
  },
};

export const SETTING_NAMES = Object.keys(SPECS) as TtsSettingName[];

type Lookup = (name: string) => unknown;

function contextOf(lookup: Lookup): Context {
  const userDir = lookup('userDir');
  return { userDir: typeof userDir === 'string' && userDir !== '' ? userDir : process.cwd() };
}

/** The checked value of one setting and, when the given value is not acceptable, why. */
export function resolveSetting<K extends TtsSettingName>(name: K, lookup: Lookup): { value: TtsSettings[K]; problem?: string } {
  const spec = SPECS[name] as Spec<TtsSettings[K]>;
  const context = contextOf(lookup);
  const raw = lookup(name);
  if (raw === undefined || raw === null || raw === '') return { value: spec.defaultValue(context) };
  const parsed = spec.parse(raw, context);
  if (parsed !== undefined) return { value: parsed };
  return { value: spec.defaultValue(context), problem: `settings.js ${name} must be ${spec.expected} (got ${JSON.stringify(raw)}): using the default` };
}

function lookupIn(RED: NodeAPI): Lookup {
  // RED.settings has a property for each key of settings.js; @types/node-red knows only a few.
  const settings = RED.settings as unknown as Record<string, unknown>;
  return (name) => settings[name];
}

const warned = new Set<string>();
registerRuntimeState('settings warnings', () => warned.clear());

/** One setting, read when a node starts (tests change settings between flows). */
export function setting<K extends TtsSettingName>(RED: NodeAPI, name: K): TtsSettings[K] {
  const { value, problem } = resolveSetting(name, lookupIn(RED));
  if (problem && !warned.has(problem)) {
    warned.add(problem);
    RED.log.warn(problem);
  }
  return value;
}

/** Every setting, checked. */
export function readSettings(RED: NodeAPI): TtsSettings {
  const out: Partial<Record<TtsSettingName, unknown>> = {};
  for (const name of SETTING_NAMES) out[name] = setting(RED, name);
  return out as TtsSettings;
}

/**
 * The `settings` option of `registerType` for the settings the editor reads (as placeholders).
 * Node-RED accepts only names that start with the node type in camel case.
 */
export function editorSettings(...names: TtsSettingName[]): Record<string, { value: unknown; exportable: true }> {
  const out: Record<string, { value: unknown; exportable: true }> = {};
  for (const name of names) out[name] = { value: SPECS[name].defaultValue({ userDir: '' }), exportable: true };
  return out;
}

/** A node's own script time limit when it sets one in range, else the setting's value. */
export function scriptTimeoutOf(configured: unknown, fallback: number): number {
  if (configured === undefined || configured === null || configured === '') return fallback;
  return numberIn(configured, 1, MAX_TIMEOUT_MS) ?? fallback;
}
