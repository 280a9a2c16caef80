/**
 * A multi-step change with a cleanup stack. Each step that made something registers how to undo it;
 * a failure at any step undoes every earlier step, newest first, and the error names the pod, the step,
 * and (for VPP failures) the message and its retval name. Undo keeps going past its own failures and
 * reports them: a half-undone change is logged, never hidden.
 */
import { VppApiError, VppTimeoutError, VppDisconnectedError } from '../vpp/api.js';
import type { Logger } from '../../lib/logger.js';

/** What a transaction logs with (the node reconciler hands in its own logger: debug and warn are all it needs). */
export type StepLogger = Pick<Logger, 'debug' | 'warn'>;

/** Called before each step (tests inject failures here); may throw. */
export type StepHook = (step: string) => void | Promise<void>;

export class StepError extends Error {
  override readonly name = 'StepError';
  readonly vppMessage: string | undefined;
  readonly retval: number | undefined;
  readonly retvalName: string | undefined;
  /** Undo actions that failed while rolling back (their objects may be left behind). */
  undoFailures: string[] = [];

  constructor(
    readonly pod: string,
    readonly step: string,
    override readonly cause: Error,
  ) {
    super(`${pod}: step "${step}" failed: ${cause.message}`, { cause });
    if (cause instanceof VppApiError) {
      this.vppMessage = cause.messageName;
      this.retval = cause.retval;
      this.retvalName = cause.retvalName;
    } else if (cause instanceof VppTimeoutError || cause instanceof VppDisconnectedError) {
      this.vppMessage = cause.messageName;
    }
  }

  /** True when retrying later may succeed (VPP down or slow), as opposed to a bad request. */
  get retryable(): boolean {
    return this.cause instanceof VppTimeoutError || this.cause instanceof VppDisconnectedError;
  }
}

interface Undo {
  step: string;
  fn: () => Promise<void>;
}

export class Transaction {
  private readonly undos: Undo[] = [];
  private readonly started = Date.now();
  readonly done: string[] = [];

  constructor(
    /** e.g. `pod default/web-1 (container 1a2b3c4d5e6f, eth0)` */
    readonly pod: string,
    private readonly log: StepLogger,
    private readonly hook?: StepHook,
  ) {}

  /**
   * Runs one step. `undo` (given the step's result) is pushed only when the step succeeded.
   * Errors become StepError naming the pod and the step.
   */
  async step<T>(name: string, fn: () => Promise<T>, undo?: (result: T) => Promise<void>): Promise<T> {
    const t0 = Date.now();
    let result: T;
    try {
      if (this.hook) await this.hook(name);
      result = await fn();
    } catch (e) {
      if (e instanceof StepError) throw e;
      throw new StepError(this.pod, name, e instanceof Error ? e : new Error(String(e)));
    }
    if (undo) this.undos.push({ step: name, fn: () => undo(result) });
    this.done.push(name);
    this.log.debug({ step: name, durationMs: Date.now() - t0 }, `${name} done`);
    return result;
  }

  /** Undoes every step that registered an undo, newest first. Returns the undo failures. */
  async rollback(): Promise<string[]> {
    const failures: string[] = [];
    while (this.undos.length > 0) {
      const u = this.undos.pop()!;
      try {
        await u.fn();
      } catch (e) {
        const msg = `undo of "${u.step}": ${(e as Error).message}`;
        failures.push(msg);
        this.log.warn({ step: u.step, err: (e as Error).message }, 'rollback step failed');
      }
    }
    return failures;
  }

  /** Keeps everything: the change is complete. */
  commit(): void {
    this.undos.length = 0;
  }

  get elapsedMs(): number {
    return Date.now() - this.started;
  }
}

/** Runs `body` in a transaction: commit on success; on failure roll back and rethrow the StepError. */
export async function transact<T>(pod: string, log: StepLogger, hook: StepHook | undefined, body: (tx: Transaction) => Promise<T>): Promise<T> {
  const tx = new Transaction(pod, log, hook);
  try {
    const r = await body(tx);
    tx.commit();
    return r;
  } catch (e) {
    const err = e instanceof StepError ? e : new StepError(pod, 'unknown', e as Error);
    err.undoFailures = await tx.rollback();
    throw err;
  }
}
