/**
 * The pods of this node from the Kubernetes API: list, then watch from the list's resourceVersion,
 * restricted by `fieldSelector=spec.nodeName=<node>`, over agent/kube/client.ts (node:https, zod).
 * Only what the agent reads of a pod is kept (namespace, name, uid, annotations, hostNetwork).
 *
 * Listing, watching and recovery (closed stream, 410, backoff, idle watchdog) are the shared loop's
 * (agent/kube/list-watch.ts). The last listed cache stays readable while a new list is in flight.
 *
 * At CNI ADD a pod is read from the cache; when the cache has not seen it (or holds an older pod of the
 * same name), from a direct GET bounded by the caller's timeout. Changes of a pod's VPP annotations
 * (cni.projectcalico.org/...) are reported to listeners with the previous values.
 */
import { z } from 'zod';
import { ANNOTATION_PREFIX } from '../pod/annotations.js';
import { PodSourceUnavailableError, type PodInfo, type PodSource } from '../pod-info/source.js';
import { describeKubeError, statusOf, type KubeClient } from './client.js';
import { ListWatch, type KubeLogger, type WatchRestartReason } from './list-watch.js';

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

export type { KubeLogger, WatchRestartReason } from './list-watch.js';

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
export class KubePodSource implements PodSource, PodAnnotationWatch {
  /** The node's pods by namespace/name, as last listed and watched. */
  private cache = new Map<string, PodInfo>();
  private readonly seen = new Map<string, { uid: string | undefined; ann: Record<string, string> }>();
  private readonly listeners = new Set<AnnotationsListener>();
  private readonly lw: ListWatch;

  constructor(private readonly o: KubePodSourceOptions) {
    if (!o.nodeName) throw new Error('KubePodSource needs the node name (NODE_NAME)');
    this.lw = new ListWatch({
      kc: o.kc,
      path: '/api/v1/pods',
      query: { fieldSelector: `spec.nodeName=${o.nodeName}` },
      what: 'pod',
      listing: `pods of node ${o.nodeName}`,
      name: `pod informer for node ${o.nodeName}`,
      syncedMsg: 'pod informer synced',
      log: o.log,
      syncedFields: () => ({ node: o.nodeName, pods: this.cache.size }),
      onList: (items) => this.replace(items),
      onEvent: (type, raw) => {
        const r = podSchema.safeParse(raw);
        if (!r.success) throw new Error(`unexpected watch event: ${r.error.issues[0]?.message ?? ''}`);
        const info = podInfoOf(r.data);
        const key = `${info.namespace}/${info.name}`;
        if (type === 'DELETED') this.cache.delete(key);
        else this.cache.set(key, info);
        this.observe(info, type === 'DELETED');
      },
      ...(o.onWatchRestart ? { onWatchRestart: o.onWatchRestart } : {}),
      ...(o.backoff ? { backoff: o.backoff } : {}),
      ...(o.watchIdleMs !== undefined ? { watchIdleMs: o.watchIdleMs } : {}),
      ...(o.listTimeoutMs !== undefined ? { listTimeoutMs: o.listTimeoutMs } : {}),
      ...(o.random ? { random: o.random } : {}),
    });
  }

  /** Starts listing and watching; returns at once (see `waitForSync`). */
  start(): void {
    this.lw.start();
  }

  get synced(): boolean {
    return this.lw.synced;
  }

  /** Undefined once the first list completed, else why not (readiness). */
  notReady(): string | undefined {
    return this.lw.notReady();
  }

  /** Resolves true once synced, false after `timeoutMs`. */
  waitForSync(timeoutMs: number): Promise<boolean> {
    return this.lw.waitForSync(timeoutMs);
  }

  onAnnotationsChanged(l: AnnotationsListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** The node's pods as cached now. */
  list(): PodInfo[] {
    return [...this.cache.values()].map((p) => ({ ...p, annotations: { ...p.annotations } }));
  }

  /** A fresh list replaces the cache (a pod that does not parse fails the list). */
  private replace(items: readonly unknown[]): void {
    const fresh = new Map<string, PodInfo>();
    for (const item of items) {
      const info = podInfoOf(podSchema.parse(item));
      fresh.set(`${info.namespace}/${info.name}`, info);
    }
    const old = this.cache;
    this.cache = fresh;
    for (const [k, info] of old) if (!fresh.has(k)) this.observe(info, true);
    for (const info of fresh.values()) this.observe(info, false);
  }

  private observe(info: PodInfo, deleted: boolean): void {
    this.lw.touch();
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
    this.lw.close();
    return Promise.resolve();
  }
}
