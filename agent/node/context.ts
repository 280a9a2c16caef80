/**
 * What the node object kinds are given: VPP, the host side (routes, VXLAN device, commands), config and a
 * logger; and the one-pass read of VPP and the host (`NodeInventory`) that adoption, the sweep and
 * `vpp-cnictl node` look at.
 */
import { cnat, interface_ as iface } from '../../vpp-api/generated/index.js';
import type { HostRoute, HostRoutes } from '../linux/host-routes.js';
import type { VppApi } from '../pod/vpp-ops.js';

export interface NodeLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface NodeCtx {
  readonly vpp: VppApi;
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
  /** VPP interfaces (index, name, tag), when read. */
  readonly vppInterfaces?: { swIfIndex: number; name: string; tag: string }[];
}

export async function takeNodeInventory(ctx: NodeCtx): Promise<NodeInventory> {
  const [tr, hostRoutes, ifs] = await Promise.all([ctx.vpp.dumpAll(cnat.cnat_translation_dump, {}), ctx.routes.list(), ctx.vpp.dumpAll(iface.sw_interface_dump, {})]);
  return {
    translations: tr.map((d) => ({
      id: d.translation.id,
      vip: d.translation.vip.addr,
      port: d.translation.vip.port,
      ipProto: d.translation.ip_proto,
      backends: d.translation.paths.map((p) => ({ addr: p.dst_ep.addr, port: p.dst_ep.port })),
    })),
    hostRoutes,
    vppInterfaces: ifs.map((i) => ({ swIfIndex: i.sw_if_index, name: i.interface_name, tag: i.tag })),
  };
}
