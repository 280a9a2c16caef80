/**
 * The source-check kind: every pod attachment's table of allowed sources (the pod's host prefixes and its
 * AllowedSourcePrefixes) and loose uRPF against it on the attachment's interfaces (eth0 of any kind, the PBL
 * memif, a multinet memif). Registered after the kinds that make those interfaces, so its delete — uRPF off
 * first — runs before theirs.
 */
import { ipOf } from '../attachment.js';
import type { CheckProblem } from '../kinds/context.js';
import type { PodDesired, PodInterfaceKind } from '../kinds/kind.js';
import { createSourceCheck, deleteSourceCheck, sourceCheckPlanSchema, type MadeSourceCheck } from './apply.js';
import { readIsolationInventory, verifySourceCheck } from './inventory.js';
import { planSourceCheck, type PodInterfaceRef } from './plan.js';
import { ownedTables, tableKey } from './tables.js';
import { vppIsolationOps } from '../../vpp/isolation.js';

export interface SourceCheckDesired extends PodDesired {
  /** The attachment's interfaces in VPP; the first carries the table's routes. */
  interfaces: PodInterfaceRef[];
  /** AllowedSourcePrefixes, as parsed at ADD. */
  allowedPrefixes: readonly string[];
}

export const sourceCheckKind: PodInterfaceKind<'sourceCheck', SourceCheckDesired, MadeSourceCheck> = {
  name: 'sourceCheck',
  schema: sourceCheckPlanSchema,
  async create(ctx, tx, { req, interfaces, allowedPrefixes }) {
    const owner = ctx.attachment.owner;
    const who = { containerId: owner.containerId, ifName: owner.ifName, podNamespace: owner.pod.namespace, podName: owner.pod.name };
    const id = await tx.step('source check table id', () => ctx.node.isolation.allocate(tableKey(who, 'rpf')));
    try {
      const plan = planSourceCheck({ owner: who, addresses: req.ips.map((a) => ipOf(a.address)), allowedPrefixes, interfaces, rpfTableId: id });
      return await createSourceCheck(vppIsolationOps(ctx.vpp), tx, plan);
    } finally {
      ctx.node.isolation.release(id);
    }
  },
  async delete(ctx, made) {
    await deleteSourceCheck(vppIsolationOps(ctx.vpp), made);
  },
  async check(ctx, made) {
    const inv = await readIsolationInventory(vppIsolationOps(ctx.vpp), []);
    return verifySourceCheck(made, inv) satisfies CheckProblem[];
  },
  verify(_ctx, made, inv) {
    return verifySourceCheck(made, inv.isolation);
  },
  /** Our source-check tables by owner, with their routes and the uRPF configs that check against them. */
  owned(inv) {
    const iso = inv.isolation;
    const out = [];
    for (const t of ownedTables(iso.tables).filter((x) => x.purpose === 'rpf' && x.af === 4)) {
      const tables = ownedTables(iso.tables).filter((x) => x.purpose === 'rpf' && x.tableId === t.tableId).map(({ af, tableId, name }) => ({ af, tableId, name }));
      const routes = tables.flatMap((x) =>
        (iso.routes.get(`${x.af}/${x.tableId}`) ?? [])
          .filter((r) => r.paths.length === 1 && r.paths[0]!.via === 'interface' && r.paths[0]!.swIfIndex !== 0xffffffff)
          .map((r) => ({ af: x.af, tableId: x.tableId, prefix: r.prefix, path: r.paths[0]! })),
      );
      const checks = iso.urpf
        .filter((u) => u.isInput && u.mode === 1 && u.tableId === t.tableId)
        .map((u) => ({ swIfIndex: u.swIfIndex, af: u.af, mode: 'loose' as const, tableId: u.tableId }));
      out.push({ owner: t.owner, made: { tables, routes, checks }, describe: `source-check table ${t.tableId} (${t.name})` });
    }
    return out;
  },
};
