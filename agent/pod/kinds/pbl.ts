/**
 * The PBL-clients kind: traffic to the pod address on the listed ports goes to the PBL memif, the rest
 * to eth0. Its slice is the attachment's list of clients (their ids and addresses); the memif kind adds to
 * it with `addPodPblClient`. pbl_client_details carry the id and address only.
 *
 * PBL's FIB clones (docs/pbl.md): once the pod address is routed, VPP lists a second client per client, which
 * must never be deleted (VPP crashes). They are never ours: the record holds ids from pbl_client_update_reply
 * only, and `listPblClients` (so the inventory that check(), verify(), owned() and the sweep read) leaves them
 * out; `deletePblClient` checks again before each delete.
 */
import { z } from 'zod';
import type { StepRunner } from '../../objects/kind.js';
import { addPblClient, deletePblClient, listPblClients } from '../../vpp/pbl.js';
import { PROTO_NUMBERS, type PortRange } from '../annotations.js';
import type { CheckProblem } from './context.js';
import type { PodDesired, PodInterfaceKind, PodKindContext, SharedObjects } from './kind.js';
import { madePblClientSchema, type MadePblClient } from './parts.js';
import { steeredAddressOwners } from '../isolation/inventory.js';

export interface PblClientSpec {
  ip: string;
  swIfIndex: number;
  /** The memif is ethernet (L2): the pod address is the next hop. */
  l2: boolean;
  ports: readonly PortRange[];
}

/** Creates a PBL client (a new id: VPP ignores updates of an existing id). */
export function newPblClient(ctx: Pick<PodKindContext, 'vpp'>, c: PblClientSpec): Promise<number> {
  return addPblClient(ctx.vpp, { ip: c.ip, swIfIndex: c.swIfIndex, ethernet: c.l2, ports: c.ports.map((p) => ({ start: p.start, end: p.end, iproto: PROTO_NUMBERS[p.proto] })) });
}

/** A new client as the step `step` of `tx` (deleted on failure). Returns it; the caller records it. */
export async function stepPblClient(ctx: Pick<PodKindContext, 'vpp'>, tx: StepRunner, step: string, c: PblClientSpec): Promise<MadePblClient> {
  const id = await tx.step(step, () => newPblClient(ctx, c), (cid) => deletePblClient(ctx.vpp, cid));
  return { ip: c.ip, id };
}

/** A new client for the attachment, recorded in its list. */
export async function addPodPblClient(ctx: PodKindContext, tx: StepRunner, shared: SharedObjects, c: PblClientSpec): Promise<void> {
  shared.pbl.push(await stepPblClient(ctx, tx, `pbl client ${c.ip}`, c));
}

export interface PblDesired extends PodDesired {
  items: PblClientSpec[];
}

export const pblKind: PodInterfaceKind<'pbl', PblDesired, MadePblClient[]> & { readonly always: true } = {
  name: 'pbl',
  schema: z.array(madePblClientSchema),
  always: true,
  async create(ctx, tx, d) {
    for (const c of d.items) await addPodPblClient(ctx, tx, d.shared, c);
    return d.shared.pbl;
  },
  async delete(ctx, clients) {
    const failures: string[] = [];
    for (const c of clients) {
      try {
        await deletePblClient(ctx.vpp, c.id);
      } catch (e) {
        failures.push(`pbl client ${c.id}: ${(e as Error).message}`);
      }
    }
    if (failures.length > 0) throw new Error(failures.join('; '));
  },
  async check(ctx, clients) {
    if (clients.length === 0) return [];
    const have = new Set((await listPblClients(ctx.vpp)).map((c) => c.id));
    const out: CheckProblem[] = [];
    for (const c of clients) if (!have.has(c.id)) out.push({ object: `pbl client ${c.id}`, problem: 'missing in VPP' });
    return out;
  },
  verify(_ctx, clients, inv) {
    const have = new Map((inv.pbl ?? []).map((c) => [c.id, c.addr]));
    return clients.filter((p) => have.get(p.id) !== p.ip).map((p) => ({ object: `pbl client ${p.id} (${p.ip})`, problem: 'missing' }));
  },
  /**
   * PBL clients on addresses routed to interfaces carrying one of our owner tags, or (a VCL pod) routed into a
   * pod VRF of ours, grouped by that owner.
   */
  owned(inv) {
    const ownerOfAddr = steeredAddressOwners(inv.isolation);
    for (const r of inv.routes) {
      for (const p of r.paths) {
        const o = inv.interfaces.get(p.swIfIndex)?.owner;
        if (o) ownerOfAddr.set(r.prefix.split('/')[0]!, `${o.cid}:${o.ifName}`);
      }
    }
    const byOwner = new Map<string, MadePblClient[]>();
    for (const c of inv.pbl ?? []) {
      const k = ownerOfAddr.get(c.addr);
      if (k) byOwner.set(k, [...(byOwner.get(k) ?? []), { ip: c.addr, id: c.id }]);
    }
    return [...byOwner].map(([owner, made]) => ({ owner, made, describe: `pbl clients ${made.map((c) => c.id).join(', ')}` }));
  },
};
