/**
 * Keeps the checkpoint, VPP and the pods in step over restarts: the reconcile at agent start, the
 * re-creation after a VPP restart, the retries of attachments that could not be made again, and the
 * orphan sweep (at start, periodically, and on CNI GC). All of it runs one job at a time.
 *
 * A record is "stale" while its VPP objects are not trusted: at agent start until the reconcile checked
 * it, after a VPP restart until it was made again, and while a failed re-creation waits for its retry.
 * A stale record is never handed to VPP by index (its indexes may name someone else's objects now):
 * CHECK answers "try again later", and DEL removes the Linux side only (multinet dummy, veth pair) and
 * forgets the record — whatever of it is still in VPP then belongs to no record, and the sweep removes it.
 */
import { Backoff } from '../vpp/api.js';
import { deleteLinkTolerant } from '../linux/netns.js';
import type { AttachmentRecord } from '../pod/record.js';
import { keyOf, podFields, type StateContext } from './context.js';
import { reconcile, type ReconcileReport } from './reconcile.js';
import { recoverAfterVppRestart, retryRecord, type RecoveryReport } from './recovery.js';
import { sweepOrphans, type SweepReport } from './sweep.js';

export interface StateKeeperOptions {
  ctx: StateContext;
  /** The checkpoint was moved aside at load (corrupt, newer version): rebuild the records from VPP. */
  rebuild: boolean;
  /** Period of the orphan sweep; 0 disables the periodic sweep (the one at start still runs). */
  sweepIntervalMs: number;
  /** The sweep right after the reconcile (default true; tests turn it off to see the reconcile alone). */
  sweepAtStart?: boolean;
  /** Operations running in the manager (a VPP-restart recovery waits for them to end first). */
  busy?: () => number;
  concurrency?: number;
  /** Backoff of the retries of failed re-creations. */
  retry?: { initialMs: number; maxMs: number };
  /** How long a recovery waits for operations that straddled the VPP restart to end. */
  drainTimeoutMs?: number;
}

export interface StateKeeperStats {
  reconcile?: ReconcileReport;
  recovery?: RecoveryReport;
  sweep?: SweepReport;
  /** Failed attempts at making an attachment again (reconcile, recovery, retries). */
  recoveryFailures: number;
  /** Attachments waiting for a retry. */
  recoveryPending: number;
  /** VPP restarts handled. */
  recoveries: number;
}

export class StateKeeper {
  /** Keys of records whose VPP objects are not trusted (see above). */
  readonly stale = new Set<string>();
  /** Keys the running recovery made again. */
  private readonly fresh = new Set<string>();
  private started = false;
  private restarts = 0;
  private recovered = 0;
  private queue: Promise<void> = Promise.resolve();
  private jobs = 0;
  private stopped = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  private queuedSweep: Promise<SweepReport | undefined> | undefined;
  private readonly retries = new Map<string, { backoff: Backoff; timer?: NodeJS.Timeout }>();
  private failures = 0;
  private last: { reconcile?: ReconcileReport; recovery?: RecoveryReport; sweep?: SweepReport } = {};
  /** vpe_pid of the VPP the last recovery was for. */
  recoveredPid: number | undefined;

  constructor(private readonly o: StateKeeperOptions) {
    for (const r of o.ctx.store.all()) this.stale.add(keyOf(r));
  }

  private get c(): StateContext {
    return this.o.ctx;
  }

  /** Why ADD must wait (reconcile or recovery running), or undefined. */
  notReady(): string | undefined {
    if (!this.started) return 'recovering: reconciling the checkpoint with VPP';
    if (this.recovered !== this.restarts) return 'recovering: making pod interfaces again after a VPP restart';
    return undefined;
  }

  /**
   * In the stale set, or — while a recovery runs — not yet made again by it (so a record committed by an
   * ADD that straddled the VPP restart, after the set was filled, counts as stale too).
   */
  isStale(rec: AttachmentRecord): boolean {
    const key = keyOf(rec);
    if (this.stale.has(key)) return true;
    return this.recovered !== this.restarts && !this.fresh.has(key);
  }

  /** DEL of a stale record: the Linux side only (see above). */
  async deleteStale(rec: AttachmentRecord): Promise<void> {
    if (rec.objects.dummy) await deleteLinkTolerant(this.c.netns, rec.netns, rec.objects.dummy);
    // The veth pair is Linux's: its host end (named by the record) goes, and the pod's eth0 with it.
    if (rec.objects.veth) await deleteLinkTolerant(this.c.netns, undefined, rec.objects.veth.hostIfName);
    this.stale.delete(keyOf(rec));
    this.cancelRetry(keyOf(rec));
    this.c.log.info({ ...podFields(rec), step: 'del' }, 'DEL while the VPP objects are not trusted: Linux side removed, VPP leftovers go to the sweep');
  }

  get stats(): StateKeeperStats {
    return { ...this.last, recoveryFailures: this.failures, recoveryPending: this.retries.size, recoveries: this.recovered };
  }

  /** Failed attempts at making an attachment again (a counter for metrics). */
  get recoveryFailures(): number {
    return this.failures;
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    this.jobs++;
    const run = this.queue.then(async () => {
      try {
        return await job();
      } finally {
        this.jobs--;
      }
    });
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Resolves once no job runs or waits. */
  async settled(): Promise<void> {
    while (this.jobs > 0) await this.queue;
  }

  /** The reconcile and the first sweep; call once VPP is connected. ADDs are refused until it is done. */
  start(): Promise<void> {
    return this.enqueue(async () => {
      if (this.stopped) return;
      try {
        const r = await reconcile(this.c, { stale: this.stale, rebuild: this.o.rebuild, onFailed: (k) => this.failed(k), ...(this.o.concurrency ? { concurrency: this.o.concurrency } : {}) });
        this.last.reconcile = r;
        const { failed, ...counts } = r;
        this.c.log.info({ step: 'reconcile', ...counts, failed: failed.length, records: this.c.store.all().length }, 'checkpoint reconciled with VPP');
      } catch (e) {
        // VPP went away in the middle: the records stay stale; a VPP restart recovery or the next start redoes them.
        this.c.log.error({ step: 'reconcile', err: (e as Error).message }, 'reconcile failed; unchecked records are kept and retried');
        for (const k of this.stale) this.failed(k, false);
      }
      // Before ADDs are served: no operation can be in flight during this sweep.
      if (this.o.sweepAtStart !== false) await this.sweepJob().catch(() => undefined);
      this.started = true;
      if (this.o.sweepIntervalMs > 0 && !this.stopped) {
        this.sweepTimer = setInterval(() => void this.sweep().catch(() => undefined), this.o.sweepIntervalMs);
        this.sweepTimer.unref();
      }
    });
  }

  /** VPP restarted: every record goes stale now (so DEL and CHECK stop using its indexes) and is made again. */
  onVppRestart(r: { previousPid: number; vpePid: number }): void {
    if (this.stopped) return;
    this.restarts++;
    this.fresh.clear();
    for (const rec of this.c.store.all()) this.stale.add(keyOf(rec));
    for (const k of [...this.retries.keys()]) this.cancelRetry(k);
    void this.enqueue(async () => {
      if (this.stopped) return;
      await this.drain();
      this.c.node.reset();
      try {
        const rep = await recoverAfterVppRestart(this.c, { stale: this.stale, fresh: this.fresh, onFailed: (k) => this.failed(k), ...(this.o.concurrency ? { concurrency: this.o.concurrency } : {}) });
        this.last.recovery = rep;
        const { failed, ...counts } = rep;
        this.c.log.info({ step: 'recovery', previousPid: r.previousPid, vpePid: r.vpePid, ...counts, failed: failed.length }, 'pod interfaces made again after the VPP restart');
      } catch (e) {
        this.c.log.error({ step: 'recovery', err: (e as Error).message }, 'recovery after the VPP restart failed; records are retried');
        for (const k of this.stale) this.failed(k, false);
      } finally {
        this.recovered++;
        this.recoveredPid = r.vpePid;
      }
    });
  }

  /** Waits (bounded) for operations that may have straddled the restart, so none of them runs against the new VPP. */
  private async drain(): Promise<void> {
    const busy = this.o.busy;
    if (!busy) return;
    const deadline = Date.now() + (this.o.drainTimeoutMs ?? 15_000);
    while (busy() > 0 && Date.now() < deadline && !this.stopped) await new Promise((r) => setTimeout(r, 10));
  }

  private failed(key: string, count = true): void {
    if (count) this.failures++;
    if (this.stopped) return;
    const prev = this.retries.get(key);
    if (prev?.timer) clearTimeout(prev.timer);
    const { initialMs, maxMs } = this.o.retry ?? { initialMs: 1000, maxMs: 60_000 };
    // Doubling from initialMs up to maxMs, no jitter: retries of one record are spaced, not synchronized with others' by chance.
    const backoff = prev?.backoff ?? new Backoff({ initialDelayMs: initialMs, maxDelayMs: maxMs, multiplier: 2, jitter: 0 });
    const delay = backoff.nextDelay();
    const entry: { backoff: Backoff; timer?: NodeJS.Timeout } = { backoff };
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      void this.enqueue(async () => {
        if (this.stopped || this.retries.get(key) !== entry) return;
        const out = await retryRecord(this.c, key, this.stale);
        if (out === 'failed') this.failed(key);
        else this.retries.delete(key);
      });
    }, delay);
    entry.timer.unref();
    this.retries.set(key, entry);
  }

  private cancelRetry(key: string): void {
    const e = this.retries.get(key);
    if (e?.timer) clearTimeout(e.timer);
    this.retries.delete(key);
  }

  /** Removes orphaned objects now (queued behind a running reconcile or recovery). */
  sweep(): Promise<SweepReport | undefined> {
    if (!this.c.store.pendingIntents) {
      // Without intents an ADD in flight is invisible: only the sweep at start (before ADDs) is safe.
      this.c.log.debug({ step: 'sweep' }, 'store keeps no intents: no sweep while serving');
      return Promise.resolve(undefined);
    }
    this.queuedSweep ??= this.enqueue(() => this.sweepJob());
    return this.queuedSweep;
  }

  private async sweepJob(): Promise<SweepReport | undefined> {
    this.queuedSweep = undefined;
    if (this.stopped) return undefined;
    try {
      const r = await sweepOrphans(this.c, { stale: this.stale });
      this.last.sweep = r;
      if (r.attachments + r.interfaces + r.sockets + r.appNamespaces + r.hostLinks > 0) this.c.log.info({ step: 'sweep', ...r, failures: r.failures.length }, 'orphan sweep done');
      else this.c.log.debug({ step: 'sweep', ms: r.ms }, 'orphan sweep: nothing to remove');
      return r;
    } catch (e) {
      this.c.log.warn({ step: 'sweep', err: (e as Error).message }, 'orphan sweep failed');
      throw e;
    }
  }

  /** Stops timers and retries; resolves once the running job ended (fast once VPP is closed). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const k of [...this.retries.keys()]) this.cancelRetry(k);
    await this.queue;
  }
}
