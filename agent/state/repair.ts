/**
 * One record against VPP: is everything it says was made still there (by index, with the same tag; for a
 * veth, its host end too), and making it again when not — its leftovers removed first (a veth host end
 * included: its pod end goes with it, so the ADD can make the pair again), then the pod layer's ADD run
 * with the stored request (IPs, routes, annotations, netns) and the record's own sizing, and the record
 * replaced.
 */
import { makeTag } from '../pod/tags.js';
import type { AttachmentRecord } from '../pod/attachment.js';
import { identityOf, keyOf, planOf, requestOf, type StateContext } from './context.js';
import { describeObjects, emptyInventory, emptyOwned, isEmpty, objectsOf, removeObjects, type Protected, type VppInventory } from './inventory.js';

/** What of the record is missing or different in VPP (empty: intact). Reads the inventory only. */
export function verify(rec: AttachmentRecord, inv: VppInventory): string[] {
  const out: string[] = [];
  const o = rec.objects;
  const itf = (sw: number, tag: string, what: string): void => {
    const i = inv.interfaces.get(sw);
    if (!i) out.push(`${what} sw_if_index ${sw} missing`);
    else if (i.tag !== tag) out.push(`${what} sw_if_index ${sw} has tag "${i.tag}", expected "${tag}"`);
  };
  if (o.tun) {
    itf(o.tun.swIfIndex, o.tun.tag, 'tap');
    if (!inv.taps.has(o.tun.swIfIndex)) out.push(`tap sw_if_index ${o.tun.swIfIndex} not a tap`);
  }
  if (o.veth) {
    const v = o.veth;
    itf(v.swIfIndex, v.tag, 'af_packet');
    const a = inv.afPackets.get(v.swIfIndex);
    if (!a) out.push(`af_packet sw_if_index ${v.swIfIndex} not an af_packet`);
    else if (a.hostIfName !== v.hostIfName) out.push(`af_packet sw_if_index ${v.swIfIndex} is on host interface ${a.hostIfName}, expected ${v.hostIfName}`);
    const host = inv.hostVeths.get(v.hostIfName);
    if (!host) out.push(`veth host end ${v.hostIfName} missing`);
    else if (host.tag !== v.tag) out.push(`veth host end ${v.hostIfName} has alias "${host.alias}", expected tag "${v.tag}"`);
  }
  if (o.memif) {
    const m = o.memif;
    itf(m.swIfIndex, m.tag, 'memif');
    const d = inv.memifs.get(m.swIfIndex);
    if (!d) out.push(`memif sw_if_index ${m.swIfIndex} not in memif_dump`);
    else if (d.socketId !== m.socketId) out.push(`memif sw_if_index ${m.swIfIndex} uses socket ${d.socketId}, expected ${m.socketId}`);
    if (inv.sockets.get(m.socketId) !== m.socketFilename) out.push(`memif socket ${m.socketId} is "${inv.sockets.get(m.socketId) ?? 'missing'}", expected "${m.socketFilename}"`);
  }
  if (o.pbl.length > 0) {
    const have = new Map((inv.pbl ?? []).map((c) => [c.id, c.addr]));
    for (const p of o.pbl) if (have.get(p.id) !== p.ip) out.push(`pbl client ${p.id} (${p.ip}) missing`);
  }
  for (const r of o.routes) {
    const hit = inv.routes.some((h) => h.prefix === r.prefix && h.paths.some((p) => p.swIfIndex === r.swIfIndex));
    if (!hit) out.push(`route ${r.prefix} via sw_if_index ${r.swIfIndex} missing`);
  }
  for (const n of o.neighbors) {
    if (!inv.neighbors.some((h) => h.swIfIndex === n.swIfIndex && h.ip === n.ip && h.mac === n.mac)) out.push(`static neighbor ${n.ip} → ${n.mac} on sw_if_index ${n.swIfIndex} missing`);
  }
  if (o.vcl) {
    const tag = makeTag({ containerId: rec.containerId, ifName: rec.ifName, podNamespace: rec.pod.namespace, podName: rec.pod.name }, 'vcl');
    itf(o.vcl.loopSwIfIndex, tag, 'vcl loopback');
    if (!inv.appNamespaces.some((a) => a.id === o.vcl!.namespaceId)) out.push(`app namespace ${o.vcl.namespaceId} missing`);
  }
  return out;
}

/** PBL clients and addresses the other records hold (never taken for this one's leftovers). */
export function protectedFrom(records: readonly AttachmentRecord[], except?: AttachmentRecord): Protected {
  const p: Protected = { pblIds: new Set(), addrs: new Set() };
  for (const r of records) {
    if (except && keyOf(r) === keyOf(except)) continue;
    for (const c of r.objects.pbl) p.pblIds.add(c.id);
  }
  return p;
}

export interface RecreateOptions {
  /** VPP as it is now: the record's leftovers found in it are removed first. Undefined: VPP restarted and holds none. */
  inventory?: VppInventory;
  protect?: Protected;
  /** Write the record to the store at once (default); false: stage it, the caller syncs (bulk re-creation). */
  durable?: boolean;
}

/** Makes the record's objects again (after removing what is left of them) and stores the new record. */
export async function recreate(c: StateContext, rec: AttachmentRecord, opts: RecreateOptions = {}): Promise<AttachmentRecord> {
  const owned = opts.inventory ? objectsOf(opts.inventory, [identityOf(rec)], opts.protect) : emptyOwned();
  // The multinet dummy lives in the pod netns and outlives VPP; so does a veth pair (host end named by the
  // record, pod end in the pod netns: removing the host end removes both).
  if (!opts.inventory && rec.objects.dummy) owned.links.push([rec.netns, rec.objects.dummy]);
  if (!opts.inventory && rec.objects.veth) owned.hostLinks.push(rec.objects.veth.hostIfName);
  if (!isEmpty(owned)) {
    c.log.debug({ containerID: rec.containerId, ifname: rec.ifName, ...describeObjects(owned) }, 'removing what is left before making the attachment again');
    const failures = await removeObjects(c, opts.inventory ?? emptyInventory(), owned);
    if (failures.length > 0) throw new Error(`leftovers not removed: ${failures.join('; ')}`);
  }
  const made = await c.network.add(requestOf(rec), planOf(rec));
  const out: AttachmentRecord = { ...made, createdAt: rec.createdAt, ...(rec.rebuilt ? { rebuilt: true } : {}) };
  if (opts.durable === false && c.store.stage) c.store.stage(out);
  else await c.store.put(out);
  return out;
}
