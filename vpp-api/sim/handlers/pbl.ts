/**
 * pbl.api (port based balancer), mirroring the plugin of the captured build:
 *  - an update of an existing id changes nothing and answers 0 with that id ("unimplemented");
 *  - an update of an unknown id (~0 or any free id) creates a client with the next pool index;
 *  - pbl_client_details carry context 0 and leave paths, flags and port ranges zeroed.
 */
import { pbl } from '../../generated/index.js';
import { on, type HandlerSpec } from '../handler.js';
import { Retval } from '../retval.js';
import type { PblClientState, SimState } from '../state.js';

const IP_PROTO_TCP = 6;
const IP_PROTO_UDP = 17;

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

/** `show pbl client` output for every client in pool order. */
export function showPblClients(state: SimState): string {
  let out = '';
  for (const id of state.pblPool.indexes()) {
    const c = state.pblClients.get(id)!;
    const af = c.addr.includes(':') ? 'ip6' : 'ip4';
    out += `[${id}] pbl-client: ${c.addr}\n  TCP ports:${formatPblPorts(c.tcpPorts)}\n  UDP ports:${formatPblPorts(c.udpPorts)}\n  matched dpo\n    [@0]: dpo-drop ${af}\n`;
  }
  return out;
}

export const pblHandlers: readonly HandlerSpec[] = [
  on(pbl.pbl_client_update, (req, ctx) => {
    const st = ctx.state;
    const c = req.client;
    if (st.pblClients.has(c.id)) return ctx.send(pbl.pbl_client_update_reply, { retval: 0, id: c.id });
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
    ctx.send(pbl.pbl_client_update_reply, { retval: 0, id });
  }),

  on(pbl.pbl_client_del, (req, ctx) => {
    const st = ctx.state;
    if (!st.pblClients.has(req.id)) return ctx.send(pbl.pbl_client_del_reply, { retval: Retval.NO_SUCH_ENTRY });
    st.pblClients.delete(req.id);
    st.pblPool.release(req.id);
    ctx.send(pbl.pbl_client_del_reply, { retval: 0 });
  }),

  on(pbl.pbl_client_dump, (_req, ctx) => {
    for (const id of ctx.state.pblPool.indexes()) {
      const c = ctx.state.pblClients.get(id)!;
      // The plugin never sets the context nor the routes, flags and ports of the details.
      ctx.send(pbl.pbl_client_details, { client: { id, addr: c.addr } }, 0);
    }
  }),
];
