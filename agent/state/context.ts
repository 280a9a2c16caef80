/** What the state machinery (reconcile, VPP-restart recovery, orphan sweep) is given. */
import type { NetnsOps } from '../linux/netns.js';
import { attachmentKey, type AttachRequest } from '../pod/attachment.js';
import type { AttachmentRecord, AttachmentStore } from '../pod/record.js';
import type { PodInterfaceConfig } from '../pod/interface-spec.js';
import type { NodeResources } from '../pod/node-resources.js';
import type { AttachPlan, PodNetwork } from '../pod/pod-network.js';
import type { VppApi } from '../vpp/api.js';
import type { PodSource } from '../pod-info/source.js';
import type { AttachmentIdentity } from './inventory.js';
import type { Logger } from '../../lib/logger.js';

/** An operation in flight, as the checkpoint records it. */
export interface PendingIntent {
  op: 'add' | 'del';
  containerId: string;
  ifName: string;
  netns: string;
  pod: { namespace: string; name: string; uid?: string };
  ips: { address: string }[];
}

/** The attachment store, with the intents when it keeps them (the checkpoint does). */
export interface StateStore extends AttachmentStore {
  pendingIntents?(): PendingIntent[];
  abandon?(key: string): Promise<void>;
  /** Replaces a record in memory only (written by the next `sync` or write). */
  stage?(rec: AttachmentRecord): void;
  sync?(): Promise<void>;
}

export interface StateContext {
  vpp: VppApi;
  netns: NetnsOps;
  node: NodeResources;
  cfg: PodInterfaceConfig;
  network: PodNetwork;
  store: StateStore;
  pods: PodSource;
  /** Runs `fn` with the container's operations (ADD, DEL, CHECK) held off: the manager's per-container lock. */
  exclusive<T>(containerId: string, fn: () => Promise<T>): Promise<T>;
  log: Logger;
}

export function keyOf(r: { containerId: string; ifName: string }): string {
  return attachmentKey(r.containerId, r.ifName);
}

/** Log fields naming a pod attachment (the same names the manager logs). */
export function podFields(r: { containerId: string; ifName: string; pod: { namespace: string; name: string } }): Record<string, string> {
  return { namespace: r.pod.namespace, pod: r.pod.name, containerID: r.containerId, ifname: r.ifName };
}

export function identityOf(r: { containerId: string; ifName: string; netns: string; ips: readonly { address: string }[] }): AttachmentIdentity {
  return { containerId: r.containerId, ifName: r.ifName, netns: r.netns, ips: r.ips.map((a) => a.address) };
}

/** The ADD request that made a record (for making it again). */
export function requestOf(rec: AttachmentRecord): AttachRequest {
  return {
    containerId: rec.containerId,
    ifName: rec.ifName,
    netns: rec.netns,
    pod: rec.pod,
    ips: rec.ips,
    routes: rec.routes,
    annotations: rec.annotations ?? {},
    ...(rec.network !== undefined ? { network: rec.network } : {}),
  };
}

/**
 * The plan that makes the same objects again, taken from what the record says was made (not from the
 * annotations, which may have changed since: a live PBL port update changes the record; a change that
 * needs a new pod must not be applied by a VPP restart).
 */
export function planOf(rec: AttachmentRecord): AttachPlan {
  const o = rec.objects;
  const annotations = { interfacesSpec: {}, vcl: !!o.vcl, allowedSourcePrefixes: [] };
  if (rec.kind === 'memif-multinet') {
    if (!o.memif) throw new Error(`record ${keyOf(rec)} of kind memif-multinet has no memif`);
    return { kind: rec.kind, annotations, spec: o.memif.spec, vcl: false };
  }
  const main = rec.kind === 'veth' ? o.veth : o.tun;
  if (!main) throw new Error(`record ${keyOf(rec)} of kind ${rec.kind} has no ${rec.kind}`);
  const plan: AttachPlan = { kind: rec.kind, annotations, spec: main.spec, vcl: !!o.vcl };
  if (o.memif?.mode === 'pbl') plan.pblMemif = { mode: 'pbl', spec: o.memif.spec, ports: o.memif.ports ?? [] };
  return plan;
}

/** Runs `fn` over `items`, at most `limit` at a time. */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
