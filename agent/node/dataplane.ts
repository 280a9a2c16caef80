/**
 * The node dataplane composed: the host link, sysctls, our iptables chains, VPP's cnat configuration, and the
 * reconciler of routes to other nodes and Service translations — started by the agent, kept over agent and VPP
 * restarts, removed by `cleanup`.
 *
 *  - start(): reads the node checkpoint (`<stateDir>/node.json`, zod), takes the node inventory once, and
 *    ADOPTS the host link when the record verifies against VPP (same vpe pid, the tagged af_packet at the
 *    recorded index) and the host (both veth ends with our alias and the MTU): no call that changes anything.
 *    Otherwise whatever of the host link is ours is removed and it is made again. Then sysctls (written only
 *    when they differ), the VPPCNI-* chains (rewritten only when they differ), cnat (taken as applied when the
 *    checkpoint says so and the host link was adopted; else applied), and the reconciler: adopt, first run,
 *    periodic resync, one run per cluster change.
 *  - vppRestarted(): cnat's SNAT base first (pods made again need it: their POD-table calls answer
 *    FEATURE_DISABLED before it), then the host link (the af_packet died with VPP; the veth may have survived:
 *    it is removed and made again), cnat's interfaces, every translation.
 *  - stop(): stops programming, leaves everything in place (the next agent adopts it).
 *  - cleanup(): removes every node object of ours, each reported; already gone is done.
 *
 * Cluster CIDRs, when not configured, are every podCIDR of every Node (followed as Nodes change): they feed the
 * FORWARD accepts, the masquerade sources and cnat's excluded prefixes.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../lib/atomic-file.js';
import type { CtlHostLinkStatus, CtlLinkEnd, CtlNodeCleanupReport, CtlNodeStatus, CtlServiceStatus, NodeDataplaneView, NodeSyncObserver } from '../../contract/ctl-api.js';
import type { HostCmd } from '../linux/host-cmd.js';
import { HostRoutes } from '../linux/host-routes.js';
import { IptablesChains, type ChainSpec } from '../linux/iptables-chains.js';
import { DEFAULT_VXLAN_DEVICE, VxlanDevice, VXLAN_OVERHEAD } from '../linux/vxlan.js';
import { transact } from '../pod/transaction.js';
import type { VppApi } from '../vpp/api.js';
import { deleteTranslation, listTranslations } from '../vpp/cnat.js';
import { interfaceByIndex } from '../vpp/interface.js';
import { CnatConfigurator, type CnatSetup } from './cnat-setup.js';
import { familyOf, parseCidr } from './cidr.js';
import { takeNodeInventory, type NodeInventory, type NodeLogger } from './context.js';
import { keyOf } from './kube-objects.js';
import { hostLinkKind, hostLinkSchema, HOST_LINK_TAG, type HostLinkCtx, type HostLinkSpec, type MadeHostLink } from './kinds/host-link.js';
import { internalIpsOf, podCidrsOf, type CrossNodeMode } from './node-routes.js';
import { NodeReconciler, type ClusterView } from './reconciler.js';

export const NODE_CHECKPOINT_FILE = 'node.json';
export const HOST_LINK_VPP_IF = 'vcni-hl0';
export const HOST_LINK_HOST_IF = 'vcni-hl1';

/** A change of the cluster objects (the reconciler's trigger argument). */
export type ClusterChange = NonNullable<Parameters<NodeReconciler['trigger']>[1]>;

/** Where the cluster objects come from (the Kubernetes informers, or a pods file's static lists). */
export interface ClusterSource extends ClusterView {
  /** Calls `l` after every change; returns the unsubscribe function. */
  onChange(l: (c: ClusterChange) => void): () => void;
  /**
   * Resolves true once the lists are complete (the informers' first list); a source without it is complete at
   * once. Nothing is programmed before: an empty view would remove every route and translation of ours.
   */
  waitForSync?(timeoutMs: number): Promise<boolean>;
}

/** How long start() waits for the cluster lists before it fails (and is retried). */
export const CLUSTER_SYNC_TIMEOUT_MS = 10_000;

export interface NodeDataplaneSettings {
  readonly crossNode: CrossNodeMode;
  readonly clusterCidrs: readonly string[] | undefined;
  readonly serviceCidrs: readonly string[];
  readonly natOutgoing: boolean;
  readonly services: boolean;
  readonly hostLink: {
    readonly ip4: { vpp: string; host: string; len: number } | undefined;
    readonly ip6: { vpp: string; host: string; len: number } | undefined;
    readonly mtu: number;
  };
  readonly vxlan: { readonly vni: number; readonly port: number };
}

export interface NodeDataplaneOptions {
  readonly vpp: VppApi;
  /** Commands in the node's host netns. */
  readonly host: HostCmd;
  readonly log: NodeLogger & { error(obj: object, msg?: string): void };
  readonly nodeName: string;
  readonly settings: NodeDataplaneSettings;
  readonly cluster: ClusterSource;
  readonly stateDir: string;
  readonly observer?: NodeSyncObserver;
  /** VPP's pid (the client's), recorded with the host link: another pid means everything in VPP is new. */
  readonly vpePid?: () => number | undefined;
  /** A Service warning (Warning Event in a cluster). */
  readonly onWarning?: (service: string, reason: string) => void;
  /** Period of the reconciler's full run (default 5 minutes). */
  readonly resyncMs?: number;
}

const nodeCheckpointSchema = z.strictObject({
  version: z.literal(1),
  vpePid: z.number().int().optional(),
  hostLink: hostLinkSchema.optional(),
  cnat: z
    .strictObject({
      snatIp4: z.string().optional(),
      snatIp6: z.string().optional(),
      excludePrefixes: z.array(z.string()),
      hostInterfaces: z.array(z.number().int().min(0)),
    })
    .optional(),
});
type NodeCheckpoint = z.infer<typeof nodeCheckpointSchema>;

const linkJson = z.array(z.looseObject({ ifname: z.string(), mtu: z.number(), address: z.string().optional(), ifalias: z.string().optional(), operstate: z.string().optional() }));
const addrJson = z.array(z.looseObject({ addr_info: z.array(z.looseObject({ local: z.string(), prefixlen: z.number(), scope: z.string().optional() })).optional() }));

/** A locally administered unicast MAC from the node name (the same after every re-creation). */
function macFor(node: string, end: string): string {
  const h = createHash('sha256').update(`vpp-cni host link ${node} ${end}`).digest();
  return ['02', ...[h[0]!, h[1]!, h[2]!, h[3]!, h[4]!].map((x) => x.toString(16).padStart(2, '0'))].join(':');
}

/** JSON with sorted keys (a record read back compares equal whatever its key order). */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x));
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class NodeDataplane implements NodeDataplaneView {
  private readonly ctx: HostLinkCtx;
  private readonly iptables: IptablesChains;
  private readonly vxlan: VxlanDevice;
  private readonly cnat: CnatConfigurator;
  private readonly checkpointPath: string;
  private checkpoint: NodeCheckpoint = { version: 1 };
  private reconciler: NodeReconciler | undefined;
  private hostLink: MadeHostLink | undefined;
  private unsubscribe: (() => void) | undefined;
  private nodeJobPending = false;
  /** Node-level work (host link, chains, cnat) one at a time. */
  private queue: Promise<void> = Promise.resolve();
  private started = false;
  private stopped = false;
  private lastChains: string | undefined;
  private lastError: string | undefined;
  /** How the last start went: the host link adopted or made (tests, logs). */
  startReport: { hostLink: 'adopted' | 'created'; cnat: 'adopted' | 'applied'; chainsChanged: boolean } | undefined;

  constructor(private readonly o: NodeDataplaneOptions) {
    const routes = new HostRoutes(o.host);
    this.ctx = { vpp: o.vpp, routes, log: o.log, host: o.host };
    this.iptables = new IptablesChains(o.host);
    this.vxlan = new VxlanDevice(o.host);
    this.cnat = new CnatConfigurator(o.vpp);
    this.checkpointPath = join(o.stateDir, NODE_CHECKPOINT_FILE);
  }

  /** The host link as configured. */
  desiredHostLink(): HostLinkSpec {
    const h = this.o.settings.hostLink;
    return {
      vppIf: HOST_LINK_VPP_IF,
      hostIf: HOST_LINK_HOST_IF,
      vppMac: macFor(this.o.nodeName, 'vpp'),
      hostMac: macFor(this.o.nodeName, 'host'),
      mtu: h.mtu,
      ...(h.ip4 ? { ip4: { ...h.ip4 } } : {}),
      ...(h.ip6 ? { ip6: { ...h.ip6 } } : {}),
    };
  }

  /** Why the node dataplane is not serving (undefined once started). */
  notReady(): string | undefined {
    if (this.started) return undefined;
    return `node dataplane not started${this.lastError ? `: ${this.lastError}` : ''}`;
  }

  private loadCheckpoint(): NodeCheckpoint {
    if (!existsSync(this.checkpointPath)) return { version: 1 };
    try {
      const r = nodeCheckpointSchema.safeParse(JSON.parse(readFileSync(this.checkpointPath, 'utf8')) as unknown);
      if (r.success) return r.data;
      this.o.log.warn({ path: this.checkpointPath, err: r.error.issues[0]?.message }, 'node checkpoint not usable: the host link is made again');
    } catch (e) {
      this.o.log.warn({ path: this.checkpointPath, err: errText(e) }, 'node checkpoint not readable: the host link is made again');
    }
    return { version: 1 };
  }

  private saveCheckpoint(): void {
    mkdirSync(this.o.stateDir, { recursive: true, mode: 0o700 });
    writeFileAtomic(this.checkpointPath, `${JSON.stringify(this.checkpoint)}\n`);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Starts after VPP is connected. Rejects (with the step) when the host link cannot be made; may be called again. */
  start(): Promise<void> {
    return this.serial(async () => {
      if (this.stopped) return;
      try {
        await this.startOnce();
        this.lastError = undefined;
      } catch (e) {
        this.lastError = errText(e);
        throw e;
      }
    });
  }

  private async startOnce(): Promise<void> {
    if (this.o.cluster.waitForSync && !(await this.o.cluster.waitForSync(CLUSTER_SYNC_TIMEOUT_MS))) {
      throw new Error(`Nodes, Services and EndpointSlices not listed within ${CLUSTER_SYNC_TIMEOUT_MS} ms (API server unreachable?)`);
    }
    this.checkpoint = this.loadCheckpoint();
    const inv = await takeNodeInventory(this.ctx);
    const adopted = await this.adoptHostLink(inv);
    if (!adopted) await this.remakeHostLink(inv);
    await this.ensureSysctls();
    const chainsChanged = await this.syncChains();
    // cnat: the record is trusted only with the host link it was applied with (same VPP).
    const want = this.cnatSetup();
    let cnatState: 'adopted' | 'applied' = 'applied';
    const rec = this.checkpoint.cnat;
    if (adopted && rec && this.o.settings.services) {
      this.cnat.assume({ snatIp4: rec.snatIp4, snatIp6: rec.snatIp6, excludePrefixes: rec.excludePrefixes, podInterfaces: [], hostInterfaces: rec.hostInterfaces });
      cnatState = 'adopted';
    }
    await this.applyCnat(want);
    this.startReport = { hostLink: adopted ? 'adopted' : 'created', cnat: cnatState, chainsChanged };
    await this.startReconciler();
    this.started = true;
    this.o.log.info({ hostLink: this.startReport.hostLink, cnat: cnatState, chainsChanged, mode: this.o.settings.crossNode, services: this.o.settings.services }, 'node dataplane started');
  }

  /** True when the recorded host link is the one VPP and the host hold (nothing is changed). */
  private async adoptHostLink(inv: NodeInventory): Promise<boolean> {
    const rec = this.checkpoint.hostLink;
    if (!rec) return false;
    const { swIfIndex: _sw, ...spec } = rec;
    if (canonical(spec) !== canonical(this.desiredHostLink())) {
      this.o.log.info({ recorded: spec }, 'host link: configuration changed; made again');
      return false;
    }
    const pid = this.o.vpePid?.();
    if (pid !== undefined && this.checkpoint.vpePid !== undefined && pid !== this.checkpoint.vpePid) return false;
    const problems = hostLinkKind.verify(this.ctx, rec, inv);
    for (const name of [rec.vppIf, rec.hostIf]) {
      const l = await this.readLink(name);
      if (!l) problems.push({ object: `host link ${name}`, problem: 'missing on the host' });
      else if (l.ifalias !== HOST_LINK_TAG || l.mtu !== rec.mtu) problems.push({ object: `host link ${name}`, problem: `alias ${JSON.stringify(l.ifalias ?? '')}, MTU ${l.mtu}` });
    }
    if (problems.length > 0) {
      this.o.log.info({ problems }, 'host link: recorded one does not verify; made again');
      return false;
    }
    this.hostLink = rec;
    return true;
  }

  private async readLink(name: string): Promise<z.infer<typeof linkJson>[number] | undefined> {
    try {
      return linkJson.parse(await this.o.host.json('ip', ['link', 'show', 'dev', name]))[0];
    } catch (e) {
      if (/does not exist|Cannot find device/i.test(errText(e))) return undefined;
      throw e;
    }
  }

  /** Removes whatever of the host link is ours (VPP by tag, the veth by its alias), then makes it. */
  private async remakeHostLink(inv: NodeInventory): Promise<void> {
    await this.removeHostLink(inv);
    const spec = this.desiredHostLink();
    const made = await transact(`node ${this.o.nodeName} host link`, this.o.log, undefined, (tx) => hostLinkKind.create(this.ctx, tx, spec));
    this.hostLink = made;
    this.checkpoint = { version: 1, ...(this.o.vpePid?.() !== undefined ? { vpePid: this.o.vpePid()! } : {}), hostLink: made };
    this.saveCheckpoint();
    this.o.log.info({ swIfIndex: made.swIfIndex, vppIf: made.vppIf, hostIf: made.hostIf, mtu: made.mtu }, 'host link made');
  }

  private async removeHostLink(inv: NodeInventory | undefined): Promise<string[]> {
    const removed: string[] = [];
    const rec = this.checkpoint.hostLink;
    for (const f of inv ? hostLinkKind.owned(inv) : []) {
      await hostLinkKind.delete(this.ctx, rec && rec.swIfIndex === f.made.swIfIndex ? rec : f.made);
      removed.push(f.describe);
    }
    // Not in VPP (VPP restarted: its routes and neighbors went with it), the veth may be left: ours by its alias.
    const l = await this.readLink(HOST_LINK_VPP_IF);
    if (l && l.ifalias === HOST_LINK_TAG) {
      await this.o.host.run('ip', ['link', 'del', 'dev', HOST_LINK_VPP_IF]);
      removed.push(`host link veth ${HOST_LINK_VPP_IF}/${HOST_LINK_HOST_IF}`);
    }
    this.hostLink = undefined;
    return removed;
  }

  /** Forwarding on, rp_filter loose and arp_announce 2 on the host side; written only when different. */
  private async ensureSysctls(): Promise<void> {
    const want: [string, string][] = [
      ['net.ipv4.ip_forward', '1'],
      [`net.ipv4.conf.${HOST_LINK_HOST_IF}.rp_filter`, '2'],
      // ARP toward VPP's side from the host side's own address: VPP drops an ARP request whose sender is not in
      // the host link's subnet ("IP4 source address not local to subnet"), and by default the kernel takes the
      // sender from the packet (the node's InternalIP when it answers a pod).
      [`net.ipv4.conf.${HOST_LINK_HOST_IF}.arp_announce`, '2'],
    ];
    if (this.o.settings.hostLink.ip6) want.push(['net.ipv6.conf.all.forwarding', '1']);
    const out = await this.o.host.run('sysctl', ['-n', ...want.map(([k]) => k)]);
    const have = out.split('\n').map((x) => x.trim());
    const diff = want.filter(([, v], i) => have[i] !== v);
    if (diff.length > 0) await this.o.host.run('sysctl', ['-q', '-w', ...diff.map(([k, v]) => `${k}=${v}`)]);
  }

  /** The cluster's pod CIDRs: configured, or every Node's podCIDRs. */
  clusterCidrs(): string[] {
    if (this.o.settings.clusterCidrs) return [...this.o.settings.clusterCidrs];
    const out = new Set<string>();
    for (const n of this.o.cluster.nodes()) for (const t of podCidrsOf(n)) {
      const c = parseCidr(t);
      if (c) out.add(c.text);
    }
    return [...out].sort();
  }

  private chainSpec(): ChainSpec {
    const cluster = this.clusterCidrs();
    return { podCidrs: cluster, noMasqueradeCidrs: [...cluster, ...this.o.settings.serviceCidrs], natOutgoing: this.o.settings.natOutgoing };
  }

  /** Rewrites our chains when they differ from the spec (reads first: no write when equal). */
  private async syncChains(): Promise<boolean> {
    const spec = this.chainSpec();
    const r = await this.iptables.sync(spec);
    this.lastChains = JSON.stringify(spec);
    return r.changed;
  }

  private selfAddresses(): Map<4 | 6, string> {
    const self = this.o.cluster.nodes().find((n) => n.metadata.name === this.o.nodeName);
    return self ? internalIpsOf(self) : new Map();
  }

  private cnatSetup(): CnatSetup {
    const addrs = this.selfAddresses();
    const nodeHosts = [...addrs.values()].map((a) => `${a}/${familyOf(a) === 4 ? 32 : 128}`);
    const exclude = [...new Set([...this.clusterCidrs(), ...this.o.settings.serviceCidrs, ...nodeHosts])].sort();
    return { snatIp4: addrs.get(4), snatIp6: addrs.get(6), excludePrefixes: exclude, podInterfaces: [], hostInterfaces: this.hostLink ? [this.hostLink.swIfIndex] : [] };
  }

  private async applyCnat(want: CnatSetup): Promise<void> {
    if (!this.o.settings.services) return;
    await this.cnat.apply(want);
    this.checkpoint = { ...this.checkpoint, cnat: { ...(want.snatIp4 ? { snatIp4: want.snatIp4 } : {}), ...(want.snatIp6 ? { snatIp6: want.snatIp6 } : {}), excludePrefixes: [...want.excludePrefixes], hostInterfaces: [...want.hostInterfaces] } };
    this.saveCheckpoint();
  }

  private async startReconciler(): Promise<void> {
    this.unsubscribe?.();
    this.reconciler?.close();
    const s = this.o.settings;
    const hl = this.hostLink!;
    const rec = new NodeReconciler(this.ctx, this.o.cluster, {
      nodeName: this.o.nodeName,
      mode: s.crossNode,
      servicesEnabled: s.services,
      hostLinkPrefixes: [hl.ip4, hl.ip6].filter((x) => x !== undefined).map((x) => parseCidr(`${x.vpp}/${x.len}`)!.text),
      ownPodRoutes: { dev: hl.hostIf, ...(hl.ip4 ? { via4: hl.ip4.vpp } : {}), ...(hl.ip6 ? { via6: hl.ip6.vpp } : {}) },
      vxlan: { device: this.vxlan, name: DEFAULT_VXLAN_DEVICE, vni: s.vxlan.vni, port: s.vxlan.port, mtu: s.hostLink.mtu - VXLAN_OVERHEAD },
      onRun: (ok, latencyMs) => {
        if (ok) this.o.observer?.syncDone(latencyMs === undefined ? undefined : latencyMs / 1000);
        else this.o.observer?.syncFailed();
      },
      ...(this.o.onWarning ? { onWarning: this.o.onWarning } : {}),
    });
    this.reconciler = rec;
    // Adopt first: a run before it would take every translation VPP holds for missing and send it again.
    try {
      const a = await rec.adopt();
      this.o.log.info({ translations: a.translations, routes: a.routes }, 'node objects adopted');
    } catch (e) {
      this.o.log.warn({ err: errText(e) }, 'node inventory not readable; every translation will be sent');
    }
    // Changes from here on; the first run below reads the whole view (what changed meanwhile included).
    this.unsubscribe = this.o.cluster.onChange((c) => {
      rec.trigger(undefined, c);
      if (c.what === 'node') this.nodesChanged();
    });
    rec.trigger();
    rec.startResync(this.o.resyncMs);
  }

  /**
   * A Node changed: cluster CIDRs and this node's addresses may have (chains, cnat excludes). Coalesced: one job
   * pending at a time (a relist of 500 Nodes costs one comparison, not 500).
   */
  private nodesChanged(): void {
    if (this.nodeJobPending) return;
    this.nodeJobPending = true;
    void this.serial(async () => {
      this.nodeJobPending = false;
      if (this.stopped || !this.started) return;
      if (JSON.stringify(this.chainSpec()) !== this.lastChains) await this.syncChains();
      const want = this.cnatSetup();
      const cur = this.cnat.current;
      if (this.o.settings.services && JSON.stringify(cur) !== JSON.stringify(want)) await this.applyCnat(want);
    }).catch((e: unknown) => this.o.log.warn({ err: errText(e) }, 'node dataplane: chains or cnat not updated after a Node change; retried at the next one'));
  }

  /** Settles once the reconciler has nothing pending (tests). */
  async idle(): Promise<void> {
    await this.queue;
    await this.reconciler?.idle();
  }

  /**
   * VPP restarted. `base` settles once cnat's SNAT base is in VPP again (pods made again need it), `done` once
   * the host link, cnat and the translations are made again.
   */
  vppRestarted(): { base: Promise<void>; done: Promise<void> } {
    let baseDone!: () => void;
    const base = new Promise<void>((r) => (baseDone = r));
    const done = this.serial(async () => {
      try {
        if (this.stopped || !this.started) return;
        this.cnat.forget();
        this.reconciler?.close();
        this.unsubscribe?.();
        this.reconciler = undefined;
        const want = this.cnatSetup();
        if (this.o.settings.services) await this.cnat.apply({ ...want, hostInterfaces: [] }).catch((e: unknown) => this.o.log.warn({ err: errText(e) }, 'cnat SNAT base not made after the VPP restart'));
        baseDone();
        const inv = await takeNodeInventory(this.ctx);
        await this.remakeHostLink(inv);
        await this.applyCnat(this.cnatSetup());
        await this.startReconciler();
        this.o.log.info({ swIfIndex: this.hostLink?.swIfIndex }, 'node dataplane made again after the VPP restart');
      } catch (e) {
        this.lastError = errText(e);
        this.o.log.error({ err: errText(e) }, 'node dataplane not made again after the VPP restart');
        throw e;
      } finally {
        baseDone();
      }
    });
    return { base, done };
  }

  /** Stops programming; everything stays in place (an agent restart adopts it). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.reconciler?.close();
    await this.reconciler?.idle();
    await this.queue;
  }

  /** Removes every node object of ours; the agent stops programming the node until it restarts. */
  async cleanup(): Promise<CtlNodeCleanupReport> {
    await this.stop();
    const removed: string[] = [];
    const errors: string[] = [];
    const step = async (what: string, fn: () => Promise<string[] | string | undefined>): Promise<void> => {
      try {
        const r = await fn();
        if (Array.isArray(r)) removed.push(...r);
        else if (r) removed.push(r);
      } catch (e) {
        errors.push(`${what}: ${errText(e)}`);
      }
    };
    await step('cnat translations', async () => {
      const out: string[] = [];
      for (const t of await listTranslations(this.o.vpp)) {
        await deleteTranslation(this.o.vpp, t.id);
        out.push(`cnat translation ${t.vip}:${t.port} (id ${t.id})`);
      }
      return out;
    });
    await step('host routes', async () => (await this.ctx.routes.removeAll()).map((d) => `host route ${d} (proto ${this.ctx.routes.protocol})`));
    await step('vxlan device', async () => ((await this.vxlan.remove(DEFAULT_VXLAN_DEVICE)) ? `vxlan device ${DEFAULT_VXLAN_DEVICE}` : undefined));
    await step('iptables chains', async () => {
      const before = await Promise.all([this.iptables.read(4), this.iptables.read(6)]);
      await this.iptables.removeAll();
      return before.some((s) => s.filter !== undefined || s.nat !== undefined || s.forwardJumps > 0 || s.postroutingJumps > 0) ? 'iptables chains VPPCNI-FORWARD, VPPCNI-POSTROUTING and their jumps' : undefined;
    });
    await step('cnat configuration', async () => {
      const cur = this.cnat.current;
      if (!cur || !this.o.settings.services || (cur.excludePrefixes.length === 0 && cur.hostInterfaces.length === 0)) return undefined;
      await this.cnat.apply({ ...cur, excludePrefixes: [], hostInterfaces: [] });
      return `cnat excluded prefixes (${cur.excludePrefixes.length}) and the host link in cnat's HOST table`;
    });
    await step('host link', async () => this.removeHostLink(await takeNodeInventory(this.ctx)));
    await step('node checkpoint', async () => {
      if (!existsSync(this.checkpointPath)) return undefined;
      unlinkSync(this.checkpointPath);
      return `node checkpoint ${this.checkpointPath}`;
    });
    this.checkpoint = { version: 1 };
    this.started = false;
    this.o.log.info({ removed: removed.length, errors }, 'node dataplane cleaned up');
    return { removed, errors };
  }

  counts(): { nodesRouted: number; translations: number } {
    const routes = this.reconciler?.lastRoutes;
    return { nodesRouted: routes ? new Set([...routes.routes.values()].map((r) => r.node)).size : 0, translations: this.reconciler?.translations().length ?? 0 };
  }

  private async linkEndVpp(m: MadeHostLink): Promise<CtlLinkEnd | undefined> {
    const d = await interfaceByIndex(this.o.vpp, m.swIfIndex);
    if (!d || d.tag !== HOST_LINK_TAG) return undefined;
    return {
      name: d.name,
      // As made: the façade reads no interface addresses here.
      addresses: [m.ip4, m.ip6].filter((x) => x !== undefined).map((x) => `${x.vpp}/${x.len}`),
      mtu: d.mtu[0] ?? 0,
      state: `${d.adminUp ? 'admin-up' : 'admin-down'} ${d.linkUp ? 'link-up' : 'link-down'}`,
      mac: d.mac,
    };
  }

  private async linkEndHost(name: string): Promise<CtlLinkEnd | undefined> {
    const l = await this.readLink(name);
    if (!l || l.ifalias !== HOST_LINK_TAG) return undefined;
    const a = addrJson.parse(await this.o.host.json('ip', ['addr', 'show', 'dev', name]));
    const addresses = (a[0]?.addr_info ?? []).filter((x) => x.scope !== 'link').map((x) => `${x.local}/${x.prefixlen}`);
    return { name, addresses, mtu: l.mtu, state: l.operstate ?? 'UNKNOWN', ...(l.address ? { mac: l.address } : {}) };
  }

  async status(): Promise<CtlNodeStatus> {
    const s = this.o.settings;
    const rec = this.reconciler;
    const m = this.hostLink;
    let hostLink: CtlHostLinkStatus | undefined;
    if (m) hostLink = { vppIf: m.vppIf, hostIf: m.hostIf, swIfIndex: m.swIfIndex, mtu: m.mtu, vpp: await this.linkEndVpp(m), host: await this.linkEndHost(m.hostIf) };
    const live = await this.ctx.routes.list();
    const routes = [...(rec?.lastRoutes?.routes.values() ?? [])].map((r) => {
      const dev = r.vxlan ? DEFAULT_VXLAN_DEVICE : undefined;
      return { node: r.node, podCidr: r.podCidr, via: r.via, ...(dev ? { dev } : {}), present: live.some((x) => x.dst === r.podCidr && (x.via ?? '') === r.via) };
    });
    const skipped = [...(rec?.lastRoutes?.skipped ?? []).map((x) => ({ subject: `node ${x.node}`, reason: x.reason })), ...(rec?.lastServices?.skipped ?? []).map((x) => ({ subject: `Service ${x.service}`, reason: x.reason }))];
    const lat = rec?.stats.latencies;
    const lastErr = rec?.stats.lastError ?? this.lastError;
    return {
      nodeName: this.o.nodeName,
      mode: s.crossNode,
      servicesEnabled: s.services,
      natOutgoing: s.natOutgoing,
      clusterCidrs: this.clusterCidrs(),
      serviceCidrs: [...s.serviceCidrs],
      hostLink,
      routes,
      skipped,
      translations: rec?.translations().length ?? 0,
      ...(lat && lat.length > 0 ? { lastSyncLatencyMs: lat[lat.length - 1]! } : {}),
      ...(lastErr ? { lastSyncError: lastErr } : {}),
    };
  }

  async service(namespace: string, name: string): Promise<CtlServiceStatus | undefined> {
    const key = `${namespace}/${name}`;
    const known = this.o.cluster.services().some((x) => keyOf(x) === key);
    if (!known) return undefined;
    const last = this.reconciler?.lastServices;
    const desired = [...(last?.translations.values() ?? [])].filter((t) => t.service === key);
    const live = desired.length > 0 ? await listTranslations(this.o.vpp) : [];
    const made = new Map((this.reconciler?.translations() ?? []).map((t) => [t.key, t]));
    const translations = desired.map((t) => {
      const m = made.get(t.key);
      const v = m ? live.find((x) => x.id === m.id) : undefined;
      return { vip: t.vip, port: t.port, protocol: t.protocol, ...(v ? { id: v.id } : {}), backends: v ? v.backends.map((b) => `${b.addr.includes(':') ? `[${b.addr}]` : b.addr}:${b.port}`) : [] };
    });
    const skipped = (last?.skipped ?? []).filter((x) => x.service === key).map((x) => x.reason);
    const warnings = (last?.warnings ?? []).filter((x) => x.service === key).map((x) => x.reason);
    return { service: key, translations, ...(skipped.length > 0 ? { skipped: skipped.join('; ') } : {}), warnings };
  }
}
