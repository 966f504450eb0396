// Results of one protected call, shaped like the LoRaWAN codec API ({data, warnings, errors} /
// {bytes, fPort, warnings, errors}) plus the script's console output and a structured error.

export type CodecErrorKind =
  | 'compile' // syntax error or a top-level throw while loading the script
  | 'form' // the script defines no function for this operation
  | 'runtime' // the script threw
  | 'timeout' // the script ran past the time limit
  | 'output' // the script returned something that is not valid output
  | 'script' // the script itself reported `errors`
  | 'input'; // the caller passed bad input

export interface CodecError {
  kind: CodecErrorKind;
  message: string;
  /** Position in the user's script (1-based), when known. */
  line?: number;
  column?: number;
}

interface ResultBase {
  warnings: string[];
  /** Empty when the operation succeeded (TTS treats any error as a failure). */
  errors: string[];
  /** The first failure, with its position in the script when known. */
  error?: CodecError;
  /** console.* output of the script during this call. */
  logs: string[];
}

export interface DecodeResult extends ResultBase {
  data?: Record<string, unknown>;
}

/** The error of a call that ran past its time limit. */
export function timeoutError(limitMs: number): CodecError {
  return { kind: 'timeout', message: `the script did not finish within ${limitMs} ms` };
}

/** A failed call's result: the error is its one `errors` entry. */
export function failedResult(error: CodecError): ResultBase {
  return { warnings: [], errors: [error.message], error, logs: [] };
}

export interface EncodeResult extends ResultBase {
  bytes?: number[];
  fPort?: number;
  /** Plugin form only: a downlink returned as `decoded_payload` for TTS to encode. */
  decodedPayload?: Record<string, unknown>;
}
