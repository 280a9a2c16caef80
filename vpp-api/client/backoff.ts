/**
 * Exponential backoff with jitter. The clock and random source are injected so tests can pin them;
 * an initial delay of 0 is allowed.
 */
export interface BackoffOptions {
  initialDelayMs: number;
  maxDelayMs: number;
  multiplier: number;
  /** Fraction of the delay added or removed at random, 0..1. */
  jitter: number;
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialDelayMs: 100, maxDelayMs: 5000, multiplier: 2, jitter: 0.2 };

export class Backoff {
  private next: number;
  private attemptCount = 0;

  constructor(private readonly opts: BackoffOptions = DEFAULT_BACKOFF) {
    this.next = opts.initialDelayMs;
  }

  get attempts(): number {
    return this.attemptCount;
  }

  /** The delay to wait before the next attempt; each call grows the following one. */
  nextDelay(): number {
    const base = this.next;
    this.next = Math.min(this.opts.maxDelayMs, Math.max(base, 1) * this.opts.multiplier);
    this.attemptCount++;
    const r = (this.opts.random ?? Math.random)();
    const spread = base * this.opts.jitter;
    return Math.max(0, Math.round(base - spread + 2 * spread * r));
  }

  reset(): void {
    this.next = this.opts.initialDelayMs;
    this.attemptCount = 0;
  }
}
