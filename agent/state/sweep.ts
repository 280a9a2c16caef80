/**
 * The orphan sweep: VPP objects carrying our tag (other than the node loopback) that belong to no record
 * and to no operation in flight are removed, with what hangs off them (routes through them, PBL clients
 * on their addresses, their memif sockets, the app namespace of the attachment, the multinet dummy in
 * the pod netns, the veth host end whose af_packet it was). So are veth host ends (host netns links with
 * our naming and an ifalias carrying our tag) no record or operation holds, with the af_packet on them,
 * tagged or not yet. So is what an ADD that died before tagging leaves: memif sockets with the names we
 * make (and the untagged memifs on them), VCL loopbacks with our MAC prefix, app namespaces with our
 * `vcni-` ids, af_packets on a host end name of ours whose host end is gone — when nobody holds them.
 * Objects without our tag, names or MAC are never touched, and neither is a host link named like ours
 * whose ifalias is not ours (nor the untagged af_packet on it).
 *
 * Races with ADD and DEL: the record and intent lists are read after the dumps (an operation that made
 * an object seen in the dumps holds an intent or a record by then), and again right before each removal.
 */
import { orphanTables, sweepOrphanTables } from '../pod/isolation/inventory.js';
import { vppIsolationOps } from '../vpp/isolation.js';
import {
  memifSocketFilenames,
  describeObjects,
  isEmpty,
  isHostVethOf,
  objectsOf,
  removeObjects,
  takeInventory,
  type HostVeth,
  type InvInterface,
  type OwnedObjects,
  type Protected,
  type VppInventory,
} from './inventory.js';
import { VCL_LOOPBACK_MAC_PREFIX, vclLoopbackMac, vclNamespaceId } from '../pod/kinds/vcl.js';
import { isVethHostName, vethHostName } from '../pod/kinds/veth.js';
import { ipOf } from '../pod/attachment.js';
import type { MadeRoute } from '../pod/record.js';
import { shortContainerId } from '../pod/tags.js';
import { keyOf, type PendingIntent, type StateContext } from './context.js';

export interface SweepReport {
  /** Attachments (container, interface name) whose leftovers were removed. */
  attachments: number;
  interfaces: number;
  sockets: number;
  appNamespaces: number;
  /** veth host ends removed (their pod ends went with them). */
  hostLinks: number;
  /** veth host ends of ours held by no record but left alone (no af_packet of this VPP on them, pod netns alive). */
  hostLinksLeft: number;
  failures: string[];
  ms: number;
}

export interface SweepOptions {
  /** Keys of records whose VPP objects are not trusted (being made again): their objects are left alone. */
  stale: ReadonlySet<string>;
}

interface Holders {
  /** Interfaces referenced by a trusted record: sw_if_index → tag. */
  owned: Map<number, string>;
  /** cid12:ifName of operations in flight and of untrusted records. */
  busy: Set<string>;
  /** (netns, ifName) of every record and intent, as the socket filenames we would make there. */
  socketNames: Set<string>;
  appNamespaces: Set<string>;
  /** MACs of the VCL loopbacks operations in flight may be making. */
  loopMacs: Set<string>;
  /** veth host end names of every record and intent (trusted or not): never removed by the sweep. */
  hostNames: Set<string>;
  protect: Protected;
}

function holders(c: StateContext, stale: ReadonlySet<string>): Holders {
  const records = c.store.all();
  const intents: PendingIntent[] = c.store.pendingIntents?.() ?? [];
  const h: Holders = { owned: new Map(), busy: new Set(), socketNames: new Set(), appNamespaces: new Set(), loopMacs: new Set(), hostNames: new Set(), protect: { pblIds: new Set(), addrs: new Set() } };
  const mark = (r: { containerId: string; ifName: string; netns: string; ips: { address: string }[] }): void => {
    h.busy.add(`${shortContainerId(r.containerId)}:${r.ifName}`);
    h.hostNames.add(vethHostName(r.containerId, r.ifName));
    h.loopMacs.add(vclLoopbackMac(r));
    for (const a of r.ips) h.protect.addrs.add(ipOf(a.address));
  };
  for (const i of intents) mark(i);
  for (const r of records) {
    for (const f of memifSocketFilenames(r.ifName, r.netns)) h.socketNames.add(f);
    h.appNamespaces.add(vclNamespaceId(r));
    if (r.objects.vcl) h.appNamespaces.add(r.objects.vcl.namespaceId);
    h.hostNames.add(vethHostName(r.containerId, r.ifName));
    if (r.objects.veth) h.hostNames.add(r.objects.veth.hostIfName);
    if (stale.has(keyOf(r))) {
      mark(r);
      continue;
    }
    const o = r.objects;
    if (o.tun) h.owned.set(o.tun.swIfIndex, o.tun.tag);
    if (o.veth) h.owned.set(o.veth.swIfIndex, o.veth.tag);
    if (o.memif) {
      h.owned.set(o.memif.swIfIndex, o.memif.tag);
      h.socketNames.add(o.memif.socketFilename);
    }
    if (o.vcl) h.owned.set(o.vcl.loopSwIfIndex, '');
    for (const p of o.pbl) h.protect.pblIds.add(p.id);
  }
  for (const i of intents) {
    for (const f of memifSocketFilenames(i.ifName, i.netns)) h.socketNames.add(f);
    h.appNamespaces.add(vclNamespaceId(i));
  }
  return h;
}

function isOwned(h: Holders, itf: InvInterface): boolean {
  const tag = h.owned.get(itf.swIfIndex);
  // vcl loopbacks are recorded by index only
  return tag !== undefined && (tag === '' || tag === itf.tag);
}

/** The pod netns of an orphan group, from its tap, the ifalias of its af_packet's host end, or its memif socket. */
function netnsOf(inv: VppInventory, group: InvInterface[]): string | undefined {
  for (const i of group) {
    const t = inv.taps.get(i.swIfIndex);
    if (t?.hostNamespace) return t.hostNamespace;
    const a = inv.afPackets.get(i.swIfIndex);
    const v = a ? inv.hostVeths.get(a.hostIfName) : undefined;
    if (v?.netns) return v.netns;
    const m = inv.memifs.get(i.swIfIndex);
    const f = m ? inv.sockets.get(m.socketId) : undefined;
    const ns = f ? /,netns_name=(.+)$/.exec(f)?.[1] : undefined;
    if (ns) return ns;
  }
  return undefined;
}

/** Socket filenames we make: `abstract:vpp/memif-<if>,netns_name=…` (PBL) or `abstract:memif…,netns_name=…` (multinet). */
export function isOurSocketName(filename: string): boolean {
  return /^abstract:(vpp\/memif-[^,]+|memif[^,/]*),netns_name=\/.+$/.test(filename);
}

interface OrphanGroup {
  cid: string;
  ifName: string;
  pod: string;
  /** Its tagged interfaces no record holds by index. */
  interfaces: InvInterface[];
  /** Its veth host end, when no record or operation holds it. */
  hostVeth?: HostVeth;
}

export async function sweepOrphans(c: StateContext, o: SweepOptions): Promise<SweepReport> {
  const t0 = performance.now();
  const report: SweepReport = { attachments: 0, interfaces: 0, sockets: 0, appNamespaces: 0, hostLinks: 0, hostLinksLeft: 0, failures: [], ms: 0 };
  const inv = await takeInventory(c.vpp, c.netns);
  let h = holders(c, o.stale);
  const groups = new Map<string, OrphanGroup>();
  const groupOf = (t: { cid: string; ifName: string; pod: string }): OrphanGroup => {
    const k = `${t.cid}:${t.ifName}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { cid: t.cid, ifName: t.ifName, pod: t.pod, interfaces: [] }));
    return g;
  };
  for (const itf of inv.interfaces.values()) {
    if (!itf.owner || isOwned(h, itf)) continue;
    if (h.busy.has(`${itf.owner.cid}:${itf.owner.ifName}`)) continue;
    groupOf(itf.owner).interfaces.push(itf);
  }
  // veth host ends of ours (name and alias) no record or operation holds: an attachment whose ADD died
  // before tagging the af_packet left them, or a pod whose netns is gone. A host end no af_packet of this
  // VPP uses, with its pod netns still there, is left alone and reported: nothing says it is this agent's
  // (a second agent and VPP on the same host netns, as on a test machine), and the runtime's DEL of its
  // pod, or a new ADD of the attachment, removes it.
  const used = new Set([...inv.afPackets.values()].map((a) => a.hostIfName));
  const left: string[] = [];
  for (const v of inv.hostVeths.values()) {
    if (!v.owner || !isHostVethOf(v, v.owner.cid, v.owner.ifName) || h.hostNames.has(v.name)) continue;
    if (h.busy.has(`${v.owner.cid}:${v.owner.ifName}`)) continue;
    if (!used.has(v.name) && v.netns !== undefined && (await c.netns.isNetns(v.netns))) {
      left.push(v.name);
      continue;
    }
    groupOf(v.owner).hostVeth = v;
  }
  report.hostLinksLeft = left.length;
  if (left.length > 0) {
    c.log.info({ step: 'sweep', hostLinks: left }, 'veth host ends of ours that no record holds, no af_packet of this VPP uses and whose pod netns exists: left alone');
  }
  const handledNs = new Set<string>();
  const handledIfs = new Set<number>();
  for (const g of groups.values()) {
    h = holders(c, o.stale); // again, right before removing: an operation may have started meanwhile
    if (h.busy.has(`${g.cid}:${g.ifName}`)) continue;
    const live = g.interfaces.filter((i) => !isOwned(h, i));
    if (g.interfaces.length > 0 && live.length === 0) continue;
    const netns = netnsOf(inv, live) ?? g.hostVeth?.netns;
    // A dummy or socket in a netns whose (netns, ifName) a record holds is that record's, not the orphan's.
    const nsFree = netns !== undefined && !memifSocketFilenames(g.ifName, netns).some((f) => h.socketNames.has(f));
    const owned = objectsOf(inv, [{ containerId: g.cid, ifName: g.ifName, ...(nsFree ? { netns } : {}) }], h.protect);
    owned.interfaces = owned.interfaces.filter((i) => !isOwned(h, i));
    owned.appNamespaces = owned.appNamespaces.filter((a) => !h.appNamespaces.has(a.id));
    // A host end a record holds (by name) is that record's pair, whatever else of the attachment is stray.
    owned.hostLinks = owned.hostLinks.filter((n) => !h.hostNames.has(n));
    if (isEmpty(owned)) continue;
    for (const a of owned.appNamespaces) handledNs.add(a.id);
    for (const i of owned.interfaces) handledIfs.add(i.swIfIndex);
    const failures = await removeObjects(c, inv, owned);
    report.attachments++;
    report.interfaces += owned.interfaces.length;
    report.sockets += owned.sockets.length;
    report.appNamespaces += owned.appNamespaces.length;
    report.hostLinks += owned.hostLinks.length;
    report.failures.push(...failures);
    c.log.warn({ step: 'sweep', containerID: g.cid, ifname: g.ifName, pod: g.pod, ...describeObjects(owned), ...(failures.length ? { failures } : {}) }, 'orphaned VPP objects removed');
  }

  // What an ADD that died right after making it leaves before any tag: memif sockets with our names (and
  // the untagged memifs on them), VCL loopbacks with our MAC, app namespaces with our ids, af_packets on a
  // host end name of ours whose host end is gone (one still there is judged by its alias, above).
  h = holders(c, o.stale);
  const interfaces: InvInterface[] = [];
  const routes: MadeRoute[] = [];
  const sockets: { id: number; filename: string }[] = [];
  for (const [id, filename] of inv.sockets) {
    if (!isOurSocketName(filename) || h.socketNames.has(filename)) continue;
    const users = [...inv.memifs.values()].filter((m) => m.socketId === id).map((m) => inv.interfaces.get(m.swIfIndex));
    if (users.some((u) => !u || u.tag !== '' || isOwned(h, u))) continue; // tagged users are handled (or held) above
    interfaces.push(...(users as InvInterface[]));
    sockets.push({ id, filename });
  }
  for (const i of inv.interfaces.values()) {
    if (i.tag === '' && i.name.startsWith('loop') && i.mac.startsWith(VCL_LOOPBACK_MAC_PREFIX) && !isOwned(h, i) && !h.loopMacs.has(i.mac)) interfaces.push(i);
  }
  for (const a of inv.afPackets.values()) {
    const i = inv.interfaces.get(a.swIfIndex);
    if (!i || i.tag !== '' || handledIfs.has(i.swIfIndex) || isOwned(h, i)) continue;
    if (!isVethHostName(a.hostIfName) || h.hostNames.has(a.hostIfName) || inv.hostVeths.has(a.hostIfName)) continue;
    interfaces.push(i);
    for (const r of inv.routes) for (const p of r.paths) if (p.swIfIndex === i.swIfIndex) routes.push({ prefix: r.prefix, tableId: 0, swIfIndex: p.swIfIndex, ...(p.nh ? { nh: p.nh } : {}) });
  }
  const appNamespaces = inv.appNamespaces.filter((a) => !handledNs.has(a.id) && !h.appNamespaces.has(a.id));
  if (interfaces.length + sockets.length + appNamespaces.length > 0) {
    const owned: OwnedObjects = { interfaces, routes, pbl: [], sockets, appNamespaces, links: [], hostLinks: [] };
    const failures = await removeObjects(c, inv, owned);
    report.interfaces += interfaces.length;
    report.sockets += sockets.length;
    report.appNamespaces += appNamespaces.length;
    report.failures.push(...failures);
    c.log.warn({ step: 'sweep', ...describeObjects(owned), ...(failures.length ? { failures } : {}) }, 'orphaned objects not tagged yet (memif sockets, VCL loopbacks, af_packets, app namespaces) removed');
  }
  // Pod VRFs and source-check tables (agent/pod/isolation) whose owner no record holds and no operation uses,
  // with table 0's and the punt table's routes into them, the uRPF configs against them, and the PBL clients on
  // the pod addresses those routes carried (a VCL pod's table-0 route goes through no interface of its own).
  h = holders(c, o.stale);
  const liveOwners = new Set([...h.busy, ...c.store.all().map((r) => `${shortContainerId(r.containerId)}:${r.ifName}`)]);
  const isolation = orphanTables(inv.isolation, liveOwners, inv.isolation.puntTableId);
  if (isolation.tables.length > 0) {
    const addrs = new Set(isolation.routes.filter((r) => r.tableId === 0).map((r) => ipOf(r.prefix)));
    const pbl = (inv.pbl ?? []).filter((p) => addrs.has(p.addr) && !h.protect.pblIds.has(p.id) && !h.protect.addrs.has(p.addr));
    const failures = await removeObjects(c, inv, { interfaces: [], routes: [], pbl, sockets: [], appNamespaces: [], links: [], hostLinks: [] });
    try {
      await sweepOrphanTables(vppIsolationOps(c.vpp), isolation);
    } catch (e) {
      failures.push(`isolation tables ${isolation.tables.map((t) => t.tableId).join(', ')}: ${(e as Error).message}`);
    }
    report.failures.push(...failures);
    c.log.warn(
      { step: 'sweep', tables: isolation.tables.map((t) => `${t.name} (ipv${t.af} ${t.tableId})`), routes: isolation.routes.length, pbl: pbl.map((p) => p.id), ...(failures.length ? { failures } : {}) },
      'orphaned pod VRFs and source-check tables removed',
    );
  }
  report.ms = Math.round(performance.now() - t0);
  return report;
}
