/**
 * One list + watch loop over agent/kube/client.ts, shared by the pod source and the node dataplane's object
 * informers: list, then watch from the list's resourceVersion (bookmarks asked for).
 *
 * Recovery:
 *  - the watch stream ends (apiserver timeout, graceful close): watch again from the last resourceVersion;
 *  - 410 Gone (HTTP status or an ERROR event): list again, then watch;
 *  - any other failure (apiserver down, refused, reset, 5xx, list failing, a handler throwing): after an
 *    exponential backoff with jitter, list again, then watch;
 *  - a watch silent longer than `watchIdleMs` (half-open connection) is dropped and a fresh list + watch
 *    replaces it.
 * Objects are handed over unchecked (`unknown`): the owner validates them with its own schema and may throw
 * to fail the list or the watch.
 */
import { z } from 'zod';
import { describeKubeError, statusOf, type KubeClient } from './client.js';
import type { Logger } from '../../lib/logger.js';

/** The part of the agent's one logger interface (lib/logger.ts) the list/watch loop uses. */
export type KubeLogger = Pick<Logger, 'debug' | 'info' | 'warn'>;

export type WatchRestartReason = 'closed' | 'expired' | 'error' | 'idle';
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ListWatchOptions {
  readonly kc: KubeClient;
  /** Collection path (`/api/v1/pods`). */
  readonly path: string;
  /** Selectors for both the list and the watch. */
  readonly query?: Readonly<Record<string, string>>;
  /** The watched objects in logs ("pod", "Node"). */
  readonly what: string;
  /** What the list reads, in its error ("pods of node n1"). */
  readonly listing: string;
  /** The loop in readiness lines ("pod informer for node n1"). */
  readonly name: string;
  /** The log line when the first list completed ("pod informer synced"). */
  readonly syncedMsg: string;
  readonly log: KubeLogger;
  /** A fresh list: the objects replace everything known before. */
  readonly onList: (items: readonly unknown[], resourceVersion: string | undefined) => void;
  /** One watch event's object. */
  readonly onEvent: (type: WatchEventType, object: unknown) => void;
  /** Extra fields of the "synced" log line. */
  readonly syncedFields?: () => object;
  /** Counted by reason (metrics). */
  readonly onWatchRestart?: (reason: WatchRestartReason) => void;
  /** Backoff after a failure: first delay and cap (default 200 ms, 30 s). */
  readonly backoff?: { initialMs: number; maxMs: number };
  /** A watch silent for this long is replaced (default 10 minutes). */
  readonly watchIdleMs?: number;
  /** Timeout of the list request and of the watch's response headers (default 60 s). */
  readonly listTimeoutMs?: number;
  readonly random?: () => number;
}

const meta = z.object({ resourceVersion: z.string().optional() }).passthrough();
const listSchema = z.object({ metadata: meta.optional(), items: z.array(z.unknown()) });
const watchEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.enum(['ADDED', 'MODIFIED', 'DELETED']), object: z.object({ metadata: meta.optional() }).passthrough() }),
  z.object({ type: z.literal('BOOKMARK'), object: z.object({ metadata: meta.optional() }).passthrough() }),
  z.object({ type: z.literal('ERROR'), object: z.object({ code: z.number().optional(), message: z.string().optional() }).passthrough() }),
]);

class WatchExpired extends Error {}

export class ListWatch {
  private gen = 0;
  private closed = false;
  private everSynced = false;
  private syncWaiters: (() => void)[] = [];
  private delay: number;
  private retry: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  private watchAbort: AbortController | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private lastActivity = Date.now();
  private lastError: string | undefined;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly idleMs: number;
  private readonly random: () => number;

  constructor(private readonly o: ListWatchOptions) {
    this.backoff = o.backoff ?? { initialMs: 200, maxMs: 30_000 };
    this.delay = this.backoff.initialMs;
    this.idleMs = o.watchIdleMs ?? 600_000;
    this.random = o.random ?? Math.random;
  }

  /** Starts listing and watching; returns at once (see `waitForSync`). */
  start(): void {
    if (this.gen > 0 || this.closed) return;
    this.startLoop();
    this.watchdog = setInterval(() => this.checkIdle(), Math.max(50, Math.min(this.idleMs / 4, 30_000)));
    this.watchdog.unref();
  }

  get synced(): boolean {
    return this.everSynced;
  }

  /** Undefined once the first list completed, else why not (readiness). */
  notReady(): string | undefined {
    if (this.everSynced) return undefined;
    return `${this.o.name} not synced yet${this.lastError ? ` (last error: ${this.lastError})` : ''}`;
  }

  /** Resolves true once synced, false after `timeoutMs`. */
  waitForSync(timeoutMs: number): Promise<boolean> {
    if (this.everSynced) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.syncWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** Activity seen by the owner (keeps the idle watchdog quiet). */
  touch(): void {
    this.lastActivity = Date.now();
  }

  /** A new generation of list + watch; the previous one's callbacks and results are ignored from now on. */
  private startLoop(): void {
    const gen = ++this.gen;
    this.watchAbort?.abort();
    void this.loop(gen);
  }

  private current(gen: number): boolean {
    return gen === this.gen && !this.closed;
  }

  private async loop(gen: number): Promise<void> {
    let rv: string | undefined;
    while (this.current(gen)) {
      try {
        rv ??= await this.list(gen);
        if (!this.current(gen)) return;
        rv = await this.watch(gen, rv);
        if (!this.current(gen)) return;
        this.o.log.debug({ reason: 'closed', resourceVersion: rv }, `${this.o.what} watch ended: watching again`);
        this.o.onWatchRestart?.('closed');
      } catch (e) {
        if (!this.current(gen)) return;
        rv = undefined; // list again
        if (e instanceof WatchExpired || statusOf(e) === 410) {
          this.o.log.debug({ reason: 'expired' }, `${this.o.what} watch expired (410): relisting`);
          this.o.onWatchRestart?.('expired');
          continue;
        }
        await this.failed(e);
      }
    }
  }

  /** Lists into the owner; returns the list's resourceVersion. */
  private async list(gen: number): Promise<string> {
    const timeout = this.o.listTimeoutMs ?? 60_000;
    let list;
    try {
      list = listSchema.parse(await this.o.kc.request('GET', this.o.path, { query: { ...this.o.query }, timeoutMs: timeout }));
      if (!this.current(gen)) return '';
      this.o.onList(list.items, list.metadata?.resourceVersion);
    } catch (e) {
      throw Object.assign(new Error(`listing ${this.o.listing}: ${describeKubeError(e, timeout)}`), { statusCode: statusOf(e) });
    }
    this.delay = this.backoff.initialMs;
    this.lastError = undefined;
    this.touch();
    if (!this.everSynced) {
      this.everSynced = true;
      this.o.log.info({ ...this.o.syncedFields?.(), resourceVersion: list.metadata?.resourceVersion }, this.o.syncedMsg);
      for (const w of this.syncWaiters.splice(0)) w();
    }
    return list.metadata?.resourceVersion ?? '';
  }

  /** Watches from `rv` until the stream ends (resolves with the last resourceVersion) or fails. */
  private async watch(gen: number, rv: string): Promise<string> {
    const abort = new AbortController();
    this.watchAbort = abort;
    let last = rv;
    this.touch();
    await this.o.kc.watch(this.o.path, {
      query: { ...this.o.query, allowWatchBookmarks: 'true', ...(rv ? { resourceVersion: rv } : {}) },
      signal: abort.signal,
      connectTimeoutMs: this.o.listTimeoutMs ?? 60_000,
      onEvent: (raw) => {
        if (!this.current(gen)) return;
        this.touch();
        const r = watchEventSchema.safeParse(raw);
        if (!r.success) throw new Error(`unexpected watch event: ${r.error.issues[0]?.message ?? ''}`);
        const ev = r.data;
        if (ev.type === 'ERROR') {
          if (ev.object.code === 410) throw new WatchExpired('410 Gone');
          throw Object.assign(new Error(`watch ERROR event: ${ev.object.code ?? '?'} ${ev.object.message ?? ''}`), { statusCode: ev.object.code });
        }
        last = ev.object.metadata?.resourceVersion ?? last;
        if (ev.type === 'BOOKMARK') return;
        this.o.onEvent(ev.type, ev.object);
      },
    });
    if (this.watchAbort === abort) this.watchAbort = undefined;
    return last;
  }

  /** A failure: logged, counted, and waited out (backoff with jitter; close() cuts the wait short). */
  private async failed(err: unknown): Promise<void> {
    const msg = describeKubeError(err);
    this.lastError = msg;
    this.touch();
    const delay = Math.round(this.delay * (0.8 + 0.4 * this.random()));
    this.delay = Math.min(this.delay * 2, this.backoff.maxMs);
    this.o.log.warn({ err: msg, retryInMs: delay }, `${this.o.what} watch failed: restarting after a backoff`);
    this.o.onWatchRestart?.('error');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.retry = undefined;
        resolve();
      }, delay);
      timer.unref();
      this.retry = { timer, wake: resolve };
    });
  }

  private checkIdle(): void {
    if (this.closed || this.retry) return;
    if (Date.now() - this.lastActivity < this.idleMs) return;
    this.o.log.warn({ idleMs: this.idleMs }, `${this.o.what} watch silent too long: starting a new one`);
    this.o.onWatchRestart?.('idle');
    this.touch();
    this.startLoop(); // bumps the generation and aborts the old watch: its results are ignored
  }

  close(): void {
    this.closed = true;
    this.gen++;
    if (this.retry) {
      clearTimeout(this.retry.timer);
      this.retry.wake();
      this.retry = undefined;
    }
    clearInterval(this.watchdog);
    this.watchAbort?.abort();
    this.watchAbort = undefined;
  }
}
