import type { TtsErrorDetails } from '../types';
import { TtsError, type TtsErrorInit } from '../../util/errors';

/** gRPC code → HTTP status, as TTS's HTTP gateway maps them (tts-protocol.md §3.3). */
export const GRPC_HTTP_STATUS: Readonly<Record<number, number>> = { 3: 400, 5: 404, 7: 403, 8: 429, 9: 400, 10: 409, 13: 500, 14: 503, 16: 401 };

/** Why a TTS API call failed; `http` carries TTS's status and error body. */
export type TtsApiErrorKind = 'http' | 'timeout' | 'network' | 'aborted' | 'invalid-request';

/** The JSON body TTS answers errors with (a google.rpc.Status, tts-protocol.md §3.3). */
export interface TtsErrorBody {
  code?: number;
  message?: string;
  details?: TtsErrorDetails[];
}

export interface TtsApiErrorInit {
  kind: TtsApiErrorKind;
  /** What was attempted, e.g. "downlink push for farm-sensors/valve-12". */
  operation: string;
  status?: number;
  body?: TtsErrorBody;
  /** Low-level error code from Node (ECONNREFUSED, ECONNRESET …) for network errors. */
  causeCode?: string;
  attempts: number;
  retryAfterMs?: number;
  /** Strings that must never appear in the message (API keys, tokens). */
  secrets?: readonly string[];
}

/**
 * A failed TTS API call, shaped for people: the message names the operation, the HTTP status and
 * TTS's own error name and text. It deliberately holds no reference to the axios error or the
 * request config, whose headers carry the API key.
 */
export class TtsApiError extends TtsError {
  readonly kind: TtsApiErrorKind;
  readonly operation: string;
  readonly status?: number;
  /** gRPC code from the body (3 InvalidArgument, 5 NotFound, 16 Unauthenticated …). */
  readonly grpcCode?: number;
  /** TTS's error name (`no_f_port`, `api_key_not_found` …) from the first ErrorDetails. */
  readonly ttsName?: string;
  readonly ttsNamespace?: string;
  readonly ttsMessage?: string;
  readonly details: TtsErrorDetails[];
  readonly causeCode?: string;
  readonly attempts: number;
  readonly retryAfterMs?: number;

  constructor(init: TtsApiErrorInit) {
    const detail = init.body?.details?.find((d) => typeof d?.name === 'string');
    const secrets = init.secrets ?? [];
    super(redact(describe(init, detail), secrets), errorInit(init.kind));
    this.kind = init.kind;
    this.operation = redact(init.operation, secrets);
    this.status = init.status;
    this.grpcCode = typeof init.body?.code === 'number' ? init.body.code : undefined;
    this.ttsName = detail?.name;
    this.ttsNamespace = detail?.namespace;
    this.ttsMessage = init.body?.message !== undefined ? redact(String(init.body.message), secrets) : undefined;
    this.details = (init.body?.details ?? []).map((d) => JSON.parse(redact(JSON.stringify(d), secrets)) as TtsErrorDetails);
    this.causeCode = init.causeCode;
    this.attempts = init.attempts;
    this.retryAfterMs = init.retryAfterMs;
  }

  override publicDetails(): Record<string, string | number | undefined> {
    return { status: this.status, ttsName: this.ttsName };
  }

  override statusReason(): string {
    return this.status ? `HTTP ${this.status}` : this.kind;
  }

  /** Plain data for msg.error or an admin route's answer (no stack, no secrets). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      message: this.message,
      kind: this.kind,
      status: this.status,
      code: this.code,
      grpcCode: this.grpcCode,
      ttsName: this.ttsName,
      details: this.details,
      attempts: this.attempts,
    };
  }
}

/** A failed call to TTS is a bad gateway for whoever asked us, whatever the kind. */
function errorInit(kind: TtsApiErrorKind): TtsErrorInit {
  const statusKey = kind === 'http' ? 'refused' : kind === 'timeout' || kind === 'network' ? 'unavailable' : kind === 'aborted' ? 'failed' : 'invalid';
  return { code: `tts_${kind.replace('-', '_')}`, httpStatus: 502, statusKey };
}

function describe(init: TtsApiErrorInit, detail: TtsErrorDetails | undefined): string {
  const tries = init.attempts > 1 ? ` after ${init.attempts} attempts` : '';
  switch (init.kind) {
    case 'timeout':
      return `TTS ${init.operation} timed out${tries}`;
    case 'network':
      return `TTS ${init.operation} failed: cannot reach the server (${init.causeCode ?? 'network error'})${tries}`;
    case 'aborted':
      return `TTS ${init.operation} was cancelled`;
    case 'invalid-request':
      return `TTS ${init.operation} not sent: ${init.body?.message ?? 'invalid request'}`;
    case 'http': {
      const status = `HTTP ${init.status}${statusHint(init.status)}`;
      const ttsText = init.body?.message ? `: ${init.body.message}` : '';
      const name = detail?.name && !String(init.body?.message ?? '').includes(detail.name) ? ` [${detail.name}]` : '';
      return `TTS ${init.operation} failed with ${status}${ttsText}${name}${tries}`;
    }
  }
}

function statusHint(status: number | undefined): string {
  switch (status) {
    case 401:
      return ' (API key missing, unknown or invalid)';
    case 403:
      return ' (API key lacks the rights for this)';
    case 404:
      return ' (not found)';
    case 406:
      return ' (webhook is paused)';
    case 429:
      return ' (rate limited)';
    default:
      return '';
  }
}

/** Replaces every occurrence of each secret (and of its distinctive parts) with "***". */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret || secret.length < 4) continue;
    out = out.split(secret).join('***');
    // An NNSXS key is "NNSXS.<id>.<secret>": the secret part alone must not leak either.
    for (const part of secret.split('.')) if (part.length >= 16) out = out.split(part).join('***');
  }
  return out;
}
