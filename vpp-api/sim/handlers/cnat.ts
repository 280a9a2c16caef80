/**
 * cnat.api: translations, source NAT addresses and policy, feature arcs and sessions, as the captured build
 * answers them (see cnat-state.ts and ../shared/vpp-golden/README.md). A translation update without paths makes
 * real VPP abort (vec_validate of n_paths - 1 runs out of memory): the simulator aborts too — no reply, every
 * connection dropped, a fresh instance — and records it so tests can assert the agent never sent one.
 */
import { cnat } from '../../generated/index.js';
import type { CnatEndpoint } from '../../generated/cnat.js';
import { flagsOf, on, type HandlerContext, type HandlerSpec } from '../handler.js';
import { formatBytes, maskBytes, parsePrefix } from '../ip-prefix.js';
import { Retval } from '../retval.js';
import { CNAT_MAX_SNAT_POLICY, CNAT_SNAT_USE_AS_DEFAULT, CNAT_TRK_ACTIVE, CnatPolicyTable, swap16, type CnatEp, type CnatState } from '../cnat-state.js';

function ep(e: CnatEndpoint): CnatEp {
  return { addr: e.addr, swIfIndex: e.sw_if_index, ifAf: e.if_af, port: e.port };
}

function epOut(e: CnatEp): CnatEndpoint {
  return { addr: e.addr, sw_if_index: e.swIfIndex, if_af: e.ifAf, port: e.port };
}

/** True when the snat calls are allowed (an entry with USE_AS_DEFAULT exists). */
function snatReady(c: CnatState): boolean {
  return c.defaultSnat !== undefined;
}

function canonicalPrefix(text: string): string {
  const p = parsePrefix(text);
  return `${formatBytes(maskBytes(p.bytes, p.len))}/${p.len}`;
}

function protoName(ipProto: number): string {
  return ipProto === 6 ? 'TCP' : ipProto === 17 ? 'UDP' : ipProto === 132 ? 'SCTP' : `proto-${ipProto}`;
}

/** `show cnat translation`: one header line per translation and one line per path (FIB details omitted). */
export function showCnatTranslations(c: CnatState): string {
  let out = '';
  for (const t of c.translationList()) {
    out += `[${t.id}] ${t.vip.addr};${t.vip.port} ${protoName(t.ipProto)} lb:${t.lbType === 1 ? 'maglev' : 'default'} fhc:0x9f(default)\n`;
    for (const p of t.paths) out += `${p.src.addr};${p.src.port}->${p.dst.addr};${p.dst.port}\n`;
  }
  return out;
}

/** `show cnat snat-policy` (the hash table's internals are reduced to its entries). */
export function showCnatSnatPolicy(ctx: HandlerContext): string {
  const c = ctx.state.cnat;
  const d = c.defaultSnat;
  let out = `Source NAT\n  ip4: ${d?.ip4 ?? '0.0.0.0'};${d ? 0 : 0}\n  ip6: ${d?.ip6 ?? '::'};0\n\nExcluded prefixes:\n`;
  if (!c.excludeTableUsed) {
    out += "  Hash table '(unnamed)'\n    empty, uninitialized\n";
  } else {
    out += "  Hash table 'snat prefixes'\n";
    c.excludePrefixes.forEach((p, i) => {
      out += `[${i}]: heap offset 0, len 1, refcnt 1, linear 0\n    0: ${p} dst\n`;
    });
    out += `    ${c.excludePrefixes.length} active elements ${c.excludePrefixes.length} active buckets\n`;
  }
  const names = (set: Set<number>): string => [...set].map((i) => `  ${ctx.state.get(i)?.name ?? `DELETED (${i})`}\n`).join('');
  out += `\n\nIncluded v4 interfaces:\n${names(c.policyInterfaces[0])}\nIncluded v6 interfaces:\n${names(c.policyInterfaces[1])}`;
  out += `\nk8s pod interfaces:\n${names(c.policyInterfaces[2])}\nk8s host interfaces:\n${names(c.policyInterfaces[3])}`;
  return out;
}

/** `show cnat session verbose 1`: the client 5-tuple line of each session and the backend it went to. */
export function showCnatSessions(c: CnatState): string {
  let out = `CNat Sessions: now:0.000000\nHash table 'CNat Session DB'\n    ${c.sessions.length} active elements ${c.sessions.length} active buckets\n\n`;
  for (const s of [...c.sessions].reverse()) {
    const proto = protoName(s.ipProto);
    out += `${proto} [${s.addr[0]};${s.port[0]} -> ${s.addr[1]};${s.port[1]}] => []\n  index:${s.tsIndex} fib:0\n`;
    out += `    [ in ] ${proto} [${s.addr[0]};${s.port[0]} -> ${s.backend.addr};${s.backend.port}]\n`;
  }
  return out;
}

export const cnatHandlers: readonly HandlerSpec[] = [
  on(cnat.cnat_translation_update, (req, ctx) => {
    const t = req.translation;
    if (t.paths.length === 0) {
      // vec_validate (paths, n_paths - 1) with n_paths 0: out of memory, os_panic, SIGABRT. No reply.
      ctx.control.abort(`cnat_translation_update with 0 paths (VIP ${t.vip.addr};${t.vip.port} proto ${t.ip_proto}): Out-of-memory, calling os_panic()`);
      return;
    }
    const paths = t.paths.map((p) => ({ dst: ep(p.dst_ep), src: ep(p.src_ep), flags: p.flags }));
    const id = ctx.state.cnat.upsert(ep(t.vip), t.ip_proto, t.lb_type, t.flags, paths);
    ctx.send(cnat.cnat_translation_update_reply, { retval: 0, id });
  }),

  on(cnat.cnat_translation_del, (req, ctx) => {
    ctx.send(cnat.cnat_translation_del_reply, { retval: ctx.state.cnat.delete(req.id) ? 0 : Retval.NO_SUCH_ENTRY });
  }),

  on(cnat.cnat_translation_dump, (_req, ctx) => {
    for (const t of ctx.state.cnat.translationList()) {
      // cnat_translation_send_details leaves flags, is_real_ip and flow_hash_config zero; paths read back
      // with the internal CNAT_TRK_ACTIVE flag.
      ctx.send(cnat.cnat_translation_details, {
        translation: {
          vip: epOut(t.vip),
          id: t.id,
          ip_proto: flagsOf(t.ipProto),
          is_real_ip: 0,
          flags: 0,
          lb_type: flagsOf(t.lbType),
          flow_hash_config: 0,
          paths: t.paths.map((p) => ({ dst_ep: epOut(p.dst), src_ep: epOut(p.src), flags: CNAT_TRK_ACTIVE })),
        },
      });
    }
  }),

  on(cnat.cnat_session_purge, (_req, ctx) => {
    ctx.state.cnat.purge();
    ctx.send(cnat.cnat_session_purge_reply, { retval: 0 });
  }),

  on(cnat.cnat_session_dump, (_req, ctx) => {
    // Newest first (the order the captured build walked its session hash in).
    for (const s of [...ctx.state.cnat.sessions].reverse()) {
      ctx.send(cnat.cnat_session_details, {
        session: { tuple: { addr: [...s.addr], port: [swap16(s.port[0]), swap16(s.port[1])], ip_proto: flagsOf(s.ipProto) }, ts_index: s.tsIndex, flags: 0 },
      });
    }
  }),

  on(cnat.cnat_set_snat_addresses, (req, ctx) => {
    const c = ctx.state.cnat;
    c.snatEntries.set(0, { fwdFibIndex: 0, retFibIndex: 0, ip4: req.snat_ip4, ip6: req.snat_ip6, swIfIndex: req.sw_if_index, flags: CNAT_SNAT_USE_AS_DEFAULT });
    ctx.send(cnat.cnat_set_snat_addresses_reply, { retval: 0 });
  }),

  on(cnat.cnat_set_snat_addresses_v2, (req, ctx) => {
    const c = ctx.state.cnat;
    c.snatEntries.set(req.fwd_fib_index, {
      fwdFibIndex: req.fwd_fib_index,
      retFibIndex: req.ret_fib_index,
      ip4: req.snat_ip4,
      ip6: req.snat_ip6,
      swIfIndex: req.sw_if_index,
      flags: req.flags,
    });
    ctx.send(cnat.cnat_set_snat_addresses_v2_reply, { retval: 0 });
  }),

  on(cnat.cnat_get_snat_addresses, (_req, ctx) => {
    const d = ctx.state.cnat.defaultSnat;
    if (!d) return ctx.send(cnat.cnat_get_snat_addresses_reply, { retval: Retval.FEATURE_DISABLED, id: 0, snat_ip4: '0.0.0.0', snat_ip6: '::', sw_if_index: 0 });
    ctx.send(cnat.cnat_get_snat_addresses_reply, { retval: 0, id: 0, snat_ip4: d.ip4, snat_ip6: d.ip6, sw_if_index: d.swIfIndex });
  }),

  on(cnat.cnat_snat_addresses_dump, (_req, ctx) => {
    for (const e of ctx.state.cnat.snatEntries.values()) {
      ctx.send(cnat.cnat_snat_addresses_details, {
        retval: 0,
        fwd_table_id4: e.fwdFibIndex,
        fwd_table_id6: e.fwdFibIndex,
        ret_table_id4: e.retFibIndex,
        ret_table_id6: e.retFibIndex,
        snat_ip4: e.ip4,
        snat_ip6: e.ip6,
        sw_if_index: e.swIfIndex,
      });
    }
  }),

  on(cnat.cnat_set_snat_policy, (req, ctx) => {
    const c = ctx.state.cnat;
    const reply = (retval: number): void => ctx.send(cnat.cnat_set_snat_policy_reply, { retval });
    if (!snatReady(c)) return reply(Retval.FEATURE_DISABLED);
    if (req.policy > CNAT_MAX_SNAT_POLICY) return reply(Retval.INVALID_VALUE);
    c.snatPolicy = req.policy;
    reply(0);
  }),

  on(cnat.cnat_snat_policy_add_del_exclude_pfx, (req, ctx) => {
    const c = ctx.state.cnat;
    const reply = (retval: number): void => ctx.send(cnat.cnat_snat_policy_add_del_exclude_pfx_reply, { retval });
    if (!snatReady(c)) return reply(Retval.FEATURE_DISABLED);
    const pfx = canonicalPrefix(req.prefix);
    const i = c.excludePrefixes.indexOf(pfx);
    if (req.is_add) {
      c.excludeTableUsed = true;
      if (i < 0) c.excludePrefixes.push(pfx);
    } else if (i >= 0) {
      c.excludePrefixes.splice(i, 1);
    }
    reply(0);
  }),

  on(cnat.cnat_snat_policy_add_del_if, (req, ctx) => {
    const c = ctx.state.cnat;
    const reply = (retval: number): void => ctx.send(cnat.cnat_snat_policy_add_del_if_reply, { retval });
    if (!snatReady(c)) return reply(Retval.FEATURE_DISABLED);
    if (!ctx.state.get(req.sw_if_index)) return reply(Retval.INVALID_SW_IF_INDEX);
    if (req.table > CnatPolicyTable.HOST) return reply(Retval.INVALID_VALUE);
    const set = c.policyInterfaces[req.table as 0 | 1 | 2 | 3];
    if (req.is_add) set.add(req.sw_if_index);
    else set.delete(req.sw_if_index);
    reply(0);
  }),

  on(cnat.feature_cnat_enable_disable, (req, ctx) => {
    const reply = (retval: number): void => ctx.send(cnat.feature_cnat_enable_disable_reply, { retval });
    if (!ctx.state.get(req.sw_if_index)) return reply(Retval.INVALID_SW_IF_INDEX);
    if (req.enable_disable) ctx.state.cnat.featureInterfaces.add(req.sw_if_index);
    else ctx.state.cnat.featureInterfaces.delete(req.sw_if_index);
    reply(0);
  }),
];
