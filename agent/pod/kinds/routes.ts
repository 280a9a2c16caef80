/**
 * The routes kind: the pod's host prefixes in VPP's table 0, through the pod's interface (with the pod
 * address as next hop on an ethernet interface, pinned by a static neighbor). Its slice is the list of the
 * attachment's routes; the interface kinds add to it with `addPodRoute`.
 */
import { z } from 'zod';
import type { StepRunner } from '../../objects/kind.js';
import { addRoute, delRoute, listRoutes } from '../../vpp/ip.js';
import { isV6 } from '../attachment.js';
import type { CheckProblem } from './context.js';
import type { PodDesired, PodInterfaceKind, PodKindContext, SharedObjects } from './kind.js';
import { madeRouteSchema, type MadeRoute } from './parts.js';

export interface RoutesDesired extends PodDesired {
  /** The routes to add, and what they go through (for the step names: `tap`, `af_packet`, `memif`). */
  items: MadeRoute[];
  via: string;
}

/** Adds `route` as a step of `tx` (undone on failure) and records it in the attachment's list. */
export async function addPodRoute(ctx: PodKindContext, tx: StepRunner, shared: SharedObjects, route: MadeRoute, via: string): Promise<void> {
  await tx.step(`route ${route.prefix} via ${via}`, () => addRoute(ctx.vpp, route), () => delRoute(ctx.vpp, route));
  shared.routes.push(route);
}

export const routesKind: PodInterfaceKind<'routes', RoutesDesired, MadeRoute[]> & { readonly always: true } = {
  name: 'routes',
  schema: z.array(madeRouteSchema),
  always: true,
  async create(ctx, tx, d) {
    for (const r of d.items) await addPodRoute(ctx, tx, d.shared, r, d.via);
    return d.shared.routes;
  },
  async delete(ctx, routes) {
    const failures: string[] = [];
    for (const r of routes) {
      try {
        await delRoute(ctx.vpp, r);
      } catch (e) {
        failures.push(`route ${r.prefix}: ${(e as Error).message}`);
      }
    }
    if (failures.length > 0) throw new Error(failures.join('; '));
  },
  async check(ctx, routes) {
    const out: CheckProblem[] = [];
    for (const fam of [false, true]) {
      const want = routes.filter((r) => isV6(r.prefix) === fam);
      if (want.length === 0) continue;
      const have = await listRoutes(ctx.vpp, 0, fam);
      for (const r of want) {
        const hit = have.find((h) => h.prefix === r.prefix && h.paths.some((p) => p.swIfIndex === r.swIfIndex));
        if (!hit) out.push({ object: `route ${r.prefix}`, problem: `missing in table ${r.tableId} (via sw_if_index ${r.swIfIndex})` });
      }
    }
    return out;
  },
  verify(_ctx, routes, inv) {
    const out: CheckProblem[] = [];
    for (const r of routes) {
      const hit = inv.routes.some((h) => h.prefix === r.prefix && h.paths.some((p) => p.swIfIndex === r.swIfIndex));
      if (!hit) out.push({ object: `route ${r.prefix} via sw_if_index ${r.swIfIndex}`, problem: 'missing' });
    }
    return out;
  },
  /** Routes through interfaces carrying one of our owner tags, grouped by that owner. */
  owned(inv) {
    const byOwner = new Map<string, MadeRoute[]>();
    for (const r of inv.routes) {
      for (const p of r.paths) {
        const o = inv.interfaces.get(p.swIfIndex)?.owner;
        if (!o) continue;
        const k = `${o.cid}:${o.ifName}`;
        byOwner.set(k, [...(byOwner.get(k) ?? []), { prefix: r.prefix, tableId: 0, swIfIndex: p.swIfIndex, ...(p.nh ? { nh: p.nh } : {}) }]);
      }
    }
    return [...byOwner].map(([owner, made]) => ({ owner, made, describe: `routes ${made.map((r) => r.prefix).join(', ')}` }));
  },
};
