// Why a payload could not be decoded. The engine turns these into a penalty for
// the peer; they never escape as crashes.

export type DecodeErrorCode =
  /** The payload ended before a field did. */
  | 'truncated'
  /** A count or length is over the protocol's limit for that field. */
  | 'too-many'
  /** A value is out of range or malformed (bad varint, non-UTF-8 string, ...). */
  | 'invalid';

export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(
    readonly code: DecodeErrorCode,
    /** The message being decoded, when known. */
    readonly command: string,
    /** The field that failed, e.g. "inventory.count". */
    readonly field: string,
    detail: string,
  ) {
    super(`${command}: ${field}: ${detail}`);
  }
}
