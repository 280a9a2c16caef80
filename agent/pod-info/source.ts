/**
 * Where the agent learns a pod's annotations. The Kubernetes informer implements this in a cluster;
 * a pods file stands in for it outside one.
 */
export interface PodInfo {
  namespace: string;
  name: string;
  uid?: string;
  annotations: Record<string, string>;
  /** The pod uses the node's network (the runtime never calls a CNI plugin for it). */
  hostNetwork?: boolean;
}

export interface PodSource {
  /**
   * The pod, or undefined when the source does not know it (within `timeoutMs`). `uid`, when the runtime
   * gave one, lets a source skip a cached pod of the same name that was since recreated.
   */
  getPod(namespace: string, name: string, timeoutMs: number, uid?: string): Promise<PodInfo | undefined>;
  /** The node's pods as the source knows them now (for the troubleshooting view), when it can list. */
  list?(): PodInfo[];
  /** Stops watching. */
  close(): Promise<void>;
}

/**
 * The source could not answer now (the Kubernetes API unreachable or slow): the operation that asked may
 * succeed later. The CNI layer maps it to "try again later".
 */
export class PodSourceUnavailableError extends Error {
  override readonly name = 'PodSourceUnavailableError';
}
