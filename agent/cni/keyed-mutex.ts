/**
 * Serializes work per key (one container at a time); different keys run concurrently. A waiter whose
 * AbortSignal fires before its turn leaves the queue at once and its work is never run.
 */
export class LockWaitAbortedError extends Error {
  override readonly name = 'LockWaitAbortedError';
  constructor(readonly reason: unknown) {
    super(`gave up waiting for the lock: ${String(reason)}`);
  }
}

export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly waiting = new Map<string, number>();

  async run<T>(key: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) throw new LockWaitAbortedError(signal.reason);
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    // The next waiter starts after the one before us AND us: if we give up, releasing at once keeps the order.
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    // Forgotten once everything queued up to us is done (not when we give up: those before may still run).
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    const done = release;
    this.waiting.set(key, (this.waiting.get(key) ?? 0) + 1);
    try {
      await (signal ? waitOrAbort(prev, signal) : prev);
    } catch (e) {
      done();
      throw e;
    } finally {
      const n = this.waiting.get(key)! - 1;
      if (n > 0) this.waiting.set(key, n);
      else this.waiting.delete(key);
    }
    try {
      return await fn();
    } finally {
      done();
    }
  }

  get busyKeys(): number {
    return this.tails.size;
  }

  /** Operations waiting for their turn on `key` (not counting the one running). */
  waitingOn(key: string): number {
    return this.waiting.get(key) ?? 0;
  }

  /** Operations waiting for their turn, all keys together. */
  get waitingTotal(): number {
    let n = 0;
    for (const v of this.waiting.values()) n += v;
    return n;
  }
}

function waitOrAbort(p: Promise<void>, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(new LockWaitAbortedError(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        // aborted in the same tick the turn came: still not run
        if (signal.aborted) reject(new LockWaitAbortedError(signal.reason));
        else resolve();
      },
      () => undefined,
    );
  });
}
