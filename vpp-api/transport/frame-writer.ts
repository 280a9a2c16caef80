/**
 * Batches outgoing frames: messages are encoded straight into a slab buffer and every frame written in
 * the same tick leaves in one socket write (flushed from a microtask). A flushed region is never reused,
 * so the socket may keep a reference to it; a new slab is started when the current one is full.
 */
import { FRAME_HEADER_SIZE, writeFrameHeader } from './frame-reader.js';

export interface ByteSink {
  write(chunk: Buffer): unknown;
}

const SLAB_SIZE = 256 * 1024;

export class FrameWriter {
  private slab: Buffer = Buffer.allocUnsafe(SLAB_SIZE);
  private start = 0;
  private end = 0;
  private scheduled = false;
  private readonly flushFn = (): void => this.flush();

  constructor(private readonly sink: ByteSink) {}

  /** The slab the last reserve() made room in (valid until the next reserve). */
  get buffer(): Buffer {
    return this.slab;
  }

  /**
   * Makes room for a message of `len` bytes, writes its frame header, and returns the offset in `buffer`
   * where the message itself must be encoded. The message must be written before the next microtask.
   */
  reserve(len: number): number {
    const total = FRAME_HEADER_SIZE + len;
    if (this.end + total > this.slab.length) {
      this.flush();
      this.slab = Buffer.allocUnsafe(Math.max(SLAB_SIZE, total));
      this.start = 0;
      this.end = 0;
    }
    const at = this.end;
    writeFrameHeader(this.slab, at, len);
    this.end = at + total;
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushFn);
    }
    return at + FRAME_HEADER_SIZE;
  }

  /** Takes back the last reservation (its message could not be encoded). `msgOffset` is what reserve returned. */
  cancel(msgOffset: number): void {
    const at = msgOffset - FRAME_HEADER_SIZE;
    if (at >= this.start && at < this.end) this.end = at;
  }

  /** Queues an already-encoded message (copies it). */
  writeMessage(msg: Buffer): void {
    const p = this.reserve(msg.length);
    msg.copy(this.slab, p);
  }

  /** Writes out everything reserved so far. */
  flush(): void {
    this.scheduled = false;
    if (this.end === this.start) return;
    const chunk = this.slab.subarray(this.start, this.end);
    this.start = this.end;
    this.sink.write(chunk);
  }

  /** Drops anything not yet flushed (connection gone). */
  discard(): void {
    this.start = this.end;
  }
}
