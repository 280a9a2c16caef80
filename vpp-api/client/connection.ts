/**
 * The connection lifecycle: a transport from the injected factory, the handshake and CRC check, the
 * message id table of the current connection, the health probe, reconnection with backoff, and the
 * detection of a stream that went out of step (reported by the transport, by an undecodable message, or
 * by a silence no busy VPP keeps up: see noteTimeout), which drops the socket so the client reconnects
 * instead of waiting forever. Requests, dumps and events are the front's business: this
 * module calls its hooks.
 */
import type { MessageDef } from '../codec/types.js';
import { VppEncodeError } from '../codec/errors.js';
import { TransportError, type HandshakeResult, type Transport, type TransportFactory } from '../transport/transport.js';
import { Backoff } from './backoff.js';
import { checkCompatibility, indexByName, type CompatReport } from './compat.js';
import { ConnectionStateMachine, type ConnectionState, type StateChange } from './connection-state.js';
import { VppCompatibilityError, VppConnectError, VppDisconnectedError, VppProtocolError, VppUnknownMessageError } from './errors.js';
import { frameLimits } from './message-limits.js';

/** pino-compatible subset. */
export interface ClientLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
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

/** When silence resets the connection: at least `timeouts` silent request timeouts and `quietMs` without a message. */
export interface StallRule {
  timeouts: number;
  quietMs: number;
}

export interface HealthCheckOptions {
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive unanswered probes that mark the connection not-responding. */
  misses: number;
}

export interface ConnectionOptions {
  socketPath: string;
  clientName: string;
  connectTimeoutMs: number;
  reconnect: boolean;
  maxReconnectAttempts: number | undefined;
  healthCheck: HealthCheckOptions | false;
  /** Every message the client may send or receive. */
  known: readonly MessageDef[];
  required: readonly MessageDef[];
  /** name_crc → fixed size (undefined: variable), for the transport's frame checks. */
  sizes: ReadonlyMap<string, number | undefined>;
  maxMessageSize: number;
  transport: TransportFactory;
  backoff: Backoff;
  log: ClientLogger;
  now: () => number;
}

/** What the connection needs from the front. */
export interface ConnectionHooks {
  /** A complete message of a known id. May throw: the stream is then treated as out of step. */
  onMessage(def: MessageDef, msg: Buffer): void;
  /** The transport went away: fail what is in flight with `mk`. */
  onLost(mk: (name: string) => Error): void;
  /** control_ping on the new connection: VPP's pid. */
  ping(timeoutMs: number): Promise<number>;
  /** After the handshake and ping, before 'connected': re-send subscriptions. */
  restore(): Promise<void>;
}

export class Connection {
  readonly sm: ConnectionStateMachine;
  private transport: Transport | undefined;
  private hs: HandshakeResult | undefined;
  private ids = new Map<MessageDef, number>();
  private byId: (MessageDef | undefined)[] = [];
  private compat: CompatReport | undefined;
  private vpePid: number | undefined;
  private pendingRestart: VppRestart | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private healthMisses = 0;
  private silentTimeouts = 0;
  private readonly restartListeners = new Set<(r: VppRestart) => void>();
  private readonly errorListeners = new Set<(e: Error) => void>();
  private readonly connectedWaiters = new Set<() => void>();
  private hooks!: ConnectionHooks;

  constructor(private readonly opts: ConnectionOptions) {
    this.sm = new ConnectionStateMachine(opts.now);
    this.sm.onChange((c: StateChange) => opts.log.info({ from: c.from, to: c.to, reason: c.reason }, `vpp connection ${c.from} -> ${c.to}`));
  }

  bind(hooks: ConnectionHooks): void {
    this.hooks = hooks;
  }

  get state(): ConnectionState {
    return this.sm.state;
  }

  get pid(): number | undefined {
    return this.vpePid;
  }

  /** Up, even if health probes go unanswered. */
  get usable(): boolean {
    return this.sm.state === 'connected' || this.sm.state === 'not-responding';
  }

  onRestart(l: (r: VppRestart) => void): () => void {
    this.restartListeners.add(l);
    return () => this.restartListeners.delete(l);
  }

  onError(l: (e: Error) => void): () => void {
    this.errorListeners.add(l);
    return () => this.errorListeners.delete(l);
  }

  compatibility(defs: Iterable<MessageDef>): CompatReport {
    if (!this.hs) throw new VppDisconnectedError('compatibility', 'not connected');
    return defs === this.opts.known && this.compat ? this.compat : checkCompatibility(this.hs.table, defs);
  }

  has(def: MessageDef): boolean {
    return this.ids.has(def);
  }

  waitConnected(timeoutMs: number): Promise<void> {
    if (this.usable) return Promise.resolve();
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

  // ---- sending ----

  /** Encodes `def` straight into the transport's batch; throws synchronously on an encode error or when down. */
  send(def: MessageDef, msg: unknown, ctx: number): void {
    const t = this.transport;
    const hs = this.hs;
    const id = this.ids.get(def);
    if (id === undefined) {
      if (!hs) throw new VppDisconnectedError(def.name, `not connected to VPP (state ${this.sm.state})`);
      throw new VppUnknownMessageError(def.name, def.nameCrc, indexByName(hs.table).get(def.name) ?? []);
    }
    if (!t || !hs) throw new VppDisconnectedError(def.name, `not connected to VPP (state ${this.sm.state})`);
    try {
      t.send(def.size(msg), (b, p) => def.encode(b, p, id, hs.clientIndex, ctx, msg));
    } catch (e) {
      if (e instanceof VppEncodeError) throw e;
      if (e instanceof TransportError) throw new VppDisconnectedError(def.name, e.message, { cause: e });
      throw new VppEncodeError(def.name, '', (e as Error).message);
    }
  }

  // ---- connect / close ----

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

  async close(): Promise<void> {
    if (this.sm.state === 'closed') return;
    this.sm.transition('closed', 'close() called');
    this.stopTimers();
    this.hooks.onLost(() => new VppDisconnectedError('request', 'client closed'));
    const t = this.transport;
    this.transport = undefined;
    await t?.close();
  }

  /**
   * The stream cannot be trusted any more (out of step, undecodable, VPP silent): drop the socket. The
   * usual close handling fails what is in flight and reconnects.
   */
  reset(e: Error): void {
    const t = this.transport;
    if (!t) return;
    this.emitError(e);
    t.destroy(e);
  }

  /**
   * A request timed out; `silent`: nothing came from VPP since it was sent; `quietMs`: since the last message.
   * Enough silent timeouts over a long enough silence mean the stream is dead or out of step (a slow VPP
   * answers eventually, and any message it sends starts the count again).
   */
  noteTimeout(silent: boolean, quietMs: number, rule: StallRule): void {
    if (!silent) {
      this.silentTimeouts = 0;
      return;
    }
    this.silentTimeouts++;
    if (this.silentTimeouts >= rule.timeouts && quietMs >= rule.quietMs) {
      this.silentTimeouts = 0;
      this.reset(
        new VppProtocolError(`nothing from VPP for ${quietMs} ms and ${rule.timeouts}+ requests unanswered: the connection is stuck or out of step, reconnecting`),
      );
    }
  }

  private async establish(): Promise<ConnectInfo> {
    const o = this.opts;
    const t = o.transport({
      socketPath: o.socketPath,
      clientName: o.clientName,
      connectTimeoutMs: o.connectTimeoutMs,
      maxMessageSize: o.maxMessageSize,
      frameLimit: frameLimits(o.sizes, o.maxMessageSize),
    });
    let hs: HandshakeResult;
    try {
      hs = await t.connect({ onMessage: (m) => this.onMessage(t, m), onClose: (e) => this.onTransportClose(t, e) });
    } catch (e) {
      const code = e instanceof TransportError ? e.code : 'EIO';
      throw new VppConnectError(o.socketPath, code, (e as Error).message, { cause: e });
    }
    const compat = checkCompatibility(hs.table, o.known);
    if (o.required.length > 0) {
      const req = checkCompatibility(hs.table, o.required);
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
    for (const d of o.known) {
      const id = hs.table.get(d.nameCrc);
      if (id === undefined) continue;
      this.ids.set(d, id);
      this.byId[id] = d;
    }
    if (compat.incompatible.length > 0) {
      o.log.warn({ incompatible: compat.incompatible.map((x) => x.name) }, 'VPP has other CRCs for some messages; they will not be sent');
    }
    let pid: number;
    try {
      pid = await this.hooks.ping(o.connectTimeoutMs);
    } catch (e) {
      t.destroy();
      throw new VppConnectError(o.socketPath, 'EPROTO', `connected, but control_ping failed: ${(e as Error).message}`, { cause: e });
    }
    const previous = this.vpePid;
    this.vpePid = pid;
    await this.hooks.restore();
    if (previous !== undefined && previous !== pid) {
      o.log.warn({ previousPid: previous, vpePid: pid }, 'VPP restarted: its state is gone');
      this.pendingRestart = { previousPid: previous, vpePid: pid };
    }
    return { clientIndex: hs.clientIndex, vpePid: pid, messageCount: hs.table.size, compat };
  }

  private afterConnected(): void {
    const restart = this.pendingRestart;
    this.pendingRestart = undefined;
    if (restart) for (const l of this.restartListeners) l(restart);
    this.opts.backoff.reset();
    this.healthMisses = 0;
    this.silentTimeouts = 0;
    for (const w of [...this.connectedWaiters]) w();
    const hc = this.opts.healthCheck;
    if (hc) {
      this.healthTimer = setInterval(() => this.probe(hc), hc.intervalMs);
      this.healthTimer.unref();
    }
  }

  private probe(hc: HealthCheckOptions): void {
    if (!this.usable) return;
    this.hooks.ping(hc.timeoutMs).then(
      (pid) => {
        this.healthMisses = 0;
        if (this.sm.state === 'not-responding') this.sm.transition('connected', 'health ping answered');
        if (this.vpePid !== undefined && pid !== this.vpePid) {
          // Cannot happen on one socket, but a proxy or a reused socket path could hide a restart.
          const previousPid = this.vpePid;
          this.vpePid = pid;
          for (const l of this.restartListeners) l({ previousPid, vpePid: pid });
        }
      },
      (e: Error) => {
        if (e.name !== 'VppTimeoutError') return;
        this.healthMisses++;
        if (this.healthMisses >= hc.misses) this.sm.transition('not-responding', `${this.healthMisses} health pings unanswered`);
        // The probe's timeout also went through noteTimeout: a silence long enough resets the connection.
      },
    );
  }

  private onMessage(t: Transport, msg: Buffer): void {
    if (t !== this.transport) return;
    if (msg.length < 2) {
      this.reset(new VppProtocolError(`message of ${msg.length} bytes from VPP: no message id`));
      return;
    }
    const def = this.byId[msg.readUInt16BE(0)];
    if (!def) return; // a message this client does not know: nothing can wait for it
    try {
      this.hooks.onMessage(def, msg);
    } catch (e) {
      this.reset(new VppProtocolError(`bad ${def.name} from VPP: ${(e as Error).message}`, { cause: e }));
    }
  }

  private onTransportClose(t: Transport, err: Error | undefined): void {
    if (t !== this.transport) return;
    this.transport = undefined;
    this.hs = undefined;
    this.stopTimers();
    const reason = err?.message ?? 'connection closed';
    if (err instanceof TransportError && err.code === 'EPROTO') this.emitError(err);
    this.hooks.onLost((name) => new VppDisconnectedError(name, `connection to VPP lost: ${reason}`, { cause: err }));
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
    const backoff = this.opts.backoff;
    if (max !== undefined && backoff.attempts >= max) {
      this.sm.transition('failed', `gave up after ${max} reconnect attempts`);
      return;
    }
    const delay = backoff.nextDelay();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.sm.state !== 'reconnecting') return;
      this.establish().then(
        () => {
          if (this.sm.state !== 'reconnecting') {
            void this.transport?.close();
            return;
          }
          this.sm.transition('connected', `reconnected after ${backoff.attempts} attempt(s)`);
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
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.healthTimer = this.reconnectTimer = undefined;
  }

  emitError(e: Error): void {
    this.opts.log.warn({ err: e.message, name: e.name }, 'vpp client error');
    for (const l of this.errorListeners) l(e);
  }
}
