/**
 * Reassembles VPP socket frames from a byte stream.
 *
 * A frame is a 16-byte header (u64 q: ignored; u32 BE data_len; u32 timestamp: ignored) followed by
 * data_len bytes of message. Reads may split a frame anywhere and may hold several frames. Messages are
 * handed out as views (no copy) when a frame lies inside one chunk; a message spanning chunks is joined once.
 * Like VPP, the reader never resynchronises: a stream that is out of step stays out of step.
 */
export const FRAME_HEADER_SIZE = 16;
/** Default sanity cap on one message: a length above it means the stream is corrupt. */
export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

export class FrameError extends Error {
  override readonly name = 'FrameError';
}

export class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly onMessage: (msg: Buffer) => void,
    private readonly maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE,
  ) {}

  /** Bytes received and not yet part of a complete frame. */
  get buffered(): number {
    return this.pendingBytes;
  }

  /** Feeds a chunk; calls onMessage for every complete frame. Throws FrameError on an impossible length. */
  push(chunk: Buffer): void {
    let buf: Buffer;
    if (this.pendingBytes === 0) {
      buf = chunk;
    } else {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      // Wait for the whole frame before joining, so a large frame is copied once.
      if (this.pendingBytes < FRAME_HEADER_SIZE) return;
      const first = this.pending[0]!;
      if (first.length >= FRAME_HEADER_SIZE) {
        const need = FRAME_HEADER_SIZE + this.checkLength(first.readUInt32BE(8));
        if (this.pendingBytes < need) return;
      }
      buf = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let off = 0;
    const end = buf.length;
    while (end - off >= FRAME_HEADER_SIZE) {
      const len = this.checkLength(buf.readUInt32BE(off + 8));
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

  private checkLength(len: number): number {
    if (len > this.maxMessageSize) {
      throw new FrameError(`frame announces ${len} bytes, above the ${this.maxMessageSize}-byte limit: stream out of step`);
    }
    return len;
  }
}

/** Writes a frame header for a message of `len` bytes at `p` (q = 0, timestamp = 0, as clients do). */
export function writeFrameHeader(b: Buffer, p: number, len: number): void {
  b.fill(0, p, p + 8);
  b.writeUInt32BE(len, p + 8);
  b.writeUInt32BE(0, p + 12);
}
