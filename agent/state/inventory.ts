/**
 * What VPP holds that may be ours, and the host ends of our veth pairs, read in one pass (a fixed number
 * of dumps and one `ip link show` in the host netns, whatever the number of pods), and how the objects of
 * one attachment are found in it without a record: interfaces by their owner tag
 * (`vcni:<cid12>:<ifname>:…`); the routes through them; the PBL clients on the addresses those routes (or
 * the intent) carry; the memif sockets they use, or, given the pod netns, the socket names we make there;
 * the app namespace by its id; the veth host end by the name derived from the attachment, when its ifalias
 * carries the attachment's tag, and an af_packet not tagged yet on that name. Objects without our tag are
 * never selected, except the routes through one of our interfaces, the PBL clients and memif sockets
 * carrying the attachment's addresses or names, and the af_packet on the attachment's own host end name.
 */
import * as afp from '../../vpp-api/generated/af_packet.js';
import * as iface from '../../vpp-api/generated/interface.js';
import * as ip from '../../vpp-api/generated/ip.js';
import * as ipn from '../../vpp-api/generated/ip_neighbor.js';
import * as memif from '../../vpp-api/generated/memif.js';
import * as pbl from '../../vpp-api/generated/pbl.js';
import * as session from '../../vpp-api/generated/session.js';
import * as tapv2 from '../../vpp-api/generated/tapv2.js';
import { VppApiError, VppUnknownMessageError } from '../../vpp-api/client/index.js';
import { deleteLinkTolerant, type NetnsOps } from '../linux/netns.js';
import { hostPrefix as hostPrefixOf, ipOf, isV6, type MadeRoute } from '../pod/attachment.js';
import { memifSocketName } from '../pod/drivers/memif.js';
import { vclLoopbackMac, vclNamespaceId } from '../pod/drivers/vcl.js';
import { isVethHostName, parseVethAlias, vethAliasOwnedBy, vethHostName } from '../pod/drivers/veth.js';
import { parseTag, shortContainerId, type ParsedTag } from '../pod/tags.js';
import { deleteTolerant, delRoute, type VppApi } from '../pod/vpp-ops.js';

export interface InvInterface {
  swIfIndex: number;
  name: string;
  tag: string;
  mac: string;
  /** The parsed owner tag, when the interface carries one of ours. */
  owner?: ParsedTag;
}

export interface InvTap {
  swIfIndex: number;
  hostNamespace: string;
  hostIfName: string;
  hostMac: string;
  tun: boolean;
  rxRingSize: number;
  txRingSize: number;
}

export interface InvMemif {
  swIfIndex: number;
  socketId: number;
  /** memif_mode: 0 ethernet, 1 ip. */
  mode: number;
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
}

const U32_MAX = 0xffffffff;

function nhOf(prefix: string, a: { ip4: string; ip6: string }): string | undefined {
  const v = isV6(prefix) ? a.ip6 : a.ip4;
  return v === '0.0.0.0' || v === '::' || v === '' ? undefined : v;
}

/** `show app ns` rows with a `vcni-` id (this VPP has no app-namespace dump message). */
export function parseAppNamespaces(text: string): InvAppNamespace[] {
  const out: InvAppNamespace[] = [];
  for (const line of text.replace(/\u001b\[[0-9;]*m/g, '').split('\n')) {
    const t = line.trim().split(/\s+/);
    if (t.length < 4 || !/^\d+$/.test(t[0]!)) continue;
    // Interface names may hold a space ("DELETED (5)"): the id is the first `vcni-` word after them.
    const k = t.findIndex((w, i) => i >= 3 && w.startsWith('vcni-'));
    if (k < 0) continue;
    out.push({ index: Number(t[0]), secret: t[1]!, interfaceName: t.slice(2, k).join(' '), id: t[k]!, socket: t[k + 1] ?? '' });
  }
  return out;
}

async function optional<T>(fn: () => Promise<T[]>): Promise<T[] | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof VppUnknownMessageError) return undefined;
    throw e;
  }
}

/** What the inventory needs of the host netns: its links. */
export type HostLinkReader = Pick<NetnsOps, 'hostIpJson'>;

/**
 * The host netns links named like our veth host ends, with what their ifalias says (one `ip link show`).
 * Links of every type: a link of another type under such a name is someone else's, and must be seen so
 * that the af_packet on it is not taken for one whose host end is gone.
 */
export async function takeHostVeths(host: HostLinkReader): Promise<Map<string, HostVeth>> {
  const links = (await host.hostIpJson(['link', 'show'])) as unknown;
  const out = new Map<string, HostVeth>();
  if (!Array.isArray(links)) return out;
  for (const l of links as { ifname?: unknown; ifalias?: unknown }[]) {
    if (typeof l?.ifname !== 'string' || !isVethHostName(l.ifname)) continue;
    const alias = typeof l.ifalias === 'string' ? l.ifalias : '';
    const parsed = parseVethAlias(alias);
    const owner = parsed ? parseTag(parsed.tag) : undefined;
    out.set(l.ifname, { name: l.ifname, alias, ...(owner && parsed ? { owner, tag: parsed.tag, ...(parsed.netns ? { netns: parsed.netns } : {}), ...(parsed.cid ? { cid: parsed.cid } : {}) } : {}) });
  }
  return out;
}

/**
 * True when a host link is the veth host end of the attachment (cid, ifName): the name we derive for it,
 * and an ifalias carrying its tag. A link of that name whose alias is anything else is not ours.
 */
export function isHostVethOf(v: HostVeth, containerId: string, ifName: string): boolean {
  return !!v.tag && v.name === vethHostName(containerId, ifName) && vethAliasOwnedBy(v.alias, containerId, ifName);
}

/**
 * VPP's objects and the host's veth ends. `host` reads the host netns links (our veth host ends outlive
 * VPP and are found by name and ifalias, not in VPP).
 */
export async function takeInventory(vpp: VppApi, host: HostLinkReader): Promise<VppInventory> {
  const [ifs, taps, afPackets, n4, n6, hostVeths, memifs, sockets, clients, r4, r6, appText] = await Promise.all([
    vpp.dumpAll(iface.sw_interface_dump, {}),
    optional(() => vpp.dumpAll(tapv2.sw_interface_tap_v2_dump, { sw_if_index: U32_MAX })),
    optional(() => vpp.dumpAll(afp.af_packet_dump, {})),
    optional(() => vpp.dumpAll(ipn.ip_neighbor_dump, { sw_if_index: U32_MAX, af: 0 })),
    optional(() => vpp.dumpAll(ipn.ip_neighbor_dump, { sw_if_index: U32_MAX, af: 1 })),
    takeHostVeths(host),
    optional(() => vpp.dumpAll(memif.memif_dump, {})),
    optional(() => vpp.dumpAll(memif.memif_socket_filename_dump, {})),
    optional(() => vpp.dumpAll(pbl.pbl_client_dump, {})),
    vpp.dumpAll(ip.ip_route_dump, { table: { table_id: 0, is_ip6: false } }),
    vpp.dumpAll(ip.ip_route_dump, { table: { table_id: 0, is_ip6: true } }),
    // Fails (retval -1) while the session layer is off: no namespaces then.
    vpp.cli('show app ns').catch((e: unknown) => {
      if (e instanceof VppApiError) return '';
      throw e;
    }),
  ]);
  const inv: VppInventory = {
    interfaces: new Map(),
    taps: new Map(),
    afPackets: new Map(),
    neighbors: [],
    hostVeths,
    memifs: new Map(),
    sockets: new Map(),
    pbl: clients?.map((c) => ({ id: c.client.id, addr: c.client.addr, ports: c.client.port_ranges })),
    routes: [],
    appNamespaces: parseAppNamespaces(appText),
  };
  for (const d of ifs) {
    const owner = parseTag(d.tag);
    inv.interfaces.set(d.sw_if_index, { swIfIndex: d.sw_if_index, name: d.interface_name, tag: d.tag, mac: d.l2_address, ...(owner ? { owner } : {}) });
  }
  for (const t of taps ?? []) {
    inv.taps.set(t.sw_if_index, {
      swIfIndex: t.sw_if_index,
      hostNamespace: t.host_namespace,
      hostIfName: t.host_if_name,
      hostMac: t.host_mac_addr,
      tun: (t.tap_flags & tapv2.TapFlags.TAP_API_FLAG_TUN) !== 0,
      rxRingSize: t.rx_ring_sz,
      txRingSize: t.tx_ring_sz,
    });
  }
  for (const a of afPackets ?? []) inv.afPackets.set(a.sw_if_index, { swIfIndex: a.sw_if_index, hostIfName: a.host_if_name });
  for (const n of [...(n4 ?? []), ...(n6 ?? [])]) {
    if ((n.neighbor.flags & ipn.IpNeighborFlags.IP_API_NEIGHBOR_FLAG_STATIC) === 0) continue;
    inv.neighbors.push({ swIfIndex: n.neighbor.sw_if_index, ip: n.neighbor.ip_address, mac: n.neighbor.mac_address });
  }
  for (const m of memifs ?? []) inv.memifs.set(m.sw_if_index, { swIfIndex: m.sw_if_index, socketId: m.socket_id, mode: m.mode, ringSize: m.ring_size });
  for (const s of sockets ?? []) inv.sockets.set(s.socket_id, s.socket_filename);
  for (const r of [...r4, ...r6]) {
    inv.routes.push({ prefix: r.route.prefix, paths: r.route.paths.map((p) => ({ swIfIndex: p.sw_if_index, ...(nhOf(r.route.prefix, p.nh.address) ? { nh: nhOf(r.route.prefix, p.nh.address)! } : {}) })) });
  }
  return inv;
}

/** Who an attachment is, as far as finding its objects without a record goes. */
export interface AttachmentIdentity {
  /** Full or 12-character container id. */
  containerId: string;
  ifName: string;
  /** The pod netns, when known (intent or record): finds sockets made before their memif. */
  netns?: string;
  /** The attachment's addresses (with or without prefix length): finds PBL clients left without their memif. */
  ips?: string[];
}

/** The objects of one (or several) attachments found in an inventory. */
export interface OwnedObjects {
  interfaces: InvInterface[];
  routes: MadeRoute[];
  pbl: InvPblClient[];
  sockets: { id: number; filename: string }[];
  appNamespaces: InvAppNamespace[];
  /** Linux links to remove in pod netns (multinet dummies): [netns, name]. */
  links: [string, string][];
  /** Links to remove in the host netns (veth host ends; their pod ends go with them). */
  hostLinks: string[];
}

export function emptyInventory(): VppInventory {
  return { interfaces: new Map(), taps: new Map(), afPackets: new Map(), neighbors: [], hostVeths: new Map(), memifs: new Map(), sockets: new Map(), pbl: [], routes: [], appNamespaces: [] };
}

export function emptyOwned(): OwnedObjects {
  return { interfaces: [], routes: [], pbl: [], sockets: [], appNamespaces: [], links: [], hostLinks: [] };
}

export function isEmpty(o: OwnedObjects): boolean {
  return o.interfaces.length + o.routes.length + o.pbl.length + o.sockets.length + o.appNamespaces.length + o.links.length + o.hostLinks.length === 0;
}

/** The filenames our memif driver gives an attachment's sockets in its netns. */
export function memifSocketFilenames(ifName: string, netns: string): string[] {
  return (['pbl', 'multinet'] as const).map((m) => `abstract:${memifSocketName(m, ifName)},netns_name=${netns}`);
}

/** What must not be taken for someone's leftovers: PBL clients of live records, addresses of ADDs in flight. */
export interface Protected {
  pblIds: Set<number>;
  addrs: Set<string>;
}

/** Finds the attachments' objects: interfaces tagged with any of the identities, and what hangs off them. */
export function objectsOf(inv: VppInventory, ids: readonly AttachmentIdentity[], protect?: Protected): OwnedObjects {
  const out = emptyOwned();
  const wanted = new Set(ids.map((id) => `${shortContainerId(id.containerId)}:${id.ifName}`));
  // A VCL loopback not tagged yet (the agent died between its creation and its tag) carries the owner's MAC.
  const loopMacs = new Set(ids.map((id) => vclLoopbackMac(id)));
  // Sockets with the names we give the attachment in its netns (made before their memif, or whose memif
  // was not tagged yet): they and the memifs on them are the attachment's.
  const names = new Set(ids.flatMap((id) => (id.netns ? memifSocketFilenames(id.ifName, id.netns) : [])));
  const named = new Set([...inv.sockets].filter(([, f]) => names.has(f)).map(([sid]) => sid));
  // The veth host end names we derive for the attachments: an af_packet not tagged yet on one of them (the
  // agent died between its creation and its tag) is the attachment's.
  const hostNames = new Set(ids.map((id) => vethHostName(id.containerId, id.ifName)));
  const picked = new Set<number>();
  for (const itf of inv.interfaces.values()) {
    const mine = itf.owner
      ? wanted.has(`${itf.owner.cid}:${itf.owner.ifName}`)
      : itf.tag === ''
        ? (itf.name.startsWith('loop') && loopMacs.has(itf.mac)) ||
          named.has(inv.memifs.get(itf.swIfIndex)?.socketId ?? -1) ||
          hostNames.has(inv.afPackets.get(itf.swIfIndex)?.hostIfName ?? '')
        : false;
    if (mine) {
      out.interfaces.push(itf);
      picked.add(itf.swIfIndex);
    }
  }
  // Routes through those interfaces, and routes to the attachment's addresses whose interface is gone.
  const prefixes = new Set(ids.flatMap((id) => (id.ips ?? []).map((a) => hostPrefixOf(ipOf(a)))));
  for (const r of inv.routes) {
    for (const p of r.paths) {
      if (picked.has(p.swIfIndex) || (prefixes.has(r.prefix) && p.swIfIndex !== U32_MAX && !inv.interfaces.has(p.swIfIndex))) out.routes.push({ prefix: r.prefix, tableId: 0, swIfIndex: p.swIfIndex, ...(p.nh ? { nh: p.nh } : {}) });
    }
  }
  // VPP's pbl_client_details carry the id and address only: clients are found by the attachment's addresses
  // (given, or read from the routes through its interfaces), minus the clients someone else holds.
  const ips = new Set(ids.flatMap((id) => (id.ips ?? []).map(ipOf)));
  for (const r of out.routes) ips.add(ipOf(r.prefix));
  for (const c of inv.pbl ?? []) {
    if (ips.has(c.addr) && !protect?.pblIds.has(c.id) && !protect?.addrs.has(c.addr)) out.pbl.push(c);
  }
  const socketIds = new Set<number>(named);
  for (const i of out.interfaces) {
    const m = inv.memifs.get(i.swIfIndex);
    if (m) socketIds.add(m.socketId);
  }
  // A socket a memif of someone else still uses is not taken.
  for (const m of inv.memifs.values()) if (!picked.has(m.swIfIndex)) socketIds.delete(m.socketId);
  for (const sid of socketIds) out.sockets.push({ id: sid, filename: inv.sockets.get(sid) ?? '' });
  const nsIds = new Set(ids.map((id) => vclNamespaceId(id)));
  out.appNamespaces = inv.appNamespaces.filter((a) => nsIds.has(a.id));
  for (const id of ids) if (id.netns && id.ifName.startsWith('memif')) out.links.push([id.netns, id.ifName]);
  // The veth host ends (they outlive VPP): by derived name, when the alias says they are the attachment's.
  for (const id of ids) {
    const v = inv.hostVeths.get(vethHostName(id.containerId, id.ifName));
    if (v && isHostVethOf(v, id.containerId, id.ifName) && !out.hostLinks.includes(v.name)) out.hostLinks.push(v.name);
  }
  return out;
}

export interface RemovalContext {
  vpp: VppApi;
  netns: NetnsOps;
}

const APP_NS_NOT_FOUND = -19;
/** af_packet_delete of a host interface VPP does not know: SYSCALL_ERROR_1. */
const AF_PACKET_UNKNOWN = -11;

/**
 * Removes the objects, dependents first (PBL clients, routes, app namespaces, then memifs, sockets,
 * taps, af_packets, loopbacks, then the Linux links: pod netns dummies, veth host ends). Every delete
 * tolerates "already gone". Returns what failed.
 */
export async function removeObjects(ctx: RemovalContext, inv: VppInventory, o: OwnedObjects): Promise<string[]> {
  const failures: string[] = [];
  const attempt = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
    try {
      await fn();
    } catch (e) {
      failures.push(`${what}: ${(e as Error).message}`);
    }
  };
  const { vpp } = ctx;
  for (const c of o.pbl) await attempt(`pbl client ${c.id}`, () => deleteTolerant(() => vpp.request(pbl.pbl_client_del, { id: c.id })));
  for (const r of o.routes) await attempt(`route ${r.prefix} via ${r.swIfIndex}`, () => delRoute(vpp, r));
  const byName = new Map([...inv.interfaces.values()].map((i) => [i.name, i.swIfIndex]));
  for (const a of o.appNamespaces) {
    await attempt(`app namespace ${a.id}`, () =>
      deleteTolerant(
        () =>
          vpp.request(session.app_namespace_add_del_v4, {
            is_add: false,
            secret: /^\d+$/.test(a.secret) ? BigInt(a.secret) : 0n,
            sw_if_index: byName.get(a.interfaceName) ?? U32_MAX,
            ip4_fib_id: 0,
            ip6_fib_id: 0,
            namespace_id: a.id,
            sock_name: '',
          }),
        [APP_NS_NOT_FOUND],
      ),
    );
  }
  const memifs = o.interfaces.filter((i) => inv.memifs.has(i.swIfIndex));
  const taps = o.interfaces.filter((i) => inv.taps.has(i.swIfIndex));
  const afPackets = o.interfaces.filter((i) => inv.afPackets.has(i.swIfIndex));
  const others = o.interfaces.filter((i) => !inv.memifs.has(i.swIfIndex) && !inv.taps.has(i.swIfIndex) && !inv.afPackets.has(i.swIfIndex));
  for (const m of memifs) await attempt(`memif ${m.name}`, () => deleteTolerant(() => vpp.request(memif.memif_delete, { sw_if_index: m.swIfIndex })));
  for (const s of o.sockets) {
    await attempt(`memif socket ${s.id}`, () => deleteTolerant(() => vpp.request(memif.memif_socket_filename_add_del_v2, { is_add: false, socket_id: s.id, socket_filename: '' })));
  }
  for (const t of taps) await attempt(`tap ${t.name}`, () => deleteTolerant(() => vpp.request(tapv2.tap_delete_v2, { sw_if_index: t.swIfIndex })));
  for (const a of afPackets) {
    const hostIfName = inv.afPackets.get(a.swIfIndex)!.hostIfName;
    await attempt(`af_packet ${a.name}`, () => deleteTolerant(() => vpp.request(afp.af_packet_delete, { host_if_name: hostIfName }), [AF_PACKET_UNKNOWN]));
  }
  for (const l of others) {
    if (l.name.startsWith('loop')) await attempt(`loopback ${l.name}`, () => deleteTolerant(() => vpp.request(iface.delete_loopback, { sw_if_index: l.swIfIndex })));
    else failures.push(`interface ${l.name} (tag ${l.tag}): not a tap, memif, af_packet or loopback; left alone`);
  }
  for (const [netns, name] of o.links) await attempt(`${name} in ${netns}`, () => deleteLinkTolerant(ctx.netns, netns, name));
  for (const name of o.hostLinks) await attempt(`host interface ${name}`, () => deleteLinkTolerant(ctx.netns, undefined, name));
  return failures;
}

/** A one-line summary of objects for logs. */
export function describeObjects(o: OwnedObjects): Record<string, unknown> {
  return {
    interfaces: o.interfaces.map((i) => `${i.name} ${i.tag}`),
    ...(o.routes.length ? { routes: o.routes.map((r) => r.prefix) } : {}),
    ...(o.pbl.length ? { pblClients: o.pbl.map((c) => `${c.id} ${c.addr}`) } : {}),
    ...(o.sockets.length ? { memifSockets: o.sockets.map((s) => s.filename || String(s.id)) } : {}),
    ...(o.appNamespaces.length ? { appNamespaces: o.appNamespaces.map((a) => a.id) } : {}),
    ...(o.links.length ? { links: o.links.map(([n, l]) => `${l} in ${n}`) } : {}),
    ...(o.hostLinks.length ? { hostLinks: o.hostLinks } : {}),
  };
}
