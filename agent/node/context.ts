/**
 * What the node object kinds are given: VPP, the host side (routes, VXLAN device, commands), config and a
 * logger; and the one-pass read of VPP and the host (`NodeInventory`) that adoption, the sweep and
 * `vpp-cnictl node` look at.
 */
import type { Logger } from '../../lib/logger.js';
import type { HostRoute, HostRoutes } from '../linux/host-routes.js';
import type { VppApi } from '../vpp/api.js';
import { listTranslations, type VppTranslation } from '../vpp/cnat.js';
import { listInterfaces } from '../vpp/interface.js';

export type { VppTranslation } from '../vpp/cnat.js';

/** The part of the one Logger (lib/logger.ts) the node objects use. */
export type NodeLogger = Pick<Logger, 'debug' | 'info' | 'warn'>;

export interface NodeCtx {
  readonly vpp: VppApi;
  readonly routes: HostRoutes;
  readonly log: NodeLogger;
}

export interface NodeInventory {
  readonly translations: VppTranslation[];
  /** Host routes carrying our protocol. */
  readonly hostRoutes: HostRoute[];
  /** VPP interfaces (index, name, tag), when read. */
  readonly vppInterfaces?: { swIfIndex: number; name: string; tag: string }[];
}

export async function takeNodeInventory(ctx: NodeCtx): Promise<NodeInventory> {
  const [translations, hostRoutes, ifs] = await Promise.all([listTranslations(ctx.vpp), ctx.routes.list(), listInterfaces(ctx.vpp)]);
  return { translations, hostRoutes, vppInterfaces: ifs.map((i) => ({ swIfIndex: i.swIfIndex, name: i.name, tag: i.tag })) };
}
