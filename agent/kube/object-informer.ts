/**
 * A list + watch cache of one kind of cluster object (Nodes, Services, EndpointSlices) for the node
 * dataplane, on client-node's informer. Every object is validated with its zod schema before it enters the
 * cache: an invalid one is logged once per resourceVersion and kept out (a previous valid version is dropped,
 * so nothing is programmed from data we cannot read).
 *
 * Recovery, as for the pod informer: the informer re-watches after a clean end and relists after 410 Gone by
 * itself; any other failure restarts it after an exponential backoff with jitter. The cache of the last
 * successful list stays readable meanwhile. Listeners are told after every change (add, update, delete,
 * relist).
 */
import { makeInformer, type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import type { z } from 'zod';
import { describeKubeError, statusOf, withTimeout } from './client.js';

export interface InformerLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface ObjectInformerOptions<T> {
  readonly kc: KubeConfig;
  /** Kind, for logs and errors ("Node"). */
  readonly kind: string;
  /** Collection path for the watch (`/api/v1/nodes`). */
  readonly path: string;
  /** The list call (given a timeout option). */
  readonly list: (opts: ReturnType<typeof withTimeout>) => Promise<KubernetesListObject<KubernetesObject>>;
  readonly schema: z.ZodType<T>;
  /** Cache key of a valid object (`namespace/name`, or `name` for cluster-scoped kinds). */
  readonly keyOf: (o: T) => string;
  readonly log: InformerLogger;
  readonly backoff?: { initialMs: number; maxMs: number };
  readonly listTimeoutMs?: number;
  readonly random?: () => number;
}

export type ChangeKind = 'add' | 'update' | 'delete' | 'relist';
export type ChangeListener<T> = (kind: ChangeKind, obj: T | undefined, key: string) => void;

type AnyInformer = Informer<KubernetesObject> & ObjectCache<KubernetesObject>;

function rawKey(o: KubernetesObject): string {
  const m = o.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name ?? ''}` : (m.name ?? '');
}

export class ObjectInformer<T> {
  private informer: AnyInformer | undefined;
  private readonly cache = new Map<string, T>();
  private readonly listeners = new Set<ChangeListener<T>>();
  private readonly invalidSeen = new Set<string>();
  private gen = 0;
  private closed = false;
  private everSynced = false;
  private syncWaiters: (() => void)[] = [];
  private delay: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastError: string | undefined;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly random: () => number;
  /** Objects refused by the schema (metrics, tests). */
  invalidCount = 0;

  constructor(private readonly o: ObjectInformerOptions<T>) {
    this.backoff = o.backoff ?? { initialMs: 200, maxMs: 30_000 };
    this.delay = this.backoff.initialMs;
    this.random = o.random ?? Math.random;
  }

  start(): void {
    if (this.informer || this.closed) return;
    this.startInformer();
  }

  get synced(): boolean {
    return this.everSynced;
  }

  notReady(): string | undefined {
    if (this.everSynced) return undefined;
    return `${this.o.kind} informer not synced yet${this.lastError ? ` (last error: ${this.lastError})` : ''}`;
  }

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

  onChange(l: ChangeListener<T>): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Valid objects as cached now. */
  list(): T[] {
    return [...this.cache.values()];
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  private emit(kind: ChangeKind, obj: T | undefined, key: string): void {
    for (const l of this.listeners) {
      try {
        l(kind, obj, key);
      } catch (e) {
        this.o.log.warn({ kind: this.o.kind, key, err: (e as Error).message }, 'informer listener failed');
      }
    }
  }

  /** Validates and caches one object; returns it, or undefined when refused. */
  private admit(raw: KubernetesObject): T | undefined {
    const r = this.o.schema.safeParse(raw);
    if (r.success) return r.data;
    this.invalidCount++;
    const key = rawKey(raw);
    const tag = `${key}@${raw.metadata?.resourceVersion ?? ''}`;
    if (!this.invalidSeen.has(tag)) {
      this.invalidSeen.add(tag);
      const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      this.o.log.warn({ kind: this.o.kind, object: key, issues }, `${this.o.kind} ${key} is invalid: ignored`);
    }
    return undefined;
  }

  private observe(raw: KubernetesObject, deleted: boolean): void {
    const key = rawKey(raw);
    if (deleted) {
      if (this.cache.delete(key)) this.emit('delete', undefined, key);
      return;
    }
    const v = this.admit(raw);
    if (v === undefined) {
      if (this.cache.delete(key)) this.emit('delete', undefined, key);
      return;
    }
    const prev = this.cache.get(key) as { metadata?: { resourceVersion?: string } } | undefined;
    this.cache.set(this.o.keyOf(v), v);
    // The informer replays a fresh list as adds/updates: an object already cached at that version is no change.
    const rv = (v as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;
    if (prev && rv !== undefined && prev.metadata?.resourceVersion === rv) return;
    this.emit(prev ? 'update' : 'add', v, key);
  }

  private startInformer(): void {
    const gen = ++this.gen;
    const inf = makeInformer<KubernetesObject>(this.o.kc, this.o.path, () => this.listAll(gen)) as AnyInformer;
    this.informer = inf;
    const current = (): boolean => gen === this.gen && !this.closed;
    inf.on('add', (p) => current() && this.observe(p, false));
    inf.on('update', (p) => current() && this.observe(p, false));
    inf.on('delete', (p) => current() && this.observe(p, true));
    inf.on('error', (err: unknown) => current() && this.failed(inf, gen, err));
    inf.start().catch((e: unknown) => current() && this.failed(inf, gen, e));
  }

  private async listAll(gen: number): Promise<KubernetesListObject<KubernetesObject>> {
    const timeout = this.o.listTimeoutMs ?? 60_000;
    let list: KubernetesListObject<KubernetesObject>;
    try {
      list = await this.o.list(withTimeout(timeout));
    } catch (e) {
      throw Object.assign(new Error(`listing ${this.o.kind}s: ${describeKubeError(e, timeout)}`), { statusCode: statusOf(e) });
    }
    if (gen === this.gen && !this.closed) {
      // A relist replaces the cache: objects gone while we were not watching are forgotten here.
      const fresh = new Map<string, T>();
      for (const raw of list.items) {
        const v = this.admit(raw);
        if (v !== undefined) fresh.set(this.o.keyOf(v), v);
      }
      this.cache.clear();
      for (const [k, v] of fresh) this.cache.set(k, v);
      this.delay = this.backoff.initialMs;
      this.lastError = undefined;
      setImmediate(() => {
        if (gen !== this.gen || this.closed) return;
        if (!this.everSynced) {
          this.everSynced = true;
          this.o.log.info({ kind: this.o.kind, objects: this.cache.size, resourceVersion: list.metadata?.resourceVersion }, `${this.o.kind} informer synced`);
          for (const w of this.syncWaiters.splice(0)) w();
        }
        this.emit('relist', undefined, '');
      });
    }
    return list;
  }

  private failed(inf: AnyInformer, gen: number, err: unknown): void {
    const msg = describeKubeError(err);
    this.lastError = msg;
    const delay = Math.round(this.delay * (0.8 + 0.4 * this.random()));
    this.delay = Math.min(this.delay * 2, this.backoff.maxMs);
    this.o.log.warn({ kind: this.o.kind, err: msg, retryInMs: delay }, `${this.o.kind} watch failed: restarting after a backoff`);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (gen !== this.gen || this.closed) return;
      inf.start().catch((e: unknown) => gen === this.gen && !this.closed && this.failed(inf, gen, e));
    }, delay);
    this.retryTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.gen++;
    clearTimeout(this.retryTimer);
    const inf = this.informer;
    this.informer = undefined;
    if (inf) await inf.stop().catch(() => undefined);
  }
}
