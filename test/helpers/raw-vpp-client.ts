/**
 * A tiny promise-based VPP socket client for tests: frames and encodes with the generated descriptors, keeps
 * the ids of the handshake table, hands received frames out in arrival order (with their 16-byte header),
 * and can write raw bytes. It matches nothing by context: tests see exactly what the server sent, in order.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MessageDef } from '../../vpp-api/codec/types.js';
import { allModules, memclnt } from '../../vpp-api/generated/index.js';
import { VppSimulator, type VppSimulatorOptions } from '../../vpp-api/sim/index.js';

export interface RawFrame {
  /** The 16-byte header as received. */
  readonly header: Buffer;
  /** The message (id first). */
  readonly msg: Buffer;
  readonly id: number;
  /** Message name from the handshake table, or undefined. */
  readonly name: string | undefined;
}

const defsByNameCrc = new Map<string, MessageDef>();
for (const m of allModules) for (const d of m.messages) defsByNameCrc.set(d.nameCrc, d);

export function frameHeader(len: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32BE(len, 8);
  return h;
}

export class RawVppClient {
  /** name_crc -> id, from the handshake. */
  readonly ids = new Map<string, number>();
  private readonly defById = new Map<number, MessageDef>();
  clientIndex = 0;
  private pending: Buffer = Buffer.alloc(0);
  private readonly queue: RawFrame[] = [];
  private waiter: (() => void) | undefined;
  private nextContext = 1;
  /** Resolves when the server closes the connection (or it errors). */
  readonly closed: Promise<void>;
  private isClosed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.closed = new Promise((resolve) => {
      const done = (): void => {
        this.isClosed = true;
        resolve();
        this.wake();
      };
      socket.once('end', done);
      socket.once('close', done);
      socket.once('error', done);
    });
  }

  static connect(path: string): Promise<RawVppClient> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new RawVppClient(s));
      });
      s.once('error', reject);
    });
  }

  /** Connects and runs sockclnt_create. */
  static async open(path: string, name = 'raw-test'): Promise<RawVppClient> {
    const c = await RawVppClient.connect(path);
    await c.handshake(name);
    return c;
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  async handshake(name = 'raw-test', context = 124): Promise<RawFrame> {
    const def = memclnt.sockclnt_create;
    const msg = Buffer.alloc(def.size({ name }));
    def.encode(msg, 0, 15, 0, context, { name });
    this.writeRaw(Buffer.concat([frameHeader(msg.length), msg]));
    const f = await this.next();
    if (f.id !== 16) throw new Error(`expected sockclnt_create_reply (16), got id ${f.id}`);
    const r = memclnt.sockclnt_create_reply.decode(f.msg);
    this.clientIndex = r.index;
    this.adoptTable(r.message_table);
    return f;
  }

  /** Learns a message table (name_crc -> id), e.g. from a handshake sent as raw bytes. */
  adoptTable(table: readonly { index: number; name: string }[]): void {
    for (const e of table) {
      this.ids.set(e.name, e.index);
      const d = defsByNameCrc.get(e.name);
      if (d) this.defById.set(e.index, d);
    }
  }

  id(def: MessageDef): number {
    const id = this.ids.get(def.nameCrc);
    if (id === undefined) throw new Error(`${def.nameCrc} is not in the server's table`);
    return id;
  }

  def(id: number): MessageDef | undefined {
    return this.defById.get(id);
  }

  /** Encodes a request (client_index defaults to ours, context to a fresh one); returns the frame bytes. */
  frame<I>(def: MessageDef<I, unknown>, value: I, opts: { context?: number; clientIndex?: number } = {}): { bytes: Buffer; context: number } {
    const context = opts.context ?? this.nextContext++;
    const size = def.size(value);
    const bytes = Buffer.alloc(16 + size);
    bytes.writeUInt32BE(size, 8);
    def.encode(bytes, 16, this.id(def), opts.clientIndex ?? this.clientIndex, context, value);
    return { bytes, context };
  }

  /** Sends a request; returns its context. */
  send<I>(def: MessageDef<I, unknown>, value: I, opts: { context?: number; clientIndex?: number } = {}): number {
    const { bytes, context } = this.frame(def, value, opts);
    this.writeRaw(bytes);
    return context;
  }

  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next frame from the server; rejects after timeoutMs or when the connection closes first. */
  async next(timeoutMs = 2000): Promise<RawFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.queue.shift();
      if (f) return f;
      if (this.isClosed) throw new Error('connection closed while waiting for a frame');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  /** Resolves when no frame arrives within ms; rejects with the frame otherwise. */
  async expectNothing(ms = 300): Promise<void> {
    const f = await this.next(ms).catch(() => undefined);
    if (f) throw new Error(`unexpected frame id ${f.id} (${f.name ?? '?'}): ${f.msg.toString('hex')}`);
  }

  /** Frames already received and not yet taken. */
  get buffered(): number {
    return this.queue.length;
  }

  /** Decodes a frame with the descriptor of its id. */
  decode(f: RawFrame): unknown {
    const d = this.defById.get(f.id);
    if (!d) throw new Error(`no descriptor for id ${f.id}`);
    return d.decode(f.msg);
  }

  /** Sends a request and returns the next frame decoded as `reply` (asserting its id and context). */
  async request<I, R>(def: MessageDef<I, unknown>, value: I, reply: MessageDef<unknown, R>, opts: { context?: number } = {}): Promise<R> {
    const context = this.send(def, value, opts);
    const f = await this.next();
    if (f.id !== this.id(reply)) throw new Error(`expected ${reply.name}, got id ${f.id} (${f.name ?? '?'})`);
    if (reply.contextOffset >= 0 && f.msg.readUInt32BE(reply.contextOffset) !== context) throw new Error(`reply context ${f.msg.readUInt32BE(reply.contextOffset)} != ${context}`);
    return reply.decode(f.msg);
  }

  /** A legacy dump: the request, a control_ping with the same context, details until the ping reply. */
  async dump<I, D>(def: MessageDef<I, unknown>, value: I, details: MessageDef<unknown, D>): Promise<D[]> {
    const context = this.send(def, value);
    this.send(memclnt.control_ping, {}, { context });
    const out: D[] = [];
    for (;;) {
      const f = await this.next();
      if (f.id === this.id(memclnt.control_ping_reply)) return out;
      if (f.id !== this.id(details)) throw new Error(`expected ${details.name}, got id ${f.id} (${f.name ?? '?'})`);
      out.push(details.decode(f.msg));
    }
  }

  /** sockclnt_delete with our index; resolves once the server closed the connection. */
  async disconnect(): Promise<void> {
    if (this.isClosed) return;
    this.send(memclnt.sockclnt_delete, { index: this.clientIndex });
    await this.waitClosed(2000).catch(() => undefined);
    this.socket.destroy();
  }

  /** Resolves when the server has closed the connection; rejects after timeoutMs. */
  async waitClosed(timeoutMs = 2000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.closed,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let off = 0;
    while (this.pending.length - off >= 16) {
      const len = this.pending.readUInt32BE(off + 8);
      if (this.pending.length - off < 16 + len) break;
      const header = Buffer.from(this.pending.subarray(off, off + 16));
      const msg = Buffer.from(this.pending.subarray(off + 16, off + 16 + len));
      const id = msg.length >= 2 ? msg.readUInt16BE(0) : -1;
      this.queue.push({ header, msg, id, name: this.defById.get(id)?.name });
      off += 16 + len;
    }
    this.pending = off === 0 ? this.pending : this.pending.subarray(off);
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}

/** Starts simulators on unique sockets under os.tmpdir() and cleans everything up. */
export class SimFixture {
  readonly dir: string;
  private n = 0;
  private readonly sims: VppSimulator[] = [];
  private readonly clients: RawVppClient[] = [];

  constructor(prefix: string) {
    this.dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  }

  socketPath(): string {
    return join(this.dir, `sim${this.n++}.sock`);
  }

  async start(opts: Partial<VppSimulatorOptions> = {}): Promise<VppSimulator> {
    const sim = await VppSimulator.start({ socketPath: this.socketPath(), ...opts });
    this.sims.push(sim);
    return sim;
  }

  /** A client that did the handshake. */
  async client(sim: VppSimulator, name = 'test'): Promise<RawVppClient> {
    const c = await RawVppClient.open(sim.socketPath, name);
    this.clients.push(c);
    return c;
  }

  /** A connected client without handshake. */
  async rawClient(sim: VppSimulator): Promise<RawVppClient> {
    const c = await RawVppClient.connect(sim.socketPath);
    this.clients.push(c);
    return c;
  }

  async cleanup(): Promise<void> {
    for (const c of this.clients) c.destroy();
    for (const s of this.sims) await s.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
