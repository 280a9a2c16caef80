/**
 * Brings VPP's cnat translations and the host's routes to other nodes to what the cluster says, after every
 * change of a Node, Service or EndpointSlice (coalesced: changes that arrive during a run are handled by the
 * next one, right after it).
 *
 *  - Desired state comes from the pure functions (services.ts, node-routes.ts).
 *  - Translations: created or updated with cnat_translation_update (same id for an existing VIP), deleted
 *    when no longer desired; never one without paths. Several requests are in flight at once (the client
 *    pipelines them).
 *  - Routes: HostRoutes.sync makes our routes (by protocol) exactly the desired ones; vxlan mode first makes
 *    the device and its FDB/neighbors.
 *  - Adoption after an agent restart: the translations VPP holds and our routes are read once and taken as
 *    made; equal ones cause no request. After a VPP restart (`vppRestarted`) every translation is re-created.
 *    Translations VPP holds that nothing wants (a stale one, left by a crash) are deleted: the sweep.
 *  - Each Service or Node that cannot be programmed gets one log line with the reason (again only when the
 *    reason changes); sessionAffinity ClientIP and the like are reported once per Service through `onWarning`
 *    (a Warning Event).
 */
import { transact } from '../pod/transaction.js';
import { listTranslations } from '../vpp/cnat.js';
import type { VxlanDevice } from '../linux/vxlan.js';
import type { HostRoute } from '../linux/host-routes.js';
import { takeNodeInventory, type NodeCtx } from './context.js';
import type { KubeEndpointSlice, KubeNode, KubeService } from './kube-objects.js';
import { desiredNodeRoutes, vtepMacFor, type CrossNodeMode, type DesiredNodeRoutes } from './node-routes.js';
import { desiredForService, mergeServices, sameTranslation, slicesByService, type DesiredServices, type ServiceResult, type TranslationSpec } from './services.js';
import { keyOf } from './kube-objects.js';
import { deleteTranslation, serviceTranslationKind, type MadeTranslation } from './kinds/service-translation.js';

/** Latency samples kept in `stats.latencies`. */
export const MAX_LATENCY_SAMPLES = 10_000;

export interface ClusterView {
  nodes(): KubeNode[];
  services(): KubeService[];
  slices(): KubeEndpointSlice[];
}

export interface VxlanSetup {
  readonly device: VxlanDevice;
  readonly name: string;
  readonly vni: number;
  readonly port: number;
  readonly mtu: number;
}

export interface ReconcilerOptions {
  readonly nodeName: string;
  readonly mode: CrossNodeMode;
  readonly servicesEnabled: boolean;
  /** Host link prefixes (podCIDRs overlapping them are refused). */
  readonly hostLinkPrefixes: readonly string[];
  /** This node's podCIDRs are routed to VPP: via these addresses on the host link (per family). */
  readonly ownPodRoutes?: { readonly dev: string; readonly via4?: string; readonly via6?: string };
  readonly vxlan?: VxlanSetup;
  readonly maxBackends?: number;
  /** Requests in flight at once (default 64). */
  readonly concurrency?: number;
  /** Milliseconds clock (default performance.now). */
  readonly clock?: () => number;
  /** Told after every run: `latencyMs` from the change that caused it (undefined for a periodic run). */
  readonly onRun?: (ok: boolean, latencyMs: number | undefined) => void;
  /** A Service warning (once per Service and reason): a Warning Event in a cluster. */
  readonly onWarning?: (service: string, reason: string) => void;
}

export interface ReconcileStats {
  runs: number;
  translationUpdates: number;
  translationDeletes: number;
  routeChanges: number;
  /** Change → VPP latency samples (ms), oldest first. */
  readonly latencies: number[];
  lastError: string | undefined;
}

export class NodeReconciler {
  /** Translations VPP holds that we made or adopted, by key. */
  private readonly made = new Map<string, MadeTranslation>();
  private readonly reported = new Map<string, string>();
  private readonly warned = new Set<string>();
  /** Per-Service desired state, recomputed only for the Services a change touched. */
  private readonly perService = new Map<string, ServiceResult>();
  /** EndpointSlice → its Service, as last seen (a slice that goes must dirty the Service it belonged to). */
  private readonly sliceOwner = new Map<string, string>();
  private dirtyAll = true;
  private nodesDirty = true;
  private readonly dirtyServices = new Set<string>();
  private readonly dirtySlices = new Set<string>();
  private running: Promise<void> | undefined;
  private pending = false;
  private pendingSince: number | undefined;
  private readonly clock: () => number;
  private closed = false;
  private retryMs = 500;
  private stopResync: () => void = () => undefined;
  readonly stats: ReconcileStats = { runs: 0, translationUpdates: 0, translationDeletes: 0, routeChanges: 0, latencies: [], lastError: undefined };
  /** The last desired state computed (for vpp-cnictl node/service). */
  lastServices: DesiredServices | undefined;
  lastRoutes: DesiredNodeRoutes | undefined;

  constructor(
    private readonly ctx: NodeCtx,
    private readonly view: ClusterView,
    private readonly o: ReconcilerOptions,
  ) {
    this.clock = o.clock ?? (() => performance.now());
  }

  /** Takes what VPP and the host hold as made (agent restart): equal objects are not touched again. */
  async adopt(): Promise<{ translations: number; routes: number }> {
    const inv = await takeNodeInventory(this.ctx);
    this.made.clear();
    for (const f of serviceTranslationKind.owned(inv)) this.made.set(f.made.key, f.made);
    return { translations: this.made.size, routes: inv.hostRoutes.length };
  }

  /** VPP restarted: everything it held is gone. */
  vppRestarted(): void {
    this.made.clear();
    this.trigger();
  }

  /** The Services' desired state, recomputing the dirty ones only. */
  private computeServices(): DesiredServices {
    const all = this.dirtyAll;
    const dirty = new Set(this.dirtyServices);
    const dirtySlices = [...this.dirtySlices];
    this.dirtyAll = false;
    this.dirtyServices.clear();
    this.dirtySlices.clear();
    const svcs = new Map(this.view.services().map((s) => [keyOf(s), s]));
    const bySvc = slicesByService(this.view.slices());
    for (const k of dirtySlices) {
      const before = this.sliceOwner.get(k);
      if (before) dirty.add(before);
    }
    this.sliceOwner.clear();
    for (const [svc, list] of bySvc) for (const sl of list) this.sliceOwner.set(keyOf(sl), svc);
    for (const k of dirtySlices) {
      const now = this.sliceOwner.get(k);
      if (now) dirty.add(now);
    }
    const keys = all ? new Set([...svcs.keys(), ...this.perService.keys()]) : dirty;
    const opts = { nodeName: this.o.nodeName, ...(this.o.maxBackends ? { maxBackends: this.o.maxBackends } : {}) };
    for (const k of keys) {
      const svc = svcs.get(k);
      if (svc) this.perService.set(k, desiredForService(svc, bySvc.get(k) ?? [], opts));
      else this.perService.delete(k);
    }
    return mergeServices(this.perService.values());
  }

  /**
   * Schedules a run; `at` is when the change happened (latency). With `change`, only the Service it touches
   * is recomputed; without it (or on a relist), every Service.
   */
  trigger(at: number = this.clock(), change?: { readonly what: 'node' | 'service' | 'endpointslice'; readonly kind: string; readonly key: string }): void {
    if (this.closed) return;
    if (!change || change.kind === 'relist') {
      this.dirtyAll = true;
      this.nodesDirty = true;
    } else if (change.what === 'node') this.nodesDirty = true;
    else if (change.what === 'service') this.dirtyServices.add(change.key);
    else if (change.what === 'endpointslice') this.dirtySlices.add(change.key);
    this.pendingSince = this.pendingSince === undefined ? at : Math.min(this.pendingSince, at);
    this.pending = true;
    if (!this.running) this.running = this.loop();
  }

  /** Resolves once no run is pending or running. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * A full run every `intervalMs` (default 5 minutes): host routes changed behind our back (one of ours deleted
   * by hand, a stale one added) are repaired without waiting for a cluster change. Translations are compared
   * with what we made, not re-read from VPP (that is `adopt`).
   * Returns the stop function; `close` stops it too.
   */
  startResync(intervalMs = 300_000): () => void {
    const t = setInterval(() => this.trigger(), intervalMs);
    t.unref();
    this.stopResync = () => clearInterval(t);
    return this.stopResync;
  }

  close(): void {
    this.closed = true;
    this.stopResync();
  }

  /** The translations VPP holds as far as we know (key → made). */
  translations(): MadeTranslation[] {
    return [...this.made.values()];
  }

  private async loop(): Promise<void> {
    try {
      while (this.pending && !this.closed) {
        this.pending = false;
        const since = this.pendingSince;
        this.pendingSince = undefined;
        try {
          await this.runOnce();
          this.stats.lastError = undefined;
          const latency = since === undefined ? undefined : this.clock() - since;
          if (latency !== undefined) {
            this.stats.latencies.push(latency);
            // Bounded: a long-running agent keeps the latest samples only.
            if (this.stats.latencies.length > MAX_LATENCY_SAMPLES) this.stats.latencies.splice(0, this.stats.latencies.length - MAX_LATENCY_SAMPLES);
          }
          this.o.onRun?.(true, latency);
        } catch (e) {
          this.stats.lastError = (e as Error).message;
          this.o.onRun?.(false, undefined);
          this.ctx.log.warn({ err: (e as Error).message, retryInMs: this.retryMs }, 'node dataplane sync failed; retrying');
          const t = setTimeout(() => this.trigger(), this.retryMs);
          t.unref();
          this.retryMs = Math.min(this.retryMs * 2, 30_000);
          continue;
        }
        this.retryMs = 500;
      }
    } finally {
      this.running = undefined;
    }
  }

  private report(subject: string, reason: string | undefined): void {
    const prev = this.reported.get(subject);
    if (reason === undefined) {
      this.reported.delete(subject);
      return;
    }
    if (prev === reason) return;
    this.reported.set(subject, reason);
    this.ctx.log.warn({ subject, reason }, `${subject} not programmed: ${reason}`);
  }

  async runOnce(): Promise<void> {
    this.stats.runs++;
    // Routes only when a Node changed (or everything is recomputed): a Service change costs no host command.
    const nodesDirty = this.nodesDirty;
    this.nodesDirty = false;
    const routes = nodesDirty || !this.lastRoutes ? desiredNodeRoutes(this.view.nodes(), { selfName: this.o.nodeName, mode: this.o.mode, hostLinkPrefixes: this.o.hostLinkPrefixes }) : this.lastRoutes;
    this.lastRoutes = routes;
    const skipped = new Map<string, string>();
    const add = (subject: string, reason: string): void => void skipped.set(subject, [skipped.get(subject), reason].filter(Boolean).join('; '));
    for (const s of routes.skipped) add(`node ${s.node}`, s.reason);
    const services = this.o.servicesEnabled ? this.computeServices() : undefined;
    this.lastServices = services;
    for (const s of services?.skipped ?? []) add(`Service ${s.service}`, s.reason);
    for (const subject of new Set([...this.reported.keys(), ...skipped.keys()])) {
      if (subject.startsWith('route ')) continue;
      this.report(subject, skipped.get(subject));
    }
    for (const w of services?.warnings ?? []) {
      const k = `${w.service}|${w.reason}`;
      if (this.warned.has(k)) continue;
      this.warned.add(k);
      this.ctx.log.warn({ service: w.service, reason: w.reason }, `Service ${w.service}: ${w.reason}`);
      this.o.onWarning?.(w.service, w.reason);
    }
    try {
      await Promise.all([this.syncTranslations(services?.translations ?? new Map()), nodesDirty ? this.syncRoutes(routes) : Promise.resolve()]);
    } catch (e) {
      // Retried at the next run: what failed is still dirty.
      if (nodesDirty) this.nodesDirty = true;
      this.dirtyAll = true;
      throw e;
    }
  }

  private async syncTranslations(desired: ReadonlyMap<string, TranslationSpec>): Promise<void> {
    const work: (() => Promise<void>)[] = [];
    for (const [key, m] of this.made) {
      if (desired.has(key)) continue;
      work.push(async () => {
        await deleteTranslation(this.ctx, m.id);
        this.made.delete(key);
        this.stats.translationDeletes++;
      });
    }
    for (const spec of desired.values()) {
      const cur = this.made.get(spec.key);
      if (cur && sameTranslation(spec, { ...spec, backends: cur.backends })) continue;
      work.push(async () => {
        const made = await transact(`Service ${spec.service} (${spec.key})`, this.ctx.log, undefined, (tx) => serviceTranslationKind.create(this.ctx, tx, spec));
        this.made.set(spec.key, made);
        this.stats.translationUpdates++;
      });
    }
    await runBounded(work, this.o.concurrency ?? 64);
  }

  private async syncRoutes(d: DesiredNodeRoutes): Promise<void> {
    const want: HostRoute[] = [];
    const own = this.o.ownPodRoutes;
    if (own) {
      for (const c of d.ownPodCidrs) {
        const via = c.family === 4 ? own.via4 : own.via6;
        if (via) want.push({ dst: c.text, via, dev: own.dev });
      }
    }
    if (this.o.mode === 'vxlan' && this.o.vxlan && d.ownUnderlay) {
      const vx = this.o.vxlan;
      await vx.device.ensure({ name: vx.name, vni: vx.vni, port: vx.port, local: d.ownUnderlay, mac: vtepMacFor(d.ownUnderlay), mtu: vx.mtu });
      const peers = new Map<string, { vtepMac: string; underlay: string; gateways: string[] }>();
      for (const r of d.routes.values()) {
        if (!r.vxlan) continue;
        const p = peers.get(r.node) ?? { vtepMac: r.vxlan.vtepMac, underlay: r.vxlan.underlay, gateways: [] };
        p.gateways.push(r.via);
        peers.set(r.node, p);
      }
      await vx.device.syncPeers(vx.name, [...peers.values()]);
      for (const r of d.routes.values()) want.push({ dst: r.podCidr, via: r.via, dev: vx.name, onlink: true });
    } else if (this.o.mode === 'host-gw') {
      for (const r of d.routes.values()) want.push({ dst: r.podCidr, via: r.via });
    }
    const res = await this.ctx.routes.sync(want);
    this.stats.routeChanges += res.added.length + res.changed.length + res.removed.length;
    for (const x of res.refused) this.report(`route ${x.dst}`, x.reason);
  }
}

/** Runs the tasks with at most `n` at once; rejects with the first failure after all settled. */
export async function runBounded(tasks: readonly (() => Promise<void>)[], n: number): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const t = tasks[next++]!;
      try {
        await t();
      } catch (e) {
        errors.push(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, tasks.length) }, worker));
  if (errors.length > 0) throw errors[0] instanceof Error ? new Error(`${errors.length} of ${tasks.length} changes failed; first: ${errors[0].message}`) : new Error(String(errors[0]));
}

/** cnat translations VPP holds, for `vpp-cnictl service` (VIP:port → backends as VPP has them). */
export async function dumpTranslations(ctx: NodeCtx): Promise<{ id: number; vip: string; port: number; ipProto: number; backends: string[] }[]> {
  const all = await listTranslations(ctx.vpp);
  return all.map((t) => ({ id: t.id, vip: t.vip, port: t.port, ipProto: t.ipProto, backends: t.backends.map((b) => `${b.addr}:${b.port}`) }));
}
