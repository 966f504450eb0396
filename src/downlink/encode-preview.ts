import { isValidFPort } from '../profile/profile-settings';
import { LORAWAN_MAX_DOWNLINK_BYTES } from '../tts/api/downlink-validation';
import { DownlinkEncoder, DOWNLINK_CODECS, type DownlinkCodecKind } from './encoder';
import { DownlinkEncodeError, DownlinkInputError } from './errors';
import type { RawFormat } from './raw-payload';

/** What the editor's test tool sends. */
export interface PreviewRequest {
  codec?: unknown;
  script?: unknown;
  rawFormat?: unknown;
  /** The data as JSON text (what a user types), or an already parsed value. */
  payload?: unknown;
  fPort?: unknown;
  timeout?: unknown;
}

export type PreviewResult =
  | {
      ok: true;
      fPort: number;
      /** Bytes as base64, hex and numbers (absent when left for TTS's formatter). */
      frm_payload?: string;
      hex?: string;
      bytes?: number[];
      decoded_payload?: Record<string, unknown>;
      size?: number;
      maxBytes: number;
      /** The guard-rail the result would trip before sending, if any. */
      problem?: string;
      warnings: string[];
      logs: string[];
    }
  /** The encoder failed on this data (script error, bad data): shown in the dialog. */
  | { ok: false; error: string; line?: number; column?: number; logs?: string[]; badRequest?: false }
  /** The request itself is malformed (answered with HTTP 400). */
  | { ok: false; error: string; badRequest: true };

const RAW_FORMATS: readonly RawFormat[] = ['auto', 'base64', 'hex'];

/** Runs the node's encoder on sample data, as the runtime would, for the edit dialog's test tool. */
export function previewEncode(req: PreviewRequest): PreviewResult {
  const codec = (DOWNLINK_CODECS as readonly unknown[]).includes(req.codec) ? (req.codec as DownlinkCodecKind) : undefined;
  if (!codec) return { ok: false, badRequest: true, error: `codec must be one of ${DOWNLINK_CODECS.join(', ')}` };
  const rawFormat = (RAW_FORMATS as readonly unknown[]).includes(req.rawFormat) ? (req.rawFormat as RawFormat) : 'auto';
  let data: unknown = req.payload;
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch (err) {
      // Raw codec: a bare base64 or hex string typed without quotes is meant as that string.
      if (codec !== 'raw') return { ok: false, error: `test data is not valid JSON: ${(err as Error).message}` };
    }
  }
  const fPortIn = req.fPort === undefined || req.fPort === '' ? 1 : Number(req.fPort);
  if (!isValidFPort(fPortIn)) return { ok: false, badRequest: true, error: 'FPort must be a whole number from 1 to 223' };
  const timeout = Number(req.timeout);
  try {
    const encoder = new DownlinkEncoder({
      codec,
      script: typeof req.script === 'string' ? req.script : '',
      rawFormat,
      ...(Number.isFinite(timeout) && timeout > 0 ? { timeout } : {}),
      filename: 'encoder.js',
    });
    const { payload, warnings, logs } = encoder.encode({ data, fPort: fPortIn, device: { applicationId: 'test-app', deviceId: 'test-device' } });
    const fPort = payload.fPort ?? fPortIn;
    const problems: string[] = [];
    if (!isValidFPort(fPort)) problems.push(`FPort ${JSON.stringify(fPort)} is outside 1-223`);
    if (payload.kind === 'decoded') {
      return { ok: true, fPort, decoded_payload: payload.decoded, maxBytes: LORAWAN_MAX_DOWNLINK_BYTES, ...(problems.length ? { problem: problems.join('; ') } : {}), warnings, logs };
    }
    const buf = Buffer.from(payload.bytes);
    if (buf.length > LORAWAN_MAX_DOWNLINK_BYTES) problems.push(`payload is ${buf.length} bytes, more than the ${LORAWAN_MAX_DOWNLINK_BYTES}-byte LoRaWAN downlink maximum`);
    if (buf.length === 0) problems.push('the payload is empty');
    return {
      ok: true,
      fPort,
      frm_payload: buf.toString('base64'),
      hex: buf.toString('hex').toUpperCase(),
      bytes: [...buf],
      size: buf.length,
      maxBytes: LORAWAN_MAX_DOWNLINK_BYTES,
      ...(problems.length ? { problem: problems.join('; ') } : {}),
      warnings,
      logs,
    };
  } catch (err) {
    if (err instanceof DownlinkEncodeError) return { ok: false, error: err.message, ...(err.line !== undefined ? { line: err.line, column: err.column } : {}), logs: err.logs };
    if (err instanceof DownlinkInputError) return { ok: false, error: err.message };
    return { ok: false, error: (err as Error).message };
  }
}
