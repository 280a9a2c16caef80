/**
 * The orphan sweep: VPP objects carrying our tag (other than the node loopback) that belong to no record
 * and to no operation in flight are removed, with what hangs off them (routes through them, PBL clients
 * on their addresses, their memif sockets, the app namespace of the attachment, the multinet dummy in
 * the pod netns). So is what an ADD that died before tagging leaves: memif sockets with the names we make
 * (and the untagged memifs on them), VCL loopbacks with our MAC prefix, app namespaces with our `vcni-`
 * ids — when nobody holds them. Objects without our tag, names or MAC are never touched.
 *
 * Races with ADD and DEL: the record and intent lists are read after the dumps (an operation that made
 * an object seen in the dumps holds an intent or a record by then), and again right before each removal.
 */
import { memifSocketFilenames, describeObjects, isEmpty, objectsOf, removeObjects, takeInventory, type InvInterface, type Protected, type VppInventory } from './inventory.js';
import { VCL_LOOPBACK_MAC_PREFIX, vclLoopbackMac, vclNamespaceId } from '../pod/drivers/vcl.js';
import { ipOf } from '../pod/attachment.js';
import { shortContainerId } from '../pod/tags.js';
import { keyOf, type PendingIntent, type StateContext } from './context.js';

export interface SweepReport {
  /** Attachments (container, interface name) whose leftovers were removed. */
  attachments: number;
  interfaces: number;
  sockets: number;
  appNamespaces: number;
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
  protect: Protected;
}

function holders(c: StateContext, stale: ReadonlySet<string>): Holders {
  const records = c.store.all();
  const intents: PendingIntent[] = c.store.pendingIntents?.() ?? [];
  const h: Holders = { owned: new Map(), busy: new Set(), socketNames: new Set(), appNamespaces: new Set(), loopMacs: new Set(), protect: { pblIds: new Set(), addrs: new Set() } };
  const mark = (r: { containerId: string; ifName: string; netns: string; ips: { address: string }[] }): void => {
    h.busy.add(`${shortContainerId(r.containerId)}:${r.ifName}`);
    h.loopMacs.add(vclLoopbackMac(r));
    for (const a of r.ips) h.protect.addrs.add(ipOf(a.address));
  };
  for (const i of intents) mark(i);
  for (const r of records) {
    for (const f of memifSocketFilenames(r.ifName, r.netns)) h.socketNames.add(f);
    h.appNamespaces.add(vclNamespaceId(r));
    if (r.objects.vcl) h.appNamespaces.add(r.objects.vcl.namespaceId);
    if (stale.has(keyOf(r))) {
      mark(r);
      continue;
    }
    const o = r.objects;
    if (o.tun) h.owned.set(o.tun.swIfIndex, o.tun.tag);
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

/** The pod netns of an orphan group, from its tap or its memif socket. */
function netnsOf(inv: VppInventory, group: InvInterface[]): string | undefined {
  for (const i of group) {
    const t = inv.taps.get(i.swIfIndex);
    if (t?.hostNamespace) return t.hostNamespace;
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

export async function sweepOrphans(c: StateContext, o: SweepOptions): Promise<SweepReport> {
  const t0 = performance.now();
  const report: SweepReport = { attachments: 0, interfaces: 0, sockets: 0, appNamespaces: 0, failures: [], ms: 0 };
  const inv = await takeInventory(c.vpp);
  let h = holders(c, o.stale);
  const groups = new Map<string, InvInterface[]>();
  for (const itf of inv.interfaces.values()) {
    if (!itf.owner || isOwned(h, itf)) continue;
    const k = `${itf.owner.cid}:${itf.owner.ifName}`;
    if (h.busy.has(k)) continue;
    groups.set(k, [...(groups.get(k) ?? []), itf]);
  }
  const handledNs = new Set<string>();
  for (const group of groups.values()) {
    h = holders(c, o.stale); // again, right before removing: an operation may have started meanwhile
    const first = group[0]!.owner!;
    if (h.busy.has(`${first.cid}:${first.ifName}`)) continue;
    const live = group.filter((i) => !isOwned(h, i));
    if (live.length === 0) continue;
    const netns = netnsOf(inv, live);
    // A dummy or socket in a netns whose (netns, ifName) a record holds is that record's, not the orphan's.
    const nsFree = netns !== undefined && !memifSocketFilenames(first.ifName, netns).some((f) => h.socketNames.has(f));
    const owned = objectsOf(inv, [{ containerId: first.cid, ifName: first.ifName, ...(nsFree ? { netns } : {}) }], h.protect);
    owned.interfaces = owned.interfaces.filter((i) => !isOwned(h, i));
    owned.appNamespaces = owned.appNamespaces.filter((a) => !h.appNamespaces.has(a.id));
    if (isEmpty(owned)) continue;
    for (const a of owned.appNamespaces) handledNs.add(a.id);
    const failures = await removeObjects(c, inv, owned);
    report.attachments++;
    report.interfaces += owned.interfaces.length;
    report.sockets += owned.sockets.length;
    report.appNamespaces += owned.appNamespaces.length;
    report.failures.push(...failures);
    c.log.warn({ step: 'sweep', containerID: first.cid, ifname: first.ifName, pod: first.pod, ...describeObjects(owned), ...(failures.length ? { failures } : {}) }, 'orphaned VPP objects removed');
  }

  // What an ADD that died right after making it leaves before any tag: memif sockets with our names (and
  // the untagged memifs on them), VCL loopbacks with our MAC, app namespaces with our ids.
  h = holders(c, o.stale);
  const interfaces: InvInterface[] = [];
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
  const appNamespaces = inv.appNamespaces.filter((a) => !handledNs.has(a.id) && !h.appNamespaces.has(a.id));
  if (interfaces.length + sockets.length + appNamespaces.length > 0) {
    const owned = { interfaces, routes: [], pbl: [], sockets, appNamespaces, links: [] };
    const failures = await removeObjects(c, inv, owned);
    report.interfaces += interfaces.length;
    report.sockets += sockets.length;
    report.appNamespaces += appNamespaces.length;
    report.failures.push(...failures);
    c.log.warn({ step: 'sweep', ...describeObjects(owned), ...(failures.length ? { failures } : {}) }, 'orphaned objects not tagged yet (memif sockets, VCL loopbacks, app namespaces) removed');
  }
  report.ms = Math.round(performance.now() - t0);
  return report;
}
