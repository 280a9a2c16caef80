/**
 * Agent start: the checkpoint against VPP, once VPP is connected and before ADDs are served.
 *  - An `add` intent (the agent died in an ADD): whatever of that attachment exists is removed (found by
 *    tag, socket name, address and namespace id), and the intent dropped; the runtime's retry makes it whole.
 *  - A `del` intent: the delete is finished, and record and intent dropped.
 *  - A record whose VPP objects are all there (same index, same tag) is adopted as it is: no VPP call but
 *    the dumps. One whose objects are not (VPP restarted meanwhile, or something removed them) is made
 *    again. One whose netns is gone, of a pod the pod source no longer knows, is deleted.
 *  - A checkpoint that was moved aside (corrupt, newer version): the records are rebuilt from VPP's tagged
 *    objects (and, for a veth, its host end's ifalias: the pod netns) and the pod source first; tagged
 *    objects that do not make a whole attachment are removed.
 * One set of dumps serves every record, so the cost barely grows with the number of pods.
 */
import { vclIsolationFromInventory } from '../pod/isolation/inventory.js';
import { MEMIF_CLIENT_MAC, memifSocketName } from '../pod/kinds/memif.js';
import { VCL_SOCKET, vclNamespaceId } from '../pod/kinds/vcl.js';
import { parsePodAnnotations } from '../pod/annotations.js';
import { resolveSpec, type InterfaceSpec } from '../pod/interface-spec.js';
import { describeAttachment, ipOf, type AttachResult } from '../pod/attachment.js';
import type { AttachmentRecord, MadeMemif, MadeObjects, MadeRoute } from '../pod/record.js';
import type { PodInfo } from '../pod-info/source.js';
import type { FoundObject } from '../objects/kind.js';
import { forEachLimit, identityOf, keyOf, podFields, type PendingIntent, type StateContext } from './context.js';
import { describeObjects, isEmpty, isHostVethOf, objectsOf, removeObjects, takeInventory, type InvInterface, type VppInventory } from './inventory.js';
import { protectedFrom, recreate, verify } from './repair.js';

export interface ReconcileReport {
  /** Records whose objects were all there: kept without a VPP call. */
  adopted: number;
  /** Records made again (objects missing). */
  recreated: number;
  /** Records of pods whose netns and pod are gone: deleted. */
  deleted: number;
  /** Records with missing objects whose netns is gone but whose pod is still listed: kept until the runtime's DEL. */
  kept: number;
  /** ADDs interrupted by the agent's end, undone. */
  rolledBack: number;
  /** DELs interrupted by the agent's end, finished. */
  deletesFinished: number;
  /** Records rebuilt from VPP (checkpoint moved aside). */
  rebuilt: number;
  /** Tagged objects that did not make a whole attachment while rebuilding: removed. */
  rebuildRemoved: number;
  /** Records whose re-creation failed (retried later). */
  failed: { key: string; error: string }[];
  ms: number;
}

export interface ReconcileOptions {
  /** Keys of the records not yet checked against VPP; a record leaves the set once adopted or made again. */
  stale: Set<string>;
  /** The checkpoint was moved aside: rebuild the records from VPP first. */
  rebuild: boolean;
  /** A record whose re-creation failed (the caller retries it). */
  onFailed(key: string): void;
  concurrency?: number;
  podLookupTimeoutMs?: number;
}

async function lookupPod(c: StateContext, ns: string, name: string, uid: string | undefined, timeoutMs: number): Promise<PodInfo | undefined> {
  try {
    return await c.pods.getPod(ns, name, timeoutMs, uid);
  } catch {
    return undefined;
  }
}

/**
 * True only when the pod source says the pod is gone (unknown, or a new pod of the same name); a source
 * that cannot answer (API unreachable) does not make a pod gone.
 */
async function podGone(c: StateContext, pod: AttachmentRecord['pod'], timeoutMs: number): Promise<boolean> {
  try {
    const p = await c.pods.getPod(pod.namespace, pod.name, timeoutMs, pod.uid);
    return !p || (!!pod.uid && !!p.uid && p.uid !== pod.uid);
  } catch (e) {
    c.log.warn({ namespace: pod.namespace, pod: pod.name, step: 'reconcile', err: (e as Error).message }, 'pod source cannot say whether the pod is gone: kept');
    return false;
  }
}

/** Removes everything of the attachment found by identity (tag, socket names, addresses, namespace id). */
async function removeByIdentity(c: StateContext, inv: VppInventory, who: PendingIntent | AttachmentRecord): Promise<{ removed: Record<string, unknown>; failures: string[] }> {
  const owned = objectsOf(inv, [identityOf(who)], protectedFrom(c.store.all(), 'objects' in who ? who : undefined));
  if (isEmpty(owned)) return { removed: {}, failures: [] };
  return { removed: describeObjects(owned), failures: await removeObjects(c, inv, owned) };
}

export async function reconcile(c: StateContext, o: ReconcileOptions): Promise<ReconcileReport> {
  const t0 = performance.now();
  const report: ReconcileReport = { adopted: 0, recreated: 0, deleted: 0, kept: 0, rolledBack: 0, deletesFinished: 0, rebuilt: 0, rebuildRemoved: 0, failed: [], ms: 0 };
  const podTimeout = o.podLookupTimeoutMs ?? 2000;
  const inv = await takeInventory(c.vpp, c.netns);

  if (o.rebuild) await rebuild(c, inv, o, report);

  for (const i of c.store.pendingIntents?.() ?? []) {
    const key = keyOf(i);
    await c.exclusive(i.containerId, async () => {
      const rec = c.store.get(key);
      if (i.op === 'del' && rec) {
        const r = await removeByIdentity(c, inv, rec);
        if (r.failures.length > 0) c.log.error({ ...podFields(rec), step: 'reconcile', failures: r.failures }, 'interrupted DEL: some objects could not be removed (the sweep retries)');
        await c.store.delete(key);
        o.stale.delete(key);
        report.deletesFinished++;
        c.log.info({ ...podFields(rec), step: 'reconcile', ...r.removed }, 'interrupted DEL finished');
        return;
      }
      if (!rec) {
        const r = await removeByIdentity(c, inv, i);
        if (r.failures.length > 0) c.log.error({ ...podFields(i), step: 'reconcile', failures: r.failures }, 'interrupted ADD: some objects could not be removed (the sweep retries)');
        report.rolledBack++;
        c.log.info({ ...podFields(i), step: 'reconcile', op: i.op, ...r.removed }, `interrupted ${i.op.toUpperCase()} undone`);
      }
      await c.store.abandon?.(key);
    });
  }

  const records = c.store.all().filter((r) => o.stale.has(keyOf(r)));
  await forEachLimit(records, o.concurrency ?? 16, (r) =>
    c.exclusive(r.containerId, async () => {
      const key = keyOf(r);
      const rec = c.store.get(key);
      if (!rec || !o.stale.has(key)) return; // deleted meanwhile
      const problems = verify(c, rec, inv);
      if (!(await c.netns.isNetns(rec.netns))) {
        if (await podGone(c, rec.pod, podTimeout)) {
          const r2 = await removeByIdentity(c, inv, rec);
          await c.store.delete(key);
          o.stale.delete(key);
          report.deleted++;
          c.log.info({ ...podFields(rec), step: 'reconcile', netns: rec.netns, ...r2.removed, ...(r2.failures.length ? { failures: r2.failures } : {}) }, 'netns and pod gone: attachment deleted');
          return;
        }
        if (problems.length > 0) {
          report.kept++;
          c.log.warn({ ...podFields(rec), step: 'reconcile', netns: rec.netns, problems }, 'netns gone but pod still listed: kept until the runtime deletes it');
          return;
        }
      }
      if (problems.length === 0) {
        o.stale.delete(key);
        report.adopted++;
        return;
      }
      c.log.warn({ ...podFields(rec), step: 'reconcile', problems }, 'attachment incomplete in VPP: making it again');
      try {
        await recreate(c, rec, { inventory: inv, protect: protectedFrom(c.store.all(), rec), durable: false });
        o.stale.delete(key);
        report.recreated++;
      } catch (e) {
        report.failed.push({ key, error: (e as Error).message });
        c.log.error({ ...podFields(rec), step: 'reconcile', err: (e as Error).message }, 'making the attachment again failed (retried with backoff)');
        o.onFailed(key);
      }
    }),
  );
  await c.store.sync?.();
  report.ms = Math.round(performance.now() - t0);
  return report;
}

// ---- rebuilding records from VPP (checkpoint lost) ----

interface Group {
  cid: string;
  ifName: string;
  pod: string;
  tun: InvInterface[];
  veth: InvInterface[];
  memif: InvInterface[];
  mmif: InvInterface[];
  vcl: InvInterface[];
}

/** `abstract:NAME,netns_name=PATH` → [NAME, PATH]. */
function parseSocketFilename(f: string): [string, string] | undefined {
  const m = /^abstract:([^,]+),netns_name=(.+)$/.exec(f);
  return m ? [m[1]!, m[2]!] : undefined;
}

function sized(base: InterfaceSpec, isl3: boolean, rx: number, tx: number): InterfaceSpec {
  return { ...base, isl3, rxqsz: rx || base.rxqsz, txqsz: tx || base.txqsz };
}

type Built = { rec: AttachmentRecord } | { incomplete: string; netns?: string };

/**
 * The pod-side MAC of an attachment whose ADD pinned every pod address to it (veth, TAP) with static
 * neighbors on `swIfIndex`, read from the inventory's one neighbor dump (no per-pod call). A reason
 * (string) when they are not all there.
 */
function pinnedMac(inv: VppInventory, swIfIndex: number, ips: string[]): string | { incomplete: string } {
  const addrs = new Set(ips.map(ipOf));
  const nbs = inv.neighbors.filter((n) => n.swIfIndex === swIfIndex && addrs.has(n.ip));
  const macs = new Set(nbs.map((n) => n.mac));
  if (nbs.length !== addrs.size) return { incomplete: `static neighbors for ${nbs.length} of the ${addrs.size} pod addresses (its ADD did not finish)` };
  if (macs.size > 1) return { incomplete: `static neighbors with different MACs (${[...macs].join(', ')})` };
  return nbs[0]!.mac;
}

async function build(c: StateContext, inv: VppInventory, found: ReadonlyMap<string, FoundObject<unknown>[]>, g: Group, pod: PodInfo | undefined): Promise<Built> {
  for (const k of ['tun', 'veth', 'memif', 'mmif', 'vcl'] as const) if (g[k].length > 1) return { incomplete: `${g[k].length} ${k} interfaces` };
  const main = g.tun[0] ?? g.veth[0];
  const primary = main ?? g.mmif[0];
  if (!primary) return { incomplete: 'neither a tap, a veth af_packet nor a multinet memif' };
  if (g.tun[0] && g.veth[0]) return { incomplete: 'both a tap and a veth af_packet' };
  if (main && g.mmif[0]) return { incomplete: `both a ${g.tun[0] ? 'tap' : 'veth af_packet'} and a multinet memif` };
  let netns: string | undefined;
  if (g.tun[0]) netns = inv.taps.get(g.tun[0].swIfIndex)?.hostNamespace;
  else if (g.veth[0]) {
    // The pod netns is in the host end's ifalias (VPP knows only the host end's name).
    const a = inv.afPackets.get(g.veth[0].swIfIndex);
    if (!a) return { incomplete: `${g.veth[0].name} is not in af_packet_dump` };
    const v = inv.hostVeths.get(a.hostIfName);
    if (!v || !isHostVethOf(v, g.cid, g.ifName)) return { incomplete: `veth host end ${a.hostIfName} ${v ? `is not this attachment's (alias "${v.alias}")` : 'missing'}` };
    netns = v.netns;
  } else {
    const m = inv.memifs.get(primary.swIfIndex);
    netns = m ? parseSocketFilename(inv.sockets.get(m.socketId) ?? '')?.[1] : undefined;
  }
  if (!netns) return { incomplete: 'pod netns unknown' };
  const routes: MadeRoute[] = [];
  for (const r of inv.routes) for (const p of r.paths) if (p.swIfIndex === primary.swIfIndex) routes.push({ prefix: r.prefix, tableId: 0, swIfIndex: p.swIfIndex, ...(p.nh ? { nh: p.nh } : {}) });
  // A VCL pod's table-0 routes lead into its VRF (agent/pod/isolation): its addresses are those routes' prefixes.
  const vclIso = g.vcl[0] ? vclIsolationFromInventory(`${g.cid}:${g.ifName}`, g.vcl[0].swIfIndex, { id: vclNamespaceId({ containerId: g.cid, ifName: g.ifName }), socket: '', secret: '0' }, inv.isolation) : undefined;
  if (routes.length === 0 && !vclIso?.plan.steer.length) return { incomplete: 'no routes to the pod (its ADD did not finish)', netns };
  const ips = routes.length > 0 ? routes.map((r) => r.prefix) : vclIso!.plan.steer.map((s) => s.route.prefix);
  const made: MadeObjects = { pbl: [], routes, neighbors: [] };
  const cfg = c.cfg;
  const result: AttachResult = { interfaces: [{ name: g.ifName, sandbox: netns }], ips: ips.map((a) => ({ address: a, interface: 0 })), routes: [] };
  const mainIf = result.interfaces[0]!;
  const memifOf = (itf: InvInterface, mode: 'pbl' | 'multinet'): MadeMemif | string => {
    const d = inv.memifs.get(itf.swIfIndex);
    if (!d) return `memif ${itf.name} not in memif_dump`;
    const filename = inv.sockets.get(d.socketId);
    const parsed = filename ? parseSocketFilename(filename) : undefined;
    if (!filename || !parsed || parsed[0] !== memifSocketName(mode, g.ifName) || parsed[1] !== netns) return `memif ${itf.name}: socket ${filename ?? d.socketId} is not ours`;
    const l2 = d.mode === 'ethernet';
    if (l2) for (const a of ips) made.neighbors.push({ swIfIndex: itf.swIfIndex, ip: ipOf(a), mac: MEMIF_CLIENT_MAC });
    return { mode, socketId: d.socketId, socketFilename: filename, socketName: `@${parsed[0]}`, swIfIndex: itf.swIfIndex, tag: itf.tag, l2, spec: sized(resolveSpec(undefined, cfg, false), !l2, d.ringSize, d.ringSize) };
  };
  if (main) {
    if (g.tun[0]) {
      const t = inv.taps.get(g.tun[0].swIfIndex)!;
      const l2 = !t.tun;
      made.tun = { swIfIndex: t.swIfIndex, tag: g.tun[0].tag, hostIfName: t.hostIfName, l2, spec: sized(resolveSpec(undefined, cfg, true), !l2, t.rxRingSize, t.txRingSize) };
      if (l2) {
        const mac = pinnedMac(inv, t.swIfIndex, ips);
        if (typeof mac !== 'string') return { ...mac, netns };
        if (t.hostMac !== '00:00:00:00:00:00' && mac !== t.hostMac) return { incomplete: `pod addresses pinned to ${mac}, the TAP's pod-side MAC is ${t.hostMac}`, netns };
        made.tun.hostMac = mac;
        for (const a of ips) made.neighbors.push({ swIfIndex: t.swIfIndex, ip: ipOf(a), mac });
        mainIf.mac = mac;
      }
    } else {
      const itf = g.veth[0]!;
      const mac = pinnedMac(inv, itf.swIfIndex, ips);
      if (typeof mac !== 'string') return { ...mac, netns };
      // af_packet_dump carries no ring or queue sizes: the pod's own spec (annotations), else the defaults.
      let spec: InterfaceSpec;
      try {
        spec = resolveSpec(pod ? parsePodAnnotations(pod.annotations, cfg.gates, cfg.limits).interfacesSpec[g.ifName] : undefined, cfg, true);
      } catch {
        spec = resolveSpec(undefined, cfg, true);
      }
      made.veth = { swIfIndex: itf.swIfIndex, tag: itf.tag, hostIfName: inv.afPackets.get(itf.swIfIndex)!.hostIfName, podIfName: g.ifName, podMac: mac, vppMac: itf.mac, l2: !spec.isl3, spec };
      for (const a of ips) made.neighbors.push({ swIfIndex: itf.swIfIndex, ip: ipOf(a), mac });
      mainIf.mac = mac;
    }
    mainIf.mtu = cfg.mtu;
    if (g.memif[0]) {
      const m = memifOf(g.memif[0], 'pbl');
      if (typeof m === 'string') return { incomplete: m, netns };
      const addrs = new Set(ips.map(ipOf));
      made.pbl = (inv.pbl ?? []).filter((p) => addrs.has(p.addr)).map((p) => ({ ip: p.addr, id: p.id }));
      if (made.pbl.length === 0) return { incomplete: 'PBL memif without PBL clients', netns };
      // pbl_client_details carry no ports: take them from the pod's annotations when the pod is known.
      let ports;
      try {
        ports = pod ? parsePodAnnotations(pod.annotations, cfg.gates, cfg.limits).memifPorts : undefined;
      } catch {
        ports = undefined;
      }
      if (ports) m.ports = ports;
      made.memif = m;
      result.interfaces.push({ name: `memif-${g.ifName}`, sandbox: netns, socketPath: m.socketName });
    }
  } else {
    const m = memifOf(primary, 'multinet');
    if (typeof m === 'string') return { incomplete: m, netns };
    made.memif = m;
    made.dummy = g.ifName;
    mainIf.socketPath = m.socketName;
  }
  if (g.vcl[0]) {
    if (!main) return { incomplete: 'VCL loopback without a tap or veth', netns };
    const nsId = vclNamespaceId({ containerId: g.cid, ifName: g.ifName });
    const a = inv.appNamespaces.find((x) => x.id === nsId);
    if (!a) return { incomplete: `VCL loopback without app namespace ${nsId}`, netns };
    made.vcl = { namespaceId: nsId, secret: a.secret, sockName: a.socket, socketName: `@${VCL_SOCKET}`, loopSwIfIndex: g.vcl[0].swIfIndex };
    const iso = vclIsolationFromInventory(`${g.cid}:${g.ifName}`, g.vcl[0].swIfIndex, { id: nsId, socket: a.socket, secret: a.secret }, inv.isolation);
    if (iso) made.vcl.isolation = iso;
  }
  // Every other registered kind's slice (the source check, a kind this function does not name): what the kind
  // itself finds in the inventory under this owner (`owned`), when it finds exactly one.
  const slices = made as Record<string, unknown>;
  for (const k of c.network.kinds.all()) {
    if (slices[k.name] !== undefined) continue;
    const mine = (found.get(k.name) ?? []).filter((f) => f.owner === `${g.cid}:${g.ifName}`);
    if (mine.length === 1) slices[k.name] = mine[0]!.made;
    else if (mine.length > 1) return { incomplete: `${mine.length} ${k.name} objects (${mine.map((f) => f.describe).join('; ')})`, netns };
  }
  const slash = g.pod.indexOf('/');
  const podRef = pod
    ? { namespace: pod.namespace, name: pod.name, ...(pod.uid ? { uid: pod.uid } : {}) }
    : { namespace: slash >= 0 ? g.pod.slice(0, slash) : '', name: slash >= 0 ? g.pod.slice(slash + 1) : g.pod };
  const rec: AttachmentRecord = {
    containerId: g.cid,
    ifName: g.ifName,
    netns,
    pod: podRef,
    kind: g.tun[0] ? 'tun' : g.veth[0] ? 'veth' : 'memif-multinet',
    ips: ips.map((address) => ({ address })),
    routes: [],
    objects: made,
    result,
    ...(pod && Object.keys(pod.annotations).length > 0 ? { annotations: { ...pod.annotations } } : {}),
    rebuilt: true,
    createdAt: new Date().toISOString(),
  };
  return { rec };
}

async function rebuild(c: StateContext, inv: VppInventory, o: ReconcileOptions, report: ReconcileReport): Promise<void> {
  const groups = new Map<string, Group>();
  for (const itf of inv.interfaces.values()) {
    const t = itf.owner;
    if (!t) continue;
    const k = `${t.cid}:${t.ifName}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { cid: t.cid, ifName: t.ifName, pod: t.pod, tun: [], veth: [], memif: [], mmif: [], vcl: [] }));
    if (t.kind === 'tun' || t.kind === 'veth' || t.kind === 'memif' || t.kind === 'mmif' || t.kind === 'vcl') g[t.kind].push(itf);
  }
  const found = c.network.kinds.owned(inv);
  const incomplete: [Group, string, string | undefined][] = [];
  for (const g of groups.values()) {
    if (c.store.get(`${g.cid}/${g.ifName}`)) continue;
    const slash = g.pod.indexOf('/');
    const pod = slash > 0 ? await lookupPod(c, g.pod.slice(0, slash), g.pod.slice(slash + 1), undefined, o.podLookupTimeoutMs ?? 2000) : undefined;
    const b = await build(c, inv, found, g, pod);
    if ('incomplete' in b) {
      incomplete.push([g, b.incomplete, b.netns]);
      continue;
    }
    await c.store.put(b.rec);
    o.stale.add(keyOf(b.rec));
    report.rebuilt++;
    c.log.warn({ ...podFields(b.rec), step: 'rebuild', netns: b.rec.netns, ips: b.rec.ips.map((i) => i.address), kind: b.rec.kind }, `${describeAttachment(b.rec)}: attachment rebuilt from VPP's tagged objects`);
  }
  const protect = protectedFrom(c.store.all());
  for (const [g, why, netns] of incomplete) {
    const owned = objectsOf(inv, [{ containerId: g.cid, ifName: g.ifName, ...(netns ? { netns } : {}) }], protect);
    const failures = await removeObjects(c, inv, owned);
    report.rebuildRemoved++;
    c.log.warn({ containerID: g.cid, ifname: g.ifName, pod: g.pod, step: 'rebuild', reason: why, ...describeObjects(owned), ...(failures.length ? { failures } : {}) }, 'tagged objects that do not make a whole attachment: removed');
  }
}
