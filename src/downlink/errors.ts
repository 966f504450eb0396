/** Bad input from the flow (payload, overrides, device reference): the message says what to fix. */
export class DownlinkInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DownlinkInputError';
  }
}

/** The encoder (script or built-in) failed; `line`/`column` point into the user's script. */
export class DownlinkEncodeError extends Error {
  constructor(
    message: string,
    readonly line?: number,
    readonly column?: number,
    /** console.* output of the script up to the failure. */
    readonly logs: string[] = [],
  ) {
    super(message);
    this.name = 'DownlinkEncodeError';
  }
}
