/**
 * A ClusterSource from fixed lists (a pods file's `nodes`, `services`, `endpointSlices`): every object passes
 * the same zod schemas as the API server's (kube-objects.ts); an invalid one is logged once per load and left
 * out. `set` replaces the lists (the pods file was re-read) and signals a full recompute.
 */
import { endpointSliceSchema, keyOf, nodeSchema, parseKube, serviceSchema, type KubeEndpointSlice, type KubeNode, type KubeService } from './kube-objects.js';
import type { ClusterChange, ClusterSource } from './dataplane.js';
import type { NodeLogger } from './context.js';

export interface RawClusterLists {
  readonly nodes: readonly unknown[];
  readonly services: readonly unknown[];
  readonly endpointSlices: readonly unknown[];
}

export class StaticCluster implements ClusterSource {
  private n: KubeNode[] = [];
  private s: KubeService[] = [];
  private e: KubeEndpointSlice[] = [];
  private readonly listeners = new Set<(c: ClusterChange) => void>();

  constructor(
    private readonly log: Pick<NodeLogger, 'warn'>,
    lists?: RawClusterLists,
  ) {
    if (lists) this.set(lists);
  }

  set(lists: RawClusterLists | undefined): void {
    const valid = <T>(schema: Parameters<typeof parseKube<T>>[0], kind: string, raw: readonly unknown[]): T[] => {
      const out = new Map<string, T>();
      for (const r of raw) {
        const p = parseKube(schema, kind, r);
        if (p.ok) out.set(keyOf(p.value as { metadata: { name: string; namespace?: string } }), p.value);
        else this.log.warn({ err: p.error }, `${kind} left out: ${p.error}`);
      }
      return [...out.values()];
    };
    this.n = valid<KubeNode>(nodeSchema, 'Node', lists?.nodes ?? []);
    this.s = valid<KubeService>(serviceSchema, 'Service', lists?.services ?? []);
    this.e = valid<KubeEndpointSlice>(endpointSliceSchema, 'EndpointSlice', lists?.endpointSlices ?? []);
    for (const l of this.listeners) l({ what: 'node', kind: 'relist', key: '' });
  }

  nodes(): KubeNode[] {
    return this.n;
  }

  services(): KubeService[] {
    return this.s;
  }

  slices(): KubeEndpointSlice[] {
    return this.e;
  }

  onChange(l: (c: ClusterChange) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}
