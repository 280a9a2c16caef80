/**
 * punt.api (punt_api.c, punt.c) and ip.api's punt redirects (ip_api.c, ip_punt_drop.c).
 *
 * - set_punt L4: TCP or UDP only (else -1); port ~0 switches "punt unknown" of that protocol and family on or
 *   off (idempotent, no error either way); a UDP port registers that destination port; a TCP port is refused
 *   (-1, "punt TCP ports is not supported yet"). IP_PROTO is refused (-1, "Unsupported punt type"), and so is
 *   every EXCEPTION: the simulator has no punt reasons (VPP validates the reason id against its registry).
 *   An address family other than 0/1 answers -97 (ip_address_family_decode).
 * - punt sockets need `punt { socket ... }` in startup.conf, which the simulator never has: register and
 *   deregister answer -1 (register with an empty server pathname; a register that does not decode gets no reply);
 *   the socket dump has no entries.
 * - punt redirects: one per family and rx interface, rx ~0 ("from any") stored and dumped as 0; an add replaces
 *   the paths; a delete of a missing one is silent. ip_punt_redirect (v1) answers 0 without change when the tx
 *   interface does not exist (its bad-index label leaves rv at 0).
 */
import { ip, punt } from '../../generated/index.js';
import type { FibPath } from '../../generated/fib_types.js';
import { on, type HandlerContext, type HandlerSpec } from '../handler.js';
import type { Af } from '../ip-prefix.js';
import { Retval, U32_MAX } from '../retval.js';
import type { PuntRedirect, SimPath, SimState } from '../state.js';
import { decodePath, encodePath } from './ip.js';

const IP_PROTO_TCP = 6;
const IP_PROTO_UDP = 17;
const PUNT_API_TYPE_L4 = 0;
const PUNT_API_TYPE_IP_PROTO = 1;
const PUNT_API_TYPE_EXCEPTION = 2;
/** VNET_API_ERROR_INVALID_ADDRESS_FAMILY (ip_address_family_decode). */
const INVALID_ADDRESS_FAMILY = -97;

/** ip_address_family_decode: ADDRESS_IP4 0, ADDRESS_IP6 1. */
export function decodeAf(af: number): Af | undefined {
  return af === 0 ? 4 : af === 1 ? 6 : undefined;
}

function redirectKey(af: Af, rx: number): string {
  return `${af}/${rx}`;
}

/** fib_api_path_decode's refusals, as the route handler applies them. */
export function checkPath(st: SimState, p: SimPath): number {
  if (p.proto > 4) return Retval.UNSPECIFIED;
  if (p.type !== 0 || p.proto > 1) return 0;
  if (p.swIfIndex === U32_MAX) return st.table(p.proto === 1 ? 6 : 4, p.tableId) ? 0 : Retval.NO_SUCH_FIB;
  return st.get(p.swIfIndex) ? 0 : Retval.NO_MATCHING_INTERFACE;
}

function setL4(st: SimState, isAdd: boolean, af: Af, protocol: number, port: number): number {
  if (protocol !== IP_PROTO_TCP && protocol !== IP_PROTO_UDP) return Retval.UNSPECIFIED;
  const proto = protocol === IP_PROTO_TCP ? 'tcp' : 'udp';
  if (port === 0xffff) {
    if (isAdd) st.punt.unknownL4.add(`${af}/${proto}`);
    else st.punt.unknownL4.delete(`${af}/${proto}`);
    return 0;
  }
  if (proto === 'tcp') return Retval.UNSPECIFIED;
  if (isAdd) st.punt.udpPorts.add(`${af}/${port}`);
  else st.punt.udpPorts.delete(`${af}/${port}`);
  return 0;
}

function setRedirect(st: SimState, isAdd: boolean, af: Af, rxSwIfIndex: number, paths: readonly SimPath[]): void {
  const rx = rxSwIfIndex === U32_MAX ? 0 : rxSwIfIndex;
  if (isAdd) st.punt.redirects.set(redirectKey(af, rx), { af, rxSwIfIndex: rx, paths });
  else st.punt.redirects.delete(redirectKey(af, rx));
}

/** The redirects of a family to dump: all of them, or the one of an rx interface (0 for "from any"). */
function redirectsToDump(st: SimState, af: Af, swIfIndex: number): PuntRedirect[] {
  const all = [...st.punt.redirects.values()].filter((r) => r.af === af).sort((a, b) => a.rxSwIfIndex - b.rxSwIfIndex);
  return swIfIndex === U32_MAX ? all : all.filter((r) => r.rxSwIfIndex === swIfIndex);
}

function decodePaths(ctx: HandlerContext, paths: readonly FibPath[]): SimPath[] | number {
  const out: SimPath[] = [];
  for (const p of paths) {
    const sp = decodePath(p);
    const rv = checkPath(ctx.state, sp);
    if (rv !== 0) return rv;
    out.push(sp);
  }
  return out;
}

export const puntHandlers: readonly HandlerSpec[] = [
  on(punt.set_punt, (req, ctx) => {
    const reply = (retval: number): void => ctx.send(punt.set_punt_reply, { retval });
    const t = req.punt.type;
    if (t === PUNT_API_TYPE_L4) {
      const l4 = req.punt.punt.l4;
      const af = decodeAf(l4.af);
      if (af === undefined) return reply(INVALID_ADDRESS_FAMILY);
      return reply(setL4(ctx.state, req.is_add, af, l4.protocol, l4.port));
    }
    // IP_PROTO: vnet_punt_add_del refuses it; EXCEPTION: no reason id validates here; other types do not decode.
    reply(Retval.UNSPECIFIED);
  }),

  on(punt.punt_socket_register, (req, ctx) => {
    const t = req.punt.type;
    if (t !== PUNT_API_TYPE_L4 && t !== PUNT_API_TYPE_IP_PROTO && t !== PUNT_API_TYPE_EXCEPTION) return;
    if (t === PUNT_API_TYPE_L4 && decodeAf(req.punt.punt.l4.af) === undefined) return;
    if (t === PUNT_API_TYPE_EXCEPTION) return; // no reason validates: the decode fails, and VPP sends nothing
    ctx.send(punt.punt_socket_register_reply, { retval: Retval.UNSPECIFIED, pathname: '' });
  }),

  on(punt.punt_socket_deregister, (_req, ctx) => {
    ctx.send(punt.punt_socket_deregister_reply, { retval: Retval.UNSPECIFIED });
  }),

  on(punt.punt_socket_dump, () => {
    // No punt socket is configured, so there is no client to list.
  }),

  on(punt.punt_reason_dump, () => {
    // The simulator registers no punt reasons (VPP lists those its nodes registered).
  }),

  on(ip.add_del_ip_punt_redirect_v2, (req, ctx) => {
    const reply = (retval: number): void => ctx.send(ip.add_del_ip_punt_redirect_v2_reply, { retval });
    const af = decodeAf(req.punt.af);
    if (af === undefined) return reply(INVALID_ADDRESS_FAMILY);
    const paths = decodePaths(ctx, req.punt.paths);
    if (typeof paths === 'number') return reply(paths);
    setRedirect(ctx.state, req.is_add, af, req.punt.rx_sw_if_index, paths);
    reply(0);
  }),

  on(ip.ip_punt_redirect, (req, ctx) => {
    const tx = req.punt.tx_sw_if_index;
    if (ctx.state.get(tx)) {
      const af: Af = req.punt.nh.includes(':') ? 6 : 4;
      const nh = req.punt.nh === '0.0.0.0' || req.punt.nh === '::' ? '' : req.punt.nh;
      const path: SimPath = { swIfIndex: tx, tableId: 0, rpfId: 0, weight: 1, preference: 0, type: 0, flags: 0, proto: af === 6 ? 1 : 0, nh };
      setRedirect(ctx.state, req.is_add, af, req.punt.rx_sw_if_index, [path]);
    }
    ctx.send(ip.ip_punt_redirect_reply, { retval: 0 });
  }),

  on(ip.ip_punt_redirect_v2_dump, (req, ctx) => {
    const af = decodeAf(req.af);
    if (af === undefined) return;
    for (const r of redirectsToDump(ctx.state, af, req.sw_if_index)) {
      ctx.send(ip.ip_punt_redirect_v2_details, { punt: { rx_sw_if_index: r.rxSwIfIndex, af: req.af, paths: r.paths.map(encodePath) } });
    }
  }),

  on(ip.ip_punt_redirect_dump, (req, ctx) => {
    const af: Af = req.is_ipv6 ? 6 : 4;
    for (const r of redirectsToDump(ctx.state, af, req.sw_if_index)) {
      const p = r.paths[0];
      const nh = p && p.nh !== '' ? p.nh : af === 6 ? '::' : '0.0.0.0';
      ctx.send(ip.ip_punt_redirect_details, { punt: { rx_sw_if_index: r.rxSwIfIndex, tx_sw_if_index: p ? p.swIfIndex : U32_MAX, nh } });
    }
  }),
];
