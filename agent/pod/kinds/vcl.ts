/**
 * The VCL kind: an app namespace for the pod, whose session socket VPP listens on inside the pod netns
 * (`@vpp/session`), so an app using VPP's host stack (VCL, LD_PRELOAD) attaches from the pod.
 * The namespace is bound to a per-pod loopback tagged with its owner; the session layer is enabled
 * once per node. The namespace secret is random per pod.
 */
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { adminUp, createLoopback, deleteLoopback, interfaceByIndex, setTag } from '../../vpp/interface.js';
import { deleteAppNamespace, hasAppNamespace } from '../../vpp/session.js';
import type { AttachRequest } from '../attachment.js';
import { shortContainerId } from '../tags.js';
import type { CheckProblem } from './context.js';
import type { PodDesired, PodInterfaceKind } from './kind.js';
import { swIfIndex } from './parts.js';
import { createVclIsolation, deleteVclIsolation, madeVclSchema as isolationSchema } from '../isolation/apply.js';
import { readIsolationInventory, vclIsolationFromInventory, verifyVclIsolation } from '../isolation/inventory.js';
import { planVcl } from '../isolation/plan.js';
import { hostPrefixOf } from '../isolation/prefixes.js';
import { tableKey } from '../isolation/tables.js';
import { vppIsolationOps } from '../../vpp/isolation.js';

export const VCL_SOCKET = 'vpp/session';

/** App namespace id: unique per attachment, within string[64]. */
export function vclNamespaceId(req: Pick<AttachRequest, 'containerId' | 'ifName'>): string {
  return `vcni-${shortContainerId(req.containerId)}-${req.ifName}`;
}

/** First bytes of the MAC of a VCL loopback: locally administered, "vc". */
export const VCL_LOOPBACK_MAC_PREFIX = '02:76:63:';

/**
 * The MAC a VCL loopback is made with: it marks the owner from the moment of creation (the tag comes one
 * call later; an agent that dies in between leaves a loopback found again by this MAC).
 */
export function vclLoopbackMac(req: Pick<AttachRequest, 'containerId' | 'ifName'>): string {
  const h = createHash('sha256').update(`${shortContainerId(req.containerId)}:${req.ifName}`).digest();
  return VCL_LOOPBACK_MAC_PREFIX + [h[0]!, h[1]!, h[2]!].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

const U64_MAX = 2n ** 64n - 1n;

export const madeVclSchema = z.object({
  namespaceId: z.string().min(1).max(63).regex(/^vcni-/, 'expected an app namespace id of ours (vcni-...)'),
  /** u64 secret as a decimal string (JSON-safe). */
  secret: z.string().regex(/^\d{1,20}$/, 'expected a decimal u64').refine((s) => BigInt(s) <= U64_MAX, 'larger than a u64'),
  sockName: z.string().max(4200),
  socketName: z.string().max(120).regex(/^@/, 'expected an abstract socket name (@...)'),
  /** The per-pod loopback the namespace is bound to. */
  loopSwIfIndex: swIfIndex,
  /**
   * The pod VRF, its addresses and routes, the punt routes and the namespace bound into the VRF
   * (agent/pod/isolation; absent in records written before it, and in rebuilt ones).
   */
  isolation: isolationSchema.optional(),
});
export type MadeVcl = z.infer<typeof madeVclSchema>;

export const vclKind: PodInterfaceKind<'vcl', PodDesired, MadeVcl> = {
  name: 'vcl',
  schema: madeVclSchema,
  async create(ctx, tx, { req, shared }) {
    await tx.step('session layer', () => ctx.node.sessionEnabled());
    const tag = ctx.attachment.owner.mark('vcl');
    const loop = await tx.step('vcl loopback', () => createLoopback(ctx.vpp, vclLoopbackMac(req)), (sw) => deleteLoopback(ctx.vpp, sw));
    await tx.step('vcl loopback tag', () => setTag(ctx.vpp, loop, tag));
    await tx.step('vcl loopback admin up', () => adminUp(ctx.vpp, loop));
    const secret = randomBytes(8).readBigUInt64BE(0);
    const namespaceId = vclNamespaceId(req);
    const sockName = `abstract:${VCL_SOCKET},netns_name=${req.netns}`;
    // The pod IP becomes a VPP-local address in the pod's own VRF (the loopback's), table 0 sends it there, and
    // the punt path leads what no VCL session takes to eth0: table 0's routes of the pod (made by eth0's kind)
    // are taken over here, and DEL removes them with the rest.
    const owner = ctx.attachment.owner;
    const who = { containerId: owner.containerId, ifName: owner.ifName, podNamespace: owner.pod.namespace, podName: owner.pod.name };
    const prefixes = new Set(ctx.attachment.ips.map(hostPrefixOf));
    const eth0Routes = shared.routes.filter((r) => r.tableId === 0 && prefixes.has(hostPrefixOf(r.prefix.split('/')[0]!)));
    const eth0 = eth0Routes[0];
    if (!eth0) throw new Error(`${req.ifName}: VCL needs the pod's route to its eth0, and there is none`);
    const puntTableId = await tx.step('node punt path', () => ctx.node.isolation.puntTable());
    const vrf = await tx.step('vcl vrf table id', () => ctx.node.isolation.allocate(tableKey(who, 'vrf')));
    let isolation;
    try {
      const plan = planVcl({
        owner: who,
        addresses: ctx.attachment.ips,
        eth0: { swIfIndex: eth0.swIfIndex, ethernet: eth0.nh !== undefined, name: 'eth0' },
        vrfTableId: vrf,
        puntTableId,
        namespaceId,
        sockName,
      });
      isolation = await createVclIsolation(vppIsolationOps(ctx.vpp), tx, plan, loop, secret);
    } finally {
      ctx.node.isolation.release(vrf);
    }
    for (const r of eth0Routes) shared.routes.splice(shared.routes.indexOf(r), 1);
    return { namespaceId, secret: secret.toString(), sockName, socketName: `@${VCL_SOCKET}`, loopSwIfIndex: loop, isolation };
  },
  async delete(ctx, v) {
    if (v.isolation) await deleteVclIsolation(vppIsolationOps(ctx.vpp), v.isolation, { restore: false });
    await deleteAppNamespace(ctx.vpp, { id: v.namespaceId, secret: BigInt(v.secret), swIfIndex: v.loopSwIfIndex });
    await deleteLoopback(ctx.vpp, v.loopSwIfIndex);
  },
  async check(ctx, v) {
    const out: CheckProblem[] = [];
    if (!(await interfaceByIndex(ctx.vpp, v.loopSwIfIndex))) out.push({ object: `vcl loopback ${v.loopSwIfIndex}`, problem: 'missing in VPP' });
    // This VPP has no app-namespace dump message: read the CLI table.
    if (!(await hasAppNamespace(ctx.vpp, v.namespaceId))) out.push({ object: `app namespace ${v.namespaceId}`, problem: 'not in "show app ns"' });
    if (v.isolation) out.push(...verifyVclIsolation(v.isolation, await readIsolationInventory(vppIsolationOps(ctx.vpp), [v.loopSwIfIndex])));
    return out;
  },
  verify(ctx, v, inv) {
    const out: CheckProblem[] = [];
    const tag = ctx.attachment.owner.mark('vcl');
    const what = `vcl loopback sw_if_index ${v.loopSwIfIndex}`;
    const i = inv.interfaces.get(v.loopSwIfIndex);
    if (!i) out.push({ object: what, problem: 'missing' });
    else if (i.tag !== tag) out.push({ object: what, problem: `has tag "${i.tag}", expected "${tag}"` });
    if (!inv.appNamespaces.some((a) => a.id === v.namespaceId)) out.push({ object: `app namespace ${v.namespaceId}`, problem: 'missing' });
    if (v.isolation) out.push(...verifyVclIsolation(v.isolation, inv.isolation));
    return out;
  },
  /** Loopbacks tagged by us for VCL, with the app namespace of their owner. */
  owned(inv) {
    const out = [];
    for (const i of inv.interfaces.values()) {
      if (i.owner?.kind !== 'vcl') continue;
      const namespaceId = vclNamespaceId({ containerId: i.owner.cid, ifName: i.owner.ifName });
      const a = inv.appNamespaces.find((x) => x.id === namespaceId);
      const made: MadeVcl = { namespaceId, secret: a && /^\d+$/.test(a.secret) ? a.secret : '0', sockName: a?.socket ?? '', socketName: `@${VCL_SOCKET}`, loopSwIfIndex: i.swIfIndex };
      const isolation = vclIsolationFromInventory(`${i.owner.cid}:${i.owner.ifName}`, i.swIfIndex, { id: namespaceId, socket: a?.socket ?? '', secret: made.secret }, inv.isolation);
      if (isolation) made.isolation = isolation;
      out.push({ owner: `${i.owner.cid}:${i.owner.ifName}`, made, describe: `vcl loopback ${i.name} (${i.tag})` });
    }
    return out;
  },
};
