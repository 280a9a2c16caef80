/** The per-container lock: order, exclusion, and waiters that give up (AbortSignal) before their turn. */
import { KeyedMutex, LockWaitAbortedError } from '../../agent/cni/keyed-mutex.js';

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('KeyedMutex', () => {
  test('one key at a time, in order; other keys run concurrently', async () => {
    const m = new KeyedMutex();
    const order: string[] = [];
    const g = gate();
    const a = m.run('k', async () => {
      order.push('a start');
      await g.wait;
      order.push('a end');
    });
    const b = m.run('k', async () => void order.push('b'));
    const other = m.run('j', async () => void order.push('other'));
    await other;
    await tick();
    expect(order).toEqual(['a start', 'other']);
    expect(m.waitingOn('k')).toBe(1);
    g.open();
    await Promise.all([a, b]);
    expect(order).toEqual(['a start', 'other', 'a end', 'b']);
    await tick();
    expect(m.busyKeys).toBe(0);
  });

  test('a waiter aborted before its turn is never run; the ones after it keep their order', async () => {
    const m = new KeyedMutex();
    const ran: string[] = [];
    const g = gate();
    const a = m.run('k', async () => {
      await g.wait;
      ran.push('a');
    });
    const ac = new AbortController();
    const b = m.run('k', async () => void ran.push('b'), ac.signal);
    const c = m.run('k', async () => void ran.push('c'));
    ac.abort('cancelled by the client');
    await expect(b).rejects.toThrow(LockWaitAbortedError);
    expect(m.waitingOn('k')).toBe(1);
    await tick();
    expect(ran).toEqual([]); // c still waits for a
    g.open();
    await Promise.all([a, c]);
    expect(ran).toEqual(['a', 'c']);
  });

  test('when the last waiter gives up, a new caller still waits for the one running', async () => {
    const m = new KeyedMutex();
    const ran: string[] = [];
    const g = gate();
    const a = m.run('k', async () => {
      await g.wait;
      ran.push('a');
    });
    const ac = new AbortController();
    const b = m.run('k', async () => void ran.push('b'), ac.signal);
    ac.abort('gone');
    await expect(b).rejects.toThrow('gave up waiting for the lock: gone');
    const c = m.run('k', async () => void ran.push('c'));
    await tick();
    expect(ran).toEqual([]);
    g.open();
    await Promise.all([a, c]);
    expect(ran).toEqual(['a', 'c']);
  });

  test('an already aborted signal is refused at once', async () => {
    const m = new KeyedMutex();
    const ac = new AbortController();
    ac.abort('late');
    await expect(m.run('k', () => Promise.resolve(1), ac.signal)).rejects.toThrow(LockWaitAbortedError);
    expect(m.busyKeys).toBe(0);
  });
});
