/**
 * The VPP calls the pod drivers share: interface plumbing, routes, neighbors, and deletes that treat
 * "already gone" as success (DEL must be idempotent).
 */
import type { VppClient } from '../../vpp-api/client/index.js';
import { VppApiError } from '../../vpp-api/client/index.js';
import { IfStatusFlags, RxMode } from '../../vpp-api/generated/interface_types.js';
import { FibPathNhProto } from '../../vpp-api/generated/fib_types.js';
import { IpNeighborFlags } from '../../vpp-api/generated/ip_neighbor.js';
import * as iface from '../../vpp-api/generated/interface.js';
import * as ip from '../../vpp-api/generated/ip.js';
import * as ipn from '../../vpp-api/generated/ip_neighbor.js';
import type { RxMode as SpecRxMode } from './interface-spec.js';
import { isV6, type MadeNeighbor, type MadeRoute } from './attachment.js';

/** The part of the client the drivers use (tests may wrap it). */
export type VppApi = Pick<VppClient, 'request' | 'dumpAll' | 'streamAll' | 'cli'>;

/** retvals that mean "the thing to delete is not there". */
const GONE = new Set([-2, -6, -54, -60, -71, -73, -106]); // -54: a route whose interface is gone

/** Runs a delete; a VPP answer saying the object does not exist (or `alsoGone`) counts as done. */
export async function deleteTolerant(fn: () => Promise<unknown>, alsoGone: readonly number[] = []): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof VppApiError && (GONE.has(e.retval) || alsoGone.includes(e.retval))) return;
    throw e;
  }
}

const RX_MODE: Record<SpecRxMode, number> = {
  polling: RxMode.RX_MODE_API_POLLING,
  interrupt: RxMode.RX_MODE_API_INTERRUPT,
  adaptive: RxMode.RX_MODE_API_ADAPTIVE,
  default: RxMode.RX_MODE_API_DEFAULT,
};

export async function setUnnumbered(vpp: VppApi, swIfIndex: number, loopback: number): Promise<void> {
  await vpp.request(iface.sw_interface_set_unnumbered, { sw_if_index: loopback, unnumbered_sw_if_index: swIfIndex, is_add: true });
}

export async function adminUp(vpp: VppApi, swIfIndex: number): Promise<void> {
  await vpp.request(iface.sw_interface_set_flags, { sw_if_index: swIfIndex, flags: IfStatusFlags.IF_STATUS_API_FLAG_ADMIN_UP });
}

export async function setRxMode(vpp: VppApi, swIfIndex: number, mode: SpecRxMode): Promise<void> {
  await vpp.request(iface.sw_interface_set_rx_mode, { sw_if_index: swIfIndex, queue_id_valid: false, mode: RX_MODE[mode] });
}

export async function setTag(vpp: VppApi, swIfIndex: number, tag: string): Promise<void> {
  await vpp.request(iface.sw_interface_tag_add_del, { is_add: true, sw_if_index: swIfIndex, tag });
}

function routeMsg(r: MadeRoute, isAdd: boolean): ip.IpRouteAddDelIn {
  const v6 = isV6(r.prefix);
  return {
    is_add: isAdd,
    is_multipath: false,
    route: {
      table_id: r.tableId,
      prefix: r.prefix,
      paths: [
        {
          sw_if_index: r.swIfIndex,
          table_id: r.tableId,
          weight: 1,
          proto: v6 ? FibPathNhProto.FIB_API_PATH_NH_PROTO_IP6 : FibPathNhProto.FIB_API_PATH_NH_PROTO_IP4,
          nh: r.nh ? { address: v6 ? { ip6: r.nh } : { ip4: r.nh } } : {},
        },
      ],
    },
  };
}

export async function addRoute(vpp: VppApi, r: MadeRoute): Promise<void> {
  await vpp.request(ip.ip_route_add_del, routeMsg(r, true));
}

export async function delRoute(vpp: VppApi, r: MadeRoute): Promise<void> {
  await deleteTolerant(() => vpp.request(ip.ip_route_add_del, routeMsg(r, false)));
}

function neighborMsg(n: MadeNeighbor, isAdd: boolean): ipn.IpNeighborAddDelIn {
  return {
    is_add: isAdd,
    neighbor: { sw_if_index: n.swIfIndex, flags: IpNeighborFlags.IP_API_NEIGHBOR_FLAG_STATIC, mac_address: n.mac, ip_address: n.ip },
  };
}

export async function addNeighbor(vpp: VppApi, n: MadeNeighbor): Promise<void> {
  await vpp.request(ipn.ip_neighbor_add_del, neighborMsg(n, true));
}

export async function delNeighbor(vpp: VppApi, n: MadeNeighbor): Promise<void> {
  await deleteTolerant(() => vpp.request(ipn.ip_neighbor_add_del, neighborMsg(n, false)));
}

/** The interface with that index, or undefined. */
export async function interfaceByIndex(vpp: VppApi, swIfIndex: number): Promise<iface.SwInterfaceDetails | undefined> {
  const all = await vpp.dumpAll(iface.sw_interface_dump, { sw_if_index: swIfIndex });
  return all.find((d) => d.sw_if_index === swIfIndex);
}
