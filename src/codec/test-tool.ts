// The edit dialog's test tool: runs the dialog's current (undeployed) script on the runtime with
// the same engine the deployed node uses, so the tool and the flow never disagree.
import { performance } from 'node:perf_hooks';
import { cayenneLppCodec, CodecLoadError, createCodec, MAX_TIMEOUT_MS, passthroughCodec } from './create-codec';
import { bytesFromText, PayloadInputError, type PayloadFormat } from './payload-input';
import { isDecoderMode } from './uplink-decoder';
import type { Codec, CodecError, DecodeResult, EncodeResult, UplinkInput } from './types';
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
  /** Time the decode/encode call took, in ms (compilation excluded). */
  durationMs?: number;
}

/** A request the tool refuses to run (answered with HTTP 400). */
export class CodecTestRequestError extends TtsError {
  constructor(message: string) {
    super(message, { code: 'bad_request', httpStatus: 400, statusKey: 'invalid' });
  }
}

function fail(error: CodecError): CodecTestResponse {
  return { ok: false, warnings: [], errors: [error.message], error, logs: [] };
}

function parseFPort(value: unknown): number {
  if (value === undefined || value === null || value === '') return 1;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 255) throw new CodecTestRequestError('fPort must be an integer 0..255');
  return n;
}

function parseTimeout(value: unknown, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 1 || n > MAX_TIMEOUT_MS) throw new CodecTestRequestError(`timeout must be 1..${MAX_TIMEOUT_MS} ms`);
  return n;
}

function codecFor(request: CodecTestRequest, timeout: number): Codec {
  const mode = request.codec === undefined ? 'script' : request.codec;
  if (!isDecoderMode(mode)) throw new CodecTestRequestError('codec must be auto, script, cayennelpp or passthrough');
  if (mode === 'cayennelpp') return cayenneLppCodec;
  if (mode === 'passthrough') return passthroughCodec;
  if (typeof request.script !== 'string') throw new CodecTestRequestError('script must be a string');
  if (request.script.length > MAX_TEST_SCRIPT_CHARS) throw new CodecTestRequestError('script is too long');
  if (mode === 'auto' && request.script.trim() === '') return cayenneLppCodec;
  return createCodec(request.script, { timeout, filename: 'codec.js' });
}

/**
 * Runs one test. Throws CodecTestRequestError for a malformed request; script problems (compile
 * errors, throws, timeouts, bad output) come back in the response with their line numbers.
 */
export function runCodecTest(request: CodecTestRequest, defaultTimeout: number): CodecTestResponse {
  if (request === null || typeof request !== 'object') throw new CodecTestRequestError('expected a JSON object');
  const direction = request.direction === undefined ? 'uplink' : request.direction;
  if (direction !== 'uplink' && direction !== 'downlink') throw new CodecTestRequestError('direction must be uplink or downlink');
  const timeout = parseTimeout(request.timeout, defaultTimeout);
  const fPort = parseFPort(request.fPort);
  const format = (request.format ?? (direction === 'uplink' ? 'base64' : 'json')) as PayloadFormat;
  if (!['base64', 'hex', 'bytes', 'json'].includes(format)) throw new CodecTestRequestError('format must be base64, hex, bytes or json');
  const text = request.input === undefined || request.input === null ? '' : String(request.input);

  let codec: Codec;
  try {
    codec = codecFor(request, timeout);
  } catch (err) {
    if (err instanceof CodecLoadError) return fail(err.codecError);
    throw err;
  }

  try {
    if (direction === 'uplink') {
      if (format === 'json') throw new CodecTestRequestError('an uplink is bytes: use base64, hex or bytes');
      const input: UplinkInput = { bytes: bytesFromText(text, format), fPort, recvTime: new Date() };
      if (request.decodedPayload && typeof request.decodedPayload === 'object') input.decodedPayload = request.decodedPayload as Record<string, unknown>;
      if (request.message && typeof request.message === 'object') input.message = request.message;
      const started = performance.now();
      const result: DecodeResult = codec.decodeUplink(input);
      const durationMs = performance.now() - started;
      return { ok: result.errors.length === 0, form: codec.form, direction, ...result, durationMs };
    }
    let data: unknown;
    let started: number;
    let result: EncodeResult | DecodeResult;
    if (format === 'json') {
      try {
        data = text.trim() === '' ? {} : JSON.parse(text);
      } catch (err) {
        throw new CodecTestRequestError(`input is not valid JSON: ${(err as Error).message}`);
      }
      started = performance.now();
      result = codec.encodeDownlink({ data, fPort });
    } else {
      // Bytes for a downlink: run the script's decodeDownlink.
      const bytes = bytesFromText(text, format);
      started = performance.now();
      result = codec.decodeDownlink({ bytes, fPort });
    }
    const durationMs = performance.now() - started;
    const response: CodecTestResponse = { ok: result.errors.length === 0, form: codec.form, direction, ...result, durationMs };
    const bytes = (result as EncodeResult).bytes;
    if (bytes) {
      response.hex = Buffer.from(bytes).toString('hex').toUpperCase();
      response.base64 = Buffer.from(bytes).toString('base64');
    }
    return response;
  } catch (err) {
    if (err instanceof PayloadInputError) throw new CodecTestRequestError(`input: ${err.message}`);
    throw err;
  }
}
