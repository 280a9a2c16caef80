/**
 * Requests in flight, matched to replies by context: context allocation (wrapping, never reusing one in
 * use), per-request deadlines checked by a sweep on the injected clock, delivery of replies, details and
 * the control_ping that ends a dump, retval checks, and the per-request observer (metrics).
 */
import type { MessageDef } from '../codec/types.js';
import { decodeChecked } from '../codec/short-message.js';
import { VppApiError, VppProtocolError, VppTimeoutError } from './errors.js';

export const enum PendingKind {
  Request,
  Dump,
  Cursor,
}

/** Called once per finished request when set (metrics). `error` is a retval name or an error class name. */
export type RequestObserver = (messageName: string, seconds: number, error: string | undefined) => void;

export class Pending {
  deadline = 0;
  started = 0;
  /** How many messages had arrived from VPP when it was sent. */
  receivedBefore = 0;
  /** Collected details (dumpAll, cursor streams); undefined when they are handed to onItem. */
  items: unknown[] | undefined;
  onItem: ((d: unknown) => void) | undefined;
  constructor(
    readonly kind: PendingKind,
    /** The request sent. */
    readonly def: MessageDef,
    /** The message that ends it: its reply, or control_ping_reply after a dump. */
    readonly expect: MessageDef,
    readonly details: MessageDef | undefined,
    readonly timeoutMs: number,
    readonly resolve: (v: unknown) => void,
    readonly reject: (e: Error) => void,
  ) {}
}

export interface PendingRequestsOptions {
  now: () => number;
  /** How often deadlines are checked while requests are in flight. */
  sweepEveryMs: number;
  observer?: RequestObserver;
  /**
   * A request timed out; `silent` when nothing at all came from VPP since it was sent, `quietMs` how long
   * ago the last message arrived (or the first request was tracked).
   */
  onTimeout?: (p: Pending, silent: boolean, quietMs: number) => void;
}

export class PendingRequests {
  private readonly pending = new Map<number, Pending>();
  private nextCtx = 1;
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Messages of any kind received from VPP so far, and when the last one came. */
  private receivedCount = 0;
  private lastReceivedAt: number | undefined;

  constructor(private readonly opts: PendingRequestsOptions) {}

  get size(): number {
    return this.pending.size;
  }

  /** A context not in use (1..2^32-1, wrapping). */
  allocContext(): number {
    let c = this.nextCtx;
    while (this.pending.has(c)) c = c === 0xffffffff ? 1 : c + 1;
    this.nextCtx = c === 0xffffffff ? 1 : c + 1;
    return c;
  }

  track(p: Pending, ctx: number): void {
    p.started = this.opts.now();
    this.lastReceivedAt ??= p.started;
    p.receivedBefore = this.receivedCount;
    p.deadline = p.started + p.timeoutMs;
    this.pending.set(ctx, p);
    if (!this.sweepTimer) {
      this.sweepTimer = setInterval(() => this.sweep(), this.opts.sweepEveryMs);
      this.sweepTimer.unref();
    }
  }

  /** Forgets a request without settling it (its iterator was abandoned). */
  drop(p: Pending): void {
    for (const [ctx, q] of this.pending) if (q === p) this.pending.delete(ctx);
  }

  /** Fails every request in flight (connection lost or closed). */
  failAll(mk: (name: string) => Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    this.stop();
    for (const p of all) p.reject(mk(p.def.name));
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /** Notes that a message arrived (any message: it proves the stream is alive). */
  received(): void {
    this.receivedCount++;
    this.lastReceivedAt = this.opts.now();
  }

  /** Fails the requests whose deadline passed. Runs from the sweep timer; public for tests with a fake clock. */
  sweep(): void {
    if (this.pending.size === 0) {
      this.stop();
      return;
    }
    const now = this.opts.now();
    for (const [ctx, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(ctx);
      this.observe(p, 'VppTimeoutError');
      p.reject(new VppTimeoutError(p.def.name, p.timeoutMs));
      this.opts.onTimeout?.(p, this.receivedCount === p.receivedBefore, now - (this.lastReceivedAt ?? p.started));
    }
  }

  /**
   * A message with a non-zero context. Throws (a VppDecodeError) when it cannot be decoded, after failing
   * the request it answers with a VppProtocolError naming both messages.
   */
  reply(ctx: number, def: MessageDef, msg: Buffer): void {
    const p = this.pending.get(ctx);
    if (!p) return; // late reply to a request that timed out
    try {
      this.deliver(p, ctx, def, msg);
    } catch (e) {
      if (this.pending.get(ctx) === p) this.pending.delete(ctx);
      this.observe(p, 'VppProtocolError');
      p.reject(new VppProtocolError(`${p.def.name}: bad ${def.name} from VPP: ${(e as Error).message}`, { cause: e }));
      throw e;
    }
  }

  /** Details sent with context 0 (pbl_client_details does this): they belong to the oldest dump expecting them. */
  contextZero(def: MessageDef, msg: Buffer): void {
    for (const p of this.pending.values()) {
      if (p.details === def) {
        this.item(p, decodeChecked(def, msg));
        return;
      }
    }
  }

  private item(p: Pending, d: unknown): void {
    p.deadline = this.opts.now() + p.timeoutMs; // a long dump is alive while it streams
    if (p.items) p.items.push(d);
    else p.onItem?.(d);
  }

  private deliver(p: Pending, ctx: number, def: MessageDef, msg: Buffer): void {
    if (def === p.details) {
      this.item(p, decodeChecked(def, msg));
      return;
    }
    if (def !== p.expect) {
      this.pending.delete(ctx);
      this.observe(p, 'VppProtocolError');
      p.reject(new VppProtocolError(`${p.def.name}: VPP answered with ${def.name}`));
      return;
    }
    const reply = decodeChecked(def, msg);
    this.pending.delete(ctx);
    if (p.kind === PendingKind.Dump) {
      this.observe(p, undefined);
      p.resolve(p.items);
      return;
    }
    if (p.kind === PendingKind.Cursor) {
      this.observe(p, undefined);
      p.resolve({ items: p.items, reply });
      return;
    }
    if (def.retvalOffset >= 0) {
      const rv = msg.readInt32BE(def.retvalOffset); // inside the fixed part: decode() checked its length
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

  private observe(p: Pending, error: string | undefined): void {
    const o = this.opts.observer;
    if (o) o(p.def.name, (this.opts.now() - p.started) / 1000, error);
  }
}
