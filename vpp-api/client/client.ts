/**
 * VppClient: requests matched by context over one long-lived connection, dumps ended by control_ping,
 * cursor streams, want_* subscriptions, per-request timeouts, a health probe, and reconnection that
 * redoes the handshake, the CRC check and the subscriptions, and says when VPP itself restarted.
 */
import type { ApiModule, CursorDef, DumpDef, EventsDef, MessageDef, RequestDef } from '../codec/types.js';
import { VppEncodeError } from '../codec/errors.js';
import { cli_inband } from '../generated/vlib.js';
import { show_version } from '../generated/vpe.js';
import { control_ping, control_ping_reply, memclnt_keepalive, memclnt_keepalive_reply } from '../generated/memclnt.js';
import { SocketTransport, DEFAULT_API_SOCKET, TransportError, type HandshakeResult } from '../transport/socket-transport.js';
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { checkCompatibility, indexByName, type CompatReport } from './compat.js';
import { ConnectionStateMachine, type ConnectionState, type StateChange } from './connection-state.js';
import {
  VppApiError,
  VppCompatibilityError,
  VppConnectError,
  VppDisconnectedError,
  VppProtocolError,
  VppTimeoutError,
  VppUnknownMessageError,
} from './errors.js';

const EAGAIN = -165;

/** pino-compatible subset. */
export interface ClientLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const NOOP_LOGGER: ClientLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Called once per finished request when set (metrics). `error` is a retval name or an error class name. */
export type RequestObserver = (messageName: string, seconds: number, error: string | undefined) => void;

export interface VppClientOptions {
  socketPath?: string;
  clientName?: string;
  /** Generated modules whose messages this client may use. */
  modules: readonly ApiModule[];
  /** Messages that must be present with the same CRC: connect fails (listing them all) otherwise. */
  required?: readonly MessageDef[];
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Reconnect after the connection is lost. Default on. */
  reconnect?: boolean;
  backoff?: Partial<BackoffOptions>;
  /** Give up after this many failed reconnect attempts (state 'failed'). Default: never. */
  maxReconnectAttempts?: number;
  /** control_ping probe while idle or busy; misses mark the connection not-responding. */
  healthCheck?: { intervalMs: number; timeoutMs: number; misses: number } | false;
  logger?: ClientLogger;
  observer?: RequestObserver;
  now?: () => number;
  random?: () => number;
}

export interface ConnectInfo {
  clientIndex: number;
  vpePid: number;
  messageCount: number;
  compat: CompatReport;
}

export interface VppRestart {
  previousPid: number;
  vpePid: number;
}

export interface Subscription {
  /** Sends the disable request (when connected) and stops re-subscribing after reconnects. */
  close(): Promise<void>;
}

interface RequestOptions {
  timeoutMs?: number;
}

const enum PendingKind {
  Request,
  Dump,
  Cursor,
}

class Pending {
  deadline = 0;
  items: unknown[] | undefined;
  onItem: ((d: unknown) => void) | undefined;
  started = 0;
  constructor(
    readonly kind: PendingKind,
    readonly def: MessageDef,
    readonly expect: MessageDef | undefined,
    readonly details: MessageDef | undefined,
    readonly timeoutMs: number,
    readonly resolve: (v: unknown) => void,
    readonly reject: (e: Error) => void,
  ) {}
}

interface ActiveSubscription {
  def: EventsDef<unknown, unknown, unknown>;
  msg: unknown;
}

export class VppClient {
  private readonly opts: Required<Pick<VppClientOptions, 'socketPath' | 'clientName' | 'requestTimeoutMs' | 'connectTimeoutMs' | 'reconnect'>> &
    VppClientOptions;
  private readonly log: ClientLogger;
  private readonly now: () => number;
  private readonly sm: ConnectionStateMachine;
  private transport: SocketTransport | undefined;
  private hs: HandshakeResult | undefined;
  private readonly known: MessageDef[];
  private ids = new Map<MessageDef, number>();
  private byId: (MessageDef | undefined)[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextCtx = 1;
  private sweepTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private healthMisses = 0;
  private readonly backoff: Backoff;
  private vpePid: number | undefined;
  private readonly eventListeners = new Map<MessageDef, Set<(e: unknown) => void>>();
  private readonly subscriptions = new Set<ActiveSubscription>();
  private readonly restartListeners = new Set<(r: VppRestart) => void>();
  private readonly errorListeners = new Set<(e: Error) => void>();
  private compat: CompatReport | undefined;
  /** A restart found by establish(), announced once the state is 'connected'. */
  private pendingRestart: VppRestart | undefined;
  private readonly connectedWaiters = new Set<() => void>();

  constructor(options: VppClientOptions) {
    this.opts = {
      socketPath: DEFAULT_API_SOCKET,
      clientName: 'vpp-cni',
      requestTimeoutMs: 5000,
      connectTimeoutMs: 5000,
      reconnect: true,
      ...options,
    };
    this.log = options.logger ?? NOOP_LOGGER;
    this.now = options.now ?? Date.now;
    this.sm = new ConnectionStateMachine(this.now);
    const b: BackoffOptions = { ...DEFAULT_BACKOFF, ...options.backoff };
    if (options.random) b.random = options.random;
    this.backoff = new Backoff(b);
    const seen = new Set<MessageDef>();
    for (const m of options.modules) for (const d of m.messages) seen.add(d);
    for (const d of [control_ping, control_ping_reply, memclnt_keepalive, memclnt_keepalive_reply]) seen.add(d);
    this.known = [...seen];
    this.sm.onChange((c) => this.log.info({ from: c.from, to: c.to, reason: c.reason }, `vpp connection ${c.from} -> ${c.to}`));
  }

  // ---- state and events ----

  get state(): ConnectionState {
    return this.sm.state;
  }

  get socketPath(): string {
    return this.opts.socketPath;
  }

  /** The vpe_pid of the VPP we are (or were last) connected to. */
  get pid(): number | undefined {
    return this.vpePid;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  onStateChange(l: (c: StateChange) => void): () => void {
    return this.sm.onChange(l);
  }

  /** VPP restarted (a reconnect found another vpe_pid): everything made in VPP before is gone. */
  onRestart(l: (r: VppRestart) => void): () => void {
    this.restartListeners.add(l);
    return () => this.restartListeners.delete(l);
  }

  /** Protocol errors and failed reconnect attempts (the client keeps going). */
  onError(l: (e: Error) => void): () => void {
    this.errorListeners.add(l);
    return () => this.errorListeners.delete(l);
  }

  /** Listens for an event message (e.g. sw_interface_event) without subscribing. */
  on<E>(event: MessageDef<unknown, E>, l: (e: E) => void): () => void {
    let set = this.eventListeners.get(event);
    if (!set) this.eventListeners.set(event, (set = new Set()));
    const fn = l as (e: unknown) => void;
    set.add(fn);
    return () => set.delete(fn);
  }

  /** The compatibility report of the current connection. */
  compatibility(defs: Iterable<MessageDef> = this.known): CompatReport {
    if (!this.hs) throw new VppDisconnectedError('compatibility', 'not connected');
    return defs === this.known && this.compat ? this.compat : checkCompatibility(this.hs.table, defs);
  }

  /** True when the connected VPP has this exact message. */
  has(def: MessageDef): boolean {
    return this.ids.has(def);
  }

  /** Resolves once connected (immediately if already), or rejects after `timeoutMs`. */
  waitConnected(timeoutMs: number): Promise<void> {
    if (this.sm.state === 'connected' || this.sm.state === 'not-responding') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(t);
        this.connectedWaiters.delete(done);
        resolve();
      };
      const t = setTimeout(() => {
        this.connectedWaiters.delete(done);
        reject(new VppDisconnectedError('connect', `VPP not connected within ${timeoutMs} ms (state ${this.sm.state})`));
      }, timeoutMs);
      this.connectedWaiters.add(done);
    });
  }

  // ---- connect / close ----

  /** Connects once; rejects with VppConnectError or VppCompatibilityError. Later losses reconnect by themselves. */
  async connect(): Promise<ConnectInfo> {
    if (!this.sm.transition('connecting', 'connect() called')) {
      throw new VppConnectError(this.opts.socketPath, 'EISCONN', `connect() called in state ${this.sm.state}`);
    }
    try {
      const info = await this.establish();
      this.sm.transition('connected', 'handshake done');
      this.afterConnected();
      return info;
    } catch (e) {
      this.sm.transition('idle', `connect failed: ${(e as Error).message}`);
      throw e;
    }
  }

  /** Graceful close: fails pending requests, sends sockclnt_delete, closes the socket. */
  async close(): Promise<void> {
    if (this.sm.state === 'closed') return;
    this.sm.transition('closed', 'close() called');
    this.stopTimers();
    this.failAll(() => new VppDisconnectedError('request', 'client closed'));
    const t = this.transport;
    this.transport = undefined;
    await t?.close();
  }

  private async establish(): Promise<ConnectInfo> {
    const t = new SocketTransport({
      socketPath: this.opts.socketPath,
      clientName: this.opts.clientName,
      connectTimeoutMs: this.opts.connectTimeoutMs,
    });
    let hs: HandshakeResult;
    try {
      hs = await t.connect({ onMessage: (m) => this.onMessage(m), onClose: (e) => this.onTransportClose(t, e) });
    } catch (e) {
      const te = e as TransportError;
      throw new VppConnectError(this.opts.socketPath, te.code ?? 'EIO', te.message, { cause: e });
    }
    const compat = checkCompatibility(hs.table, this.known);
    const required = this.opts.required ?? [];
    if (required.length > 0) {
      const req = checkCompatibility(hs.table, required);
      const problems = [...req.incompatible, ...req.missing];
      if (problems.length > 0) {
        await t.close();
        throw new VppCompatibilityError(problems);
      }
    }
    this.transport = t;
    this.hs = hs;
    this.compat = compat;
    this.ids = new Map();
    this.byId = [];
    for (const d of this.known) {
      const id = hs.table.get(d.nameCrc);
      if (id === undefined) continue;
      this.ids.set(d, id);
      this.byId[id] = d;
    }
    if (compat.incompatible.length > 0) {
      this.log.warn({ incompatible: compat.incompatible.map((x) => x.name) }, 'VPP has other CRCs for some messages; they will not be sent');
    }
    let pid: number;
    try {
      pid = (await this.request(control_ping, {}, { timeoutMs: this.opts.connectTimeoutMs })).vpe_pid;
    } catch (e) {
      t.destroy();
      throw new VppConnectError(this.opts.socketPath, 'EPROTO', `connected, but control_ping failed: ${(e as Error).message}`, { cause: e });
    }
    const previous = this.vpePid;
    this.vpePid = pid;
    for (const s of this.subscriptions) {
      try {
        await this.request(s.def, s.msg);
      } catch (e) {
        this.log.warn({ msg: s.def.name, err: (e as Error).message }, 're-subscribe failed');
      }
    }
    if (previous !== undefined && previous !== pid) {
      this.log.warn({ previousPid: previous, vpePid: pid }, 'VPP restarted: its state is gone');
      this.pendingRestart = { previousPid: previous, vpePid: pid };
    }
    return { clientIndex: hs.clientIndex, vpePid: pid, messageCount: hs.table.size, compat };
  }

  private afterConnected(): void {
    const restart = this.pendingRestart;
    this.pendingRestart = undefined;
    if (restart) for (const l of this.restartListeners) l(restart);
    this.backoff.reset();
    this.healthMisses = 0;
    for (const w of [...this.connectedWaiters]) w();
    const hc = this.opts.healthCheck === undefined ? { intervalMs: 1000, timeoutMs: 500, misses: 2 } : this.opts.healthCheck;
    if (hc) {
      this.healthTimer = setInterval(() => this.probe(hc.timeoutMs, hc.misses), hc.intervalMs);
      this.healthTimer.unref();
    }
  }

  private probe(timeoutMs: number, maxMisses: number): void {
    if (this.sm.state !== 'connected' && this.sm.state !== 'not-responding') return;
    this.request(control_ping, {}, { timeoutMs }).then(
      (r) => {
        this.healthMisses = 0;
        if (this.sm.state === 'not-responding') this.sm.transition('connected', 'health ping answered');
        if (this.vpePid !== undefined && r.vpe_pid !== this.vpePid) {
          // Cannot happen on one socket, but a proxy or a reused socket path could hide a restart.
          const previousPid = this.vpePid;
          this.vpePid = r.vpe_pid;
          for (const l of this.restartListeners) l({ previousPid, vpePid: r.vpe_pid });
        }
      },
      (e: Error) => {
        if (!(e instanceof VppTimeoutError)) return;
        this.healthMisses++;
        if (this.healthMisses >= maxMisses) this.sm.transition('not-responding', `${this.healthMisses} health pings unanswered`);
      },
    );
  }

  private onTransportClose(t: SocketTransport, err: Error | undefined): void {
    if (t !== this.transport) return;
    this.transport = undefined;
    this.hs = undefined;
    this.stopTimers();
    const reason = err?.message ?? 'connection closed';
    if (err instanceof TransportError && err.code === 'EPROTO') this.emitError(err);
    this.failAll((name) => new VppDisconnectedError(name, `connection to VPP lost: ${reason}`, { cause: err }));
    if (this.sm.state === 'closed' || this.sm.state === 'connecting') return;
    if (!this.opts.reconnect) {
      this.sm.transition('reconnecting', reason);
      this.sm.transition('failed', 'reconnect disabled');
      return;
    }
    if (this.sm.transition('reconnecting', reason)) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const max = this.opts.maxReconnectAttempts;
    if (max !== undefined && this.backoff.attempts >= max) {
      this.sm.transition('failed', `gave up after ${max} reconnect attempts`);
      return;
    }
    const delay = this.backoff.nextDelay();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.sm.state !== 'reconnecting') return;
      this.establish().then(
        () => {
          if (this.sm.state !== 'reconnecting') {
            void this.transport?.close();
            return;
          }
          this.sm.transition('connected', `reconnected after ${this.backoff.attempts} attempt(s)`);
          this.afterConnected();
        },
        (e: Error) => {
          this.emitError(e);
          if (this.sm.state === 'reconnecting') this.scheduleReconnect();
        },
      );
    }, delay);
  }

  private stopTimers(): void {
    if (this.healthTimer) clearInterval(this.healthTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.healthTimer = this.sweepTimer = this.reconnectTimer = undefined;
  }

  private emitError(e: Error): void {
    this.log.warn({ err: e.message, name: e.name }, 'vpp client error');
    for (const l of this.errorListeners) l(e);
  }

  // ---- requests ----

  private idOf(def: MessageDef): number {
    const id = this.ids.get(def);
    if (id !== undefined) return id;
    if (!this.hs) throw new VppDisconnectedError(def.name, `not connected to VPP (state ${this.sm.state})`);
    throw new VppUnknownMessageError(def.name, def.nameCrc, indexByName(this.hs.table).get(def.name) ?? []);
  }

  private allocContext(): number {
    let c = this.nextCtx;
    while (this.pending.has(c)) c = c === 0xffffffff ? 1 : c + 1;
    this.nextCtx = c === 0xffffffff ? 1 : c + 1;
    return c;
  }

  /** Encodes and queues `def` with `ctx`; throws synchronously on an encode error or when not connected. */
  private send(def: MessageDef, msg: unknown, ctx: number): void {
    const t = this.transport;
    const id = this.idOf(def);
    if (!t || !this.hs) throw new VppDisconnectedError(def.name, `not connected to VPP (state ${this.sm.state})`);
    const size = def.size(msg);
    const p = t.reserve(size);
    const b = t.buffer;
    try {
      def.encode(b, p, id, this.hs.clientIndex, ctx, msg);
    } catch (e) {
      t.cancel(p);
      if (e instanceof VppEncodeError) throw e;
      throw new VppEncodeError(def.name, '', (e as Error).message);
    }
  }

  private track(p: Pending, ctx: number): void {
    p.started = this.now();
    p.deadline = p.started + p.timeoutMs;
    this.pending.set(ctx, p);
    if (!this.sweepTimer) {
      this.sweepTimer = setInterval(() => this.sweep(), Math.max(10, Math.min(100, this.opts.requestTimeoutMs / 10)));
      this.sweepTimer.unref();
    }
  }

  private sweep(): void {
    if (this.pending.size === 0) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
      return;
    }
    const now = this.now();
    for (const [ctx, p] of this.pending) {
      if (p.deadline <= now) {
        this.pending.delete(ctx);
        this.observe(p, 'VppTimeoutError');
        p.reject(new VppTimeoutError(p.def.name, p.timeoutMs));
      }
    }
  }

  private failAll(mk: (name: string) => Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(mk(p.def.name));
  }

  private observe(p: Pending, error: string | undefined): void {
    const o = this.opts.observer;
    if (o) o(p.def.name, (this.now() - p.started) / 1000, error);
  }

  /** Sends a request and resolves with its reply. A negative retval rejects with VppApiError. */
  request<In, R>(def: RequestDef<In, unknown, R>, msg: In, opts?: RequestOptions): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const ctx = this.allocContext();
      try {
        this.send(def, msg, ctx);
      } catch (e) {
        reject(e as Error);
        return;
      }
      this.track(
        new Pending(PendingKind.Request, def, def.reply, undefined, opts?.timeoutMs ?? this.opts.requestTimeoutMs, resolve as (v: unknown) => void, reject),
        ctx,
      );
    });
  }

  /** Runs a legacy dump and collects every details message. */
  dumpAll<In, D>(def: DumpDef<In, unknown, D>, msg: In, opts?: RequestOptions): Promise<D[]> {
    return new Promise<D[]>((resolve, reject) => {
      const ctx = this.allocContext();
      try {
        this.send(def, msg, ctx);
        this.send(control_ping, {}, ctx);
      } catch (e) {
        reject(e as Error);
        return;
      }
      const p = new Pending(PendingKind.Dump, def, control_ping_reply, def.details, opts?.timeoutMs ?? this.opts.requestTimeoutMs, resolve as (v: unknown) => void, reject);
      p.items = [];
      this.track(p, ctx);
    });
  }

  /** Runs a legacy dump as an async iterator of details (delivered as they arrive). */
  dump<In, D>(def: DumpDef<In, unknown, D>, msg: In, opts?: RequestOptions): AsyncIterableIterator<D> {
    return this.iterate<D>((onItem, resolve, reject) => {
      const ctx = this.allocContext();
      this.send(def, msg, ctx);
      this.send(control_ping, {}, ctx);
      const p = new Pending(PendingKind.Dump, def, control_ping_reply, def.details, opts?.timeoutMs ?? this.opts.requestTimeoutMs, resolve, reject);
      p.onItem = onItem as (d: unknown) => void;
      this.track(p, ctx);
    });
  }

  /**
   * Runs a cursor stream (`*_get`) to its end: details are collected, and a reply with retval -165
   * (EAGAIN) is followed by the same request resent from the cursor VPP returned.
   */
  async streamAll<In extends { cursor?: number }, R extends { retval: number; cursor: number }, D>(
    def: CursorDef<In, unknown, R, D>,
    msg: In,
    opts?: RequestOptions,
  ): Promise<{ details: D[]; reply: R }> {
    const details: D[] = [];
    let cursor = msg.cursor ?? 0;
    for (;;) {
      const { items, reply } = await new Promise<{ items: D[]; reply: R }>((resolve, reject) => {
        const ctx = this.allocContext();
        try {
          this.send(def, { ...msg, cursor }, ctx);
        } catch (e) {
          reject(e as Error);
          return;
        }
        const p = new Pending(PendingKind.Cursor, def, def.reply, def.details, opts?.timeoutMs ?? this.opts.requestTimeoutMs, resolve as (v: unknown) => void, reject);
        p.items = [];
        this.track(p, ctx);
      });
      details.push(...items);
      if (reply.retval === EAGAIN) {
        cursor = reply.cursor;
        continue;
      }
      if (reply.retval < 0) throw new VppApiError(def.name, reply.retval, reply);
      return { details, reply };
    }
  }

  /** Subscribes with a want_* request and delivers its events; re-subscribes after every reconnect. */
  async subscribe<In, R, E>(def: EventsDef<In, unknown, R>, msg: In, event: MessageDef<unknown, E>, listener: (e: E) => void): Promise<Subscription> {
    if (!def.events.includes(event as MessageDef)) throw new Error(`${event.name} is not an event of ${def.name}`);
    const off = this.on(event, listener);
    const entry: ActiveSubscription = { def: def as EventsDef<unknown, unknown, unknown>, msg };
    try {
      await this.request(def, msg);
    } catch (e) {
      off();
      throw e;
    }
    this.subscriptions.add(entry);
    return {
      close: async () => {
        off();
        if (!this.subscriptions.delete(entry)) return;
        const disable = { ...(msg as object), enable_disable: 0 } as In;
        if (this.sm.state === 'connected' || this.sm.state === 'not-responding') await this.request(def, disable);
      },
    };
  }

  /** Runs a VPP CLI command through cli_inband and returns its output. */
  async cli(cmd: string, opts?: RequestOptions): Promise<string> {
    const r = await this.request(cli_inband, { cmd }, opts);
    return r.reply;
  }

  async version(): Promise<{ program: string; version: string; build_date: string; build_directory: string }> {
    return this.request(show_version, {});
  }

  // ---- incoming ----

  private iterate<D>(start: (onItem: (d: D) => void, resolve: (v: unknown) => void, reject: (e: Error) => void) => void): AsyncIterableIterator<D> {
    const queue: D[] = [];
    let done = false;
    let error: Error | undefined;
    let wake: (() => void) | undefined;
    const notify = (): void => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    let started = false;
    const it: AsyncIterableIterator<D> = {
      [Symbol.asyncIterator]: () => it,
      next: async (): Promise<IteratorResult<D>> => {
        if (!started) {
          started = true;
          start(
            (d) => {
              queue.push(d);
              notify();
            },
            () => {
              done = true;
              notify();
            },
            (e) => {
              error = e;
              done = true;
              notify();
            },
          );
        }
        for (;;) {
          if (queue.length > 0) return { value: queue.shift() as D, done: false };
          if (error) throw error;
          if (done) return { value: undefined, done: true };
          await new Promise<void>((r) => (wake = r));
        }
      },
      return: async (): Promise<IteratorResult<D>> => {
        done = true;
        queue.length = 0;
        return { value: undefined, done: true };
      },
    };
    return it;
  }

  private onMessage(msg: Buffer): void {
    if (msg.length < 2) {
      this.protocolError(new VppProtocolError(`message of ${msg.length} bytes from VPP`));
      return;
    }
    const def = this.byId[msg.readUInt16BE(0)];
    if (!def) return; // a message this client does not know: nothing can wait for it
    try {
      if (def.contextOffset >= 0) {
        const ctx = msg.readUInt32BE(def.contextOffset);
        if (ctx === 0) this.onContextZero(def, msg);
        else this.onReply(ctx, def, msg);
      } else {
        this.onEvent(def, msg);
      }
    } catch (e) {
      this.protocolError(new VppProtocolError(`bad ${def.name} from VPP: ${(e as Error).message}`, { cause: e }));
    }
  }

  private onReply(ctx: number, def: MessageDef, msg: Buffer): void {
    const p = this.pending.get(ctx);
    if (!p) return; // late reply to a request that timed out
    try {
      this.deliver(p, ctx, def, msg);
    } catch (e) {
      // Undecodable: fail this request too (the caller gets the cause), then let onMessage reset the connection.
      if (this.pending.get(ctx) === p) this.pending.delete(ctx);
      p.reject(new VppProtocolError(`${p.def.name}: bad ${def.name} from VPP: ${(e as Error).message}`, { cause: e }));
      throw e;
    }
  }

  private deliver(p: Pending, ctx: number, def: MessageDef, msg: Buffer): void {
    if (def === p.details) {
      const d = def.decode(msg);
      p.deadline = this.now() + p.timeoutMs; // a long dump is alive while it streams
      if (p.items) p.items.push(d);
      else p.onItem?.(d);
      return;
    }
    if (def !== p.expect) {
      this.pending.delete(ctx);
      p.reject(new VppProtocolError(`${p.def.name}: VPP answered with ${def.name}`));
      return;
    }
    if (p.kind === PendingKind.Dump) {
      this.pending.delete(ctx);
      this.observe(p, undefined);
      p.resolve(p.items);
      return;
    }
    const reply = def.decode(msg);
    this.pending.delete(ctx);
    if (p.kind === PendingKind.Cursor) {
      this.observe(p, undefined);
      p.resolve({ items: p.items, reply });
      return;
    }
    if (def.retvalOffset >= 0) {
      const rv = msg.readInt32BE(def.retvalOffset);
      if (rv < 0) {
        const err = new VppApiError(p.def.name, rv, reply);
        this.observe(p, err.retvalName);
        p.reject(err);
        return;
      }
    }
    this.observe(p, undefined);
    p.resolve(reply);
  }

  /** Details sent with context 0 (pbl_client_details does this): they belong to the oldest dump expecting them. */
  private onContextZero(def: MessageDef, msg: Buffer): void {
    for (const p of this.pending.values()) {
      if (p.details === def) {
        const d = def.decode(msg);
        if (p.items) p.items.push(d);
        else p.onItem?.(d);
        return;
      }
    }
  }

  private onEvent(def: MessageDef, msg: Buffer): void {
    if (def === memclnt_keepalive) {
      // VPP never sends this to socket clients; answer it anyway if it does.
      const t = this.transport;
      const id = this.ids.get(memclnt_keepalive_reply);
      if (t && id !== undefined) {
        const p = t.reserve(memclnt_keepalive_reply.fixedSize);
        const b = t.buffer;
        memclnt_keepalive_reply.encode(b, p, id, 0, 0, { retval: 0 });
      }
      return;
    }
    const set = this.eventListeners.get(def);
    if (!set || set.size === 0) return;
    const e = def.decode(msg);
    for (const l of set) {
      try {
        l(e);
      } catch (err) {
        this.log.error({ event: def.name, err: (err as Error).message }, 'event listener threw');
      }
    }
  }

  private protocolError(e: Error): void {
    this.emitError(e);
    this.transport?.destroy(e);
  }
}
