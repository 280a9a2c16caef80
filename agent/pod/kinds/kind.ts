/**
 * Pod interface kinds: the shared ObjectKind (agent/objects/kind.ts) for the objects of one pod
 * attachment. Every kind's operations get the driver context plus the attachment they work for (its
 * owner, built once per attachment, its netns and addresses); `create` also gets the request and the
 * attachment's shared lists (routes, pinned neighbors, PBL clients, the multinet dummy), which the kinds
 * that make such objects append to through the list kinds' helpers (routes.ts, neighbors.ts, pbl.ts).
 */
import type { ObjectKind, OwnerMark } from '../../objects/kind.js';
import type { AttachRequest, PodRef } from '../attachment.js';
import type { VppInventory } from '../inventory.js';
import { makeTag, shortContainerId, TAG_KINDS, type TagKind } from '../tags.js';
import type { DriverContext } from './context.js';
import type { MadeNeighbor, MadePblClient, MadeRoute } from './parts.js';

/** The owner of a pod attachment's objects: `key` is `<cid12>:<ifName>`, `mark(kind)` its VPP tag. */
export interface PodOwner extends OwnerMark {
  readonly containerId: string;
  readonly ifName: string;
  readonly pod: PodRef;
  mark(kind: TagKind): string;
}

/** Built once per attachment; every tag of it comes from here. */
export function podOwner(a: { containerId: string; ifName: string; pod: PodRef }): PodOwner {
  const who = { containerId: a.containerId, ifName: a.ifName, podNamespace: a.pod.namespace, podName: a.pod.name };
  return {
    key: `${shortContainerId(a.containerId)}:${a.ifName}`,
    containerId: a.containerId,
    ifName: a.ifName,
    pod: a.pod,
    mark: (kind: string) => {
      if (!(TAG_KINDS as readonly string[]).includes(kind)) throw new Error(`no tag kind "${kind}"`);
      return makeTag(who, kind as TagKind);
    },
  };
}

/** The attachment a kind works for. */
export interface AttachmentScope {
  owner: PodOwner;
  /** Path of the pod netns. */
  netns: string;
  /** The pod's addresses, without prefix length. */
  ips: readonly string[];
}

export interface PodKindContext extends DriverContext {
  attachment: AttachmentScope;
}

/** The objects the kinds of one attachment share (their slices are lists, or the dummy's name). */
export interface SharedObjects {
  routes: MadeRoute[];
  neighbors: MadeNeighbor[];
  pbl: MadePblClient[];
  dummy?: string;
}

/** What every pod kind's `create` (and `check`) gets. */
export interface PodDesired {
  req: AttachRequest;
  shared: SharedObjects;
  /** For kinds the plan does not know (`select`), at create: the attachment's VPP interfaces made before them. */
  interfaces?: readonly { swIfIndex: number; ethernet: boolean; name?: string }[];
}

/** A pod interface kind, with its name as a literal type (the record's slices are typed from the table). */
export interface PodInterfaceKind<N extends string, D extends PodDesired, M> extends ObjectKind<PodKindContext, D, M, VppInventory> {
  readonly name: N;
  /**
   * For a kind the pod layer's plan does not know (eth0's tun/veth, the PBL memif, VCL, a multinet memif
   * are planned from the annotations and the node's mode): whether the request wants one, and what it adds
   * to the desired state. Such kinds are made after the planned ones, in registration order.
   */
  select?(req: AttachRequest, ctx: PodKindContext): Omit<D, keyof PodDesired> | undefined;
}

/** Any pod kind (each with its own desired state and slice). */
export type AnyPodKind = PodInterfaceKind<string, PodDesired, unknown>;
