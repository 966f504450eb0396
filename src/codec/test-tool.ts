// The decode node's test tool: runs the dialog's current (undeployed) settings on the runtime
// through the same code the deployed nodes run, so the tool and the flow cannot disagree:
// uplinks through UplinkDecoder (the node's decode path: in `auto` mode a TTS decoded_payload in
// the test input is passed through, as the node does), downlink data through the downlink
// encoder with its guard-rails (FPort 1-223, 242 bytes), downlink bytes through the codec's
// decodeDownlink. The node hands in the downlink encoder (src/downlink's previewEncode): src/codec
// does not import src/downlink, which imports src/codec.
import { performance } from 'node:perf_hooks';
import { cayenneLppCodec, CodecLoadError, createCodec, MAX_TIMEOUT_MS } from './create-codec';
import { bytesFromText, PayloadInputError, type PayloadFormat } from './payload-input';
import { isDecoderMode, UplinkDecoder, type DecoderMode } from './uplink-decoder';
import type { Codec, CodecError, UplinkInput } from './types';
import { TtsError } from '../util/errors';

export const MAX_TEST_SCRIPT_CHARS = 256 * 1024;

export interface CodecTestRequest {
  codec?: unknown;
  script?: unknown;
  direction?: unknown;
  format?: unknown;
  input?: unknown;
  fPort?: unknown;
  timeout?: unknown;
  /** Extra uplink fields (decodedPayload, message) when testing with the last uplink. */
  decodedPayload?: unknown;
  message?: unknown;
}

export interface CodecTestResponse {
  ok: boolean;
  form?: string;
  direction?: 'uplink' | 'downlink';
  /** Which decoder the node's decode path chose (uplinks). */
  decoder?: string;
  data?: Record<string, unknown>;
  bytes?: number[];
  hex?: string;
  base64?: string;
  fPort?: number;
  decodedPayload?: Record<string, unknown>;
  warnings: string[];
  errors: string[];
  error?: CodecError;
  logs: string[];
  /** Time the decode/encode took, in ms (compilation excluded where it can be). */
  durationMs?: number;
}

/** What the downlink encoder's preview answers (the fields the tool reads). */
export interface DownlinkPreviewResult {
  ok: boolean;
  error?: string;
  badRequest?: boolean;
  line?: number;
  column?: number;
  fPort?: number;
  frm_payload?: string;
  hex?: string;
  bytes?: number[];
  decoded_payload?: Record<string, unknown>;
  problem?: string;
  warnings?: string[];
  logs?: string[];
}

/** Encodes test data as tts-downlink would, guard-rails included (src/downlink's previewEncode). */
export type DownlinkPreview = (request: { codec: string; script: string; payload: string; fPort: number; timeout: number }) => DownlinkPreviewResult;

/** A request the tool refuses to run (answered with HTTP 400). */
export class CodecTestRequestError extends TtsError {
  constructor(message: string) {
    super(message, { code: 'bad_request', httpStatus: 400, statusKey: 'invalid' });
  }
}

const FPORT_TEXT = 'fPort must be an integer 0..255';

function fail(error: CodecError, extra: Partial<CodecTestResponse> = {}): CodecTestResponse {
  return { ok: false, warnings: [], errors: [error.message], error, logs: [], ...extra };
}

function parseFPort(value: unknown): number {
  if (value === undefined || value === null || value === '') return 1;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 255) throw new CodecTestRequestError(FPORT_TEXT);
  return n;
}

function parseTimeout(value: unknown, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 1 || n > MAX_TIMEOUT_MS) throw new CodecTestRequestError(`timeout must be 1..${MAX_TIMEOUT_MS} ms`);
  return n;
}

function scriptOf(request: CodecTestRequest, mode: DecoderMode): string {
  if (mode === 'cayennelpp' || mode === 'passthrough') return '';
  if (typeof request.script !== 'string') throw new CodecTestRequestError('script must be a string');
  if (request.script.length > MAX_TEST_SCRIPT_CHARS) throw new CodecTestRequestError('script is too long');
  return request.script;
}

function bytes(text: string, format: PayloadFormat): number[] {
  if (format === 'json') throw new CodecTestRequestError('bytes are base64, hex or a byte array, not JSON');
  try {
    return bytesFromText(text, format);
  } catch (err) {
    if (err instanceof PayloadInputError) throw new CodecTestRequestError(`input: ${err.message}`);
    throw err;
  }
}

function testUplink(request: CodecTestRequest, mode: DecoderMode, script: string, timeout: number, fPort: number, input: UplinkInput): CodecTestResponse {
  const decoder = new UplinkDecoder({ mode, script, timeout, filename: 'codec.js' });
  if (decoder.loadError) return fail(decoder.loadError.codecError, { direction: 'uplink' });
  if (request.decodedPayload && typeof request.decodedPayload === 'object') input.decodedPayload = request.decodedPayload as Record<string, unknown>;
  if (request.message && typeof request.message === 'object') input.message = request.message;
  const started = performance.now();
  const outcome = decoder.decodeNow(input);
  const durationMs = performance.now() - started;
  const { decoder: used, ...result } = outcome;
  return { ok: result.errors.length === 0, form: used === 'script' ? decoder.form : used, decoder: used, direction: 'uplink', ...result, fPort, durationMs };
}

/** Downlink data, encoded as the tts-downlink node would (script or Cayenne LPP), guard-rails included. */
function testEncode(previewEncode: DownlinkPreview, mode: DecoderMode, script: string, timeout: number, fPort: number, text: string): CodecTestResponse {
  if (mode === 'passthrough') return fail({ kind: 'form', message: 'pass-through cannot encode a downlink' }, { direction: 'downlink' });
  const codec = mode === 'cayennelpp' || (mode === 'auto' && script.trim() === '') ? 'cayennelpp' : 'script';
  const started = performance.now();
  const r = previewEncode({ codec, script, payload: text.trim() === '' ? '{}' : text, fPort, timeout });
  const durationMs = performance.now() - started;
  if (!r.ok) {
    if (r.badRequest) throw new CodecTestRequestError(r.error ?? 'bad request');
    const error: CodecError = { kind: r.line === undefined ? 'input' : 'runtime', message: r.error ?? 'encoding failed', ...(r.line === undefined ? {} : { line: r.line, column: r.column }) };
    return fail(error, { direction: 'downlink', form: codec, logs: r.logs ?? [], durationMs });
  }
  const problem = r.problem ? [r.problem] : [];
  return {
    ok: problem.length === 0,
    form: codec,
    direction: 'downlink',
    ...(r.bytes ? { bytes: r.bytes, hex: r.hex, base64: r.frm_payload } : {}),
    ...(r.decoded_payload ? { decodedPayload: r.decoded_payload } : {}),
    fPort: r.fPort,
    warnings: r.warnings ?? [],
    errors: problem,
    ...(problem.length ? { error: { kind: 'output' as const, message: problem[0] } } : {}),
    logs: r.logs ?? [],
    durationMs,
  };
}

function downlinkDecoder(mode: DecoderMode, script: string, timeout: number): Codec {
  if (mode === 'cayennelpp' || (mode === 'auto' && script.trim() === '')) return cayenneLppCodec;
  if (mode === 'passthrough') throw new CodecLoadError({ kind: 'form', message: 'pass-through cannot decode a downlink' });
  return createCodec(script, { timeout, filename: 'codec.js' });
}

/**
 * Runs one test. Throws CodecTestRequestError for a malformed request; script problems (compile
 * errors, throws, timeouts, bad output, guard-rails) come back in the response with their lines.
 */
export async function runCodecTest(request: CodecTestRequest, defaultTimeout: number, previewEncode: DownlinkPreview): Promise<CodecTestResponse> {
  if (request === null || typeof request !== 'object') throw new CodecTestRequestError('expected a JSON object');
  const direction = request.direction === undefined ? 'uplink' : request.direction;
  if (direction !== 'uplink' && direction !== 'downlink') throw new CodecTestRequestError('direction must be uplink or downlink');
  const mode = request.codec === undefined ? 'script' : request.codec;
  if (!isDecoderMode(mode)) throw new CodecTestRequestError('codec must be auto, script, cayennelpp or passthrough');
  const timeout = parseTimeout(request.timeout, defaultTimeout);
  const fPort = parseFPort(request.fPort);
  const format = (request.format ?? (direction === 'uplink' ? 'base64' : 'json')) as PayloadFormat;
  if (!['base64', 'hex', 'bytes', 'json'].includes(format)) throw new CodecTestRequestError('format must be base64, hex, bytes or json');
  const text = request.input === undefined || request.input === null ? '' : String(request.input);
  const script = scriptOf(request, mode);

  if (direction === 'uplink') return testUplink(request, mode, script, timeout, fPort, { bytes: bytes(text, format), fPort, recvTime: new Date() });
  if (format === 'json') return testEncode(previewEncode, mode, script, timeout, fPort, text);

  const frame = bytes(text, format);
  let codec: Codec;
  try {
    codec = downlinkDecoder(mode, script, timeout);
  } catch (err) {
    if (err instanceof CodecLoadError) return fail(err.codecError, { direction: 'downlink' });
    throw err;
  }
  const started = performance.now();
  const result = codec.decodeDownlink({ bytes: frame, fPort });
  return { ok: result.errors.length === 0, form: codec.form, direction: 'downlink', ...result, durationMs: performance.now() - started };
}
