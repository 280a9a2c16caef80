/**
 * An async iterator fed by callbacks: items pushed before the consumer asks are queued, end() and fail()
 * finish it. The producer starts on the first next() (a dump is sent only when iterated), and is told
 * when the consumer stops early (break out of for-await) so it can forget its request.
 */
export interface QueueProducer<T> {
  push(item: T): void;
  end(): void;
  fail(e: Error): void;
}

export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private head = 0;
  private done = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;
  private started = false;
  private onReturn: (() => void) | undefined;

  /** `start` runs on the first next(); it may throw (the error goes to that next()) and may return a cancel hook. */
  constructor(private readonly start: (producer: QueueProducer<T>) => (() => void) | void) {}

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  async next(): Promise<IteratorResult<T>> {
    if (!this.started) {
      this.started = true;
      const cancel = this.start({
        push: (item) => {
          if (this.done) return;
          this.items.push(item);
          this.notify();
        },
        end: () => this.finish(undefined),
        fail: (e) => this.finish(e),
      });
      if (cancel) this.onReturn = cancel;
    }
    for (;;) {
      if (this.head < this.items.length) {
        const v = this.items[this.head++] as T;
        if (this.head === this.items.length) {
          this.items.length = 0;
          this.head = 0;
        }
        return { value: v, done: false };
      }
      if (this.error) throw this.error;
      if (this.done) return { value: undefined, done: true };
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  async return(): Promise<IteratorResult<T>> {
    if (!this.done) {
      this.done = true;
      this.onReturn?.();
    }
    this.items.length = 0;
    this.head = 0;
    this.notify();
    return { value: undefined, done: true };
  }

  private finish(e: Error | undefined): void {
    if (this.done) return;
    this.done = true;
    this.error = e;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
