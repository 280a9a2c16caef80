/**
 * Where the agent learns a pod's annotations. The Kubernetes informer implements this in a cluster;
 * a pods file stands in for it outside one.
 */
export interface PodInfo {
  namespace: string;
  name: string;
  uid?: string;
  annotations: Record<string, string>;
}

export interface PodSource {
  /**
   * The pod, or undefined when the source does not know it (within `timeoutMs`). `uid`, when the runtime
   * gave one, lets a source skip a cached pod of the same name that was since recreated.
   */
  getPod(namespace: string, name: string, timeoutMs: number, uid?: string): Promise<PodInfo | undefined>;
  /** Stops watching. */
  close(): Promise<void>;
}

/** A source that knows no pods (every pod gets no annotations). */
export const EMPTY_POD_SOURCE: PodSource = {
  getPod: () => Promise.resolve(undefined),
  close: () => Promise.resolve(),
};
