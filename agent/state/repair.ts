/**
 * One record against VPP: is everything it says was made still there (by index, with the same tag; for a
 * veth, its host end too), and making it again when not — its leftovers removed first (a veth host end
 * included: its pod end goes with it, so the ADD can make the pair again), then the pod layer's ADD run
 * with the stored request (IPs, routes, annotations, netns) and the record's own sizing, and the record
 * replaced.
 */
import type { AttachmentRecord } from '../pod/record.js';
import { identityOf, keyOf, planOf, requestOf, type StateContext } from './context.js';
import { describeObjects, emptyInventory, emptyOwned, isEmpty, objectsOf, removeObjects, type Protected, type VppInventory } from './inventory.js';

/**
 * What of the record is missing or different in VPP (empty: intact): every kind's `verify` of its slice
 * against the inventory, so adoption reads the inventory only and changes nothing.
 */
export function verify(c: Pick<StateContext, 'network'>, rec: AttachmentRecord, inv: VppInventory): string[] {
  return c.network.kinds.verify(c.network.contextFor(rec), rec.objects, inv).map((p) => `${p.object}: ${p.problem}`);
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
