/**
 * The VPP operations of pod isolation (tables, routes, interface tables and addresses, uRPF, punt, app
 * namespaces) as a port with plain types, and its implementation over VPP's binary API. This is the only file
 * of agent/pod/isolation/ that knows VPP's messages: it belongs with the agent's VPP façade and imports nothing
 * from the rest of the isolation code.
 */
import { VPP_RETVALS, VppApiError, type VppClient } from '../../vpp-api/client/index.js';
import { FibPathNhProto, type FibPathIn } from '../../vpp-api/generated/fib_types.js';
import { interface_, ip, punt, session, urpf } from '../../vpp-api/generated/index.js';
import { UrpfMode } from '../../vpp-api/generated/urpf.js';

export type Af = 4 | 6;

/** ~0 as a u32: "any interface" for punt redirects, "the interface's own table" for uRPF, "all" in dumps. */
export const ANY = 0xffffffff;

export interface TablePlan {
  af: Af;
  tableId: number;
  name: string;
}

/** A table as VPP's ip_table_dump lists it. */
export type TableEntry = TablePlan;

export type RoutePath = { via: 'interface'; swIfIndex: number; nh?: string } | { via: 'table'; tableId: number };

export interface RoutePlan {
  af: Af;
  tableId: number;
  /** Canonical network text. */
  prefix: string;
  path: RoutePath;
}

/** A route as VPP's ip_route_dump lists it. */
export interface RouteEntry {
  prefix: string;
  paths: RoutePath[];
}

export interface UrpfState {
  swIfIndex: number;
  af: Af;
  isInput: boolean;
  mode: number;
  tableId: number;
}

export interface PuntRedirectState {
  af: Af;
  rxSwIfIndex: number;
  /** Tables the redirect's paths look up (one for ours); interface paths show as undefined. */
  lookups: (number | undefined)[];
}

export interface AppNamespaceSpec {
  namespaceId: string;
  sockName: string;
  ip4FibId: number;
  ip6FibId: number;
}

/** What the isolation code needs from VPP. Deletes tolerate "already gone". */
export interface IsolationOps {
  tables(): Promise<TableEntry[]>;
  tableAdd(t: TablePlan): Promise<void>;
  tableDel(t: TablePlan): Promise<void>;
  /** Adds a route, or replaces the paths of the same prefix in that table. */
  routeAdd(r: RoutePlan): Promise<void>;
  routeDel(r: RoutePlan): Promise<void>;
  routes(af: Af, tableId: number): Promise<RouteEntry[]>;
  interfaceTable(swIfIndex: number, af: Af, tableId: number): Promise<void>;
  addressAdd(swIfIndex: number, prefix: string): Promise<void>;
  addressDel(swIfIndex: number, prefix: string): Promise<void>;
  addresses(swIfIndex: number): Promise<string[]>;
  /** `tableId` ~0: the interface's own table. */
  urpfSet(swIfIndex: number, af: Af, mode: 'off' | 'loose', tableId: number): Promise<void>;
  /** The configs of one interface, or of all with ~0. */
  urpfConfigs(swIfIndex: number): Promise<UrpfState[]>;
  puntL4(af: Af, protocol: 'tcp' | 'udp', isAdd: boolean): Promise<void>;
  puntRedirects(af: Af): Promise<PuntRedirectState[]>;
  puntRedirectAdd(af: Af, rxSwIfIndex: number, lookupTableId: number): Promise<void>;
  appNamespaceAdd(ns: AppNamespaceSpec, swIfIndex: number, secret: bigint): Promise<void>;
  appNamespaceDel(ns: AppNamespaceSpec, swIfIndex: number, secret: bigint): Promise<void>;
  appNamespaceIds(): Promise<string[]>;
  /** True for an error that says the object (or the interface it needs) does not exist. */
  isGone(e: unknown): boolean;
}

export type IsolationVpp = Pick<VppClient, 'request' | 'dumpAll' | 'cli'>;

/** session_error_t SESSION_E_INVALID: the session layer's answer for a namespace that does not exist. */
const SESSION_E_INVALID = -19;
const GONE = new Set<number>([
  VPP_RETVALS.INVALID_SW_IF_INDEX,
  VPP_RETVALS.NO_SUCH_FIB,
  VPP_RETVALS.NO_SUCH_ENTRY,
  VPP_RETVALS.NO_MATCHING_INTERFACE,
  VPP_RETVALS.ADDRESS_NOT_FOUND_FOR_INTERFACE,
]);
const IP_PROTO_TCP = 6;
const IP_PROTO_UDP = 17;
const PUNT_API_TYPE_L4 = 0;
const PORT_ANY = 0xffff;

function apiAf(af: Af): number {
  return af === 4 ? 0 : 1;
}

function nhProto(af: Af): (typeof FibPathNhProto)[keyof typeof FibPathNhProto] {
  return af === 4 ? FibPathNhProto.FIB_API_PATH_NH_PROTO_IP4 : FibPathNhProto.FIB_API_PATH_NH_PROTO_IP6;
}

function lookupPath(af: Af, tableId: number): FibPathIn {
  return { sw_if_index: ANY, table_id: tableId, weight: 1, proto: nhProto(af) };
}

function routePath(r: RoutePlan): FibPathIn {
  if (r.path.via === 'table') return lookupPath(r.af, r.path.tableId);
  const nh = r.path.nh;
  return { sw_if_index: r.path.swIfIndex, weight: 1, proto: nhProto(r.af), nh: nh ? { address: r.af === 4 ? { ip4: nh } : { ip6: nh } } : {} };
}

export function isGone(e: unknown): boolean {
  if (!(e instanceof VppApiError)) return false;
  if (e.messageName.startsWith('app_namespace_add_del')) return e.retval === SESSION_E_INVALID;
  return GONE.has(e.retval);
}

async function tolerant(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (!isGone(e)) throw e;
  }
}

export function vppIsolationOps(vpp: IsolationVpp): IsolationOps {
  const table = (t: TablePlan, isAdd: boolean) => vpp.request(ip.ip_table_add_del, { is_add: isAdd, table: { table_id: t.tableId, is_ip6: t.af === 6, name: t.name } });
  // A delete carries no paths: VPP then deletes the entry by prefix (fib_table_entry_delete) instead of decoding
  // paths first, which fails with -54 once a path's interface is gone and would leave the route behind.
  const route = (r: RoutePlan, isAdd: boolean) =>
    vpp.request(ip.ip_route_add_del, { is_add: isAdd, is_multipath: false, route: { table_id: r.tableId, prefix: r.prefix, paths: isAdd ? [routePath(r)] : [] } });
  const appns = (ns: AppNamespaceSpec, sw: number, secret: bigint, isAdd: boolean) =>
    vpp.request(session.app_namespace_add_del_v4, {
      is_add: isAdd,
      secret,
      sw_if_index: sw,
      ip4_fib_id: ns.ip4FibId,
      ip6_fib_id: ns.ip6FibId,
      namespace_id: ns.namespaceId,
      sock_name: isAdd ? ns.sockName : '',
    });
  return {
    async tables() {
      const d = await vpp.dumpAll(ip.ip_table_dump, {});
      return d.map((x) => ({ af: x.table.is_ip6 ? 6 : 4, tableId: x.table.table_id, name: x.table.name }));
    },
    async tableAdd(t) {
      await table(t, true);
    },
    // ip_table_add_del answers 0 for a table that does not exist.
    async tableDel(t) {
      await table(t, false);
    },
    async routeAdd(r) {
      await route(r, true);
    },
    async routeDel(r) {
      await tolerant(() => route(r, false));
    },
    async interfaceTable(sw, af, tableId) {
      await vpp.request(interface_.sw_interface_set_table, { sw_if_index: sw, is_ipv6: af === 6, vrf_id: tableId });
    },
    async addressAdd(sw, prefix) {
      await vpp.request(interface_.sw_interface_add_del_address, { sw_if_index: sw, is_add: true, del_all: false, prefix });
    },
    async addressDel(sw, prefix) {
      await tolerant(() => vpp.request(interface_.sw_interface_add_del_address, { sw_if_index: sw, is_add: false, del_all: false, prefix }));
    },
    async urpfSet(sw, af, mode, tableId) {
      const m = mode === 'off' ? UrpfMode.URPF_API_MODE_OFF : UrpfMode.URPF_API_MODE_LOOSE;
      const send = () => vpp.request(urpf.urpf_update_v2, { is_input: true, mode: m, af: apiAf(af), sw_if_index: sw, table_id: tableId });
      // Switching off on an interface that is gone is done.
      if (mode === 'off') await tolerant(send);
      else await send();
    },
    async urpfConfigs(sw): Promise<UrpfState[]> {
      const d = await vpp.dumpAll(urpf.urpf_interface_dump, { sw_if_index: sw });
      return d.map((x) => ({ swIfIndex: x.sw_if_index, af: x.af === 1 ? 6 : 4, isInput: x.is_input, mode: x.mode, tableId: x.table_id }));
    },
    async puntL4(af, protocol, isAdd) {
      await vpp.request(punt.set_punt, {
        is_add: isAdd,
        punt: { type: PUNT_API_TYPE_L4, punt: { l4: { af: apiAf(af), protocol: protocol === 'tcp' ? IP_PROTO_TCP : IP_PROTO_UDP, port: PORT_ANY } } },
      });
    },
    async puntRedirects(af): Promise<PuntRedirectState[]> {
      const d = await vpp.dumpAll(ip.ip_punt_redirect_v2_dump, { sw_if_index: ANY, af: apiAf(af) });
      return d.map((x) => ({
        af,
        rxSwIfIndex: x.punt.rx_sw_if_index,
        lookups: x.punt.paths.map((p) => (p.sw_if_index === ANY ? p.table_id : undefined)),
      }));
    },
    async puntRedirectAdd(af, rx, lookupTableId) {
      await vpp.request(ip.add_del_ip_punt_redirect_v2, { is_add: true, punt: { rx_sw_if_index: rx, af: apiAf(af), paths: [lookupPath(af, lookupTableId)] } });
    },
    async appNamespaceAdd(ns, sw, secret) {
      await appns(ns, sw, secret, true);
    },
    async appNamespaceDel(ns, sw, secret) {
      await tolerant(() => appns(ns, sw, secret, false));
    },
    async routes(af, tableId): Promise<RouteEntry[]> {
      const d = await vpp.dumpAll(ip.ip_route_dump, { table: { table_id: tableId, is_ip6: af === 6 } });
      return d.map((x) => ({ prefix: x.route.prefix, paths: x.route.paths.map(pathOf) }));
    },
    async addresses(sw) {
      const out: string[] = [];
      for (const is_ipv6 of [false, true]) for (const a of await vpp.dumpAll(ip.ip_address_dump, { sw_if_index: sw, is_ipv6 })) out.push(a.prefix);
      return out;
    },
    async appNamespaceIds() {
      let text: string;
      try {
        text = await vpp.cli('show app ns');
      } catch (e) {
        // The session layer is off: no namespace exists.
        if (e instanceof VppApiError) return [];
        throw e;
      }
      // This VPP has no app-namespace dump: the CLI table's fourth column is the id.
      const rows = text.replace(/\u001b\[[0-9;]*m/g, '').split('\n').slice(1);
      return rows.map((l) => l.trim().split(/\s+/)).filter((c) => c.length >= 4).map((c) => (c[2] === 'DELETED' ? c[4]! : c[3]!));
    },
    isGone,
  };
}

/** A dumped path as a plan's path: a lookup in a table, or an interface with its next hop. */
function pathOf(p: { sw_if_index: number; table_id: number; nh: { address: { ip4: string; ip6: string } }; proto: number; type: number }): RoutePath {
  // A special path (drop, local, ...) matches nothing we plan: shown as an interface path to ~0.
  if (p.sw_if_index === ANY) return p.type === 0 ? { via: 'table', tableId: p.table_id } : { via: 'interface', swIfIndex: ANY };
  const nh = p.proto === 1 ? p.nh.address.ip6 : p.nh.address.ip4;
  return nh === '0.0.0.0' || nh === '::' ? { via: 'interface', swIfIndex: p.sw_if_index } : { via: 'interface', swIfIndex: p.sw_if_index, nh };
}
