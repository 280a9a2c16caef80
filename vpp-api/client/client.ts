/**
 * VppClient: the public face of the VPP API client. It wires four parts together and holds no protocol
 * state of its own:
 *  - Connection (connection.ts): transport from the injected factory, handshake, CRC check, health probe,
 *    reconnection, detection of a stream out of step;
 *  - PendingRequests (pending-requests.ts): contexts, timeouts, replies, dumps, cursor streams;
 *  - AsyncQueue (async-queue.ts): dumps as async iterators;
 *  - Subscriptions (subscriptions.ts): events and want_* re-subscription.
 */
import type { CursorDef, DumpDef, EventsDef, MessageDef, RequestDef } from '../codec/types.js';
import { VPP_RETVALS } from '../codec/retvals.js';
import { decodeChecked, shortMessageError } from '../codec/short-message.js';
import { cli_inband } from '../generated/vlib.js';
import { show_version } from '../generated/vpe.js';
import { control_ping, control_ping_reply, memclnt_keepalive, memclnt_keepalive_reply } from '../generated/memclnt.js';
import { AsyncQueue } from './async-queue.js';
import type { CompatReport } from './compat.js';
import type { ConnectionState, StateChange } from './connection-state.js';
import { Connection, type ConnectInfo, type VppRestart } from './connection.js';
import { VppApiError } from './errors.js';
import { resolveOptions, type VppClientOptions } from './options.js';
import { Pending, PendingKind, PendingRequests } from './pending-requests.js';
import { Subscriptions, type Subscription } from './subscriptions.js';

export type { ClientLogger, ConnectInfo, VppRestart } from './connection.js';
export type { VppClientOptions } from './options.js';
export type { RequestObserver } from './pending-requests.js';
export type { Subscription } from './subscriptions.js';

/** A cursor stream has more: resend from the cursor VPP returned. */
const { EAGAIN } = VPP_RETVALS;

interface RequestOptions {
  timeoutMs?: number;
}

export class VppClient {
  private readonly conn: Connection;
  private readonly pending: PendingRequests;
  private readonly subs: Subscriptions;
  private readonly known: readonly MessageDef[];
  private readonly socket: string;
  private readonly timeoutMs: number;

  constructor(options: VppClientOptions) {
    const o = resolveOptions(options);
    this.socket = o.connection.socketPath;
    this.timeoutMs = o.requestTimeoutMs;
    this.known = o.connection.known;
    this.conn = new Connection(o.connection);
    this.pending = new PendingRequests({
      now: o.connection.now,
      sweepEveryMs: o.sweepEveryMs,
      ...(options.observer ? { observer: options.observer } : {}),
      // After the callers' own handlers (a health probe marks not-responding before a reset).
      onTimeout: (_p, silent, quietMs) => setImmediate(() => this.conn.noteTimeout(silent, quietMs, o.stall)),
    });
    const log = o.connection.log;
    this.subs = new Subscriptions({ onListenerError: (event, err) => log.error({ event, err: err.message }, 'event listener threw') });
    this.conn.bind({
      onMessage: (def, msg) => this.onMessage(def, msg),
      onLost: (mk) => this.pending.failAll(mk),
      ping: async (timeoutMs) => (await this.request(control_ping, {}, { timeoutMs })).vpe_pid,
      restore: () =>
        this.subs.resubscribe(
          (def, msg) => this.request(def, msg),
          (name, err) => log.warn({ msg: name, err: err.message }, 're-subscribe failed'),
        ),
    });
  }

  // ---- state and events ----

  get state(): ConnectionState {
    return this.conn.state;
  }
  get socketPath(): string {
    return this.socket;
  }
  /** The vpe_pid of the VPP we are (or were last) connected to. */
  get pid(): number | undefined {
    return this.conn.pid;
  }
  get inFlight(): number {
    return this.pending.size;
  }
  onStateChange(l: (c: StateChange) => void): () => void {
    return this.conn.sm.onChange(l);
  }
  /** VPP restarted (a reconnect found another vpe_pid): everything made in VPP before is gone. */
  onRestart(l: (r: VppRestart) => void): () => void {
    return this.conn.onRestart(l);
  }
  /** Protocol errors, resets of a stream out of step, failed reconnect attempts (the client keeps going). */
  onError(l: (e: Error) => void): () => void {
    return this.conn.onError(l);
  }
  /** Listens for an event message (e.g. sw_interface_event) without subscribing. */
  on<E>(event: MessageDef<unknown, E>, l: (e: E) => void): () => void {
    return this.subs.on(event, l);
  }
  /** The compatibility report of the current connection. */
  compatibility(defs: Iterable<MessageDef> = this.known): CompatReport {
    return this.conn.compatibility(defs);
  }
  /** True when the connected VPP has this exact message. */
  has(def: MessageDef): boolean {
    return this.conn.has(def);
  }
  /** Resolves once connected (immediately if already), or rejects after `timeoutMs`. */
  waitConnected(timeoutMs: number): Promise<void> {
    return this.conn.waitConnected(timeoutMs);
  }

  // ---- connect / close ----

  /** Connects once; rejects with VppConnectError or VppCompatibilityError. Later losses reconnect by themselves. */
  connect(): Promise<ConnectInfo> {
    return this.conn.connect();
  }
  /** Graceful close: fails pending requests, sends sockclnt_delete, closes the socket. */
  close(): Promise<void> {
    return this.conn.close();
  }

  // ---- requests ----

  /** Sends `defs` with one new context and tracks what ends them; rejects through `p` on a send error. */
  private start(p: Pending, sends: readonly [MessageDef, unknown][]): void {
    const ctx = this.pending.allocContext();
    try {
      for (const [def, msg] of sends) this.conn.send(def, msg, ctx);
    } catch (e) {
      p.reject(e as Error);
      return;
    }
    this.pending.track(p, ctx);
  }

  /** Sends a request and resolves with its reply. A negative retval rejects with VppApiError. */
  request<In, R>(def: RequestDef<In, unknown, R>, msg: In, opts?: RequestOptions): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const p = new Pending(PendingKind.Request, def, def.reply, undefined, opts?.timeoutMs ?? this.timeoutMs, resolve as (v: unknown) => void, reject);
      this.start(p, [[def, msg]]);
    });
  }

  /** Runs a legacy dump and collects every details message. */
  dumpAll<In, D>(def: DumpDef<In, unknown, D>, msg: In, opts?: RequestOptions): Promise<D[]> {
    return new Promise<D[]>((resolve, reject) => {
      const p = new Pending(PendingKind.Dump, def, control_ping_reply, def.details, opts?.timeoutMs ?? this.timeoutMs, resolve as (v: unknown) => void, reject);
      p.items = [];
      this.start(p, [[def, msg], [control_ping, {}]]);
    });
  }

  /** Runs a legacy dump as an async iterator of details (delivered as they arrive; sent on the first next()). */
  dump<In, D>(def: DumpDef<In, unknown, D>, msg: In, opts?: RequestOptions): AsyncIterableIterator<D> {
    return new AsyncQueue<D>((q) => {
      let failure: Error | undefined;
      const p = new Pending(PendingKind.Dump, def, control_ping_reply, def.details, opts?.timeoutMs ?? this.timeoutMs, () => q.end(), (e) => {
        failure = e;
        q.fail(e);
      });
      p.onItem = q.push as (d: unknown) => void;
      this.start(p, [[def, msg], [control_ping, {}]]);
      if (failure) throw failure; // not sent: the first next() rejects
      return () => this.pending.drop(p);
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
        const p = new Pending(PendingKind.Cursor, def, def.reply, def.details, opts?.timeoutMs ?? this.timeoutMs, resolve as (v: unknown) => void, reject);
        p.items = [];
        this.start(p, [[def, { ...msg, cursor }]]);
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
  subscribe<In, R, E>(def: EventsDef<In, unknown, R>, msg: In, event: MessageDef<unknown, E>, listener: (e: E) => void): Promise<Subscription> {
    return this.subs.subscribe(def, msg, event, listener, (d, m) => this.request(d, m), () => this.conn.usable);
  }

  /** Runs a VPP CLI command through cli_inband and returns its output. */
  async cli(cmd: string, opts?: RequestOptions): Promise<string> {
    return (await this.request(cli_inband, { cmd }, opts)).reply;
  }

  async version(): Promise<{ program: string; version: string; build_date: string; build_directory: string }> {
    return this.request(show_version, {});
  }

  // ---- incoming ----

  /** One message of a known id; throws on anything undecodable (the connection then resets). */
  private onMessage(def: MessageDef, msg: Buffer): void {
    this.pending.received();
    if (def.contextOffset >= 0) {
      if (msg.length < def.contextOffset + 4) throw shortMessageError(def, msg.length);
      const ctx = msg.readUInt32BE(def.contextOffset);
      if (ctx !== 0) this.pending.reply(ctx, def, msg);
      else this.pending.contextZero(def, msg);
      return;
    }
    if (def === memclnt_keepalive) {
      // VPP never sends this to socket clients; answer it anyway if it does.
      if (this.conn.has(memclnt_keepalive_reply)) this.conn.send(memclnt_keepalive_reply, { retval: 0 }, 0);
      return;
    }
    if (this.subs.wants(def)) this.subs.dispatch(def, decodeChecked(def, msg));
  }
}
