/**
 * What the node object kinds are given: VPP, the host side (routes, VXLAN device, commands), config and a
 * logger; and the one-pass read of VPP and the host (`NodeInventory`) that adoption, the sweep and
 * `vpp-cnictl node` look at.
 */
import { cnat } from '../../vpp-api/generated/index.js';
import type { HostRoute, HostRoutes } from '../linux/host-routes.js';
import type { VppApi } from '../pod/vpp-ops.js';

export interface NodeLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface NodeCtx {
  readonly vpp: Pick<VppApi, 'request' | 'dumpAll'>;
  readonly routes: HostRoutes;
  readonly log: NodeLogger;
}

/** A cnat translation as VPP dumps it. */
export interface VppTranslation {
  readonly id: number;
  readonly vip: string;
  readonly port: number;
  readonly ipProto: number;
  readonly backends: { addr: string; port: number }[];
}

export interface NodeInventory {
  readonly translations: VppTranslation[];
  /** Host routes carrying our protocol. */
  readonly hostRoutes: HostRoute[];
}

export async function takeNodeInventory(ctx: NodeCtx): Promise<NodeInventory> {
  const [tr, hostRoutes] = await Promise.all([ctx.vpp.dumpAll(cnat.cnat_translation_dump, {}), ctx.routes.list()]);
  return {
    translations: tr.map((d) => ({
      id: d.translation.id,
      vip: d.translation.vip.addr,
      port: d.translation.vip.port,
      ipProto: d.translation.ip_proto,
      backends: d.translation.paths.map((p) => ({ addr: p.dst_ep.addr, port: p.dst_ep.port })),
    })),
    hostRoutes,
  };
}
