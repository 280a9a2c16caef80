/**
 * VppSimulator: a unix-socket server speaking VPP's socket API byte for byte.
 *
 * Dispatch mirrors vlibmemory: messages are handled one at a time in arrival order (across all
 * connections); an unknown id, a body shorter than the message or a decode failure is dropped without a reply;
 * a reply goes to the registration named by the request's client_index (if none exists, nothing is sent, but
 * the request still takes effect, as in VPP's REPLY_MACRO); interface events follow the reply of the request
 * that caused them. control_ping has an allocation-free fast path, and all output of one input chunk leaves in
 * one socket write.
 */
import { existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { VppDecodeError } from '../codec/errors.js';
import type { MessageDef } from '../codec/types.js';
import { allModules, interface_, memclnt, vlib, VPP_VERSION } from '../generated/index.js';
import { SimConnection } from './connection.js';
import { Faults } from './faults.js';
import { flagsOf, type ConnectionControl, type HandlerContext, type HandlerSpec, type SimConfig, type SimControl, type VersionInfo } from './handler.js';
import { afPacketHandlers } from './handlers/af-packet.js';
import { cliHandlers, isSimCommand } from './handlers/cli.js';
import { cnatHandlers } from './handlers/cnat.js';
import { interfaceHandlers } from './handlers/interface.js';
import { ipHandlers } from './handlers/ip.js';
import { ipNeighborHandlers } from './handlers/ip-neighbor.js';
import { memclntHandlers } from './handlers/memclnt.js';
import { memifHandlers } from './handlers/memif.js';
import { pblHandlers } from './handlers/pbl.js';
import { puntHandlers } from './handlers/punt.js';
import { sessionHandlers } from './handlers/session.js';
import { tapHandlers } from './handlers/tap.js';
import { urpfHandlers } from './handlers/urpf.js';
import { defaultHost, type SimHost } from './host.js';
import { IndexPool } from './index-pool.js';
import { MessageTable } from './message-table.js';
import { SimState } from './state.js';
import { snapshotState } from './snapshot.js';

export interface SimLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  debug?(msg: string, fields?: Record<string, unknown>): void;
}

export interface VppSimulatorOptions {
  socketPath: string;
  /** vpe_pid of control_ping_reply (default: this process's pid). */
  vpePid?: number;
  /** Host side (default: fakeTap when /dev/vhost-net exists, else noVhostNet). */
  host?: SimHost;
  /** name_crc -> id, to use the exact ids of a captured VPP. */
  messageIds?: ReadonlyMap<string, number>;
  /** With messageIds: announce only those messages (a VPP without the plugins of the others). */
  onlyMessageIds?: boolean;
  /** message name -> CRC announced instead of the bindings' one (a VPP with another definition: version skew). */
  crcOverrides?: ReadonlyMap<string, number>;
  /** Entries per `*_get` call before retval -165 (default: unlimited). */
  cursorPageSize?: number;
  logger?: SimLogger;
  /** VPP runtime directory shown in paths (default /run/vpp). */
  runtimeDir?: string;
  version?: Partial<VersionInfo>;
}

/** Every handler the simulator has. */
export const ALL_HANDLERS: readonly HandlerSpec[] = [
  ...memclntHandlers,
  ...interfaceHandlers,
  ...ipHandlers,
  ...ipNeighborHandlers,
  ...memifHandlers,
  ...tapHandlers,
  ...afPacketHandlers,
  ...pblHandlers,
  ...cnatHandlers,
  ...sessionHandlers,
  ...puntHandlers,
  ...urpfHandlers,
  ...cliHandlers,
];

const NOOP_LOGGER: SimLogger = { info: () => undefined, warn: () => undefined };

interface Dispatch {
  readonly spec: HandlerSpec;
  readonly ciOffset: number;
  readonly ctxOffset: number;
  readonly fixedSize: number;
}

function defaultVersion(): VersionInfo {
  return {
    program: 'vpe',
    version: VPP_VERSION.replace(/^vpp v/, ''),
    buildDate: '2026-11-21T22:37:05',
    buildDirectory: '',
    builtBy: 'root',
    builtOn: 'vm',
  };
}

export class VppSimulator {
  readonly faults = new Faults();
  readonly table: MessageTable;
  readonly host: SimHost;
  /**
   * The host as request handlers see it: a tap is made only once the taps of a VPP that restarted are gone
   * (VPP's exit closes their descriptors before the new VPP runs; here their removal is asynchronous).
   */
  readonly hostForRequests: SimHost;
  private hostRelease: Promise<void> = Promise.resolve();
  /** Requests handled, by message name, since start (tests count what a client asked for). */
  readonly requestCounts = new Map<string, number>();
  private readonly requestListeners = new Set<(name: string) => void>();
  /** Every abort of the simulated VPP (e.g. a cnat translation without paths), oldest first. */
  readonly aborts: { readonly reason: string; readonly vpePid: number }[] = [];
  private readonly abortListeners = new Set<(reason: string) => void>();
  private aborting = false;
  readonly config: SimConfig;
  private stateRef: SimState;
  private readonly dispatchById: (Dispatch | undefined)[] = [];
  private readonly registrations = new Map<number, SimConnection>();
  /** Socket registrations; index 0 is the listener's, so the first client gets 0x80000001. */
  private registrationPool = VppSimulator.newRegistrationPool();
  private readonly connections = new Set<SimConnection>();
  private readonly qLow: number;
  private readonly pingId: number;
  private readonly pingReplyId: number;
  private readonly eventId: number;
  private busy = false;
  private backlog: ([SimConnection, Buffer] | undefined)[] = [];
  private backlogHead = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private readonly logger: SimLogger;
  private readonly control: SimControl;

  private constructor(
    private readonly server: Server,
    readonly socketPath: string,
    opts: VppSimulatorOptions,
  ) {
    this.logger = opts.logger ?? NOOP_LOGGER;
    this.host = opts.host ?? defaultHost();
    const base = this.host;
    this.hostForRequests = Object.assign(Object.create(base) as SimHost, {
      createTap: async (req: Parameters<SimHost['createTap']>[0]) => {
        await this.hostRelease;
        return base.createTap(req);
      },
    });
    this.table = new MessageTable(allModules, opts.messageIds, opts.crcOverrides, opts.onlyMessageIds ?? false);
    this.config = {
      runtimeDir: opts.runtimeDir ?? '/run/vpp',
      cursorPageSize: opts.cursorPageSize ?? Number.MAX_SAFE_INTEGER,
      version: { ...defaultVersion(), ...opts.version },
    };
    if (!(this.config.cursorPageSize >= 1)) throw new RangeError('cursorPageSize must be >= 1');
    this.stateRef = new SimState(opts.vpePid ?? process.pid, this.config.runtimeDir);
    // A plausible heap pointer for the `q` header field (like 0x1300474c0 in the captures).
    this.qLow = (0x30040000 | ((Math.random() * 0x1000) << 4)) >>> 0;
    this.pingId = this.table.mustId(memclnt.control_ping.name);
    this.pingReplyId = this.table.mustId(memclnt.control_ping_reply.name);
    this.eventId = this.table.mustId(interface_.sw_interface_event.name);
    for (const spec of ALL_HANDLERS) {
      const id = this.table.id(spec.def.name);
      if (id === undefined) continue;
      this.dispatchById[id] = { spec, ciOffset: spec.def.clientIndexOffset, ctxOffset: spec.def.contextOffset, fixedSize: spec.def.fixedSize };
    }
    this.control = {
      faults: this.faults,
      hostKind: this.host.kind,
      isRegistrationLive: (i) => this.registrationPool.has(i) && this.registrations.has((0x80000000 | i) >>> 0),
      closeRegistration: (i) => {
        const c = this.registrations.get((0x80000000 | i) >>> 0);
        if (c) this.release(c, 'end');
      },
      scheduleRestart: () => this.afterFlush(() => this.restart()),
      scheduleDropConnections: () => this.afterFlush(() => this.dropConnections()),
      snapshot: () => this.snapshot(),
      abort: (reason) => this.abortProcess(reason),
    };
    server.on('connection', (socket) => this.accept(socket));
    server.on('error', (e) => this.logger.warn('listener error', { error: e.message }));
  }

  /** Starts a simulator listening on opts.socketPath (its directory is created, a stale socket removed). */
  static async start(opts: VppSimulatorOptions): Promise<VppSimulator> {
    mkdirSync(dirname(opts.socketPath), { recursive: true });
    if (existsSync(opts.socketPath)) {
      if (!lstatSync(opts.socketPath).isSocket()) throw new Error(`${opts.socketPath} exists and is not a socket`);
      unlinkSync(opts.socketPath);
    }
    const server = createServer({ allowHalfOpen: false });
    const sim = new VppSimulator(server, opts.socketPath, opts);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    sim.logger.info('vpp simulator listening', { socket: opts.socketPath, vpePid: sim.state.vpePid, host: sim.host.kind });
    return sim;
  }

  get state(): SimState {
    return this.stateRef;
  }

  get vpePid(): number {
    return this.stateRef.vpePid;
  }

  /** Number of open client connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Closes every connection and the listener, and removes the socket file. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.backlog = [];
    this.backlogHead = 0;
    for (const c of [...this.connections]) c.destroy();
    await this.releaseHostTaps(this.stateRef);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      if (existsSync(this.socketPath) && lstatSync(this.socketPath).isSocket()) unlinkSync(this.socketPath);
    } catch {
      // already gone
    }
    this.logger.info('vpp simulator stopped', { socket: this.socketPath });
  }

  /**
   * VPP holds its taps' file descriptors: when the process ends, the kernel removes the (non-persistent)
   * devices. A restart or stop of the simulator does the same through its host.
   */
  private async releaseHostTaps(state: SimState): Promise<void> {
    const taps = state.interfaceList().flatMap((itf) => (itf.device.kind === 'tap' ? [itf.device] : []));
    // Several at a time: the kernel closes them all at once when VPP exits.
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < taps.length) {
        const dev = taps[next++]!;
        try {
          await this.host.deleteTap({ id: dev.id, tun: dev.tun, hostIfName: dev.hostIfName, hostNamespace: dev.hostNamespace });
        } catch {
          // best effort, as the kernel's cleanup is
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, taps.length) }, worker));
  }

  /** What a VPP crash and restart looks like from outside: connections dropped, all state gone, new pid. */
  restart(): void {
    const old = this.stateRef.vpePid;
    this.dropConnections();
    const gone = this.stateRef;
    this.hostRelease = this.hostRelease.then(() => this.releaseHostTaps(gone));
    this.registrationPool = VppSimulator.newRegistrationPool();
    const pid = old >= 4_000_000 ? 1000 : old + 1 + Math.floor(Math.random() * 1000);
    this.stateRef = new SimState(pid, this.config.runtimeDir);
    this.logger.info('vpp simulator restarted', { vpePid: pid });
  }

  /** Closes every client connection (their registrations and event subscriptions die with them). */
  dropConnections(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.backlog = [];
    this.backlogHead = 0;
    this.busy = false;
    for (const c of [...this.connections]) this.release(c, 'destroy');
  }

  /** Called with the reason each time the simulated VPP aborts. */
  onAbort(l: (reason: string) => void): () => void {
    this.abortListeners.add(l);
    return () => this.abortListeners.delete(l);
  }

  private abortProcess(reason: string): void {
    if (this.aborting) return;
    this.aborting = true;
    this.aborts.push({ reason, vpePid: this.stateRef.vpePid });
    this.logger.warn('vpp simulator aborted', { reason });
    for (const l of this.abortListeners) l(reason);
    this.afterFlush(() => {
      this.aborting = false;
      this.restart();
    });
  }

  /** Called with each request's message name as it is dispatched (before it is handled). */
  onRequest(l: (name: string) => void): () => void {
    this.requestListeners.add(l);
    return () => this.requestListeners.delete(l);
  }

  /** Plain-data view of the state (also what `sim state` prints). */
  snapshot(): unknown {
    return { ...snapshotState(this.stateRef), connections: [...this.registrations.values()].map((c) => ({ clientIndex: c.clientIndex, name: c.name })), faults: this.faults.snapshot(), host: this.host.kind };
  }

  // ---- connections ----

  private static newRegistrationPool(): IndexPool {
    const pool = new IndexPool();
    pool.alloc(); // the listener
    return pool;
  }

  private accept(socket: Socket): void {
    const regIndex = this.registrationPool.alloc();
    const conn = new SimConnection(socket, regIndex, this.qLow, 1, {
      onMessage: (c, msg) => this.dispatch(c, msg),
      onClose: (c) => this.release(c, 'closed'),
    });
    this.connections.add(conn);
    this.registrations.set(conn.clientIndex, conn);
  }

  /** Frees a connection's registration; `end` flushes and closes, `destroy` drops output. */
  private release(conn: SimConnection, how: 'end' | 'destroy' | 'closed'): void {
    if (!conn.released) {
      conn.released = true;
      if (this.registrations.get(conn.clientIndex) === conn) {
        this.registrations.delete(conn.clientIndex);
        this.registrationPool.release(conn.registrationIndex);
      }
      this.stateRef.reapClient(conn.clientIndex);
    }
    // After `end` the socket's close event comes back here as 'closed'.
    if (how === 'end' && !conn.socket.destroyed) {
      conn.end();
      return;
    }
    if (how === 'destroy') conn.destroy();
    this.connections.delete(conn);
  }

  private afterFlush(fn: () => void): void {
    // Replies are flushed from a microtask; run after them.
    setImmediate(() => {
      if (!this.stopped) fn();
    });
  }

  // ---- dispatch ----

  private dispatch(conn: SimConnection, msg: Buffer): void {
    if (this.busy) {
      this.backlog.push([conn, msg]);
      return;
    }
    this.process(conn, msg, false);
  }

  private drain(): void {
    while (!this.busy && this.backlogHead < this.backlog.length) {
      const item = this.backlog[this.backlogHead];
      this.backlog[this.backlogHead++] = undefined;
      if (item) this.process(item[0], item[1], false);
    }
    if (this.backlogHead >= this.backlog.length) {
      this.backlog = [];
      this.backlogHead = 0;
    }
  }

  private process(conn: SimConnection, msg: Buffer, delayed: boolean): void {
    if (msg.length < 2 || conn.released || this.aborting) return;
    const id = msg.readUInt16BE(0);
    const d = this.dispatchById[id];
    if (d === undefined) {
      this.logger.debug?.('no handler for msg id', { id });
      return;
    }
    if (msg.length < d.fixedSize) {
      this.logger.debug?.('truncated message dropped', { name: d.spec.def.name, length: msg.length });
      return;
    }
    if (!delayed) {
      const name = d.spec.def.name;
      this.requestCounts.set(name, (this.requestCounts.get(name) ?? 0) + 1);
      for (const l of this.requestListeners) l(name);
    }
    let clientIndex: number;
    let target: SimConnection | undefined;
    if (d.ciOffset >= 0) {
      clientIndex = msg.readUInt32BE(d.ciOffset);
      target = clientIndex === conn.clientIndex ? conn : this.registrations.get(clientIndex);
    } else {
      clientIndex = conn.clientIndex;
      target = conn;
    }
    if (id === this.pingId && !this.faults.active) {
      if (target !== undefined) this.fastPing(target, msg, clientIndex);
      return;
    }
    if (this.faults.active) {
      const name = d.spec.def.name;
      const rule = this.faults.get(name);
      if (rule !== undefined && !(name === vlib.cli_inband.name && this.isSimCli(msg))) {
        if (rule.delayMs !== undefined && !delayed) {
          this.busy = true;
          const t = setTimeout(() => {
            this.timers.delete(t);
            this.busy = false;
            this.process(conn, msg, true);
            this.drain();
          }, rule.delayMs);
          this.timers.add(t);
          return;
        }
        const retval = this.faults.takeFailure(name);
        if (retval !== undefined) {
          if (target !== undefined) this.sendFailure(d.spec.def, target, msg, d.ctxOffset, retval);
          return;
        }
        if (rule.noReply) target = undefined;
      }
    }
    this.run(d, conn, target, msg, clientIndex);
  }

  private isSimCli(msg: Buffer): boolean {
    try {
      return isSimCommand(vlib.cli_inband.decode(msg).cmd);
    } catch {
      return false;
    }
  }

  private fastPing(target: SimConnection, msg: Buffer, clientIndex: number): void {
    const p = target.writer.reserve(18);
    const b = target.writer.buffer;
    b.writeUInt16BE(this.pingReplyId, p);
    b.writeUInt32BE(msg.readUInt32BE(6), p + 2);
    b.writeInt32BE(0, p + 6);
    b.writeUInt32BE(clientIndex, p + 10);
    b.writeUInt32BE(this.stateRef.vpePid, p + 14);
    target.stampQ(b, p);
  }

  private sendFailure(def: MessageDef, target: SimConnection, msg: Buffer, ctxOffset: number, retval: number): void {
    if (!('reply' in def)) return; // a dump: no details
    const reply = (def as { reply: MessageDef }).reply;
    const id = this.table.id(reply.name);
    if (id === undefined) return;
    const context = ctxOffset >= 0 ? msg.readUInt32BE(ctxOffset) : 0;
    const value: Record<string, unknown> = reply.retvalOffset >= 0 ? { retval } : { response: retval };
    target.write(reply, id, 0, context, value);
  }

  private run(d: Dispatch, conn: SimConnection, target: SimConnection | undefined, msg: Buffer, clientIndex: number): void {
    const ctx = new RequestContext(this, conn, target, clientIndex, d.ctxOffset >= 0 ? msg.readUInt32BE(d.ctxOffset) : 0);
    let result: void | Promise<void>;
    try {
      result = d.spec.run(msg, ctx);
    } catch (e) {
      this.handlerError(d, e);
      this.flushEvents();
      return;
    }
    if (result instanceof Promise) {
      this.busy = true;
      result
        .catch((e: unknown) => this.handlerError(d, e))
        .finally(() => {
          this.flushEvents();
          this.busy = false;
          this.drain();
        });
      return;
    }
    this.flushEvents();
  }

  private handlerError(d: Dispatch, e: unknown): void {
    // VPP drops a message whose contents do not fit its length (calc_size) without a reply.
    if (e instanceof VppDecodeError) {
      this.logger.debug?.('undecodable message dropped', { name: d.spec.def.name, error: e.message });
      return;
    }
    this.logger.warn('handler failed', { name: d.spec.def.name, error: e instanceof Error ? e.stack ?? e.message : String(e) });
  }

  /** Sends pending sw_interface_events to every registration, like vpe-link-state-process. */
  private flushEvents(): void {
    const st = this.stateRef;
    if (!st.hasPendingEvents) return;
    const events = st.takeEvents();
    const regs = st.eventRegistrations();
    if (regs.length === 0) return;
    for (const ev of events) {
      for (const reg of regs) {
        const c = this.registrations.get(reg.clientIndex);
        if (c === undefined) continue;
        c.write(interface_.sw_interface_event, this.eventId, reg.clientIndex, 0, { pid: reg.pid, sw_if_index: ev.swIfIndex, flags: flagsOf(ev.flags), deleted: ev.deleted });
      }
    }
  }

  /** For RequestContext. */
  get simControl(): SimControl {
    return this.control;
  }

  /** For RequestContext: the id of a message the simulator sends. */
  idOf(def: MessageDef): number {
    return this.table.mustId(def.name);
  }

  /** For RequestContext. */
  closeAfterReply(conn: SimConnection): void {
    this.release(conn, 'end');
  }
}

class RequestContext implements HandlerContext {
  readonly connection: ConnectionControl;

  constructor(
    private readonly sim: VppSimulator,
    conn: SimConnection,
    private readonly target: SimConnection | undefined,
    readonly clientIndex: number,
    readonly context: number,
  ) {
    this.connection = {
      clientIndex: conn.clientIndex,
      registrationIndex: conn.registrationIndex,
      setName: (name) => {
        conn.name = name;
      },
      closeAfterReply: () => sim.closeAfterReply(conn),
    };
  }

  get state(): SimState {
    return this.sim.state;
  }

  get host(): SimHost {
    return this.sim.hostForRequests;
  }

  get table(): MessageTable {
    return this.sim.table;
  }

  get config(): SimConfig {
    return this.sim.config;
  }

  get control(): SimControl {
    return this.sim.simControl;
  }

  send<I>(def: MessageDef<I, unknown>, value: I, context: number = this.context): void {
    if (this.target === undefined || this.target.released) return;
    this.target.write(def, this.sim.idOf(def), 0, context, value);
  }

  sendEncoded(msg: Buffer, zeroQ: boolean): void {
    if (this.target === undefined || this.target.released) return;
    this.target.writeEncoded(msg, zeroQ);
  }
}
