/**
 * pbl.api (port based balancer), mirroring the plugin of the captured build:
 *  - an update of an existing id changes nothing and answers 0 with that id ("unimplemented");
 *  - an update of an unknown id (~0 or any free id) creates a client with the next pool index;
 *  - pbl_client_details carry context 0 and leave paths, flags and port ranges zeroed;
 *  - FIB clones (docs/pbl.md): a client adds its address to its table as an interposing entry. While an API
 *    route of that table covers the address, the FIB has the client make a copy of itself to interpose on the
 *    route's forwarding: a second client in the same pool (the id the pool hands out next), with the same
 *    address and ports. The dump lists it like any client; `show pbl client` prints the original as one line
 *    ending in `clone:<id>` and the clone in full. When the route goes, the clone goes; deleting the original
 *    removes both. pbl_client_del of a clone's id crashes VPP (SIGSEGV): here the simulator aborts.
 */
import { ipToBytes } from '../../codec/ip.js';
import { pbl } from '../../generated/index.js';
import { on, type HandlerSpec } from '../handler.js';
import { contains, parsePrefix } from '../ip-prefix.js';
import { Retval } from '../retval.js';
import { tableKey, type PblClientState, type SimState } from '../state.js';

const IP_PROTO_TCP = 6;
const IP_PROTO_UDP = 17;

type ParsedRoutes = Map<string, { bytes: Buffer; len: number }[]>;

/** True when an API route of the client's table covers its address (the FIB then interposes a clone). */
function routeCovers(state: SimState, c: PblClientState, parsed: ParsedRoutes): boolean {
  const addr = ipToBytes(c.addr);
  const key = tableKey(addr.length === 4 ? 4 : 6, c.tableId);
  let prefixes = parsed.get(key);
  if (!prefixes) {
    prefixes = [...(state.tables.get(key)?.routes.values() ?? [])].map((r) => parsePrefix(r.prefix));
    parsed.set(key, prefixes);
  }
  return prefixes.some((p) => contains(p.bytes, p.len, addr));
}

/**
 * Makes the clones follow the FIB: a clone for every client whose address a route of its table covers, none
 * for the others. Run after every change of routes, tables or clients; clones are made in pool order of their
 * originals, each taking the id the pool hands out next.
 */
export function syncPblClones(state: SimState): void {
  if (state.pblClients.size === 0) return;
  const parsed: ParsedRoutes = new Map();
  for (const id of state.pblPool.indexes()) {
    const c = state.pblClients.get(id);
    if (!c) continue;
    // The API's EXCLUSIVE flag does not reach the plugin (the captured VPP shows such a client like any other),
    // so every client interposes.
    const want = routeCovers(state, c, parsed);
    const clone = state.pblClones.get(id);
    if (want && clone === undefined) state.pblClones.set(id, state.pblPool.alloc());
    else if (!want && clone !== undefined) {
      state.pblClones.delete(id);
      state.pblPool.release(clone);
    }
  }
}

/** The original of a clone id, or undefined when `id` is not a clone. */
export function pblCloneOriginal(state: SimState, id: number): number | undefined {
  for (const [orig, clone] of state.pblClones) if (clone === id) return orig;
  return undefined;
}

/** A client or clone id: its client (a clone shows its original's address and ports). */
function pblEntry(state: SimState, id: number): { client: PblClientState; isClone: boolean } | undefined {
  const c = state.pblClients.get(id);
  if (c) return { client: c, isClone: false };
  const orig = pblCloneOriginal(state, id);
  const o = orig === undefined ? undefined : state.pblClients.get(orig);
  return o ? { client: o, isClone: true } : undefined;
}

/** Merges inclusive ranges into sorted disjoint runs (the bitmap VPP keeps). */
export function mergeRanges(ranges: readonly (readonly [number, number])[]): [number, number][] {
  const sorted = ranges.map(([a, b]) => [a, b] as [number, number]).sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}

/** format_pbl_ports: " a-b" per run (" a" for a single port), "(empty)" without any. */
export function formatPblPorts(ranges: readonly (readonly [number, number])[]): string {
  if (ranges.length === 0) return '(empty)';
  return ranges.map(([a, b]) => (a === b ? ` ${a}` : ` ${a}-${b}`)).join('');
}

/**
 * `show pbl client` output for every client and clone in pool order: an original with a clone is one line
 * naming the clone, the clone is shown in full.
 */
export function showPblClients(state: SimState): string {
  let out = '';
  for (const id of state.pblPool.indexes()) {
    const e = pblEntry(state, id);
    if (!e) continue;
    const c = e.client;
    const head = `[${id}] pbl-client: ${c.addr}`;
    const clone = e.isClone ? undefined : state.pblClones.get(id);
    if (clone !== undefined) {
      out += `${head} clone:${clone}\n`;
      continue;
    }
    const af = c.addr.includes(':') ? 'ip6' : 'ip4';
    out += `${head}\n  TCP ports:${formatPblPorts(c.tcpPorts)}\n  UDP ports:${formatPblPorts(c.udpPorts)}\n  matched dpo\n    [@0]: dpo-drop ${af}\n`;
  }
  return out;
}

export const pblHandlers: readonly HandlerSpec[] = [
  on(pbl.pbl_client_update, (req, ctx) => {
    const st = ctx.state;
    const c = req.client;
    // An existing id (a clone's too) is left as it is ("unimplemented").
    if (pblEntry(st, c.id)) return ctx.send(pbl.pbl_client_update_reply, { retval: 0, id: c.id });
    const tcp: [number, number][] = [];
    const udp: [number, number][] = [];
    for (const r of c.port_ranges) {
      const range: [number, number] = [r.start, Math.max(r.start, r.end)];
      if (r.iproto === IP_PROTO_TCP) tcp.push(range);
      else if (r.iproto === IP_PROTO_UDP) udp.push(range);
    }
    const id = st.pblPool.alloc();
    const client: PblClientState = { id, addr: c.addr, flags: c.flags, tableId: c.table_id, tcpPorts: mergeRanges(tcp), udpPorts: mergeRanges(udp) };
    st.pblClients.set(id, client);
    syncPblClones(st);
    ctx.send(pbl.pbl_client_update_reply, { retval: 0, id });
  }),

  on(pbl.pbl_client_del, (req, ctx) => {
    const st = ctx.state;
    const clonedFrom = pblCloneOriginal(st, req.id);
    if (clonedFrom !== undefined) {
      // The real plugin deletes the clone as a client (it has no FIB entry nor path list) and VPP dies (SIGSEGV):
      // no reply, connections dropped, a new instance.
      return ctx.control.abort(`pbl_client_del of id ${req.id}, the FIB clone of pbl client ${clonedFrom}: SIGSEGV`);
    }
    if (!st.pblClients.has(req.id)) return ctx.send(pbl.pbl_client_del_reply, { retval: Retval.NO_SUCH_ENTRY });
    // Removing the client's FIB entry drops the interposed clone first (its id is freed before the client's).
    const clone = st.pblClones.get(req.id);
    if (clone !== undefined) {
      st.pblClones.delete(req.id);
      st.pblPool.release(clone);
    }
    st.pblClients.delete(req.id);
    st.pblPool.release(req.id);
    ctx.send(pbl.pbl_client_del_reply, { retval: 0 });
  }),

  on(pbl.pbl_client_dump, (_req, ctx) => {
    for (const id of ctx.state.pblPool.indexes()) {
      const c = pblEntry(ctx.state, id)?.client;
      if (!c) continue;
      // The plugin never sets the context nor the routes, flags and ports of the details.
      ctx.send(pbl.pbl_client_details, { client: { id, addr: c.addr } }, 0);
    }
  }),
];
