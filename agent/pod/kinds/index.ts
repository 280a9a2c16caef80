/**
 * The table of pod interface kinds: one line per kind. Its order is the order of the record's slices and
 * of deletion, reversed: what hangs off an interface (PBL clients, pinned neighbors, routes) goes before
 * it, the VCL namespace before the memif, the multinet dummy after its memif, the tap, then the veth pair;
 * the source check (uRPF) before those, so that no uRPF config outlives its interface, and eth0's cnat POD
 * table entry (Services in VPP) first of all.
 * The checkpoint record's objects are composed from it (agent/pod/record.ts).
 */
import { ObjectRegistry } from '../../objects/registry.js';
import type { VppInventory } from '../inventory.js';
import { dummyKind } from './dummy.js';
import type { AnyPodKind, PodKindContext } from './kind.js';
import { memifKind } from './memif.js';
import { neighborsKind } from './neighbors.js';
import { pblKind } from './pbl.js';
import { routesKind } from './routes.js';
import { tunKind } from './tun.js';
import { vclKind } from './vcl.js';
import { vethKind } from './veth.js';
import { sourceCheckKind } from '../isolation/source-check-kind.js';
import { podCnatKind } from './cnat.js';

export const POD_KINDS = [vethKind, tunKind, dummyKind, memifKind, vclKind, routesKind, neighborsKind, pblKind, sourceCheckKind, podCnatKind] as const;

export type PodKindRegistry = ObjectRegistry<PodKindContext, VppInventory, AnyPodKind>;

/** A registry of the pod kinds (and, for tests, more). */
export function podKindRegistry(extra: readonly AnyPodKind[] = []): PodKindRegistry {
  return new ObjectRegistry<PodKindContext, VppInventory, AnyPodKind>([...(POD_KINDS as readonly AnyPodKind[]), ...extra]);
}
