/**
 * A host route to another node's pod CIDR (host-gw: via its InternalIP; vxlan: via the gateway onlink on
 * the VXLAN device), ours by the route protocol. Deleting matches the protocol, so a route someone else
 * put at the same destination is never removed.
 */
import { z } from 'zod';
import type { CheckProblem, FoundObject, ObjectKind, StepRunner } from '../../objects/kind.js';
import { sameRoute, type HostRoute } from '../../linux/host-routes.js';
import type { NodeCtx, NodeInventory } from '../context.js';

export const madeRouteSchema = z.strictObject({
  dst: z.string().min(1),
  via: z.string().optional(),
  dev: z.string().optional(),
  onlink: z.boolean().optional(),
  node: z.string().optional(),
});
export type MadeRoute = z.infer<typeof madeRouteSchema>;

function asHostRoute(m: MadeRoute): HostRoute {
  return { dst: m.dst, via: m.via, dev: m.dev, onlink: m.onlink };
}

export class RouteRefusedError extends Error {
  override readonly name = 'RouteRefusedError';
}

export const nodeRouteKind: ObjectKind<NodeCtx, MadeRoute, MadeRoute, NodeInventory> = {
  name: 'nodeRoute',
  schema: madeRouteSchema,

  async create(ctx: NodeCtx, tx: StepRunner, desired: MadeRoute): Promise<MadeRoute> {
    await tx.step(
      `host route ${desired.dst}`,
      async () => {
        const mine = (await ctx.routes.list()).filter((r) => r.dst !== desired.dst);
        const r = await ctx.routes.sync([...mine, asHostRoute(desired)]);
        const refused = r.refused.find((x) => x.dst === desired.dst);
        if (refused) throw new RouteRefusedError(refused.reason);
      },
      async () => {
        await ctx.routes.remove(desired.dst);
      },
    );
    return desired;
  },

  async delete(ctx: NodeCtx, made: MadeRoute): Promise<void> {
    await ctx.routes.remove(made.dst);
  },

  async check(ctx: NodeCtx, made: MadeRoute): Promise<CheckProblem[]> {
    const live = (await ctx.routes.list()).find((r) => r.dst === made.dst);
    return live && sameRoute(live, asHostRoute(made)) ? [] : [{ object: `host route ${made.dst}`, problem: live ? `is via ${live.via ?? '-'} dev ${live.dev ?? '-'}` : 'missing' }];
  },

  verify(_ctx: NodeCtx, made: MadeRoute, inv: NodeInventory): CheckProblem[] {
    const live = inv.hostRoutes.find((r) => r.dst === made.dst);
    return live && sameRoute(live, asHostRoute(made)) ? [] : [{ object: `host route ${made.dst}`, problem: live ? `is via ${live.via ?? '-'} dev ${live.dev ?? '-'}` : 'missing' }];
  },

  owned(inv: NodeInventory): FoundObject<MadeRoute>[] {
    return inv.hostRoutes.map((r) => ({
      owner: undefined,
      made: { dst: r.dst, ...(r.via ? { via: r.via } : {}), ...(r.dev ? { dev: r.dev } : {}), ...(r.onlink ? { onlink: true } : {}) },
      describe: `host route ${r.dst} via ${r.via ?? '-'} dev ${r.dev ?? '-'}`,
    }));
  },
};
