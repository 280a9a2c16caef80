/** A message that cannot be encoded from the value given (a caller bug or bad input). */
export class VppEncodeError extends Error {
  override readonly name = 'VppEncodeError';
  constructor(
    readonly message_: string,
    readonly field: string,
    detail: string,
  ) {
    super(`${message_}.${field}: ${detail}`);
  }
}

/** Bytes that do not hold the message they claim to (truncated or corrupt). */
export class VppDecodeError extends Error {
  override readonly name = 'VppDecodeError';
  constructor(
    readonly messageName: string,
    detail: string,
    /** The field that could not be read, where known. */
    readonly field?: string,
  ) {
    super(`cannot decode ${messageName}: ${detail}`);
  }
}
