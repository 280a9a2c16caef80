/** Errors raised by the VPP API client. Every one names the message it concerns where there is one. */
import { retvalName } from '../codec/retvals.js';

/** VPP answered with a negative retval. */
export class VppApiError extends Error {
  override readonly name = 'VppApiError';
  /** e.g. `VNET_API_ERROR_INVALID_SW_IF_INDEX` */
  readonly retvalName: string;
  constructor(
    /** The request that failed, e.g. `memif_create_v2`. */
    readonly messageName: string,
    readonly retval: number,
    /** The decoded reply (VPP sometimes returns useful fields with an error, e.g. the existing sw_if_index). */
    readonly reply?: unknown,
  ) {
    const rn = retvalName(retval);
    super(`${messageName}: VPP returned ${retval} (${rn})`);
    this.retvalName = rn;
  }
}

/** No answer within the request's timeout (VPP does not answer malformed or unknown requests). */
export class VppTimeoutError extends Error {
  override readonly name = 'VppTimeoutError';
  constructor(
    readonly messageName: string,
    readonly timeoutMs: number,
  ) {
    super(`${messageName}: no reply from VPP within ${timeoutMs} ms`);
  }
}

/** The connection is down (or went down while the request was in flight). Retryable. */
export class VppDisconnectedError extends Error {
  override readonly name = 'VppDisconnectedError';
  constructor(
    readonly messageName: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${messageName}: ${detail}`, options);
  }
}

/** connect() failed: the socket is missing, not permitted, refused, or the handshake failed. */
export class VppConnectError extends Error {
  override readonly name = 'VppConnectError';
  constructor(
    readonly socketPath: string,
    readonly code: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(detail, options);
  }
}

export interface IncompatibleMessage {
  name: string;
  /** `name_crc` this build was generated with. */
  expected: string;
  /** `name_crc` keys the running VPP has under the same name (empty when the message is missing). */
  found: string[];
}

/** Messages the caller requires are missing from the running VPP or have another CRC. */
export class VppCompatibilityError extends Error {
  override readonly name = 'VppCompatibilityError';
  constructor(readonly problems: IncompatibleMessage[]) {
    super(
      `VPP API mismatch: ${problems
        .map((p) => (p.found.length === 0 ? `${p.name} missing (want ${p.expected})` : `${p.name} has ${p.found.join(', ')} (want ${p.expected})`))
        .join('; ')}`,
    );
  }
}

/** A message that the connected VPP does not know (plugin not loaded) or knows with another CRC. */
export class VppUnknownMessageError extends Error {
  override readonly name = 'VppUnknownMessageError';
  constructor(
    readonly messageName: string,
    readonly nameCrc: string,
    readonly found: string[],
  ) {
    super(
      found.length === 0
        ? `${messageName}: not in the connected VPP's message table (plugin not loaded?), want ${nameCrc}`
        : `${messageName}: CRC mismatch, VPP has ${found.join(', ')}, this client was built for ${nameCrc}`,
    );
  }
}

/** The peer sent something that breaks the protocol; the connection is reset. */
export class VppProtocolError extends Error {
  override readonly name = 'VppProtocolError';
}
