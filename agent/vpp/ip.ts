/** Routes in table 0 and static neighbors. */
import { FibPathNhProto } from '../../vpp-api/generated/fib_types.js';
import * as ip from '../../vpp-api/generated/ip.js';
import * as ipn from '../../vpp-api/generated/ip_neighbor.js';
import { IpNeighborFlags } from '../../vpp-api/generated/ip_neighbor.js';
import { AddressFamily } from '../../vpp-api/generated/ip_types.js';
import { deleteTolerant, isRetval, type VppApi } from './api.js';

/** A route of `prefix` to an interface (with a next hop on ethernet interfaces). */
export interface InterfaceRoute {
  prefix: string;
  tableId: number;
  swIfIndex: number;
  nh?: string;
}

export interface StaticNeighbor {
  swIfIndex: number;
  ip: string;
  mac: string;
}

export interface RouteInfo {
  prefix: string;
  paths: { swIfIndex: number; nh?: string }[];
}

function isV6(a: string): boolean {
  return a.includes(':');
}

export function nhProto(addr: string): number {
  return isV6(addr) ? FibPathNhProto.FIB_API_PATH_NH_PROTO_IP6 : FibPathNhProto.FIB_API_PATH_NH_PROTO_IP4;
}

/** The address union of a path's next hop. */
export function nhAddress(addr: string | undefined, family: string): { address: { ip4: string } | { ip6: string } } | Record<string, never> {
  if (!addr) return {};
  return { address: isV6(family) ? { ip6: addr } : { ip4: addr } };
}

function routeMsg(r: InterfaceRoute, isAdd: boolean): ip.IpRouteAddDelIn {
  return {
    is_add: isAdd,
    is_multipath: false,
    route: {
      table_id: r.tableId,
      prefix: r.prefix,
      paths: [{ sw_if_index: r.swIfIndex, table_id: r.tableId, weight: 1, proto: nhProto(r.prefix), nh: nhAddress(r.nh, r.prefix) }],
    },
  };
}

export async function addRoute(vpp: VppApi, r: InterfaceRoute): Promise<void> {
  await vpp.request(ip.ip_route_add_del, routeMsg(r, true));
}

/**
 * IPv6 on an interface (link-local address, neighbor discovery). Idempotent: VPP answers VALUE_EXIST when IPv6
 * is on already, which an IPv6 address on the interface does by itself.
 */
export async function enableIp6(vpp: VppApi, swIfIndex: number): Promise<void> {
  try {
    await vpp.request(ip.sw_interface_ip6_enable_disable, { sw_if_index: swIfIndex, enable: true });
  } catch (e) {
    if (!isRetval(e, 'VALUE_EXIST')) throw e;
  }
}

/** Idempotent (a route whose interface is gone counts as gone). */
export async function delRoute(vpp: VppApi, r: InterfaceRoute): Promise<void> {
  await deleteTolerant(() => vpp.request(ip.ip_route_add_del, routeMsg(r, false)));
}

function nhOf(prefix: string, a: { ip4: string; ip6: string }): string | undefined {
  const v = isV6(prefix) ? a.ip6 : a.ip4;
  return v === '0.0.0.0' || v === '::' || v === '' ? undefined : v;
}

/** The routes of a table, one family. */
export async function listRoutes(vpp: VppApi, tableId: number, v6: boolean): Promise<RouteInfo[]> {
  return (await vpp.dumpAll(ip.ip_route_dump, { table: { table_id: tableId, is_ip6: v6 } })).map((r) => ({
    prefix: r.route.prefix,
    paths: r.route.paths.map((p) => {
      const nh = nhOf(r.route.prefix, p.nh.address);
      return { swIfIndex: p.sw_if_index, ...(nh ? { nh } : {}) };
    }),
  }));
}

function neighborMsg(n: StaticNeighbor, isAdd: boolean): ipn.IpNeighborAddDelIn {
  return { is_add: isAdd, neighbor: { sw_if_index: n.swIfIndex, flags: IpNeighborFlags.IP_API_NEIGHBOR_FLAG_STATIC, mac_address: n.mac, ip_address: n.ip } };
}

export async function addStaticNeighbor(vpp: VppApi, n: StaticNeighbor): Promise<void> {
  await vpp.request(ipn.ip_neighbor_add_del, neighborMsg(n, true));
}

/** Idempotent. */
export async function delStaticNeighbor(vpp: VppApi, n: StaticNeighbor): Promise<void> {
  await deleteTolerant(() => vpp.request(ipn.ip_neighbor_add_del, neighborMsg(n, false)));
}

/** Static neighbors of one family, on one interface (or every one: `swIfIndex` undefined). */
export async function listStaticNeighbors(vpp: VppApi, v6: boolean, swIfIndex?: number): Promise<StaticNeighbor[]> {
  const all = await vpp.dumpAll(ipn.ip_neighbor_dump, { sw_if_index: swIfIndex ?? 0xffffffff, af: v6 ? AddressFamily.ADDRESS_IP6 : AddressFamily.ADDRESS_IP4 });
  return all
    .filter((n) => (n.neighbor.flags & IpNeighborFlags.IP_API_NEIGHBOR_FLAG_STATIC) !== 0)
    .map((n) => ({ swIfIndex: n.neighbor.sw_if_index, ip: n.neighbor.ip_address, mac: n.neighbor.mac_address }));
}
