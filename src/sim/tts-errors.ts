import type { TtsErrorDetails } from '../tts/types';
import { GRPC_HTTP_STATUS } from '../tts/api/errors';
import { errorCorrelationId } from './ids';

/** An error the simulated API answers with: HTTP status + TTS's google.rpc.Status body. */
export class SimApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: { code: number; message: string; details: Array<TtsErrorDetails & { '@type': string }> },
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
  }
}


/**
 * Builds an error the way TTS formats them: message `error:<namespace>:<name> (<text>)`, where
 * the text is message_format with {attributes} filled in.
 */
export function ttsError(code: number, namespace: string, name: string, messageFormat: string, attributes?: Record<string, unknown>): SimApiError {
  const text = messageFormat.replace(/\{(\w+)\}/g, (whole, key: string) => (attributes && key in attributes ? String(attributes[key]) : whole));
  const detail: TtsErrorDetails & { '@type': string } = {
    '@type': 'type.googleapis.com/ttn.lorawan.v3.ErrorDetails',
    namespace,
    name,
    message_format: messageFormat,
    correlation_id: errorCorrelationId(),
    code,
  };
  if (attributes && Object.keys(attributes).length > 0) detail.attributes = attributes;
  return new SimApiError(GRPC_HTTP_STATUS[code] ?? 500, { code, message: `error:${namespace}:${name} (${text})`, details: [detail] });
}

/** The ErrorDetails object a downlink_failed message carries. */
export function failureDetails(namespace: string, name: string, messageFormat: string, attributes?: Record<string, unknown>, code = 3): TtsErrorDetails {
  const details: TtsErrorDetails = { namespace, name, message_format: messageFormat, correlation_id: errorCorrelationId(), code };
  if (attributes) details.attributes = attributes;
  return details;
}

export const errors = {
  unauthenticated: () => ttsError(16, 'pkg/auth', 'unauthenticated', 'unauthenticated'),
  invalidAuthorization: () => ttsError(16, 'pkg/auth', 'invalid_authorization', 'invalid authorization'),
  apiKeyNotFound: () => ttsError(16, 'pkg/identityserver/store', 'api_key_not_found', 'API key not found'),
  noApplicationRights: (applicationId: string) =>
    ttsError(7, 'pkg/auth/rights', 'no_application_rights', 'no rights for application `{uid}`', { uid: applicationId }),
  insufficientRights: (missing: string[]) =>
    ttsError(7, 'pkg/auth/rights', 'insufficient_application_rights', 'insufficient rights for application', { missing: missing.join(',') }),
  webhookNotFound: () => ttsError(5, 'pkg/applicationserver/io/web', 'webhook_not_found', 'webhook not found'),
  deviceNotFound: (deviceId: string) => ttsError(5, 'pkg/applicationserver', 'device_not_found', 'device `{device_uid}` not found', { device_uid: deviceId }),
  routeNotFound: (path: string) => ttsError(5, 'pkg/webhandlers', 'route_not_found', 'route `{route}` not found', { route: path }),
  decodeBody: (reason: string) => ttsError(3, 'pkg/applicationserver/io/web', 'decode_body', 'decode body: {reason}', { reason }),
  validateBody: (field: string, reason: string) =>
    ttsError(3, 'pkg/applicationserver/io/web', 'validate_body', 'invalid `{field}`: {reason}', { field, reason }),
  noFPort: () => ttsError(3, 'pkg/applicationserver', 'no_f_port', 'no FPort'),
  noPayload: () => ttsError(3, 'pkg/applicationserver', 'no_payload', 'no payload'),
  noDeviceSession: () => ttsError(9, 'pkg/applicationserver', 'no_device_session', 'no device session'),
  downlinkTooLong: (length: number, max: number) =>
    ttsError(3, 'pkg/networkserver', 'application_downlink_too_long', 'application downlink payload length `{length}` exceeds maximum `{max}`', { length, max }),
  queueCapacity: (capacity: number) =>
    ttsError(8, 'pkg/networkserver', 'downlink_queue_capacity', 'downlink queue capacity of `{capacity}` exceeded', { capacity }),
  rateLimited: (retrySeconds: number, limit: number) => {
    const err = ttsError(8, 'pkg/ratelimit', 'rate_limit_exceeded', 'rate limit of `{rate}` accesses per minute exceeded for resource `{key}`', { rate: limit, key: 'as:down' });
    Object.assign(err.headers, {
      'x-rate-limit-limit': String(limit),
      'x-rate-limit-available': '0',
      'x-rate-limit-reset': String(retrySeconds),
      'x-rate-limit-retry': String(retrySeconds),
    });
    return err;
  },
  unavailable: () => ttsError(14, 'pkg/applicationserver', 'unavailable', 'service unavailable'),
  internal: () => ttsError(13, 'pkg/applicationserver', 'internal', 'internal error'),
};
