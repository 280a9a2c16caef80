/**
 * VPP restarted (the client reconnected to another vpe_pid): everything the agent made in VPP is gone,
 * and the pods' taps went with it (VPP held their descriptors). Veth pairs did not: they are the
 * kernel's, and both ends (the host end VPP read through af_packet, the pod's eth0) outlive VPP. The VPP
 * side of every attachment is made again from the checkpoint: node objects first (the caller resets
 * NodeResources), then per record the pod layer's ADD with the stored request — tap in the pod netns (or
 * the veth pair, its old host end removed first, and a new af_packet on it), memif sockets and listeners
 * back in the pod netns, PBL clients (new ids), app namespaces, routes — and the record replaced.
 *
 * Before that, whatever our tags (or our records' names and addresses) mark in the new VPP is removed:
 * an operation that straddled the restart may have made objects there, and no record is trusted yet.
 * A record whose netns is gone is dropped (its pod is gone: the runtime's DEL will find nothing to do).
 * A re-creation that fails is logged with the pod, counted, and retried with backoff by the caller.
 */
import { forEachLimit, identityOf, keyOf, podFields, type StateContext } from './context.js';
import { describeObjects, isEmpty, objectsOf, removeObjects, takeInventory, type AttachmentIdentity } from './inventory.js';
import { protectedFrom, recreate, verify } from './repair.js';

export interface RecoveryReport {
  recreated: number;
  /** Records whose netns was gone: dropped. */
  dropped: number;
  failed: { key: string; error: string }[];
  /** Objects found in the new VPP before re-creation (made by operations that straddled the restart). */
  leftovers: number;
  ms: number;
}

export interface RecoveryOptions {
  /** Keys of the records not yet made again; a record leaves the set once made again or dropped. */
  stale: Set<string>;
  /** Keys made again by this recovery (added as they are). */
  fresh: Set<string>;
  /** A record whose re-creation failed (the caller retries it). */
  onFailed(key: string): void;
  concurrency?: number;
}

export async function recoverAfterVppRestart(c: StateContext, o: RecoveryOptions): Promise<RecoveryReport> {
  const t0 = performance.now();
  const report: RecoveryReport = { recreated: 0, dropped: 0, failed: [], leftovers: 0, ms: 0 };
  const records = c.store.all();
  for (const r of records) o.stale.add(keyOf(r));

  const inv = await takeInventory(c.vpp, c.netns);
  const ids: AttachmentIdentity[] = records.map(identityOf);
  for (const itf of inv.interfaces.values()) if (itf.owner) ids.push({ containerId: itf.owner.cid, ifName: itf.owner.ifName });
  // The multinet dummies and the veth host ends (in the pod and host netns, they outlived VPP) are removed
  // by each re-creation, in parallel; veth host ends no record holds go to the sweep.
  const owned = { ...objectsOf(inv, ids, { pblIds: new Set(), addrs: new Set() }), links: [], hostLinks: [] };
  if (!isEmpty(owned)) {
    const failures = await removeObjects(c, inv, owned);
    report.leftovers = owned.interfaces.length + owned.routes.length + owned.pbl.length + owned.sockets.length + owned.appNamespaces.length;
    c.log.warn({ step: 'recovery', ...describeObjects(owned), ...(failures.length ? { failures } : {}) }, 'objects made in the new VPP by operations that straddled its restart: removed');
  }

  // The new records are written in bulk (about once a second and at the end), not once per pod.
  let synced = performance.now();
  await forEachLimit(records, o.concurrency ?? 16, (r) =>
    c.exclusive(r.containerId, async () => {
      const key = keyOf(r);
      const rec = c.store.get(key);
      if (!rec || !o.stale.has(key)) return; // deleted meanwhile
      if (!(await c.netns.isNetns(rec.netns))) {
        await c.store.delete(key);
        o.stale.delete(key);
        report.dropped++;
        c.log.info({ ...podFields(rec), step: 'recovery', netns: rec.netns }, 'netns gone: attachment dropped instead of made again');
        return;
      }
      try {
        await recreate(c, rec, { durable: false });
        o.stale.delete(key);
        o.fresh.add(key);
        report.recreated++;
        if (performance.now() - synced > 1000) {
          synced = performance.now();
          await c.store.sync?.();
        }
      } catch (e) {
        report.failed.push({ key, error: (e as Error).message });
        c.log.error({ ...podFields(rec), step: 'recovery', err: (e as Error).message }, 'making the pod interfaces again after the VPP restart failed (retried with backoff)');
        o.onFailed(key);
      }
    }),
  );
  await c.store.sync?.();
  report.ms = Math.round(performance.now() - t0);
  return report;
}

export type RetryOutcome = 'done' | 'dropped' | 'gone' | 'failed';

/** One more try at a record whose re-creation failed: its leftovers are found by identity and removed first. */
export async function retryRecord(c: StateContext, key: string, stale: Set<string>): Promise<RetryOutcome> {
  const first = c.store.get(key);
  if (!first) {
    stale.delete(key);
    return 'gone';
  }
  return c.exclusive(first.containerId, async () => {
    const rec = c.store.get(key);
    if (!rec || !stale.has(key)) return 'gone';
    if (!(await c.netns.isNetns(rec.netns))) {
      await c.store.delete(key);
      stale.delete(key);
      c.log.info({ ...podFields(rec), step: 'recovery', netns: rec.netns }, 'netns gone: attachment dropped instead of made again');
      return 'dropped';
    }
    try {
      const inv = await takeInventory(c.vpp, c.netns);
      if (verify(c, rec, inv).length === 0) {
        // Intact after all (the failure was VPP going away and coming back, not restarting).
        stale.delete(key);
        return 'done';
      }
      await recreate(c, rec, { inventory: inv, protect: protectedFrom(c.store.all(), rec) });
      stale.delete(key);
      c.log.info({ ...podFields(rec), step: 'recovery' }, 'pod interfaces made again');
      return 'done';
    } catch (e) {
      c.log.error({ ...podFields(rec), step: 'recovery', err: (e as Error).message }, 'making the pod interfaces again failed (retried with backoff)');
      return 'failed';
    }
  });
}
