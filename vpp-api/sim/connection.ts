/**
 * One client socket of the simulator: its socket registration (client_index = 0x80000000 | index), the frame
 * reader feeding the dispatcher and the frame writer batching its output (one socket write per tick).
 *
 * VPP writes its in-memory message header verbatim, so every frame it sends carries a heap pointer in `q`;
 * sockclnt_create_reply alone has q = 0. The connection reproduces that.
 */
import type { Socket } from 'node:net';
import type { MessageDef } from '../codec/types.js';
import { FrameError, FrameReader } from '../transport/frame-reader.js';
import { FrameWriter } from '../transport/frame-writer.js';

export const SOCKET_HANDLE_BIT = 0x80000000;

export interface ConnectionEvents {
  onMessage(conn: SimConnection, msg: Buffer): void;
  onClose(conn: SimConnection): void;
}

export class SimConnection {
  readonly clientIndex: number;
  readonly writer: FrameWriter;
  private readonly reader: FrameReader;
  name = '';
  /** True once the registration is gone (sockclnt_delete, drop, peer closed). */
  released = false;
  /** The input stream went out of step beyond any sane length: nothing more is read (VPP would stay stuck). */
  outOfStep = false;

  constructor(
    readonly socket: Socket,
    readonly registrationIndex: number,
    private readonly qLow: number,
    private readonly qHigh: number,
    events: ConnectionEvents,
  ) {
    this.clientIndex = (SOCKET_HANDLE_BIT | registrationIndex) >>> 0;
    this.writer = new FrameWriter({
      write: (chunk) => {
        if (!socket.destroyed && socket.writable) socket.write(chunk);
      },
    });
    this.reader = new FrameReader((msg) => events.onMessage(this, msg));
    socket.on('data', (chunk: Buffer) => {
      if (this.outOfStep || this.released) return;
      try {
        this.reader.push(chunk);
      } catch (e) {
        if (!(e instanceof FrameError)) throw e;
        this.outOfStep = true;
        this.reader.reset();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => events.onClose(this));
  }

  /** Encodes a message straight into the output batch. */
  write<I>(def: MessageDef<I, unknown>, id: number, clientIndex: number, context: number, value: I): void {
    const p = this.writer.reserve(def.size(value));
    const b = this.writer.buffer;
    def.encode(b, p, id, clientIndex, context, value);
    this.stampQ(b, p);
  }

  /** Queues an already encoded message. */
  writeEncoded(msg: Buffer, zeroQ: boolean): void {
    const p = this.writer.reserve(msg.length);
    const b = this.writer.buffer;
    msg.copy(b, p);
    if (!zeroQ) this.stampQ(b, p);
  }

  /** Writes VPP's garbage `q` into the header of the frame whose message starts at p. */
  stampQ(b: Buffer, p: number): void {
    b.writeUInt32LE(this.qLow, p - 16);
    b.writeUInt32LE(this.qHigh, p - 12);
  }

  /** Flushes what is queued, then closes the socket (VPP's clib_file_del after sockclnt_delete_reply). */
  end(): void {
    this.writer.flush();
    if (!this.socket.destroyed) this.socket.end(() => this.socket.destroy());
  }

  /** Closes at once, dropping unsent output. */
  destroy(): void {
    this.writer.discard();
    this.socket.destroy();
  }
}
