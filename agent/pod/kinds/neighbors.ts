/**
 * The pinned-neighbors kind: a static neighbor (pod IP → pod-side MAC) on the pod's ethernet interface.
 *
 * Every pod interface is unnumbered to the node loopback, which has no address. VPP takes the source of
 * an ARP request from the glean adjacency of the unnumbered source interface (fib_sas4_get) and that of a
 * neighbor solicitation to a global address from a glean on the interface itself (fib_sas6_get): neither
 * exists here, so VPP would drop its own ARP/ND for the pod ("no source address for ARP request"). Every
 * ethernet pod interface therefore pins the pod's addresses: it never resolves them, and it never has to.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { StepRunner } from '../../objects/kind.js';
import { addStaticNeighbor, delStaticNeighbor, listStaticNeighbors } from '../../vpp/ip.js';
import { isV6 } from '../attachment.js';
import type { CheckProblem } from './context.js';
import type { PodDesired, PodInterfaceKind, PodKindContext, SharedObjects } from './kind.js';
import { madeNeighborSchema, type MadeNeighbor } from './parts.js';

/** A random unicast, locally administered MAC, for a pod-side device the agent makes. */
export function randomPodMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0]! & 0xfc) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Pins `n` as the step `step` of `tx` (undone on failure), recorded in the attachment's list. */
export async function pinNeighbor(ctx: PodKindContext, tx: StepRunner, shared: SharedObjects, step: string, n: MadeNeighbor): Promise<void> {
  await tx.step(step, () => addStaticNeighbor(ctx.vpp, n), () => delStaticNeighbor(ctx.vpp, n));
  shared.neighbors.push(n);
}

export interface NeighborsDesired extends PodDesired {
  items: MadeNeighbor[];
}

export const neighborsKind: PodInterfaceKind<'neighbors', NeighborsDesired, MadeNeighbor[]> & { readonly always: true } = {
  name: 'neighbors',
  schema: z.array(madeNeighborSchema),
  always: true,
  async create(ctx, tx, d) {
    for (const n of d.items) await pinNeighbor(ctx, tx, d.shared, `neighbor ${n.ip}`, n);
    return d.shared.neighbors;
  },
  async delete(ctx, neighbors) {
    const failures: string[] = [];
    for (const n of neighbors) {
      try {
        await delStaticNeighbor(ctx.vpp, n);
      } catch (e) {
        failures.push(`neighbor ${n.ip}: ${(e as Error).message}`);
      }
    }
    if (failures.length > 0) throw new Error(failures.join('; '));
  },
  /** One dump per interface and family. */
  async check(ctx, neighbors) {
    const out: CheckProblem[] = [];
    for (const fam of [false, true]) {
      for (const sw of new Set(neighbors.filter((n) => isV6(n.ip) === fam).map((n) => n.swIfIndex))) {
        const have = await listStaticNeighbors(ctx.vpp, fam, sw);
        for (const n of neighbors.filter((x) => x.swIfIndex === sw && isV6(x.ip) === fam)) {
          const hit = have.find((h) => h.ip === n.ip);
          if (!hit) out.push({ object: `neighbor ${n.ip}`, problem: `missing on sw_if_index ${sw}` });
          else if (hit.mac !== n.mac) out.push({ object: `neighbor ${n.ip}`, problem: `MAC is ${hit.mac}, expected ${n.mac}` });
        }
      }
    }
    return out;
  },
  verify(_ctx, neighbors, inv) {
    return neighbors
      .filter((n) => !inv.neighbors.some((h) => h.swIfIndex === n.swIfIndex && h.ip === n.ip && h.mac === n.mac))
      .map((n) => ({ object: `static neighbor ${n.ip} → ${n.mac} on sw_if_index ${n.swIfIndex}`, problem: 'missing' }));
  },
  /** Static neighbors on interfaces carrying one of our owner tags, grouped by that owner. */
  owned(inv) {
    const byOwner = new Map<string, MadeNeighbor[]>();
    for (const n of inv.neighbors) {
      const o = inv.interfaces.get(n.swIfIndex)?.owner;
      if (!o) continue;
      const k = `${o.cid}:${o.ifName}`;
      byOwner.set(k, [...(byOwner.get(k) ?? []), n]);
    }
    return [...byOwner].map(([owner, made]) => ({ owner, made, describe: `static neighbors ${made.map((n) => n.ip).join(', ')}` }));
  },
};
