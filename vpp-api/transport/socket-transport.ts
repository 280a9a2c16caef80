/**
 * The unix-socket transport: connects, performs the sockclnt_create handshake (message id 15/16, the
 * only ids fixed by the protocol), keeps the name_crc → id table, batches writes, and hands every
 * complete incoming message up. It knows nothing about contexts, dumps or events.
 */
import { createConnection, type Socket } from 'node:net';
import { sockclnt_create, sockclnt_create_reply, sockclnt_delete, sockclnt_delete_reply } from '../generated/memclnt.js';
import { FrameReader, DEFAULT_MAX_MESSAGE_SIZE } from './frame-reader.js';
import { FrameWriter } from './frame-writer.js';
import {
  TransportError,
  type HandshakeResult,
  type MessageEncoder,
  type Transport,
  type TransportEvents,
  type TransportFactory,
  type TransportOptions,
} from './transport.js';

export { TransportError, type HandshakeResult, type TransportEvents } from './transport.js';

export const SOCKCLNT_CREATE_ID = 15;
export const SOCKCLNT_CREATE_REPLY_ID = 16;
export const DEFAULT_API_SOCKET = '/run/vpp/api.sock';
const HANDSHAKE_CONTEXT = 0x7663_6e69; // any non-zero value

function describeConnectError(path: string, err: NodeJS.ErrnoException): TransportError {
  switch (err.code) {
    case 'ENOENT':
      return new TransportError('ENOENT', `VPP API socket ${path} does not exist: is VPP running, and is socksvr configured with this path?`, { cause: err });
    case 'EACCES':
    case 'EPERM':
      return new TransportError(err.code, `permission denied on VPP API socket ${path}: run as root or as a member of VPP's api group`, { cause: err });
    case 'ECONNREFUSED':
      return new TransportError('ECONNREFUSED', `connection refused on ${path}: the socket file is stale (VPP stopped or is restarting)`, { cause: err });
    case 'ENOTSOCK':
      return new TransportError('ENOTSOCK', `${path} is not a socket`, { cause: err });
    default:
      return new TransportError(err.code ?? 'EIO', `cannot connect to ${path}: ${err.message}`, { cause: err });
  }
}

export type SocketTransportOptions = TransportOptions;

/** The default TransportFactory: VPP's unix socket. */
export const socketTransport: TransportFactory = (options) => new SocketTransport(options);

export class SocketTransport implements Transport {
  private socket: Socket | undefined;
  private writer: FrameWriter | undefined;
  private events: TransportEvents | undefined;
  private closed = false;
  private handshake: HandshakeResult | undefined;

  constructor(private readonly opts: SocketTransportOptions) {}

  get info(): HandshakeResult | undefined {
    return this.handshake;
  }

  /** Connects and performs the handshake. Rejects with a TransportError naming the cause. */
  connect(events: TransportEvents): Promise<HandshakeResult> {
    const { socketPath, clientName, connectTimeoutMs } = this.opts;
    return new Promise<HandshakeResult>((resolve, reject) => {
      let settled = false;
      const sock = createConnection({ path: socketPath });
      this.socket = sock;
      const writer = new FrameWriter(sock);
      this.writer = writer;
      const fail = (err: TransportError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.closed = true;
        sock.destroy();
        reject(err);
      };
      const timer = setTimeout(
        () => fail(new TransportError('ETIMEDOUT', `no handshake reply from ${socketPath} within ${connectTimeoutMs} ms`)),
        connectTimeoutMs,
      );
      const reader = new FrameReader((msg) => {
        if (!settled) {
          // Before the handshake completes only sockclnt_create_reply matters.
          if (msg.length < 2 || msg.readUInt16BE(0) !== SOCKCLNT_CREATE_REPLY_ID) return;
          let r;
          try {
            r = sockclnt_create_reply.decode(msg);
          } catch (e) {
            fail(new TransportError('EPROTO', `malformed sockclnt_create_reply from ${socketPath}: ${(e as Error).message}`, { cause: e }));
            return;
          }
          if (r.response !== 0) {
            fail(new TransportError('EPROTO', `VPP refused the connection (sockclnt_create_reply response ${r.response})`));
            return;
          }
          const table = new Map<string, number>();
          for (const e of r.message_table) table.set(e.name, e.index);
          this.handshake = { clientIndex: r.index, table };
          if (this.opts.frameLimit) reader.setLimit(this.opts.frameLimit(table));
          this.events = events;
          settled = true;
          clearTimeout(timer);
          resolve(this.handshake);
          return;
        }
        events.onMessage(msg);
      }, this.opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE);

      sock.on('connect', () => {
        const p = writer.reserve(sockclnt_create.fixedSize);
        const b = writer.buffer;
        sockclnt_create.encode(b, p, SOCKCLNT_CREATE_ID, 0, HANDSHAKE_CONTEXT, { name: clientName.slice(0, 63) });
      });
      sock.on('data', (chunk: Buffer) => {
        try {
          reader.push(chunk);
        } catch (e) {
          // A frame length no sane peer sends: the stream is out of step. Reset.
          if (!settled) fail(new TransportError('EPROTO', (e as Error).message, { cause: e }));
          else this.destroy(new TransportError('EPROTO', (e as Error).message, { cause: e }));
        }
      });
      sock.on('error', (err: NodeJS.ErrnoException) => {
        if (!settled) fail(describeConnectError(socketPath, err));
        else this.finish(new TransportError(err.code ?? 'EIO', `VPP API socket error: ${err.message}`, { cause: err }));
      });
      sock.on('close', () => {
        if (!settled) fail(new TransportError('ECONNRESET', `VPP closed ${socketPath} during the handshake`));
        else this.finish(this.closed ? undefined : new TransportError('ECONNRESET', 'VPP closed the API connection'));
      });
    });
  }

  send(size: number, encode: MessageEncoder): void {
    const w = this.writer;
    if (!w || this.closed) throw new TransportError('ENOTCONN', 'not connected');
    const p = w.reserve(size);
    try {
      encode(w.buffer, p);
    } catch (e) {
      w.cancel(p);
      throw e;
    }
  }

  /**
   * Graceful close: sockclnt_delete (so VPP frees the registration and its subscriptions), then wait
   * for the reply or VPP's own close, at most `waitMs`.
   */
  async close(waitMs = 100): Promise<void> {
    const sock = this.socket;
    const hs = this.handshake;
    if (!sock || this.closed) return;
    const delId = hs?.table.get(sockclnt_delete.nameCrc);
    const replyId = hs?.table.get(sockclnt_delete_reply.nameCrc);
    if (hs && delId !== undefined && this.writer && !sock.destroyed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        const prev = this.events;
        this.events = {
          onMessage: (m) => {
            if (m.length >= 2 && m.readUInt16BE(0) === replyId) done();
            else prev?.onMessage(m);
          },
          onClose: (e) => {
            done();
            prev?.onClose(e);
          },
        };
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        try {
          const p = this.writer!.reserve(sockclnt_delete.fixedSize);
          const b = this.writer!.buffer;
          sockclnt_delete.encode(b, p, delId, hs.clientIndex, 0x7fff_fff0, { index: hs.clientIndex });
          this.writer!.flush();
        } catch {
          done();
        }
      });
    }
    this.closed = true;
    sock.destroy();
  }

  /** Drops the connection now. onClose is called with `err`. */
  destroy(err?: Error): void {
    if (!this.socket) return;
    this.writer?.discard();
    this.socket.destroy();
    this.finish(err);
  }

  private finish(err: Error | undefined): void {
    const ev = this.events;
    this.events = undefined;
    this.closed = true;
    ev?.onClose(err);
  }
}
