import { PRIORITIES, type Priority } from '../tts/types';
import { isTtsId } from '../tts/protocol';

/** What flows.json stores for a tts-profile (strings where the editor saves text inputs). */
export interface ProfileConfig {
  name?: string;
  applicationId?: string;
  server?: string;
  webhookId?: string;
  autoProvision?: boolean | string;
  connectionTimeout?: number | string;
  devicePrefix?: string;
  bucketPrefix?: string;
  assetType?: string;
  assetGroup?: string;
  updateLocation?: boolean | string;
  saveMetadata?: boolean | string;
  initDownlink?: boolean | string;
  downlinkData?: string;
  confirmed?: boolean | string;
  queue?: string;
  priority?: string;
  fPort?: number | string;
  backfill?: boolean | string;
  backfillMaxHours?: number | string;
}

/** A profile's settings, parsed and validated. */
export interface ProfileSettings {
  id: string;
  name: string;
  /** '' marks the Default profile, used for applications without a profile of their own. */
  applicationId: string;
  /** Normalised base URL (`https://eu1.cloud.thethings.network`), '' when not set. */
  server: string;
  webhookId: string;
  autoProvision: boolean;
  /** Minutes without a message before a device counts as offline. */
  connectionTimeout: number;
  devicePrefix: string;
  bucketPrefix: string;
  assetType: string;
  assetGroup: string;
  updateLocation: boolean;
  saveMetadata: boolean;
  initDownlink: boolean;
  /** Parsed `downlinkData` JSON; undefined when initDownlink is off or the text is empty. */
  downlinkData: unknown;
  confirmed: boolean;
  queue: 'push' | 'replace';
  priority: Priority;
  fPort: number;
  /** After downtime, fetch the uplinks TTS's Storage Integration kept for the gap. */
  backfill: boolean;
  /** Longest gap backfilled, in hours. */
  backfillMaxHours: number;
}

/** TTS Cloud keeps stored messages 30 days (Sandbox 24 hours): nothing older can be fetched. */
export const BACKFILL_MAX_HOURS_LIMIT = 720;

export const PROFILE_DEFAULTS = {
  autoProvision: true,
  connectionTimeout: 60,
  devicePrefix: '',
  bucketPrefix: '',
  assetType: '',
  assetGroup: '',
  updateLocation: true,
  saveMetadata: true,
  initDownlink: false,
  confirmed: false,
  queue: 'push',
  priority: 'NORMAL',
  fPort: 1,
  backfill: false,
  backfillMaxHours: 24,
} as const;

export { isTtsId, TTS_ID_MAX, TTS_ID_PATTERN } from '../tts/protocol';

/** Accepts `eu1.cloud.thethings.network`, `https://host[:port][/]`, returns `https://host[:port]`. */
export function normaliseServerUrl(input: string): { url: string } | { error: string } {
  const text = input.trim();
  if (text === '') return { url: '' };
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`;
  let parsed: URL;
  try {
    parsed = new URL(withScheme);
  } catch {
    return { error: `"${text}" is not a server address (expected e.g. eu1.cloud.thethings.network)` };
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    return { error: `server URL must use https (or http), not ${parsed.protocol.replace(':', '')}` };
  }
  if (parsed.username || parsed.password) return { error: 'server URL must not contain user or password' };
  if (parsed.search || parsed.hash) return { error: 'server URL must not contain a query or fragment' };
  const pathname = parsed.pathname.replace(/\/+$/, '');
  return { url: `${parsed.protocol}//${parsed.host}${pathname}` };
}

function toBool(value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'boolean') return value;
  return value === 'true';
}

function toInt(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  return Number.isInteger(n) ? n : NaN;
}

export function isPriority(value: unknown): value is Priority {
  return typeof value === 'string' && (PRIORITIES as readonly string[]).includes(value);
}

export function isValidFPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 223;
}

/**
 * Parses a tts-profile's stored config. Invalid fields are reported (one message each) and fall
 * back to their defaults, so a profile with a typo still serves the fields that are right.
 */
export function parseProfileConfig(id: string, config: ProfileConfig): { settings: ProfileSettings; errors: string[] } {
  const errors: string[] = [];
  const applicationId = (config.applicationId ?? '').trim();
  if (applicationId !== '' && !isTtsId(applicationId)) {
    errors.push(`application ID "${applicationId}" is not a valid TTS ID (lower-case letters, digits and dashes, 3-36 chars)`);
  }
  const server = normaliseServerUrl(config.server ?? '');
  if ('error' in server) errors.push(server.error);
  const webhookId = (config.webhookId ?? '').trim();
  if (webhookId !== '' && !isTtsId(webhookId)) errors.push(`webhook ID "${webhookId}" is not a valid TTS ID`);

  let connectionTimeout: number = PROFILE_DEFAULTS.connectionTimeout;
  const timeout = toInt(config.connectionTimeout);
  if (timeout !== undefined) {
    if (Number.isNaN(timeout) || timeout < 1) errors.push('connection timeout must be a whole number of minutes, at least 1');
    else connectionTimeout = timeout;
  }

  const initDownlink = toBool(config.initDownlink, PROFILE_DEFAULTS.initDownlink);
  let downlinkData: unknown;
  const dataText = (config.downlinkData ?? '').trim();
  if (dataText !== '') {
    try {
      downlinkData = JSON.parse(dataText);
    } catch (err) {
      errors.push(`initial downlink data is not valid JSON: ${(err as Error).message}`);
    }
  }
  if (!initDownlink) downlinkData = undefined;

  let queue: 'push' | 'replace' = PROFILE_DEFAULTS.queue;
  if (config.queue === 'push' || config.queue === 'replace') queue = config.queue;
  else if (config.queue) errors.push(`queue must be "push" or "replace", not "${config.queue}"`);

  let priority: Priority = PROFILE_DEFAULTS.priority;
  if (isPriority(config.priority)) priority = config.priority;
  else if (config.priority) errors.push(`priority must be one of ${PRIORITIES.join(', ')}`);

  let fPort: number = PROFILE_DEFAULTS.fPort;
  const port = toInt(config.fPort);
  if (port !== undefined) {
    if (!isValidFPort(port)) errors.push('default FPort must be a whole number from 1 to 223');
    else fPort = port;
  }

  let backfillMaxHours: number = PROFILE_DEFAULTS.backfillMaxHours;
  const hours = toInt(config.backfillMaxHours);
  if (hours !== undefined) {
    if (Number.isNaN(hours) || hours < 1 || hours > BACKFILL_MAX_HOURS_LIMIT) errors.push(`backfill maximum gap must be a whole number of hours from 1 to ${BACKFILL_MAX_HOURS_LIMIT}`);
    else backfillMaxHours = hours;
  }

  const settings: ProfileSettings = {
    id,
    name: config.name ?? '',
    applicationId,
    server: 'url' in server ? server.url : '',
    webhookId,
    autoProvision: toBool(config.autoProvision, PROFILE_DEFAULTS.autoProvision),
    connectionTimeout,
    devicePrefix: config.devicePrefix ?? PROFILE_DEFAULTS.devicePrefix,
    bucketPrefix: config.bucketPrefix ?? PROFILE_DEFAULTS.bucketPrefix,
    assetType: config.assetType ?? PROFILE_DEFAULTS.assetType,
    assetGroup: config.assetGroup ?? PROFILE_DEFAULTS.assetGroup,
    updateLocation: toBool(config.updateLocation, PROFILE_DEFAULTS.updateLocation),
    saveMetadata: toBool(config.saveMetadata, PROFILE_DEFAULTS.saveMetadata),
    initDownlink,
    downlinkData,
    confirmed: toBool(config.confirmed, PROFILE_DEFAULTS.confirmed),
    queue,
    priority,
    fPort,
    backfill: toBool(config.backfill, PROFILE_DEFAULTS.backfill),
    backfillMaxHours,
  };
  return { settings, errors };
}
