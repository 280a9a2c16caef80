/**
 * The cluster objects the node dataplane follows — Nodes, Services and EndpointSlices (discovery/v1) — as
 * three validated list + watch caches, and one change signal for the reconciler. RBAC: list and watch of
 * nodes, services and endpointslices, nothing more.
 */
import { endpointSliceSchema, keyOf, nodeSchema, serviceSchema, type KubeEndpointSlice, type KubeNode, type KubeService } from '../node/kube-objects.js';
import type { KubeClient } from './client.js';
import { ObjectInformer, type ChangeKind, type InformerLogger } from './object-informer.js';

export interface NodeDataplaneSourceOptions {
  readonly kc: KubeClient;
  readonly log: InformerLogger;
  /** Services and EndpointSlices are watched only when Services are programmed. */
  readonly services: boolean;
  readonly backoff?: { initialMs: number; maxMs: number };
}

export type SourceChange = { readonly what: 'node' | 'service' | 'endpointslice'; readonly kind: ChangeKind; readonly key: string };

export class NodeDataplaneSource {
  readonly nodes: ObjectInformer<KubeNode>;
  readonly services: ObjectInformer<KubeService> | undefined;
  readonly slices: ObjectInformer<KubeEndpointSlice> | undefined;

  constructor(o: NodeDataplaneSourceOptions) {
    const common = { kc: o.kc, log: o.log, ...(o.backoff ? { backoff: o.backoff } : {}) };
    this.nodes = new ObjectInformer<KubeNode>({ ...common, kind: 'Node', path: '/api/v1/nodes', schema: nodeSchema, keyOf });
    if (o.services) {
      this.services = new ObjectInformer<KubeService>({
        ...common,
        kind: 'Service',
        path: '/api/v1/services',
        schema: serviceSchema,
        keyOf,
      });
      this.slices = new ObjectInformer<KubeEndpointSlice>({
        ...common,
        kind: 'EndpointSlice',
        path: '/apis/discovery.k8s.io/v1/endpointslices',
        schema: endpointSliceSchema,
        keyOf,
      });
    }
  }

  private all(): Pick<ObjectInformer<unknown>, 'start' | 'synced' | 'notReady' | 'waitForSync' | 'close'>[] {
    const out: Pick<ObjectInformer<unknown>, 'start' | 'synced' | 'notReady' | 'waitForSync' | 'close'>[] = [this.nodes];
    if (this.services) out.push(this.services);
    if (this.slices) out.push(this.slices);
    return out;
  }

  start(): void {
    for (const i of this.all()) i.start();
  }

  /** Calls `l` after every change of any of the three kinds. */
  onChange(l: (c: SourceChange) => void): () => void {
    const offs = [
      this.nodes.onChange((kind, _o, key) => l({ what: 'node', kind, key })),
      ...(this.services ? [this.services.onChange((kind, _o, key) => l({ what: 'service', kind, key }))] : []),
      ...(this.slices ? [this.slices.onChange((kind, _o, key) => l({ what: 'endpointslice', kind, key }))] : []),
    ];
    return () => offs.forEach((f) => f());
  }

  get synced(): boolean {
    return this.all().every((i) => i.synced);
  }

  notReady(): string | undefined {
    return this.all().map((i) => i.notReady()).find((r) => r !== undefined);
  }

  async waitForSync(timeoutMs: number): Promise<boolean> {
    const r = await Promise.all(this.all().map((i) => i.waitForSync(timeoutMs)));
    return r.every(Boolean);
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((i) => i.close()));
  }
}
