/**
 * The pods of this node from the Kubernetes API: list, then watch from the list's resourceVersion,
 * restricted by `fieldSelector=spec.nodeName=<node>`, over agent/kube/client.ts (node:https, zod).
 * Only what the agent reads of a pod is kept (namespace, name, uid, annotations, hostNetwork).
 *
 * Recovery:
 *  - the watch stream ends (apiserver timeout, graceful close): watch again from the last resourceVersion;
 *  - 410 Gone (HTTP status or an ERROR event): list again, then watch;
 *  - any other failure (apiserver down, refused, reset, 5xx, list failing): after an exponential backoff
 *    with jitter, list again, then watch;
 *  - a watch that stays silent longer than `watchIdleMs` (half-open connection: bookmarks, which we
 *    ask for, normally arrive every minute or so): it is dropped and a fresh list + watch replaces it.
 * The last listed cache stays readable while a new list is in flight.
 *
 * At CNI ADD a pod is read from the cache; when the cache has not seen it (or holds an older pod of the
 * same name), from a direct GET bounded by the caller's timeout. Changes of a pod's VPP annotations
 * (cni.projectcalico.org/...) are reported to listeners with the previous values.
 */
import { z } from 'zod';
import { ANNOTATION_PREFIX } from '../pod/annotations.js';
import { PodSourceUnavailableError, type PodInfo, type PodSource } from '../pod-info/source.js';
import { describeKubeError, statusOf, type KubeClient } from './client.js';

/** The fields of a pod the agent reads (everything else is dropped when parsed). */
export const podSchema = z.object({
  metadata: z
    .object({
      name: z.string().optional(),
      namespace: z.string().optional(),
      uid: z.string().optional(),
      resourceVersion: z.string().optional(),
      annotations: z.record(z.string(), z.string()).nullish(),
    })
    .optional(),
  spec: z.object({ nodeName: z.string().optional(), hostNetwork: z.boolean().optional() }).nullish(),
});
/** A pod as the API gives it (fields the agent does not read may be there too). */
export type KubePod = z.infer<typeof podSchema> & { spec?: Record<string, unknown> | null };

const podListSchema = z.object({ metadata: z.object({ resourceVersion: z.string().optional() }).optional(), items: z.array(podSchema) });
const watchEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.enum(['ADDED', 'MODIFIED', 'DELETED']), object: podSchema }),
  z.object({ type: z.literal('BOOKMARK'), object: z.object({ metadata: z.object({ resourceVersion: z.string().optional() }).optional() }) }),
  z.object({ type: z.literal('ERROR'), object: z.object({ code: z.number().optional(), message: z.string().optional() }) }),
]);

export interface KubeLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export type WatchRestartReason = 'closed' | 'expired' | 'error' | 'idle';

export type AnnotationsListener = (pod: PodInfo, previous: Readonly<Record<string, string>> | undefined) => void;

/** A pod source that also reports annotation changes of running pods. */
export interface PodAnnotationWatch {
  onAnnotationsChanged(l: AnnotationsListener): () => void;
}

export interface KubePodSourceOptions {
  kc: KubeClient;
  nodeName: string;
  log: KubeLogger;
  /** Counted by reason (metrics). */
  onWatchRestart?: (reason: WatchRestartReason) => void;
  /** Backoff after a failure: first delay and cap (default 200 ms, 30 s). */
  backoff?: { initialMs: number; maxMs: number };
  /** A watch silent for this long is replaced (default 10 minutes). */
  watchIdleMs?: number;
  /** Timeout of the list request (default 60 s). */
  listTimeoutMs?: number;
  random?: () => number;
}

/** The VPP-related annotations of a pod (only those are compared). */
export function vppAnnotations(all: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(all ?? {})) if (k.startsWith(ANNOTATION_PREFIX)) out[k] = v;
  return out;
}

function sameRecord(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

export function podInfoOf(p: KubePod): PodInfo {
  const m = p.metadata ?? {};
  const info: PodInfo = { namespace: m.namespace ?? 'default', name: m.name ?? '', annotations: { ...(m.annotations ?? {}) } };
  if (m.uid) info.uid = m.uid;
  if (p.spec?.hostNetwork) info.hostNetwork = true;
  return info;
}

/** A 410 Gone seen on a watch (as its HTTP status or as an ERROR event). */
class WatchExpired extends Error {}

export class KubePodSource implements PodSource, PodAnnotationWatch {
  private readonly fieldSelector: string;
  /** The node's pods by namespace/name, as last listed and watched. */
  private cache = new Map<string, PodInfo>();
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
  private readonly seen = new Map<string, { uid: string | undefined; ann: Record<string, string> }>();
  private readonly listeners = new Set<AnnotationsListener>();
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly idleMs: number;
  private readonly random: () => number;

  constructor(private readonly o: KubePodSourceOptions) {
    if (!o.nodeName) throw new Error('KubePodSource needs the node name (NODE_NAME)');
    this.fieldSelector = `spec.nodeName=${o.nodeName}`;
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
    return `pod informer for node ${this.o.nodeName} not synced yet${this.lastError ? ` (last error: ${this.lastError})` : ''}`;
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

  onAnnotationsChanged(l: AnnotationsListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** The node's pods as cached now. */
  list(): PodInfo[] {
    return [...this.cache.values()].map((p) => ({ ...p, annotations: { ...p.annotations } }));
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
        rv ??= await this.listPods(gen);
        if (!this.current(gen)) return;
        rv = await this.watchPods(gen, rv);
        if (!this.current(gen)) return;
        this.o.log.debug({ reason: 'closed', resourceVersion: rv }, 'pod watch ended: watching again');
        this.o.onWatchRestart?.('closed');
      } catch (e) {
        if (!this.current(gen)) return;
        rv = undefined; // list again
        if (e instanceof WatchExpired || statusOf(e) === 410) {
          this.o.log.debug({ reason: 'expired' }, 'pod watch expired (410): relisting');
          this.o.onWatchRestart?.('expired');
          continue;
        }
        await this.failed(gen, e);
      }
    }
  }

  /** Lists the node's pods into the cache; returns the list's resourceVersion. */
  private async listPods(gen: number): Promise<string> {
    const timeout = this.o.listTimeoutMs ?? 60_000;
    let list;
    try {
      list = podListSchema.parse(await this.o.kc.request('GET', '/api/v1/pods', { query: { fieldSelector: this.fieldSelector }, timeoutMs: timeout }));
    } catch (e) {
      throw Object.assign(new Error(`listing pods of node ${this.o.nodeName}: ${describeKubeError(e, timeout)}`), { statusCode: statusOf(e) });
    }
    if (!this.current(gen)) return '';
    const fresh = new Map<string, PodInfo>();
    for (const item of list.items) {
      const info = podInfoOf(item);
      fresh.set(`${info.namespace}/${info.name}`, info);
    }
    const old = this.cache;
    this.cache = fresh;
    for (const [k, info] of old) if (!fresh.has(k)) this.observe(info, true);
    for (const info of fresh.values()) this.observe(info, false);
    this.delay = this.backoff.initialMs;
    this.lastError = undefined;
    this.touch();
    if (!this.everSynced) {
      this.everSynced = true;
      this.o.log.info({ node: this.o.nodeName, pods: list.items.length, resourceVersion: list.metadata?.resourceVersion }, 'pod informer synced');
      for (const w of this.syncWaiters.splice(0)) w();
    }
    return list.metadata?.resourceVersion ?? '';
  }

  /** Watches from `rv` until the stream ends (resolves with the last resourceVersion) or fails. */
  private async watchPods(gen: number, rv: string): Promise<string> {
    const abort = new AbortController();
    this.watchAbort = abort;
    let last = rv;
    this.touch();
    await this.o.kc.watch('/api/v1/pods', {
      query: { fieldSelector: this.fieldSelector, allowWatchBookmarks: 'true', ...(rv ? { resourceVersion: rv } : {}) },
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
        const info = podInfoOf(ev.object);
        const key = `${info.namespace}/${info.name}`;
        if (ev.type === 'DELETED') this.cache.delete(key);
        else this.cache.set(key, info);
        this.observe(info, ev.type === 'DELETED');
      },
    });
    if (this.watchAbort === abort) this.watchAbort = undefined;
    return last;
  }

  /** A failure: logged, counted, and waited out (backoff with jitter; close() cuts the wait short). */
  private async failed(gen: number, err: unknown): Promise<void> {
    const msg = describeKubeError(err);
    this.lastError = msg;
    this.touch();
    const delay = Math.round(this.delay * (0.8 + 0.4 * this.random()));
    this.delay = Math.min(this.delay * 2, this.backoff.maxMs);
    this.o.log.warn({ err: msg, retryInMs: delay }, 'pod watch failed: restarting after a backoff');
    this.o.onWatchRestart?.('error');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.retry = undefined;
        resolve();
      }, delay);
      timer.unref();
      this.retry = { timer, wake: resolve };
    });
    if (!this.current(gen)) return;
  }

  private touch(): void {
    this.lastActivity = Date.now();
  }

  private checkIdle(): void {
    if (this.closed || this.retry) return;
    if (Date.now() - this.lastActivity < this.idleMs) return;
    this.o.log.warn({ idleMs: this.idleMs }, 'pod watch silent too long: starting a new one');
    this.o.onWatchRestart?.('idle');
    this.touch();
    this.startLoop(); // bumps the generation and aborts the old watch: its results are ignored
  }

  private observe(info: PodInfo, deleted: boolean): void {
    this.touch();
    const key = `${info.namespace}/${info.name}`;
    if (deleted) {
      if (this.seen.get(key)?.uid === info.uid) this.seen.delete(key);
      return;
    }
    const ann = vppAnnotations(info.annotations);
    const prev = this.seen.get(key);
    this.seen.set(key, { uid: info.uid, ann });
    if (prev && prev.uid === info.uid && sameRecord(prev.ann, ann)) return;
    const previous = prev && prev.uid === info.uid ? prev.ann : undefined;
    if (previous) this.o.log.info({ namespace: info.namespace, pod: info.name, previous, annotations: ann }, 'pod VPP annotations changed');
    for (const l of this.listeners) {
      try {
        l(info, previous);
      } catch (e) {
        this.o.log.warn({ namespace: info.namespace, pod: info.name, err: (e as Error).message }, 'annotation listener failed');
      }
    }
  }

  async getPod(namespace: string, name: string, timeoutMs: number, uid?: string): Promise<PodInfo | undefined> {
    const hit = this.cache.get(`${namespace}/${name}`);
    if (hit && (!uid || !hit.uid || hit.uid === uid)) return { ...hit, annotations: { ...hit.annotations } };
    try {
      const p = podSchema.parse(
        await this.o.kc.request('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`, { timeoutMs }),
      );
      this.o.log.debug({ namespace, pod: name }, 'pod not in the cache yet: read with GET');
      return podInfoOf(p);
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw new PodSourceUnavailableError(
        `pod ${namespace}/${name}: not in the pod cache and reading it from the Kubernetes API failed (${describeKubeError(e, timeoutMs)}); try again later`,
      );
    }
  }

  async close(): Promise<void> {
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
    return Promise.resolve();
  }
}
