/**
 * Pod addresses pinned in VPP: a static neighbor (pod IP → pod-side MAC) on the pod's ethernet interface.
 *
 * Every pod interface is unnumbered to the node loopback, which has no address. VPP takes the source of
 * an ARP request from the glean adjacency of the unnumbered source interface (fib_sas4_get) and that of a
 * neighbor solicitation to a global address from a glean on the interface itself (fib_sas6_get): neither
 * exists here, so VPP would drop its own ARP/ND for the pod ("no source address for ARP request"). Every
 * ethernet pod interface therefore pins the pod's addresses: it never resolves them, and it never has to.
 */
import { randomBytes } from 'node:crypto';
import type { MadeNeighbor, MadeObjects } from '../attachment.js';
import type { Transaction } from '../transaction.js';
import { addNeighbor, delNeighbor } from '../vpp-ops.js';
import type { DriverContext } from './context.js';

/** A random unicast, locally administered MAC, for a pod-side device the agent makes. */
export function randomPodMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0]! & 0xfc) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Pins `ip` to `mac` on `swIfIndex` as the transaction's step `step` (undone on failure), recorded in `made`. */
export async function pinNeighbor(ctx: DriverContext, tx: Transaction, made: MadeObjects, step: string, n: MadeNeighbor): Promise<void> {
  await tx.step(step, () => addNeighbor(ctx.vpp, n), () => delNeighbor(ctx.vpp, n));
  made.neighbors.push(n);
}
