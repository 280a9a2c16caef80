/**
 * A list + watch cache of one kind of cluster object (Nodes, Services, EndpointSlices) for the node
 * dataplane, on the shared list/watch loop (agent/kube/list-watch.ts: same recovery as the pod source).
 * Every object is validated with its zod schema before it enters the cache: an invalid one is logged once
 * per resourceVersion and kept out (a previous valid version is dropped, so nothing is programmed from data
 * we cannot read). The cache of the last successful list stays readable while a new one is in flight.
 * Listeners are told after every change (add, update, delete, relist).
 */
import { z } from 'zod';
import type { KubeClient } from './client.js';
import { ListWatch, type KubeLogger } from './list-watch.js';

export type InformerLogger = KubeLogger;

export interface ObjectInformerOptions<T> {
  readonly kc: KubeClient;
  /** Kind, for logs and errors ("Node"). */
  readonly kind: string;
  /** Collection path (`/api/v1/nodes`). */
  readonly path: string;
  readonly schema: z.ZodType<T>;
  /** Cache key of a valid object (`namespace/name`, or `name` for cluster-scoped kinds). */
  readonly keyOf: (o: T) => string;
  readonly log: InformerLogger;
  readonly backoff?: { initialMs: number; maxMs: number };
  readonly listTimeoutMs?: number;
  readonly watchIdleMs?: number;
  readonly random?: () => number;
}

export type ChangeKind = 'add' | 'update' | 'delete' | 'relist';
export type ChangeListener<T> = (kind: ChangeKind, obj: T | undefined, key: string) => void;

const rawMeta = z.object({ metadata: z.object({ name: z.string().optional(), namespace: z.string().optional(), resourceVersion: z.string().optional() }).optional() });

function rawKey(o: z.infer<typeof rawMeta>): string {
  const m = o.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name ?? ''}` : (m.name ?? '');
}

export class ObjectInformer<T> {
  private readonly cache = new Map<string, T>();
  private readonly listeners = new Set<ChangeListener<T>>();
  private readonly invalidSeen = new Set<string>();
  private readonly lw: ListWatch;
  /** Objects refused by the schema (metrics, tests). */
  invalidCount = 0;

  constructor(private readonly o: ObjectInformerOptions<T>) {
    this.lw = new ListWatch({
      kc: o.kc,
      path: o.path,
      what: o.kind,
      listing: `${o.kind}s`,
      name: `${o.kind} informer`,
      syncedMsg: `${o.kind} informer synced`,
      log: o.log,
      syncedFields: () => ({ kind: o.kind, objects: this.cache.size }),
      onList: (items) => this.replace(items),
      onEvent: (type, raw) => this.observe(raw, type === 'DELETED'),
      ...(o.backoff ? { backoff: o.backoff } : {}),
      ...(o.watchIdleMs !== undefined ? { watchIdleMs: o.watchIdleMs } : {}),
      ...(o.listTimeoutMs !== undefined ? { listTimeoutMs: o.listTimeoutMs } : {}),
      ...(o.random ? { random: o.random } : {}),
    });
  }

  start(): void {
    this.lw.start();
  }

  get synced(): boolean {
    return this.lw.synced;
  }

  notReady(): string | undefined {
    return this.lw.notReady();
  }

  waitForSync(timeoutMs: number): Promise<boolean> {
    return this.lw.waitForSync(timeoutMs);
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
  private admit(raw: unknown): T | undefined {
    const r = this.o.schema.safeParse(raw);
    if (r.success) return r.data;
    this.invalidCount++;
    const m = rawMeta.safeParse(raw);
    const key = m.success ? rawKey(m.data) : '';
    const tag = `${key}@${m.success ? (m.data.metadata?.resourceVersion ?? '') : ''}`;
    if (!this.invalidSeen.has(tag)) {
      this.invalidSeen.add(tag);
      const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      this.o.log.warn({ kind: this.o.kind, object: key, issues }, `${this.o.kind} ${key} is invalid: ignored`);
    }
    return undefined;
  }

  private observe(raw: unknown, deleted: boolean): void {
    const m = rawMeta.safeParse(raw);
    if (!m.success) throw new Error(`${this.o.kind} watch event without readable metadata`);
    const key = rawKey(m.data);
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
    // A watch may repeat an object at the version already cached: no change.
    const rv = (v as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;
    if (prev && rv !== undefined && prev.metadata?.resourceVersion === rv) return;
    this.emit(prev ? 'update' : 'add', v, key);
  }

  /** A fresh list replaces the cache (objects gone while we were not watching are forgotten), then 'relist'. */
  private replace(items: readonly unknown[]): void {
    const fresh = new Map<string, T>();
    for (const raw of items) {
      const v = this.admit(raw);
      if (v !== undefined) fresh.set(this.o.keyOf(v), v);
    }
    this.cache.clear();
    for (const [k, v] of fresh) this.cache.set(k, v);
    // after the loop marked the informer synced (listeners may look at `synced`)
    queueMicrotask(() => this.emit('relist', undefined, ''));
  }

  close(): Promise<void> {
    this.lw.close();
    return Promise.resolve();
  }
}
