// What the nodes record in the event log, one function per site, so each node needs one line.
// The profile of an entry is the one serving the application (as the nodes select it), else the
// node's own profile, else '' (no profile).
import type { DownlinkResult } from '../downlink/downlink-sender';
import type { LifecycleReport } from '../downlink/lifecycle-tracker';
import { profileRegistry } from '../runtime';
import type { LifecycleEvent } from '../registry/registry';
import type { TtsEnvelope } from '../tts/envelope-types';
import { eventLog, type LogInput } from './event-log';

function profileFor(applicationId: string | undefined, fallbackId: string | undefined): string {
  const selected = applicationId !== undefined ? profileRegistry.select(applicationId, fallbackId) : undefined;
  return selected?.settings.id ?? fallbackId ?? '';
}

function ids(applicationId: string | undefined, deviceId: string | undefined): Pick<LogInput, 'applicationId' | 'deviceId'> {
  return { ...(applicationId ? { applicationId } : {}), ...(deviceId ? { deviceId } : {}) };
}

/** A webhook request accepted (its profile is known by then). */
export function logWebhookAccepted(envelope: TtsEnvelope, profileId: string): void {
  const detail: Record<string, string | number> = { type: envelope.type };
  if (envelope.f_port !== undefined) detail.f_port = envelope.f_port;
  if (envelope.f_cnt !== undefined) detail.f_cnt = envelope.f_cnt;
  eventLog.record({ kind: 'webhook', outcome: 'accepted', profile: profileId, ...ids(envelope.application_id, envelope.device_id), detail });
}

/** A webhook request refused; `message` is the receiver's text, which never holds a token. */
export function logWebhookRefused(refusal: { status: number; code: string; message: string }, fallbackProfileId: string | undefined, path: string): void {
  eventLog.record({
    kind: 'webhook',
    outcome: 'refused',
    error: true,
    profile: fallbackProfileId ?? '',
    reason: refusal.message,
    detail: { status: refusal.status, code: refusal.code, path },
  });
}

/** Device lifecycle events of one message, or of the offline sweep. */
export function logLifecycle(events: LifecycleEvent[], fallbackProfileId?: string): void {
  for (const e of events) {
    const d = e.device;
    const detail: Record<string, string | number> = {};
    if (e.location) {
      detail.source = e.location.source;
      detail.latitude = e.location.latitude;
      detail.longitude = e.location.longitude;
    }
    if (e.event === 'created') detail.bucket = d.bucket;
    eventLog.record({
      kind: 'provision',
      outcome: e.event,
      profile: d.profileId || profileFor(d.applicationId, fallbackProfileId),
      ...ids(d.applicationId, d.deviceId),
      device: d.id,
      at: e.at,
      ...(Object.keys(detail).length > 0 ? { detail } : {}),
    });
  }
}

/** Provisioning did not happen: skipped by the profile, or the store failed. */
export function logProvisionProblem(envelope: { application_id?: string; device_id?: string }, fallbackProfileId: string | undefined, outcome: 'skipped' | 'failed', reason: string): void {
  eventLog.record({
    kind: 'provision',
    outcome,
    error: outcome === 'failed',
    profile: profileFor(envelope.application_id, fallbackProfileId),
    ...ids(envelope.application_id, envelope.device_id),
    reason,
  });
}

/** A payload that could not be decoded. */
export function logDecodeError(tts: unknown, reason: string, detail: Record<string, string | number> = {}): void {
  const t = (tts && typeof tts === 'object' ? tts : {}) as { application_id?: unknown; device_id?: unknown; f_port?: unknown };
  const applicationId = typeof t.application_id === 'string' ? t.application_id : undefined;
  const deviceId = typeof t.device_id === 'string' ? t.device_id : undefined;
  eventLog.record({
    kind: 'decode',
    outcome: 'failed',
    error: true,
    profile: profileFor(applicationId, undefined),
    ...ids(applicationId, deviceId),
    reason,
    detail: { ...detail, ...(typeof t.f_port === 'number' ? { f_port: t.f_port } : {}) },
  });
}

/** TTS accepted a downlink request (push/replace). */
export function logDownlinkRequested(result: DownlinkResult, fallbackProfileId: string | undefined): void {
  eventLog.record({
    kind: 'downlink',
    outcome: 'requested',
    profile: profileFor(result.applicationId, fallbackProfileId),
    ...ids(result.applicationId, result.deviceId),
    ...(result.device ? { device: result.device } : {}),
    detail: { queue: result.queue, f_port: result.fPort, confirmed: result.confirmed, data: result.data, correlation_id: result.correlationId },
  });
}

/** A lifecycle step of a downlink (queued, sent, ack, nack, failed, unconfirmed). */
export function logDownlinkOutcome(report: LifecycleReport, fallbackProfileId: string | undefined): void {
  const d = report.downlink;
  const failed = report.event === 'failed' || report.event === 'nack' || report.event === 'unconfirmed';
  const reason = report.error ? [report.error.name, report.error.message].filter(Boolean).join(': ') : undefined;
  eventLog.record({
    kind: 'downlink',
    outcome: report.event,
    ...(failed ? { error: true } : {}),
    profile: profileFor(d.applicationId, fallbackProfileId),
    ...ids(d.applicationId, d.deviceId),
    ...(d.device ? { device: d.device } : {}),
    ...(reason ? { reason } : {}),
    at: report.at,
    detail: { elapsed_ms: report.elapsedMs, correlation_id: d.correlationId, ...(report.fCnt !== undefined ? { f_cnt: report.fCnt } : {}) },
  });
}

/** Who a downlink message addresses, as far as it says (msg.device, else msg.tts). */
function addressOf(msg: unknown): { applicationId?: string; deviceId?: string; device?: string } {
  const m = (msg ?? {}) as { device?: unknown; tts?: { application_id?: unknown; device_id?: unknown } };
  if (typeof m.device === 'string') {
    const slash = m.device.indexOf('/');
    return slash > 0 ? { applicationId: m.device.slice(0, slash), deviceId: m.device.slice(slash + 1) } : { device: m.device };
  }
  const d = m.device as { id?: unknown; applicationId?: unknown; deviceId?: unknown } | undefined;
  if (d && typeof d === 'object' && typeof d.applicationId === 'string' && typeof d.deviceId === 'string') {
    return { applicationId: d.applicationId, deviceId: d.deviceId, ...(typeof d.id === 'string' ? { device: d.id } : {}) };
  }
  const t = m.tts;
  if (t && typeof t === 'object' && typeof t.application_id === 'string' && typeof t.device_id === 'string') return { applicationId: t.application_id, deviceId: t.device_id };
  return {};
}

/** A downlink not sent: bad input, or TTS refused it (the error texts never hold the key). */
export function logDownlinkRefused(msg: unknown, fallbackProfileId: string | undefined, reason: string): void {
  const target = addressOf(msg);
  eventLog.record({
    kind: 'downlink',
    outcome: 'refused',
    error: true,
    profile: profileFor(target.applicationId, fallbackProfileId),
    ...ids(target.applicationId, target.deviceId),
    ...(target.device ? { device: target.device } : {}),
    reason,
  });
}
