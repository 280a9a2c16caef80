/**
 * Warning Events on pods (core/v1 Event, as kubectl describe pod shows them), written off the CNI path:
 * `warn` only records and returns; writes go through a bounded queue, one at a time, each bounded by a
 * timeout. Per pod and reason at most one write per window (default one minute): repeats of the same
 * message within the window become a `count` increment (JSON patch) when the window ends; a different
 * message is written as a new Event then (the latest one wins). A full queue drops writes (counted).
 */
import type { PodRef } from '../pod/attachment.js';
import type { PodWarningReason } from '../observability/pod-errors.js';
import { describeKubeError, statusOf, type KubeClient } from './client.js';

export const EVENT_COMPONENT = 'vpp-cni-agent';
const MAX_MESSAGE = 1024;

/** Where the agent reports what a pod's owner should see. */
export interface PodEventSink {
  warn(pod: PodRef, reason: PodWarningReason, message: string): void;
}

export type EventOutcome = 'sent' | 'patched' | 'coalesced' | 'dropped' | 'failed';

export interface KubeEventRecorderOptions {
  kc: KubeClient;
  nodeName: string;
  log: { debug(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  /** At most one write per pod and reason per window (default 60 s). */
  windowMs?: number;
  timeoutMs?: number;
  maxQueue?: number;
  /** Pod/reason pairs remembered (oldest forgotten first). */
  maxKeys?: number;
  onOutcome?: (reason: PodWarningReason, outcome: EventOutcome) => void;
  now?: () => number;
}

interface KeyState {
  pod: PodRef;
  reason: PodWarningReason;
  lastWriteAt: number;
  sent?: { name: string; message: string; count: number };
  /** Increments of `sent` not written yet. */
  unsentRepeats: number;
  pending?: { message: string; count: number };
  timer?: NodeJS.Timeout;
  queued: boolean;
}

function truncate(s: string): string {
  return s.length <= MAX_MESSAGE ? s : `${s.slice(0, MAX_MESSAGE - 3)}...`;
}

export class KubeEventRecorder implements PodEventSink {
  private readonly keys = new Map<string, KeyState>();
  private readonly queue: KeyState[] = [];
  private running: Promise<void> | undefined;
  private closed = false;
  private seq = 0;
  private readonly windowMs: number;
  private readonly timeoutMs: number;
  private readonly maxQueue: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(private readonly o: KubeEventRecorderOptions) {
    this.windowMs = o.windowMs ?? 60_000;
    this.timeoutMs = o.timeoutMs ?? 5_000;
    this.maxQueue = o.maxQueue ?? 100;
    this.maxKeys = o.maxKeys ?? 2000;
    this.now = o.now ?? Date.now;
  }

  warn(pod: PodRef, reason: PodWarningReason, message: string): void {
    if (this.closed || !pod.name) return;
    const msg = truncate(message);
    const key = `${pod.namespace}/${pod.name}/${reason}`;
    let st = this.keys.get(key);
    if (!st) {
      st = { pod, reason, lastWriteAt: -Infinity, unsentRepeats: 0, queued: false };
      this.keys.set(key, st);
      this.evict();
    } else if (pod.uid && st.pod.uid !== pod.uid) {
      st.pod = pod;
      delete st.sent; // another incarnation of the pod: its own events
    }
    if (st.sent && st.sent.message === msg && !st.pending) {
      st.sent.count++;
      st.unsentRepeats++;
    } else if (st.pending && st.pending.message === msg) {
      st.pending.count++;
    } else {
      st.pending = { message: msg, count: 1 };
    }
    this.schedule(st);
  }

  private evict(): void {
    while (this.keys.size > this.maxKeys) {
      const [k, st] = this.keys.entries().next().value!;
      clearTimeout(st.timer);
      this.keys.delete(k);
    }
  }

  private schedule(st: KeyState): void {
    if (st.queued || st.timer) {
      this.o.onOutcome?.(st.reason, 'coalesced');
      return;
    }
    const wait = st.lastWriteAt + this.windowMs - this.now();
    if (wait <= 0) return this.enqueue(st);
    this.o.onOutcome?.(st.reason, 'coalesced');
    st.timer = setTimeout(() => {
      st.timer = undefined;
      this.enqueue(st);
    }, wait);
    st.timer.unref();
  }

  private enqueue(st: KeyState): void {
    if (this.closed) return;
    if (this.queue.length >= this.maxQueue) {
      this.o.onOutcome?.(st.reason, 'dropped');
      this.o.log.warn({ namespace: st.pod.namespace, pod: st.pod.name, reason: st.reason, queue: this.queue.length }, 'event queue full: event dropped');
      st.pending = undefined;
      st.unsentRepeats = 0;
      return;
    }
    st.queued = true;
    this.queue.push(st);
    if (!this.running) this.running = this.drain().finally(() => (this.running = undefined));
  }

  private async drain(): Promise<void> {
    for (let st = this.queue.shift(); st; st = this.queue.shift()) {
      st.queued = false;
      try {
        await this.write(st);
      } catch (e) {
        this.o.onOutcome?.(st.reason, 'failed');
        this.o.log.warn({ namespace: st.pod.namespace, pod: st.pod.name, reason: st.reason, err: describeKubeError(e, this.timeoutMs) }, 'cannot write pod event');
      }
    }
  }

  private async write(st: KeyState): Promise<void> {
    const now = new Date(this.now());
    st.lastWriteAt = now.getTime();
    if (st.sent && st.unsentRepeats > 0 && !st.pending) {
      const sent = st.sent;
      st.unsentRepeats = 0;
      try {
        await this.o.kc.request('PATCH', `/api/v1/namespaces/${encodeURIComponent(st.pod.namespace)}/events/${encodeURIComponent(sent.name)}`, {
          body: [
            { op: 'add', path: '/count', value: sent.count },
            { op: 'add', path: '/lastTimestamp', value: now.toISOString() },
          ],
          contentType: 'application/json-patch+json',
          timeoutMs: this.timeoutMs,
        });
        this.o.onOutcome?.(st.reason, 'patched');
        return;
      } catch (e) {
        if (statusOf(e) !== 404) throw e;
        // The Event expired (events have a TTL): write it again.
        st.pending = { message: sent.message, count: sent.count };
        delete st.sent;
      }
    }
    const p = st.pending;
    if (!p) return;
    st.pending = undefined;
    const name = `${st.pod.name.slice(0, 200)}.${(BigInt(now.getTime()) * 1_000_000n + BigInt(this.seq++ % 1_000_000)).toString(16)}`;
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: st.pod.namespace },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: st.pod.namespace, name: st.pod.name, ...(st.pod.uid ? { uid: st.pod.uid } : {}) },
      reason: st.reason,
      message: p.message,
      type: 'Warning',
      count: p.count,
      firstTimestamp: now.toISOString(),
      lastTimestamp: now.toISOString(),
      source: { component: EVENT_COMPONENT, host: this.o.nodeName },
      reportingComponent: EVENT_COMPONENT,
      reportingInstance: this.o.nodeName,
    };
    // Recorded before the write: repeats while it is in flight become a count increment of this Event.
    st.sent = { name, message: p.message, count: p.count };
    st.unsentRepeats = 0;
    try {
      await this.o.kc.request('POST', `/api/v1/namespaces/${encodeURIComponent(st.pod.namespace)}/events`, { body, timeoutMs: this.timeoutMs });
    } catch (e) {
      if (st.sent?.name === name) delete st.sent;
      throw e;
    }
    this.o.onOutcome?.(st.reason, 'sent');
    this.o.log.debug({ namespace: st.pod.namespace, pod: st.pod.name, reason: st.reason, event: name }, 'pod event written');
  }

  /** Resolves when nothing is queued or being written (tests; timers still pending are not waited for). */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const st of this.keys.values()) clearTimeout(st.timer);
    this.queue.length = 0;
    await this.running;
  }
}
