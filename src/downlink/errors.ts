import { INVALID_INPUT, TtsError } from '../util/errors';

/** Bad input from the flow (payload, overrides, device reference): the message says what to fix. */
export class DownlinkInputError extends TtsError {
  constructor(message: string) {
    super(message, INVALID_INPUT);
    this.name = 'DownlinkInputError';
  }
}

/** The encoder (script or built-in) failed; `line`/`column` point into the user's script. */
export class DownlinkEncodeError extends TtsError {
  constructor(
    message: string,
    readonly line?: number,
    readonly column?: number,
    /** console.* output of the script up to the failure. */
    readonly logs: string[] = [],
  ) {
    super(message, { code: 'encode_failed', httpStatus: 422, statusKey: 'invalid' });
    this.name = 'DownlinkEncodeError';
  }
}
