/**
 * cnat operations of the VPP façade, for the node dataplane: Service translations (VIP, port, protocol →
 * backends) and the SNAT setup around them (snat addresses, K8S policy, excluded prefixes, POD/HOST
 * interface tables, the cnat feature on an interface).
 */
import type { ApiModule, RequestDef } from '../../vpp-api/codec/types.js';
import { VppUnknownMessageError } from '../../vpp-api/client/index.js';
import { cnat } from '../../vpp-api/generated/index.js';
import type { CnatEndpointIn, CnatSetSnatPolicy, CnatSetSnatPolicyIn, CnatSetSnatPolicyReply } from '../../vpp-api/generated/cnat.js';
import { deleteTolerant, plainCli, type VppApi } from './api.js';

const ANY_IF = 0xffffffff;
/** ALLOC_PORT | NO_CLIENT, as Calico VPP sends them. */
export const TRANSLATION_FLAGS = cnat.CnatTranslationFlags.CNAT_TRANSLATION_ALLOC_PORT | cnat.CnatTranslationFlags.CNAT_TRANSLATION_NO_CLIENT;

/** A cnat translation as VPP dumps it. */
export interface VppTranslation {
  readonly id: number;
  readonly vip: string;
  readonly port: number;
  readonly ipProto: number;
  readonly backends: { addr: string; port: number }[];
}

/** What a translation is made from (addresses as text, protocol as its IP number). */
export interface TranslationRequest {
  readonly vip: string;
  readonly port: number;
  readonly ipProto: number;
  readonly backends: readonly { addr: string; port: number }[];
}

function endpoint(addr: string, port: number): CnatEndpointIn {
  return { addr, port, sw_if_index: ANY_IF, if_af: addr.includes(':') ? 1 : 0 };
}

/**
 * cnat_translation_update: VPP keys a translation by VIP + port + protocol, returns the same id for an existing
 * one and replaces its paths (an update is a create). The caller must not send one without backends (VPP aborts).
 */
export async function updateTranslation(vpp: VppApi, t: TranslationRequest): Promise<number> {
  const zero = t.vip.includes(':') ? '::' : '0.0.0.0';
  const r = await vpp.request(cnat.cnat_translation_update, {
    translation: {
      vip: endpoint(t.vip, t.port),
      id: ANY_IF,
      ip_proto: t.ipProto,
      is_real_ip: 0,
      flags: TRANSLATION_FLAGS,
      lb_type: cnat.CnatLbType.CNAT_LB_TYPE_DEFAULT,
      paths: t.backends.map((b) => ({ dst_ep: endpoint(b.addr, b.port), src_ep: endpoint(zero, 0), flags: 0 })),
    },
  });
  return r.id;
}

/** cnat_translation_del by id; a translation already gone (NO_SUCH_ENTRY) is done. */
export async function deleteTranslation(vpp: VppApi, id: number): Promise<void> {
  await deleteTolerant(() => vpp.request(cnat.cnat_translation_del, { id }));
}

export async function listTranslations(vpp: VppApi): Promise<VppTranslation[]> {
  const all = await vpp.dumpAll(cnat.cnat_translation_dump, {});
  return all.map((d) => ({
    id: d.translation.id,
    vip: d.translation.vip.addr,
    port: d.translation.vip.port,
    ipProto: d.translation.ip_proto,
    backends: d.translation.paths.map((p) => ({ addr: p.dst_ep.addr, port: p.dst_ep.port })),
  }));
}

/** The node's SNAT addresses for any interface, NO_CLIENT | USE_AS_DEFAULT (unset family: the zero address). */
export async function setSnatAddresses(vpp: Pick<VppApi, 'request'>, ip4: string | undefined, ip6: string | undefined): Promise<void> {
  await vpp.request(cnat.cnat_set_snat_addresses_v2, {
    snat_ip4: ip4 ?? '0.0.0.0',
    snat_ip6: ip6 ?? '::',
    sw_if_index: ANY_IF,
    flags: cnat.CnatSnatPolicyFlags.CNAT_SNAT_POLICY_F_NO_CLIENT | cnat.CnatSnatPolicyFlags.CNAT_SNAT_POLICY_F_USE_AS_DEFAULT,
  });
}

/**
 * cnat_set_snat_policy as VPP builds before FDio/vpp 077619d03bb ("cnat: add SNAT DNAT policy support") define
 * it — Calico VPP's images up to v3.31 (VPP 24.10, 25.06, 25.10 bases). Only its enum `cnat_snat_policies`
 * changed (CNAT_POLICY_DNAT = 3 was added), so the CRC differs while the layout (u8 policy after the header) and
 * the values 0..2 (NONE, IF_PFX, K8S) are the same: the bindings' encoder serves both, under the old name_crc.
 */
export const CNAT_SET_SNAT_POLICY_CRC_BEFORE_DNAT = 0xd3e6eaf4;
export const cnat_set_snat_policy_before_dnat: RequestDef<CnatSetSnatPolicyIn, CnatSetSnatPolicy, CnatSetSnatPolicyReply> = {
  ...cnat.cnat_set_snat_policy,
  crc: CNAT_SET_SNAT_POLICY_CRC_BEFORE_DNAT,
  nameCrc: `cnat_set_snat_policy_${CNAT_SET_SNAT_POLICY_CRC_BEFORE_DNAT.toString(16).padStart(8, '0')}`,
};

/**
 * The older encodings the façade can speak besides the bindings', as an API module: the client maps their ids
 * when the connected VPP announces them (give it to the client with the generated modules).
 */
export const CNAT_COMPAT_MODULE: ApiModule = {
  module: 'cnat',
  source: 'cnat.api before FDio/vpp 077619d03bb (CNAT_POLICY_DNAT)',
  version: '0.3.0',
  messages: [cnat_set_snat_policy_before_dnat],
  types: [],
};

/** No encoding of a message that VPP offers: names the message and every CRC we know and VPP has. */
export class CnatEncodingError extends Error {
  override readonly name = 'CnatEncodingError';
  constructor(
    readonly messageName: string,
    readonly known: readonly string[],
    readonly found: readonly string[],
  ) {
    super(
      `${messageName}: the connected VPP offers ${found.length > 0 ? found.join(', ') : 'no such message (cnat plugin not loaded?)'}; ` +
        `this agent speaks ${known.join(' and ')}`,
    );
  }
}

/**
 * Sends the first of `defs` (one message, newest encoding first) that the connected VPP has. The client
 * refuses a message whose name_crc VPP did not announce before anything is written (VppUnknownMessageError),
 * so trying in order is picking the encoding VPP offers.
 */
async function requestAnyEncoding<In, R>(vpp: Pick<VppApi, 'request'>, defs: readonly RequestDef<In, unknown, R>[], msg: In): Promise<R> {
  let found: readonly string[] = [];
  for (const def of defs) {
    try {
      return await vpp.request(def, msg);
    } catch (e) {
      if (!(e instanceof VppUnknownMessageError)) throw e;
      found = e.found;
    }
  }
  throw new CnatEncodingError(defs[0]!.name, defs.map((d) => d.nameCrc), found);
}

/** The K8S snat policy (value 2 in both encodings of cnat_set_snat_policy). */
export async function setSnatPolicyK8s(vpp: Pick<VppApi, 'request'>): Promise<void> {
  await requestAnyEncoding(vpp, [cnat.cnat_set_snat_policy, cnat_set_snat_policy_before_dnat], { policy: cnat.CnatSnatPolicies.CNAT_POLICY_K8S });
}

/** A prefix excluded from SNAT (a set member in VPP: one delete removes it). */
export async function setSnatExcluded(vpp: Pick<VppApi, 'request'>, prefix: string, add: boolean): Promise<void> {
  await vpp.request(cnat.cnat_snat_policy_add_del_exclude_pfx, { is_add: add ? 1 : 0, prefix });
}

export type SnatInterfaceTable = 'pod' | 'host';

/** An interface in the K8S policy's POD or HOST table. */
export async function setSnatInterface(vpp: Pick<VppApi, 'request'>, swIfIndex: number, table: SnatInterfaceTable, add: boolean): Promise<void> {
  await vpp.request(cnat.cnat_snat_policy_add_del_if, {
    sw_if_index: swIfIndex,
    is_add: add ? 1 : 0,
    table: table === 'pod' ? cnat.CnatSnatPolicyTable.CNAT_POLICY_POD : cnat.CnatSnatPolicyTable.CNAT_POLICY_HOST,
  });
}

/** The cnat feature arcs on an interface. */
export async function setCnatFeature(vpp: Pick<VppApi, 'request'>, swIfIndex: number, enable: boolean): Promise<void> {
  await vpp.request(cnat.feature_cnat_enable_disable, { sw_if_index: swIfIndex, enable_disable: enable });
}

/** Removes `swIfIndex` from the POD or HOST table; gone (or cnat's SNAT not configured at all) is done. */
export async function removeSnatInterface(vpp: Pick<VppApi, 'request'>, swIfIndex: number, table: SnatInterfaceTable): Promise<void> {
  await deleteTolerant(() => setSnatInterface(vpp, swIfIndex, table, false), ['FEATURE_DISABLED']);
}

/** Disables the cnat feature on an interface; an interface already gone is done. */
export async function disableCnatFeature(vpp: Pick<VppApi, 'request'>, swIfIndex: number): Promise<void> {
  await deleteTolerant(() => setCnatFeature(vpp, swIfIndex, false));
}

/**
 * Names of the interfaces in the K8S policy's POD and HOST tables, from `show cnat snat-policy` (VPP has no dump
 * message for them); undefined when the output has no such tables (no cnat plugin).
 */
export async function listSnatPolicyInterfaces(vpp: Pick<VppApi, 'cli'>): Promise<{ pod: string[]; host: string[] } | undefined> {
  const lines = plainCli(await vpp.cli('show cnat snat-policy')).split('\n');
  const section = (title: string): string[] | undefined => {
    const i = lines.findIndex((l) => l.trim() === title);
    if (i < 0) return undefined;
    const out: string[] = [];
    for (const l of lines.slice(i + 1)) {
      if (!/^\s+\S/.test(l)) break;
      out.push(l.trim());
    }
    return out;
  };
  const pod = section('k8s pod interfaces:');
  const host = section('k8s host interfaces:');
  return pod && host ? { pod, host } : undefined;
}
