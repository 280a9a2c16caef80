/**
 * The seam between the client and whatever carries VPP's frames: the client is handed a TransportFactory
 * and never constructs a socket itself, so tests and fuzzers can put any byte source below it.
 */
import type { FrameLimit } from './frame-reader.js';

export interface HandshakeResult {
  /** The handle VPP gave this client: put in every request's client_index. */
  clientIndex: number;
  /** `name_crc` → message id, as VPP sent it. */
  table: Map<string, number>;
}

export interface TransportEvents {
  onMessage(msg: Buffer): void;
  /** The connection ended (EOF, error, or destroy). Called once. */
  onClose(err: Error | undefined): void;
}

/** Writes one message of the size reserved for it at offset `p` of `b` (id and header fields included). */
export type MessageEncoder = (b: Buffer, p: number) => void;

export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    /** errno-like: ENOENT, EACCES, ECONNREFUSED, ETIMEDOUT, ECONNRESET, ENOTCONN, EPROTO (stream out of step) … */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface Transport {
  /** Connects and performs the handshake. Rejects with a TransportError naming the cause. */
  connect(events: TransportEvents): Promise<HandshakeResult>;
  /**
   * Queues one message of `size` bytes: `encode` writes it straight into the outgoing batch (no copy).
   * If `encode` throws, nothing is queued and the error is rethrown. Throws TransportError ENOTCONN when closed.
   */
  send(size: number, encode: MessageEncoder): void;
  /** Graceful close (sockclnt_delete, bounded wait). */
  close(): Promise<void>;
  /** Drops the connection now; onClose is called with `err`. */
  destroy(err?: Error): void;
}

export interface TransportOptions {
  socketPath: string;
  clientName: string;
  connectTimeoutMs: number;
  /** Cap on any one incoming message (bytes). */
  maxMessageSize?: number;
  /**
   * Per message id limits once the message table is known: a frame above its limit, or with an id VPP never
   * announced, means the stream is out of step and the connection is dropped (TransportError EPROTO).
   */
  frameLimit?: (table: ReadonlyMap<string, number>) => FrameLimit;
}

export type TransportFactory = (options: TransportOptions) => Transport;
