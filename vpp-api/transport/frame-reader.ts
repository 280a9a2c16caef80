/**
 * Reassembles VPP socket frames from a byte stream.
 *
 * A frame is a 16-byte header (u64 q: ignored; u32 BE data_len; u32 timestamp: ignored) followed by
 * data_len bytes of message. Reads may split a frame anywhere and may hold several frames. Messages are
 * handed out as views (no copy) when a frame lies inside one chunk; a message spanning chunks is joined once.
 * Like VPP, the reader never resynchronises: a stream that is out of step stays out of step, so every length
 * it reads is checked (against a global cap, and per message id once the id is known) and an impossible one
 * throws FrameError: the caller then drops the connection instead of waiting for bytes that never come.
 */
export const FRAME_HEADER_SIZE = 16;
/** Default sanity cap on one message: a length above it means the stream is corrupt. */
export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;
/** Header plus the message id: what the per-id check needs. */
const ID_CHECK_SIZE = FRAME_HEADER_SIZE + 2;

export class FrameError extends Error {
  override readonly name = 'FrameError';
}

/**
 * The largest message of id `id` the reader accepts, or a string saying why no message of that id can come
 * (e.g. "not in VPP's message table").
 */
export type FrameLimit = (id: number) => number | string;

export class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private limit: FrameLimit | undefined;

  constructor(
    private readonly onMessage: (msg: Buffer) => void,
    private readonly maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE,
  ) {}

  /** Bytes received and not yet part of a complete frame. */
  get buffered(): number {
    return this.pendingBytes;
  }

  /** Checks every later frame against a per-id limit too (an empty message is then an error as well). */
  setLimit(limit: FrameLimit | undefined): void {
    this.limit = limit;
  }

  /** Feeds a chunk; calls onMessage for every complete frame. Throws FrameError on an impossible length. */
  push(chunk: Buffer): void {
    let buf: Buffer;
    if (this.pendingBytes === 0) {
      buf = chunk;
    } else {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      // Wait for the whole frame before joining, so a large frame is copied once; but check what can be
      // checked as soon as the bytes are there, so a bad length fails now rather than after a timeout.
      if (this.pendingBytes < FRAME_HEADER_SIZE) return;
      const len = this.checkLength(this.peekU32(8));
      if (this.limit) this.checkId(len, this.pendingBytes >= ID_CHECK_SIZE ? (this.peekByte(16) << 8) | this.peekByte(17) : undefined);
      if (this.pendingBytes < FRAME_HEADER_SIZE + len) return;
      buf = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let off = 0;
    const end = buf.length;
    while (end - off >= FRAME_HEADER_SIZE) {
      const len = this.checkLength(buf.readUInt32BE(off + 8));
      if (this.limit) this.checkId(len, end - off >= ID_CHECK_SIZE ? buf.readUInt16BE(off + FRAME_HEADER_SIZE) : undefined);
      const stop = off + FRAME_HEADER_SIZE + len;
      if (stop > end) break;
      this.onMessage(buf.subarray(off + FRAME_HEADER_SIZE, stop));
      off = stop;
    }
    if (off < end) {
      this.pending.push(off === 0 ? buf : buf.subarray(off));
      this.pendingBytes = end - off;
    }
  }

  reset(): void {
    this.pending = [];
    this.pendingBytes = 0;
  }

  private peekByte(i: number): number {
    for (const c of this.pending) {
      if (i < c.length) return c[i]!;
      i -= c.length;
    }
    return 0;
  }

  private peekU32(i: number): number {
    return ((this.peekByte(i) << 24) | (this.peekByte(i + 1) << 16) | (this.peekByte(i + 2) << 8) | this.peekByte(i + 3)) >>> 0;
  }

  private checkLength(len: number): number {
    if (len > this.maxMessageSize) {
      throw new FrameError(`frame announces ${len} bytes, above the ${this.maxMessageSize}-byte limit: stream out of step`);
    }
    return len;
  }

  /** `id` is undefined while its bytes have not arrived yet. */
  private checkId(len: number, id: number | undefined): void {
    if (len < 2) throw new FrameError(`frame of ${len} bytes holds no message id: stream out of step`);
    if (id === undefined) return;
    const max = this.limit!(id);
    if (typeof max === 'string') throw new FrameError(`frame with message id ${id}, ${max}: stream out of step`);
    if (len > max) throw new FrameError(`frame announces ${len} bytes for message id ${id}, which is at most ${max} bytes: stream out of step`);
  }
}

/** Writes a frame header for a message of `len` bytes at `p` (q = 0, timestamp = 0, as clients do). */
export function writeFrameHeader(b: Buffer, p: number, len: number): void {
  b.fill(0, p, p + 8);
  b.writeUInt32BE(len, p + 8);
  b.writeUInt32BE(0, p + 12);
}
