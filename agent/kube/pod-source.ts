/**
 * The pods of this node from the Kubernetes API: a client-node informer (list, then watch from the
 * list's resourceVersion) restricted by `fieldSelector=spec.nodeName=<node>`.
 *
 * Recovery:
 *  - the watch stream ends (apiserver timeout, graceful close): the informer re-watches from its last
 *    resourceVersion by itself;
 *  - 410 Gone (HTTP status or an ERROR event): the informer relists by itself;
 *  - any other failure (apiserver down, refused, reset, 5xx, list failing): the informer stops and
 *    reports an error; we restart it after an exponential backoff with jitter;
 *  - a watch that stays silent longer than `watchIdleMs` (half-open connection: bookmarks, which we
 *    ask for, normally arrive every minute or so): a fresh informer replaces it.
 * The last synced cache stays usable while a new informer lists.
 *
 * At CNI ADD a pod is read from the cache; when the cache has not seen it (or holds an older pod of the
 * same name), from a direct GET bounded by the caller's timeout. Changes of a pod's VPP annotations
 * (cni.projectcalico.org/...) are reported to listeners with the previous values.
 */
import { CoreV1Api, makeInformer, type Informer, type KubeConfig, type ObjectCache, type V1Pod, type V1PodList } from '@kubernetes/client-node';
import { ANNOTATION_PREFIX } from '../pod/annotations.js';
import { PodSourceUnavailableError, type PodInfo, type PodSource } from '../pod-info/source.js';
import { describeKubeError, statusOf, withTimeout } from './client.js';

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
  kc: KubeConfig;
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

export function podInfoOf(p: V1Pod): PodInfo {
  const m = p.metadata ?? {};
  const info: PodInfo = { namespace: m.namespace ?? 'default', name: m.name ?? '', annotations: { ...(m.annotations ?? {}) } };
  if (m.uid) info.uid = m.uid;
  if (p.spec?.hostNetwork) info.hostNetwork = true;
  return info;
}

type PodInformer = Informer<V1Pod> & ObjectCache<V1Pod> & { latestResourceVersion?: () => string };

export class KubePodSource implements PodSource, PodAnnotationWatch {
  private readonly core: CoreV1Api;
  private readonly fieldSelector: string;
  private informer: PodInformer | undefined;
  /** The informer whose list completed last: read while a newer one lists. */
  private syncedCache: ObjectCache<V1Pod> | undefined;
  private gen = 0;
  private closed = false;
  private everSynced = false;
  private syncWaiters: (() => void)[] = [];
  private delay: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private lastActivity = Date.now();
  private lastRv = '';
  private connectsThisGen = 0;
  private resumingAfterError = false;
  private lastError: string | undefined;
  private readonly seen = new Map<string, { uid: string | undefined; ann: Record<string, string> }>();
  private readonly listeners = new Set<AnnotationsListener>();
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly idleMs: number;
  private readonly random: () => number;

  constructor(private readonly o: KubePodSourceOptions) {
    if (!o.nodeName) throw new Error('KubePodSource needs the node name (NODE_NAME)');
    this.core = o.kc.makeApiClient(CoreV1Api);
    this.fieldSelector = `spec.nodeName=${o.nodeName}`;
    this.backoff = o.backoff ?? { initialMs: 200, maxMs: 30_000 };
    this.delay = this.backoff.initialMs;
    this.idleMs = o.watchIdleMs ?? 600_000;
    this.random = o.random ?? Math.random;
  }

  /** Starts listing and watching; returns at once (see `waitForSync`). */
  start(): void {
    if (this.informer || this.closed) return;
    this.startInformer();
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
    const c = this.syncedCache ?? this.informer;
    return (c?.list() ?? []).map(podInfoOf);
  }

  private path(): string {
    // makeInformer (client-node 1.4) takes no field selector: it goes into the watch path, and the list
    // function below passes it too. Bookmarks keep the resourceVersion fresh and show the watch is alive.
    return `/api/v1/pods?fieldSelector=${encodeURIComponent(this.fieldSelector)}&allowWatchBookmarks=true`;
  }

  private startInformer(): void {
    const gen = ++this.gen;
    this.connectsThisGen = 0;
    this.resumingAfterError = false;
    const inf = makeInformer<V1Pod>(this.o.kc, this.path(), () => this.listPods(gen)) as PodInformer;
    this.informer = inf;
    const current = (): boolean => gen === this.gen && !this.closed;
    inf.on('add', (p) => current() && this.observe(p, false));
    inf.on('update', (p) => current() && this.observe(p, false));
    inf.on('delete', (p) => current() && this.observe(p, true));
    inf.on('connect', () => {
      if (!current()) return;
      this.touch();
      this.connectsThisGen++;
      if (this.resumingAfterError) {
        this.resumingAfterError = false;
        return;
      }
      if (this.connectsThisGen === 1) return;
      const rv = inf.latestResourceVersion?.() ?? '';
      const reason: WatchRestartReason = rv === '' ? 'expired' : 'closed';
      this.o.log.debug({ reason, resourceVersion: rv }, reason === 'expired' ? 'pod watch expired (410): relisting' : 'pod watch ended: watching again');
      this.o.onWatchRestart?.(reason);
    });
    inf.on('error', (err: unknown) => {
      if (!current()) return;
      this.failed(inf, gen, err);
    });
    inf.start().catch((e: unknown) => current() && this.failed(inf, gen, e));
  }

  private async listPods(gen: number): Promise<V1PodList> {
    const timeout = this.o.listTimeoutMs ?? 60_000;
    let list: V1PodList;
    try {
      list = await this.core.listPodForAllNamespaces({ fieldSelector: this.fieldSelector }, withTimeout(timeout));
    } catch (e) {
      throw Object.assign(new Error(`listing pods of node ${this.o.nodeName}: ${describeKubeError(e, timeout)}`), { statusCode: statusOf(e) });
    }
    // The informer fills its cache right after this promise resolves; mark synced once it has.
    setImmediate(() => {
      if (gen !== this.gen || this.closed) return;
      this.syncedCache = this.informer;
      this.delay = this.backoff.initialMs;
      this.lastError = undefined;
      this.touch();
      if (!this.everSynced) {
        this.everSynced = true;
        this.o.log.info({ node: this.o.nodeName, pods: list.items.length, resourceVersion: list.metadata?.resourceVersion }, 'pod informer synced');
        for (const w of this.syncWaiters.splice(0)) w();
      }
    });
    return list;
  }

  private failed(inf: PodInformer, gen: number, err: unknown): void {
    const msg = describeKubeError(err);
    this.lastError = msg;
    this.touch();
    const delay = Math.round(this.delay * (0.8 + 0.4 * this.random()));
    this.delay = Math.min(this.delay * 2, this.backoff.maxMs);
    this.o.log.warn({ err: msg, retryInMs: delay }, 'pod watch failed: restarting after a backoff');
    this.o.onWatchRestart?.('error');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (gen !== this.gen || this.closed) return;
      this.resumingAfterError = true;
      inf.start().catch((e: unknown) => gen === this.gen && !this.closed && this.failed(inf, gen, e));
    }, delay);
    this.retryTimer.unref();
  }

  private touch(): void {
    this.lastActivity = Date.now();
  }

  private checkIdle(): void {
    if (this.closed || !this.informer || this.retryTimer) return;
    const rv = this.informer.latestResourceVersion?.() ?? '';
    if (rv !== this.lastRv) {
      this.lastRv = rv;
      this.touch();
      return;
    }
    if (Date.now() - this.lastActivity < this.idleMs) return;
    this.o.log.warn({ idleMs: this.idleMs }, 'pod watch silent too long: starting a new one');
    this.o.onWatchRestart?.('idle');
    const old = this.informer;
    this.touch();
    this.startInformer(); // bumps the generation first: the old informer's callbacks are ignored
    void old.stop().catch(() => undefined);
  }

  private observe(p: V1Pod, deleted: boolean): void {
    this.touch();
    const info = podInfoOf(p);
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
    for (const c of [this.informer, this.syncedCache]) {
      const hit = c?.get(name, namespace);
      if (hit && (!uid || !hit.metadata?.uid || hit.metadata.uid === uid)) return podInfoOf(hit);
    }
    try {
      const p = await this.core.readNamespacedPod({ name, namespace }, withTimeout(timeoutMs));
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
    clearTimeout(this.retryTimer);
    clearInterval(this.watchdog);
    const inf = this.informer;
    this.informer = undefined;
    if (inf) await inf.stop().catch(() => undefined);
  }
}
