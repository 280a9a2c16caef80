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
import { deleteLinkTolerant, type NetnsOps } from '../linux/netns.js';
import { deleteAfPacket } from '../vpp/af-packet.js';
import type { VppApi } from '../vpp/api.js';
import { deleteLoopback } from '../vpp/interface.js';
import { delRoute } from '../vpp/ip.js';
import { deleteMemif, deleteMemifSocket } from '../vpp/memif.js';
import { deletePblClient } from '../vpp/pbl.js';
import { deleteAppNamespace } from '../vpp/session.js';
import { deleteTap } from '../vpp/tap.js';
import { hostPrefix as hostPrefixOf, ipOf } from '../pod/attachment.js';
import type { MadeRoute } from '../pod/kinds/parts.js';
import { memifSocketName } from '../pod/kinds/memif.js';
import { vclLoopbackMac, vclNamespaceId } from '../pod/kinds/vcl.js';
import { vethAliasOwnedBy, vethHostName } from '../pod/kinds/veth-names.js';
import { shortContainerId } from '../pod/tags.js';
import { ANY, vppIsolationOps } from '../vpp/isolation.js';
import { emptyIsolationObjects, isolationObjectsOf, type IsolationObjects } from '../pod/isolation/inventory.js';
import { type HostVeth, type InvAppNamespace, type InvInterface, type InvPblClient, type VppInventory } from '../pod/inventory.js';

export { emptyInventory, takeHostVeths, takeInventory, parseAppNamespaces } from '../pod/inventory.js';
export type { HostLinkReader, HostVeth, InvAfPacket, InvAppNamespace, InvInterface, InvMemif, InvNeighbor, InvPblClient, InvRoute, InvTap, VppInventory } from '../pod/inventory.js';

const U32_MAX = 0xffffffff;

/**
 * True when a host link is the veth host end of the attachment (cid, ifName): the name we derive for it,
 * and an ifalias carrying its tag. A link of that name whose alias is anything else is not ours.
 */
export function isHostVethOf(v: HostVeth, containerId: string, ifName: string): boolean {
  return !!v.tag && v.name === vethHostName(containerId, ifName) && vethAliasOwnedBy(v.alias, containerId, ifName);
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
  /**
   * The attachments' pod VRFs and source-check tables (found by the owner their names carry), table 0's and
   * the punt table's routes into them, the uRPF configs against them (agent/pod/isolation).
   */
  isolation?: IsolationObjects;
}

export function emptyOwned(): OwnedObjects {
  return { interfaces: [], routes: [], pbl: [], sockets: [], appNamespaces: [], links: [], hostLinks: [], isolation: emptyIsolationObjects() };
}

export function isEmpty(o: OwnedObjects): boolean {
  const iso = o.isolation ? o.isolation.tables.length + o.isolation.routes.length + o.isolation.urpf.length : 0;
  return o.interfaces.length + o.routes.length + o.pbl.length + o.sockets.length + o.appNamespaces.length + o.links.length + o.hostLinks.length + iso === 0;
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
  // The pod VRF and source-check table by the owner their names carry, and what leads into them (a VCL pod's
  // table-0 route goes into its VRF, through no interface of its own).
  out.isolation = isolationObjectsOf(inv.isolation, (owner) => wanted.has(owner));
  // VPP's pbl_client_details carry the id and address only: clients are found by the attachment's addresses
  // (given, or read from the routes through its interfaces or into its VRF), minus the clients someone else holds.
  const ips = new Set(ids.flatMap((id) => (id.ips ?? []).map(ipOf)));
  for (const r of out.routes) ips.add(ipOf(r.prefix));
  for (const r of out.isolation.routes) if (r.tableId === 0) ips.add(ipOf(r.prefix));
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
  const iso = o.isolation ?? emptyIsolationObjects();
  const isoOps = vppIsolationOps(vpp);
  // uRPF off before the interfaces go (no config outlives its interface).
  for (const u of iso.urpf) await attempt(`ipv${u.af} uRPF on ${u.swIfIndex}`, () => isoOps.urpfSet(u.swIfIndex, u.af, 'off', ANY));
  for (const c of o.pbl) await attempt(`pbl client ${c.id}`, () => deletePblClient(vpp, c.id));
  for (const r of o.routes) await attempt(`route ${r.prefix} via ${r.swIfIndex}`, () => delRoute(vpp, r));
  for (const r of iso.routes) await attempt(`route ${r.prefix} in table ${r.tableId}`, () => isoOps.routeDel(r));
  const byName = new Map([...inv.interfaces.values()].map((i) => [i.name, i.swIfIndex]));
  for (const a of o.appNamespaces) {
    const secret = /^\d+$/.test(a.secret) ? BigInt(a.secret) : 0n;
    await attempt(`app namespace ${a.id}`, () => deleteAppNamespace(vpp, { id: a.id, secret, swIfIndex: byName.get(a.interfaceName) ?? U32_MAX }));
  }
  const memifs = o.interfaces.filter((i) => inv.memifs.has(i.swIfIndex));
  const taps = o.interfaces.filter((i) => inv.taps.has(i.swIfIndex));
  const afPackets = o.interfaces.filter((i) => inv.afPackets.has(i.swIfIndex));
  const others = o.interfaces.filter((i) => !inv.memifs.has(i.swIfIndex) && !inv.taps.has(i.swIfIndex) && !inv.afPackets.has(i.swIfIndex));
  for (const m of memifs) await attempt(`memif ${m.name}`, () => deleteMemif(vpp, m.swIfIndex));
  for (const s of o.sockets) await attempt(`memif socket ${s.id}`, () => deleteMemifSocket(vpp, s.id));
  for (const t of taps) await attempt(`tap ${t.name}`, () => deleteTap(vpp, t.swIfIndex));
  for (const a of afPackets) {
    const hostIfName = inv.afPackets.get(a.swIfIndex)!.hostIfName;
    await attempt(`af_packet ${a.name}`, () => deleteAfPacket(vpp, hostIfName));
  }
  for (const l of others) {
    if (l.name.startsWith('loop')) await attempt(`loopback ${l.name}`, () => deleteLoopback(vpp, l.swIfIndex));
    else failures.push(`interface ${l.name} (tag ${l.tag}): not a tap, memif, af_packet or loopback; left alone`);
  }
  // The tables last in VPP: the VCL loopback bound into the VRF is gone by now.
  for (const t of iso.tables) await attempt(`ipv${t.af} table ${t.tableId} (${t.name})`, () => isoOps.tableDel(t));
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
    ...(o.isolation?.tables.length ? { tables: o.isolation.tables.map((t) => `${t.name} (ipv${t.af} ${t.tableId})`) } : {}),
  };
}
