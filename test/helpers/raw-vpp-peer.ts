/**
 * A raw "VPP side" for the client: a unix socket server that completes the sockclnt_create handshake
 * (a message table built from the generated modules), then hands every request to a handler and lets the
 * test write any bytes at all back. For regression tests and fuzzing of what the client does with a
 * hostile or broken peer: the client must end in a named error or a reconnect, never hang, never throw.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MessageDef } from '../../vpp-api/codec/types.js';
import { allModules } from '../../vpp-api/generated/index.js';
import { control_ping, control_ping_reply, sockclnt_create_reply } from '../../vpp-api/generated/memclnt.js';
import { FrameReader, writeFrameHeader } from '../../vpp-api/transport/frame-reader.js';
import { VppClient } from '../../vpp-api/client/index.js';

export interface PeerRequest {
  readonly id: number;
  readonly def: MessageDef | undefined;
  readonly context: number;
  readonly msg: Buffer;
}

/** What the peer does with one request on one connection (connection numbers start at 1). */
export type PeerHandler = (req: PeerRequest, conn: PeerConnection) => void;

export class PeerConnection {
  constructor(
    private readonly peer: RawVppPeer,
    readonly socket: Socket,
    readonly n: number,
  ) {}

  /** Writes raw bytes, headers included: anything at all. */
  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Sends one well-formed message. */
  send<I>(def: MessageDef<I, unknown>, context: number, value: I): void {
    this.write(this.peer.frame(def, context, value));
  }

  /** Answers control_ping the way VPP does. */
  pong(context: number): void {
    this.send(control_ping_reply, context, { retval: 0, vpe_pid: this.peer.vpePid });
  }
}

export class RawVppPeer {
  /** name_crc → id (ids from 100 on, in module order; 15/16 are the handshake's fixed ids). */
  readonly ids = new Map<string, number>();
  private readonly defs = new Map<number, MessageDef>();
  readonly connections: PeerConnection[] = [];
  readonly vpePid = 4242;
  private readonly server: Server;
  private readonly dir: string;
  readonly socketPath: string;

  private constructor(private handler: PeerHandler) {
    let next = 100;
    for (const m of allModules) {
      for (const d of m.messages) {
        if (this.ids.has(d.nameCrc)) continue;
        this.ids.set(d.nameCrc, next);
        this.defs.set(next++, d);
      }
    }
    this.dir = mkdtempSync(join(tmpdir(), 'raw-vpp-peer-'));
    this.socketPath = join(this.dir, 'api.sock');
    this.server = createServer((s) => this.accept(s));
  }

  /** Starts listening; `handler` sees every request after the handshake (default: answer control_ping). */
  static async start(handler?: PeerHandler): Promise<RawVppPeer> {
    const p = new RawVppPeer(handler ?? ((req, c) => req.def === control_ping && c.pong(req.context)));
    await new Promise<void>((resolve, reject) => {
      p.server.once('error', reject);
      p.server.listen(p.socketPath, resolve);
    });
    return p;
  }

  setHandler(handler: PeerHandler): void {
    this.handler = handler;
  }

  id(def: MessageDef): number {
    const id = this.ids.get(def.nameCrc);
    if (id === undefined) throw new Error(`${def.name} is not in the peer's table`);
    return id;
  }

  /** One framed message (header + encoding). */
  frame<I>(def: MessageDef<I, unknown>, context: number, value: I): Buffer {
    const size = def.size(value);
    const f = Buffer.alloc(16 + size);
    writeFrameHeader(f, 0, size);
    def.encode(f, 16, this.id(def), 0, context, value);
    return f;
  }

  /** The newest connection, waiting up to `ms` for it to exist. */
  async connection(n: number, ms = 5000): Promise<PeerConnection> {
    const end = Date.now() + ms;
    while (this.connections.length < n) {
      if (Date.now() > end) throw new Error(`connection ${n} not made within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.connections[n - 1]!;
  }

  async stop(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private accept(s: Socket): void {
    const conn = new PeerConnection(this, s, this.connections.length + 1);
    this.connections.push(conn);
    let shaken = false;
    const reader = new FrameReader((msg) => {
      const id = msg.readUInt16BE(0);
      if (!shaken) {
        if (id !== 15) return;
        shaken = true;
        const v = { response: 0, index: 0x80000000 + conn.n, message_table: [...this.ids].map(([name, index]) => ({ index, name })) };
        const size = sockclnt_create_reply.size(v);
        const f = Buffer.alloc(16 + size);
        writeFrameHeader(f, 0, size);
        sockclnt_create_reply.encode(f, 16, 16, 0, msg.readUInt32BE(2), v); // sockclnt_create: context at 2
        conn.write(f);
        return;
      }
      const def = this.defs.get(id);
      const context = def && def.contextOffset >= 0 && msg.length >= def.contextOffset + 4 ? msg.readUInt32BE(def.contextOffset) : 0;
      this.handler({ id, def, context, msg }, conn);
    });
    s.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch {
        s.destroy();
      }
    });
    s.on('error', () => undefined);
  }
}

/** What a client did with one byte stream from the VPP side. */
export interface FeedOutcome {
  /** 'answered', or the name of the error the pending request failed with. */
  result: string;
  message: string | undefined;
  /** What the client reported through onError (resets of the stream, protocol errors). */
  errors: { name: string; message: string; cause: string | undefined }[];
  /** The client's state once the request settled ('failed' after a reset: reconnect is off). */
  state: string;
}

/**
 * Feeds `chunks` (raw bytes, headers and all, each written separately) to a fresh client as the answer
 * to its first request after connecting: for fuzzing the client. The request carries context 2 (the
 * connect ping had 1), so a stream can aim at it. Every outcome is bounded by `requestTimeoutMs`.
 */
export async function feedClient(peer: RawVppPeer, chunks: readonly Buffer[], options: { requestTimeoutMs?: number } = {}): Promise<FeedOutcome> {
  peer.setHandler((req, conn) => {
    if (req.def !== control_ping) return;
    if (req.context === 1) conn.pong(req.context);
    else for (const c of chunks) conn.write(c);
  });
  const c = new VppClient({
    socketPath: peer.socketPath,
    clientName: 'feed',
    modules: allModules,
    requestTimeoutMs: options.requestTimeoutMs ?? 200,
    connectTimeoutMs: 5000,
    reconnect: false,
    healthCheck: false,
  });
  const errors: FeedOutcome['errors'] = [];
  c.onError((e) => errors.push({ name: e.name, message: e.message, cause: e.cause === undefined ? undefined : String(e.cause) }));
  try {
    await c.connect();
    const r = await c.request(control_ping, {}).then(
      () => ({ result: 'answered', message: undefined }),
      (e: Error) => ({ result: e.name, message: e.message }),
    );
    return { ...r, errors, state: c.state };
  } finally {
    await c.close();
  }
}
