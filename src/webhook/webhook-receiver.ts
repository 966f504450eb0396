import { parseApplicationUp, type TtsEnvelope } from '../tts/envelope';
import { isTtsError, TtsError } from '../util/errors';
import type { ActiveProfile, ProfileRegistry } from '../profile/profile-registry';
import { bearerTokenOf, digestsEqual, tokenDigest } from './bearer-token';
import { jsonLimitBroken } from './json-limits';
import { BodyError, readJsonBodyText, type WebhookRequest } from './request-body';

export type RejectionCode =
  | 'missing_token'
  | 'unknown_token'
  | 'wrong_profile_token'
  | 'no_profile'
  | 'profile_conflict'
  | 'invalid_message'
  | 'message_too_complex'
  | BodyError['code'];

export interface Accepted {
  accepted: true;
  envelope: TtsEnvelope;
  profile: ActiveProfile;
  /** The body as text, for the durable inbox. */
  text: string;
}

export interface Rejected {
  accepted: false;
  status: number;
  code: RejectionCode;
  /** Safe to show the caller and to log: never contains a token. */
  message: string;
  headers?: Record<string, string>;
}

export type WebhookOutcome = Accepted | Rejected;

export interface ReceiverOptions {
  registry: ProfileRegistry;
  /** The node's configured profile, used when it is a Default profile. */
  fallbackProfileId?: string;
  maxBodyBytes: number;
  /** When the message was accepted (ms): the received_at of messages that carry none. */
  now?: number;
}

const UNAUTHORIZED_HEADERS = { 'WWW-Authenticate': 'Bearer realm="tts-webhook"' };

function reject(status: number, code: RejectionCode, message: string, headers?: Record<string, string>): Rejected {
  return { accepted: false, status, code, message, headers };
}

// Each profile's token is hashed once, not on every request.
const digests = new WeakMap<ActiveProfile, Buffer | null>();

function digestOf(profile: ActiveProfile): Buffer | null {
  let digest = digests.get(profile);
  if (digest === undefined) {
    digest = profile.webhookToken === '' ? null : tokenDigest(profile.webhookToken);
    digests.set(profile, digest);
  }
  return digest;
}

function matches(presented: Buffer, profile: ActiveProfile): boolean {
  const expected = digestOf(profile);
  return expected !== null && digestsEqual(presented, expected);
}

/** True when the token belongs to any deployed profile; checks all of them, in constant time each. */
function matchesAnyProfile(presented: Buffer, profiles: ActiveProfile[]): boolean {
  let matched = false;
  for (const profile of profiles) {
    if (matches(presented, profile)) matched = true;
  }
  return matched;
}

/**
 * A parsed body as a TTS envelope: shape limits first (nothing recursive has looked at it yet),
 * then the message itself. Throws InvalidTtsMessage or JsonLimitError with the reason.
 */
export function envelopeOf(value: unknown, now: number): TtsEnvelope {
  const broken = jsonLimitBroken(value);
  if (broken) throw new JsonLimitError(broken);
  return parseApplicationUp(value, now);
}

/** A body beyond the shape limits of json-limits.ts. */
export class JsonLimitError extends TtsError {
  constructor(reason: string) {
    super(`not a TTS message: ${reason}`, { code: 'message_too_complex', httpStatus: 422, statusKey: 'invalid' });
    this.name = 'JsonLimitError';
  }
}

/**
 * Authenticates, reads and validates one webhook request, and picks its profile. Order matters:
 * a token that belongs to no profile is refused before the body is read, so unauthenticated
 * callers cannot make us parse anything.
 */
export async function receiveWebhook(req: WebhookRequest, options: ReceiverOptions): Promise<WebhookOutcome> {
  const { registry } = options;
  const token = bearerTokenOf(req.headers.authorization);
  if (token === undefined) {
    return reject(401, 'missing_token', 'missing "Authorization: Bearer <token>" header', UNAUTHORIZED_HEADERS);
  }
  const presented = tokenDigest(token);
  if (!matchesAnyProfile(presented, registry.all())) {
    return reject(401, 'unknown_token', 'the bearer token matches no profile', UNAUTHORIZED_HEADERS);
  }

  let envelope: TtsEnvelope;
  let text: string;
  try {
    const body = await readJsonBodyText(req, options.maxBodyBytes);
    text = body.text;
    envelope = envelopeOf(body.value, options.now ?? Date.now());
  } catch (err) {
    // Bad bodies and messages are the caller's: answered with their own status, code and text.
    if (isTtsError(err) && err.statusKey === 'invalid') return reject(err.httpStatus, err.code, err.message);
    throw err;
  }

  const profile = registry.select(envelope.application_id, options.fallbackProfileId);
  if (!profile) {
    const own = registry.all().filter((p) => p.settings.applicationId === envelope.application_id);
    const candidates = own.length > 0 ? own : registry.all().filter((p) => p.settings.applicationId === '');
    const conflict = candidates.length > 1 ? registry.conflictFor(candidates[0]) : undefined;
    if (conflict) return reject(403, 'profile_conflict', `cannot choose a profile: ${conflict}`);
    return reject(403, 'no_profile', `no profile covers application "${envelope.application_id}" and there is no Default profile`);
  }
  if (!matches(presented, profile)) {
    return reject(401, 'wrong_profile_token', `the bearer token is not the one of the profile for application "${envelope.application_id}"`, UNAUTHORIZED_HEADERS);
  }
  return { accepted: true, envelope, profile, text };
}
