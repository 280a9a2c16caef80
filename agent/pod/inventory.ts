/**
 * What VPP holds that may be ours, and the host ends of our veth pairs, read in one pass (a fixed number
 * of dumps and one `ip link show` in the host netns, whatever the number of pods). The kinds judge their
 * records against it (`verify`) and find their objects in it (`owned`); the state layer finds the objects
 * of one attachment in it without a record.
 */
import { hostLinks, type HostLink } from '../linux/links.js';
import type { NetnsOps } from '../linux/netns.js';
import { VppUnknownMessageError, type VppApi } from '../vpp/api.js';
import { listAfPackets } from '../vpp/af-packet.js';
import { listInterfaces } from '../vpp/interface.js';
import { listRoutes, listStaticNeighbors } from '../vpp/ip.js';
import { listMemifs, listMemifSockets } from '../vpp/memif.js';
import { listPblClients } from '../vpp/pbl.js';
import { listAppNamespaces, parseAppNamespaces as parseAppNamespaceRows } from '../vpp/session.js';
import { listTaps, type TapInfo } from '../vpp/tap.js';
import { listSnatPolicyInterfaces } from '../vpp/cnat.js';
import { isVethHostName, parseVethAlias } from './kinds/veth-names.js';
import { parseTag, type ParsedTag } from './tags.js';
import { emptyIsolationInventory, readIsolationInventory, type IsolationInventory } from './isolation/inventory.js';
import { vppIsolationOps } from '../vpp/isolation.js';

export interface InvInterface {
  swIfIndex: number;
  name: string;
  tag: string;
  mac: string;
  /** The parsed owner tag, when the interface carries one of ours. */
  owner?: ParsedTag;
}

/** A tap as the façade lists it. */
export type InvTap = TapInfo;

export interface InvMemif {
  swIfIndex: number;
  socketId: number;
  /** `ethernet`, `ip`. */
  mode: string;
  ringSize: number;
}

export interface InvAfPacket {
  swIfIndex: number;
  /** The host interface it reads and writes (a veth host end for ours). */
  hostIfName: string;
}

/** A static neighbor (the pod MACs an L3 veth attachment pins its addresses to). */
export interface InvNeighbor {
  swIfIndex: number;
  ip: string;
  mac: string;
}

/**
 * A host netns link named like our veth host ends (`vcni` + 11 hex digits), whoever made it: `owner` and
 * `netns` are set only when its ifalias is ours (`<our tag>,netns=<pod netns>`).
 */
export interface HostVeth {
  name: string;
  alias: string;
  /** The tag the alias carries, parsed, when it is one of ours. */
  owner?: ParsedTag;
  tag?: string;
  /** The full container id the alias carries (the tag has 12 characters of it). */
  cid?: string;
  netns?: string;
}

export interface InvRoute {
  prefix: string;
  paths: { swIfIndex: number; nh?: string }[];
}

export interface InvPblClient {
  id: number;
  addr: string;
  ports: { start: number; end: number; iproto: number }[];
}

export interface InvAppNamespace {
  index: number;
  secret: string;
  interfaceName: string;
  id: string;
  socket: string;
}

export interface VppInventory {
  interfaces: Map<number, InvInterface>;
  taps: Map<number, InvTap>;
  /** Empty when VPP has no af_packet plugin. */
  afPackets: Map<number, InvAfPacket>;
  /** Static neighbors only (dynamic ones are VPP's business), both families. */
  neighbors: InvNeighbor[];
  /** Host netns links with our veth host-end naming, by name (read with `ip link show`, not from VPP). */
  hostVeths: Map<string, HostVeth>;
  memifs: Map<number, InvMemif>;
  /** memif socket id → filename. */
  sockets: Map<number, string>;
  /** undefined when VPP has no pbl plugin. */
  pbl: InvPblClient[] | undefined;
  /** Table 0, IPv4 and IPv6. */
  routes: InvRoute[];
  /** Empty when the session layer is off. */
  appNamespaces: InvAppNamespace[];
  /** Pod VRFs, source-check tables, their routes, uRPF configs, punt redirects, VCL loopback addresses. */
  isolation: IsolationInventory;
  /** Interfaces in cnat's K8S POD table (undefined: not readable, no cnat plugin). */
  cnatPodInterfaces?: Set<number>;
}

/** The prefix of the app namespace ids we make. */
export const APP_NAMESPACE_PREFIX = 'vcni-';

/** `show app ns` rows with a `vcni-` id. */
export function parseAppNamespaces(text: string): InvAppNamespace[] {
  return parseAppNamespaceRows(text, APP_NAMESPACE_PREFIX);
}

async function optional<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof VppUnknownMessageError) return undefined;
    throw e;
  }
}

/** What the inventory needs of the host netns: its links. */
export type HostLinkReader = Pick<NetnsOps, 'hostIpJson'>;

function hostVethOf(l: HostLink): HostVeth {
  const parsed = parseVethAlias(l.alias);
  const owner = parsed ? parseTag(parsed.tag) : undefined;
  return { name: l.name, alias: l.alias, ...(owner && parsed ? { owner, tag: parsed.tag, ...(parsed.netns ? { netns: parsed.netns } : {}), ...(parsed.cid ? { cid: parsed.cid } : {}) } : {}) };
}

/**
 * The host netns links named like our veth host ends, with what their ifalias says (one `ip link show`).
 * Links of every type: a link of another type under such a name is someone else's, and must be seen so
 * that the af_packet on it is not taken for one whose host end is gone.
 */
export async function takeHostVeths(host: HostLinkReader): Promise<Map<string, HostVeth>> {
  const out = new Map<string, HostVeth>();
  for (const l of await hostLinks(host)) if (isVethHostName(l.name)) out.set(l.name, hostVethOf(l));
  return out;
}

/**
 * VPP's objects and the host's veth ends. `host` reads the host netns links (our veth host ends outlive
 * VPP and are found by name and ifalias, not in VPP).
 */
export async function takeInventory(vpp: VppApi, host: HostLinkReader): Promise<VppInventory> {
  const [ifs, taps, afPackets, n4, n6, hostVeths, memifs, sockets, clients, r4, r6, appNamespaces, snat] = await Promise.all([
    listInterfaces(vpp),
    optional(() => listTaps(vpp)),
    optional(() => listAfPackets(vpp)),
    optional(() => listStaticNeighbors(vpp, false)),
    optional(() => listStaticNeighbors(vpp, true)),
    takeHostVeths(host),
    optional(() => listMemifs(vpp)),
    optional(() => listMemifSockets(vpp)),
    optional(() => listPblClients(vpp)),
    listRoutes(vpp, 0, false),
    listRoutes(vpp, 0, true),
    // None while the session layer is off.
    listAppNamespaces(vpp, APP_NAMESPACE_PREFIX),
    listSnatPolicyInterfaces(vpp),
  ]);
  const inv: VppInventory = {
    interfaces: new Map(),
    taps: new Map((taps ?? []).map((t) => [t.swIfIndex, t])),
    afPackets: new Map((afPackets ?? []).map((a) => [a.swIfIndex, a])),
    neighbors: [...(n4 ?? []), ...(n6 ?? [])],
    hostVeths,
    memifs: new Map((memifs ?? []).map((m) => [m.swIfIndex, { swIfIndex: m.swIfIndex, socketId: m.socketId, mode: m.mode, ringSize: m.ringSize }])),
    sockets: sockets ?? new Map(),
    pbl: clients,
    routes: [...r4, ...r6],
    appNamespaces,
    isolation: emptyIsolationInventory(),
  };
  for (const d of ifs) {
    const owner = parseTag(d.tag);
    inv.interfaces.set(d.swIfIndex, { swIfIndex: d.swIfIndex, name: d.name, tag: d.tag, mac: d.mac, ...(owner ? { owner } : {}) });
  }
  // cnat's POD table (Services in VPP), by interface name in `show cnat snat-policy`.
  const byName = new Map([...inv.interfaces.values()].map((i) => [i.name, i.swIfIndex]));
  if (snat) inv.cnatPodInterfaces = new Set(snat.pod.map((n) => byName.get(n)).filter((x): x is number => x !== undefined));
  const vclLoopbacks = [...inv.interfaces.values()].filter((i) => i.owner?.kind === 'vcl').map((i) => i.swIfIndex);
  // A VPP without the urpf plugin has none of it.
  inv.isolation = (await optional(() => readIsolationInventory(vppIsolationOps(vpp), vclLoopbacks))) ?? emptyIsolationInventory();
  return inv;
}

export function emptyInventory(): VppInventory {
  return {
    interfaces: new Map(),
    taps: new Map(),
    afPackets: new Map(),
    neighbors: [],
    hostVeths: new Map(),
    memifs: new Map(),
    sockets: new Map(),
    pbl: [],
    routes: [],
    appNamespaces: [],
    isolation: emptyIsolationInventory(),
  };
}
