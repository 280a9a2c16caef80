/** ip.api: tables, routes (with the connected/local entries VPP adds for interface addresses), address dumps. */
import { ip } from '../../generated/index.js';
import type { FibPath, FibPathIn } from '../../generated/fib_types.js';
import { flagsOf, on, type HandlerSpec } from '../handler.js';
import { comparePrefixes, formatBytes, maskBytes, parsePrefix, type Af } from '../ip-prefix.js';
import { Retval, U32_MAX } from '../retval.js';
import { syncPblClones } from './pbl.js';
import { defaultTableName, tableKey, type SimPath, type SimRoute, type SimTable } from '../state.js';
import type { SimState } from '../state.js';

const ZERO4 = '0.0.0.0';
const ZERO6 = '::';

/** fib_api_path_decode, reduced to what the simulator keeps. */
export function decodePath(p: FibPath): SimPath {
  const nhText = p.proto === 1 ? p.nh.address.ip6 : p.nh.address.ip4;
  const nh = nhText === ZERO4 || nhText === ZERO6 ? '' : nhText;
  return {
    swIfIndex: p.sw_if_index,
    tableId: p.table_id,
    rpfId: p.rpf_id,
    weight: p.weight === 0 ? 1 : p.weight,
    preference: p.preference,
    type: p.type,
    flags: p.flags,
    proto: p.proto,
    nh,
  };
}

/** fib_api_path_encode: what a dump shows for a path. */
export function encodePath(p: SimPath): FibPathIn {
  const nh = p.nh === '' ? (p.proto === 1 ? ZERO6 : ZERO4) : p.nh;
  return {
    sw_if_index: p.swIfIndex,
    // fib_api_path_encode: the next-hop table of a recursive or deag path, 0 otherwise.
    table_id: p.swIfIndex === U32_MAX && p.type === 0 ? p.tableId : 0,
    rpf_id: 0,
    weight: p.weight,
    preference: p.preference,
    type: flagsOf(p.type),
    flags: flagsOf(p.flags),
    proto: flagsOf(p.proto),
    nh: { address: p.proto === 1 ? { ip6: nh } : { ip4: nh }, via_label: 0, obj_id: 0, classify_table_index: 0 },
    n_labels: 0,
    label_stack: [],
  };
}

function samePath(a: SimPath, b: SimPath): boolean {
  return a.swIfIndex === b.swIfIndex && a.nh === b.nh && a.type === b.type && a.proto === b.proto && a.tableId === b.tableId;
}

function afOfTable(isIp6: boolean): Af {
  return isIp6 ? 6 : 4;
}

/** Route entries of a table, grouped by prefix length like VPP's ip4 fib walk. */
function dumpOrder(state: SimState, table: SimTable): SimRoute[] {
  return state.routesOf(table).sort((a, b) => comparePrefixes(a.prefix, b.prefix));
}

export const ipHandlers: readonly HandlerSpec[] = [
  on(ip.ip_table_add_del, (req, ctx) => {
    const st = ctx.state;
    const af = afOfTable(req.table.is_ip6);
    const id = req.table.table_id;
    const key = tableKey(af, id);
    if (req.is_add) {
      if (!st.tables.has(key)) st.tables.set(key, { af, tableId: id, name: req.table.name || defaultTableName(af, id), routes: new Map() });
    } else if (id !== 0) {
      const t = st.tables.get(key);
      if (t) {
        // ip_table_delete flushes the API routes and drops the API lock; interfaces bound keep the table.
        t.routes.clear();
        const bound = [...st.interfaces.values()].some((i) => (af === 4 ? i.ip4Table : i.ip6Table) === id);
        if (!bound) st.tables.delete(key);
      }
    }
    syncPblClones(st);
    ctx.send(ip.ip_table_add_del_reply, { retval: 0 });
  }),

  on(ip.ip_table_dump, (_req, ctx) => {
    for (const af of [4, 6] as const) {
      for (const t of ctx.state.tables.values()) {
        if (t.af === af) ctx.send(ip.ip_table_details, { table: { table_id: t.tableId, is_ip6: af === 6, name: t.name } });
      }
    }
  }),

  on(ip.ip_route_add_del, (req, ctx) => {
    // PBL's FIB clones follow the routes covering their clients.
    const reply = (retval: number, statsIndex: number): void => {
      syncPblClones(ctx.state);
      ctx.send(ip.ip_route_add_del_reply, { retval, stats_index: statsIndex });
    };
    const st = ctx.state;
    const pfx = parsePrefix(req.route.prefix);
    const table = st.table(pfx.af, req.route.table_id);
    if (!table) return reply(Retval.NO_SUCH_FIB, U32_MAX);
    const paths = req.route.paths.map(decodePath);
    // fib_api_path_decode: an unknown nh proto, a missing interface, a missing next-hop table.
    for (const p of paths) {
      if (p.proto > 4) return reply(Retval.UNSPECIFIED, U32_MAX);
      if (p.type !== 0 || p.proto > 1) continue;
      if (p.swIfIndex === U32_MAX) {
        if (!st.table(p.proto === 1 ? 6 : 4, p.tableId)) return reply(Retval.NO_SUCH_FIB, U32_MAX);
      } else if (!st.get(p.swIfIndex)) {
        return reply(Retval.NO_MATCHING_INTERFACE, U32_MAX);
      }
    }
    if (paths.length === 0 && (req.is_add || req.is_multipath)) return reply(Retval.NO_PATHS_IN_ROUTE, U32_MAX);
    const prefix = `${formatBytes(maskBytes(pfx.bytes, pfx.len))}/${pfx.len}`;
    const existing = table.routes.get(prefix);
    if (req.is_add) {
      if (existing && req.is_multipath) {
        for (const p of paths) if (!existing.paths.some((q) => samePath(p, q))) existing.paths.push(p);
        return reply(0, existing.statsIndex);
      }
      if (existing) {
        existing.paths = paths;
        return reply(0, existing.statsIndex);
      }
      const route: SimRoute = { prefix, paths, statsIndex: st.allocStatsIndex() };
      table.routes.set(prefix, route);
      return reply(0, route.statsIndex);
    }
    if (existing) {
      if (req.is_multipath) {
        existing.paths = existing.paths.filter((q) => !paths.some((p) => samePath(p, q)));
        if (existing.paths.length === 0) table.routes.delete(prefix);
      } else {
        table.routes.delete(prefix);
      }
    }
    reply(0, U32_MAX);
  }),

  on(ip.ip_route_dump, (req, ctx) => {
    const table = ctx.state.table(afOfTable(req.table.is_ip6), req.table.table_id);
    if (!table) return;
    for (const r of dumpOrder(ctx.state, table)) {
      ctx.send(ip.ip_route_details, {
        route: { table_id: table.tableId, stats_index: r.statsIndex, prefix: r.prefix, paths: r.paths.map(encodePath) },
      });
    }
  }),

  on(ip.ip_address_dump, (req, ctx) => {
    const itf = ctx.state.get(req.sw_if_index);
    if (!itf) return;
    const af: Af = req.is_ipv6 ? 6 : 4;
    for (const a of ctx.state.effectiveAddresses(itf)) {
      if (a.af === af) ctx.send(ip.ip_address_details, { sw_if_index: itf.swIfIndex, prefix: `${a.address}/${a.len}` });
    }
  }),

  on(ip.ip_unnumbered_dump, (req, ctx) => {
    for (const itf of ctx.state.interfaceList()) {
      if (itf.unnumberedOf === undefined) continue;
      if (req.sw_if_index !== U32_MAX && req.sw_if_index !== itf.swIfIndex) continue;
      ctx.send(ip.ip_unnumbered_details, { sw_if_index: itf.swIfIndex, ip_sw_if_index: itf.unnumberedOf });
    }
  }),

  on(ip.sw_interface_ip6_enable_disable, (req, ctx) => {
    const itf = ctx.state.get(req.sw_if_index);
    if (!itf) return ctx.send(ip.sw_interface_ip6_enable_disable_reply, { retval: Retval.INVALID_SW_IF_INDEX });
    // As VPP: an enable takes a lock and answers VALUE_EXIST when IPv6 was on already (enabled before, or by an
    // IPv6 address); a disable drops one lock (0 even when none is held); IPv6 goes off with the last lock.
    const wasOn = itf.ip6Locks > 0 || itf.addresses.some((a) => a.af === 6);
    itf.ip6Locks = req.enable ? itf.ip6Locks + 1 : Math.max(0, itf.ip6Locks - 1);
    itf.ip6Enabled = itf.ip6Locks > 0;
    ctx.send(ip.sw_interface_ip6_enable_disable_reply, { retval: req.enable && wasOn ? Retval.VALUE_EXIST : 0 });
  }),
];
