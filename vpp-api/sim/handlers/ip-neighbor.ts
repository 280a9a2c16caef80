/**
 * ip_neighbor.api: static/dynamic neighbor entries per interface (ip_neighbor_add_del) and their dump.
 *
 * Entries live on their interface (SimInterface.neighbors): admin down flushes the dynamic ones, deleting an
 * interface address flushes the dynamic ones it covers, deleting the interface removes them all, and a
 * restart starts from none.
 */
import { ip_neighbor } from '../../generated/index.js';
import type { IpNeighborFlags } from '../../generated/ip_neighbor.js';
import { flagsOf, on, type HandlerContext, type HandlerSpec } from '../handler.js';
import { formatBytes, parsePrefix } from '../ip-prefix.js';
import { Retval, U32_MAX } from '../retval.js';
import { NEIGHBOR_LIMIT, neighborKey, type SimInterface, type SimNeighbor } from '../state.js';

/** IP_API_NEIGHBOR_FLAG_* bits. */
const FLAG_STATIC = 1;
const FLAG_NO_FIB_ENTRY = 2;

/** ip_neighbor_flags_encode: only STATIC and NO_FIB_ENTRY reach the API (a dynamic entry shows 0). */
function apiFlags(n: SimNeighbor): IpNeighborFlags {
  return flagsOf<IpNeighborFlags>((n.isStatic ? FLAG_STATIC : 0) | (n.noFibEntry ? FLAG_NO_FIB_ENTRY : 0));
}

function statsIndex(n: SimNeighbor): number {
  return n.adjIndex ?? U32_MAX;
}

function sendDetails(ctx: HandlerContext, itf: SimInterface, n: SimNeighbor, now: number): void {
  ctx.send(ip_neighbor.ip_neighbor_details, {
    age: (now - n.updatedAt) / 1000,
    neighbor: { sw_if_index: itf.swIfIndex, flags: apiFlags(n), mac_address: n.mac, ip_address: n.ip },
  });
}

export const ipNeighborHandlers: readonly HandlerSpec[] = [
  on(ip_neighbor.ip_neighbor_add_del, (req, ctx) => {
    const reply = (retval: number, stats = U32_MAX): void => ctx.send(ip_neighbor.ip_neighbor_add_del_reply, { retval, stats_index: stats });
    const st = ctx.state;
    const nb = req.neighbor;
    const itf = st.get(nb.sw_if_index);
    if (!itf) return reply(Retval.INVALID_SW_IF_INDEX);
    const bytes = parsePrefix(nb.ip_address).bytes;
    const af = bytes.length === 4 ? 4 : 6;
    const ip = formatBytes(bytes);
    const key = neighborKey(af, ip);
    const existing = itf.neighbors.get(key);
    const now = performance.now();

    if (!req.is_add) {
      // ip_neighbor_del: static or dynamic alike; the reply's stats_index stays ~0.
      if (!existing) return reply(Retval.NO_SUCH_ENTRY);
      st.destroyNeighbor(itf, existing);
      return reply(0);
    }

    const wantStatic = (nb.flags & FLAG_STATIC) !== 0;
    if (existing) {
      // ip_neighbor_add on an existing entry. A dynamic add never overwrites a static entry: same MAC is
      // a no-op success, another MAC is refused with a literal -2 (and no stats_index).
      if (!wantStatic && existing.isStatic) {
        if (existing.mac === nb.mac_address) return reply(0, statsIndex(existing));
        return reply(Retval.INVALID_SW_IF_INDEX);
      }
      // A dynamic entry can become static, never the reverse; NO_FIB_ENTRY stays as first given.
      if (wantStatic) existing.isStatic = true;
      existing.mac = nb.mac_address;
      existing.updatedAt = now;
      return reply(0, statsIndex(existing));
    }

    // ip_neighbor_alloc: the per-family limit (recycling is off by default).
    if (st.neighborCount(af) >= NEIGHBOR_LIMIT) return reply(Retval.LIMIT_EXCEEDED);
    const noFibEntry = (nb.flags & FLAG_NO_FIB_ENTRY) !== 0;
    const n: SimNeighbor = {
      af,
      ip,
      mac: nb.mac_address,
      isStatic: wantStatic,
      noFibEntry,
      // The adj-fib's path makes the neighbor adjacency that adj_nbr_find reports; without one there is none.
      adjIndex: noFibEntry ? undefined : st.adjPool.alloc(),
      updatedAt: now,
    };
    itf.neighbors.set(key, n);
    reply(0, statsIndex(n));
  }),

  on(ip_neighbor.ip_neighbor_dump, (req, ctx) => {
    // ip_address_family_decode: anything but 0 (ip4) and 1 (ip6) gets no details.
    if (req.af !== 0 && req.af !== 1) return;
    const af = req.af === 0 ? 4 : 6;
    const st = ctx.state;
    // ip_neighbor_walk: every interface in sw_if_index order for ~0, else that interface only (unchecked).
    const itfs = req.sw_if_index === U32_MAX ? st.interfaceList() : [st.get(req.sw_if_index)].filter((i): i is SimInterface => i !== undefined);
    const now = performance.now();
    for (const itf of itfs) {
      for (const n of itf.neighbors.values()) if (n.af === af) sendDetails(ctx, itf, n, now);
    }
  }),
];
