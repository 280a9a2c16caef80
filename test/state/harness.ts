/**
 * Shared by the state tests: a simulator with real kernel taps (or, for the veth tests, one that behaves
 * like a node without /dev/vhost-net: taps refused, af_packet on real host veth ends), agents (the real
 * Agent class) started and "crashed" on one state dir, an in-memory pod source, and VPP state in a form
 * that does not depend on interface indexes or names (so a re-created pod compares equal to the original).
 *
 * A crash is an agent object abandoned in the middle of an operation: its step hook never returns (so
 * the transaction never rolls back), then its sockets are closed. What it leaves — the checkpoint file
 * with its intent, VPP objects, Linux state — is what a SIGKILL at that step leaves; the next agent starts
 * from the same state dir.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { allModules } from '../../vpp-api/generated/index.js';
import * as iface from '../../vpp-api/generated/interface.js';
import * as memif from '../../vpp-api/generated/memif.js';
import * as pbl from '../../vpp-api/generated/pbl.js';
import * as ip from '../../vpp-api/generated/ip.js';
import * as ipn from '../../vpp-api/generated/ip_neighbor.js';
import { VppClient } from '../../vpp-api/client/index.js';
import { VppSimulator } from '../../vpp-api/sim/index.js';
import { noVhostNet } from '../../vpp-api/sim/host.js';
import { kernelTun } from '../../vpp-api/sim/kernel-host.js';
import { Agent } from '../../agent/agent.js';
import { loadConfig } from '../../agent/config.js';
import { createLogger } from '../../agent/log.js';
import type { PodInfo, PodSource } from '../../agent/pod-info/source.js';
import type { AttachResult } from '../../agent/pod/attachment.js';
import type { PodInterfaceModeSetting } from '../../agent/pod/interface-spec.js';
import { isVethHostName } from '../../agent/pod/kinds/veth.js';
import { ANN } from '../../agent/pod/annotations.js';
import { deleteAllNetns, haveRoot, linuxState, type TestNetns } from '../helpers/netns.js';
import { ScopedHostNetns } from './scoped-netns.js';

export class MemoryPods implements PodSource {
  readonly pods = new Map<string, PodInfo>();
  set(p: PodInfo): void {
    this.pods.set(`${p.namespace}/${p.name}`, p);
  }
  remove(namespace: string, name: string): void {
    this.pods.delete(`${namespace}/${name}`);
  }
  getPod(namespace: string, name: string): Promise<PodInfo | undefined> {
    return Promise.resolve(this.pods.get(`${namespace}/${name}`));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Pod kinds: annotations and interface name. */
export const KINDS: Record<string, [Record<string, string>, string]> = {
  tun: [{}, 'eth0'],
  pbl: [{ [ANN.extraMemifPorts]: 'tcp:4444-20000,udp:4444-20000' }, 'eth0'],
  multinet: [{}, 'memif1'],
  vcl: [{ [ANN.vcl]: 'enable' }, 'eth0'],
  'pbl+vcl': [{ [ANN.extraMemifPorts]: 'tcp:8080', [ANN.vcl]: 'enable' }, 'eth0'],
  /** eth0 as a TAP (L2): the pod's addresses pinned to the MAC the agent gave the pod side. */
  tap: [{ [ANN.interfacesSpec]: '{"eth0":{"isl3":false}}' }, 'eth0'],
};

export interface TestPod {
  containerId: string;
  ifName: string;
  netns: string;
  pod: { namespace: string; name: string; uid: string };
  ips: { address: string }[];
  routes: { dst: string }[];
  /** The CNI network (netconf name): `vpp-cni` unless a test gives another. */
  network: string;
}

/** Interface names of pod objects VPP names itself (an untagged one is an ADD's or someone's leftover). */
const POD_LIKE = /^(tap|tun|memif|loop|host-vcni)/;

/** Messages that change nothing in VPP. */
export function isReadOnly(name: string): boolean {
  return /_dump$|_get$|^control_ping$|^sockclnt_(create|delete)$|^memclnt_|^show_version$|^cli_inband$|^get_first_msg_id$|^api_versions$/.test(name);
}

export interface AgentOptions {
  stepHook?: (step: string) => void | Promise<void>;
  sweepIntervalSeconds?: number;
  /** Default true; off to see what the reconcile alone does. */
  sweepAtStart?: boolean;
  /** The agent's VPPCNI_POD_INTERFACE_MODE (default: the agent's own default, auto). */
  interfaceMode?: PodInterfaceModeSetting;
  /** Attachments the reconcile and the recovery make again at a time (default: the state layer's). */
  concurrency?: number;
}

export interface HarnessOptions {
  /**
   * The simulator's host: `kernel-tun` (default: taps are real tun devices in the pod netns) or
   * `no-vhost-net` (taps refused with -11 as on a node without /dev/vhost-net; af_packet binds real host links).
   */
  host?: 'kernel-tun' | 'no-vhost-net';
  /**
   * The first 8 characters of the pods' container ids (default `cafe` and 4 zeros). Veth host ends live in
   * the host netns, shared by every test process: a test that makes them gives its run its own prefix.
   */
  idPrefix?: string;
}

export interface VppView {
  interfaces: string[];
  untaggedPodLike: string[];
  /** Static neighbors: `<ip> -> <interface tag or name>` (MACs aside: a re-made veth pod end has a new one). */
  neighbors: string[];
  memifs: string[];
  sockets: string[];
  pbl: string[];
  routes: string[];
  appns: string[];
}

/** A host netns link named like a veth host end: name, ifalias, up. */
export interface HostLinkView {
  ifname: string;
  ifalias: string;
  up: boolean;
  ifindex: number;
}

/** The host netns links named like our veth host ends (`vcni` + 11 hex digits), whoever made them. */
export function hostVethLinks(): HostLinkView[] {
  const out = execFileSync('ip', ['-j', 'link', 'show'], { timeout: 10_000, encoding: 'utf8' });
  const links = (out.trim() ? JSON.parse(out) : []) as { ifname: string; ifalias?: string; flags?: string[]; ifindex: number }[];
  return links.filter((l) => isVethHostName(l.ifname)).map((l) => ({ ifname: l.ifname, ifalias: l.ifalias ?? '', up: (l.flags ?? []).includes('UP'), ifindex: l.ifindex }));
}

/** Deletes the host links named like ours whose ifalias contains `marker` (test cleanup; gone is fine). */
export function deleteHostVeths(marker: string): void {
  for (const l of hostVethLinks()) {
    if (!l.ifalias.includes(marker)) continue;
    try {
      execFileSync('ip', ['link', 'del', 'dev', l.ifname], { timeout: 10_000, stdio: 'ignore' });
    } catch {
      // gone meanwhile
    }
  }
}

/**
 * The hooks of a test file built on `h`, registered where this is called: the simulator starts before the
 * tests; after them this process's test netns go and the harness closes. `resetEach`: `h.reset()` after
 * every test, so that one test's failure half way does not fail the next ones. Nothing starts without root.
 */
export function useHarness(h: Harness, o: { resetEach?: boolean } = {}): void {
  beforeAll(async () => {
    if (haveRoot()) await h.start();
  }, 30_000);
  if (o.resetEach) {
    afterEach(async () => {
      if (haveRoot()) await h.reset();
    });
  }
  afterAll(async () => {
    deleteAllNetns();
    if (haveRoot()) await h.close();
  });
}

export class Harness {
  readonly dir = mkdtempSync(join(tmpdir(), 'vcni-state-'));
  readonly stateDir = join(this.dir, 'state');
  readonly pods = new MemoryPods();
  sim!: VppSimulator;
  /** The test's own client (dumps only). */
  vpp!: VppClient;
  agent: Agent | undefined;
  private n = 0;
  readonly idPrefix: string;
  private readonly hostKind: 'kernel-tun' | 'no-vhost-net';
  /** vppState() of the fresh simulator. */
  private emptyVpp = '';
  /** The agents' log lines (JSON), for assertions on what was logged. */
  readonly logs: Record<string, unknown>[] = [];
  private readonly sink = new Writable({
    write: (chunk: Buffer, _enc, cb) => {
      for (const line of chunk.toString().split('\n')) if (line.trim()) this.logs.push(JSON.parse(line) as Record<string, unknown>);
      if (process.env.VCNI_TEST_LOG) process.stderr.write(chunk);
      cb();
    },
  });

  constructor(o: HarnessOptions = {}) {
    // Unique per test process by default: test files run side by side on one host netns, and veth host
    // ends (named from the container id) must not collide or be taken for another run's.
    this.idPrefix = (o.idPrefix ?? `c${(process.pid % 0xfffffff).toString(16).padStart(7, '0')}`).padEnd(8, '0').slice(0, 8);
    this.hostKind = o.host ?? 'kernel-tun';
  }

  async start(): Promise<void> {
    this.sim = await VppSimulator.start({ socketPath: join(this.dir, 'api.sock'), host: this.hostKind === 'no-vhost-net' ? noVhostNet() : kernelTun() });
    this.vpp = new VppClient({ socketPath: this.sim.socketPath, modules: allModules, healthCheck: false, requestTimeoutMs: 5000, backoff: { initialDelayMs: 20, maxDelayMs: 200 } });
    await this.vpp.connect();
    this.emptyVpp = JSON.stringify(await this.vppState());
  }

  /**
   * Puts the world back after a test, whatever it left: a test that failed half way leaves its agent's
   * checkpoint, pod netns, host ends and VPP objects, and every later test of the file would fail on them
   * instead of on its own. The agent stops; the state dir, this process's test netns and this harness's
   * host ends go; the simulator restarts (a fresh VPP) when it holds more than it did after start(), and
   * the test's clients (`others`, besides the harness's own) are back on it before this returns.
   */
  async reset(others: readonly VppClient[] = []): Promise<void> {
    await this.stopAgent();
    this.assertNoCloneDeleted();
    rmSync(this.stateDir, { recursive: true, force: true });
    deleteAllNetns();
    deleteHostVeths(`vcni:${this.idPrefix}`);
    if (JSON.stringify(await this.vppState()) === this.emptyVpp) return;
    this.sim.faults.clear();
    this.sim.restart();
    const pid = this.sim.vpePid;
    for (const c of [this.vpp, ...others]) {
      const end = Date.now() + 10_000;
      while (c.pid !== pid || c.state !== 'connected') {
        if (Date.now() > end) throw new Error(`test client not back on the restarted simulator (state ${c.state})`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  async close(): Promise<void> {
    await this.agent?.stop();
    this.agent = undefined;
    await this.vpp?.close();
    const aborts = this.sim?.aborts ?? [];
    await this.sim?.stop();
    rmSync(this.dir, { recursive: true, force: true });
    this.assertNoCloneDeleted(aborts);
  }

  /**
   * pbl_client_del of a PBL FIB clone crashes the real VPP (docs/real-vpp.md); the simulator aborts instead and
   * records it. No agent path may do it: any such abort fails the test file.
   */
  assertNoCloneDeleted(aborts: readonly { reason: string }[] = this.sim.aborts): void {
    const bad = aborts.filter((a) => /FIB clone/.test(a.reason));
    if (bad.length > 0) throw new Error(`the agent deleted a PBL FIB clone: ${bad.map((a) => a.reason).join('; ')}`);
  }

  async startAgent(o: AgentOptions = {}): Promise<Agent> {
    const cfg = loadConfig({}, [
      '--vpp-socket', this.sim.socketPath,
      '--cni-socket', join(this.dir, 'cni', 'agent.sock'),
      '--metrics-port', '0',
      '--health-port', '0',
      '--node-name', 'test-node',
      '--state-dir', this.stateDir,
      '--sweep-interval', String(o.sweepIntervalSeconds ?? 0),
      '--feature-gates', '{"memifEnabled":true,"vclEnabled":true,"multinetEnabled":true}',
      ...(o.interfaceMode ? ['--pod-interface-mode', o.interfaceMode] : []),
    ]);
    const log = createLogger('info', 'test', this.sink);
    const agent = new Agent(cfg, log, { pods: this.pods, netns: new ScopedHostNetns(this.idPrefix), ...(o.stepHook ? { stepHook: o.stepHook } : {}), state: { retry: { initialMs: 50, maxMs: 400 }, drainTimeoutMs: 2000, ...(o.sweepAtStart === false ? { sweepAtStart: false } : {}), ...(o.concurrency ? { concurrency: o.concurrency } : {}) } });
    this.agent = agent;
    await agent.start();
    await agent.ready();
    await agent.state.settled();
    return agent;
  }

  async stopAgent(): Promise<void> {
    await this.agent?.stop();
    this.agent = undefined;
  }

  /** A pod in `ns` of the given kind, known to the pod source. */
  pod(ns: TestNetns, kind: keyof typeof KINDS, i?: number): TestPod {
    const n = i ?? ++this.n;
    const [annotations, ifName] = KINDS[kind]!;
    const name = `p${n}`;
    this.pods.set({ namespace: 'default', name, uid: `uid-${name}`, annotations });
    return {
      containerId: `${this.idPrefix}${String(n).padStart(4, '0')}${'0123456789abcdef'.repeat(3)}`,
      ifName,
      netns: ns.path,
      pod: { namespace: 'default', name, uid: `uid-${name}` },
      ips: [{ address: `10.77.${Math.floor(n / 250)}.${(n % 250) + 1}/16` }],
      routes: [{ dst: '0.0.0.0/0' }],
      network: 'vpp-cni',
    };
  }

  add(p: TestPod): Promise<AttachResult> {
    return this.agent!.manager.add(p);
  }

  del(p: TestPod): Promise<void> {
    return this.agent!.manager.del(p);
  }

  /** Waits until the agent noticed a simulator restart and made everything again. */
  async recovered(): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (this.agent!.state.recoveredPid !== this.sim.vpePid) {
      if (Date.now() > deadline) throw new Error('agent did not recover from the VPP restart');
      await new Promise((r) => setTimeout(r, 10));
    }
    await this.agent!.state.settled();
  }

  /** Mutating requests the simulator handled while `fn` ran, by message. */
  async mutations(fn: () => Promise<unknown>): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    const off = this.sim.onRequest((name) => {
      if (!isReadOnly(name)) counts[name] = (counts[name] ?? 0) + 1;
    });
    try {
      await fn();
    } finally {
      off();
    }
    return counts;
  }

  /** VPP state without indexes or interface names: pod interfaces by tag, routes by the tag of their interface. */
  async vppState(): Promise<VppView> {
    const ifs = await this.vpp.dumpAll(iface.sw_interface_dump, {});
    const label = new Map(ifs.map((i) => [i.sw_if_index, i.tag || i.interface_name]));
    const memifs = await this.vpp.dumpAll(memif.memif_dump, {});
    const sockets = await this.vpp.dumpAll(memif.memif_socket_filename_dump, {});
    const clients = await this.vpp.dumpAll(pbl.pbl_client_dump, {});
    const neighbors: string[] = [];
    for (const af of [0, 1]) {
      for (const n of await this.vpp.dumpAll(ipn.ip_neighbor_dump, { sw_if_index: 0xffffffff, af })) {
        if (n.neighbor.flags & ipn.IpNeighborFlags.IP_API_NEIGHBOR_FLAG_STATIC) neighbors.push(`${n.neighbor.ip_address} -> ${label.get(n.neighbor.sw_if_index) ?? `#${n.neighbor.sw_if_index}`}`);
      }
    }
    const routes: string[] = [];
    for (const is_ip6 of [false, true]) {
      for (const r of await this.vpp.dumpAll(ip.ip_route_dump, { table: { table_id: 0, is_ip6 } })) {
        routes.push(`${r.route.prefix} -> ${r.route.paths.map((p) => label.get(p.sw_if_index) ?? `#${p.sw_if_index}`).join(',')}`);
      }
    }
    let appns: string[] = [];
    try {
      appns = (await this.vpp.cli('show app ns'))
        .replace(/\u001b\[[0-9;]*m/g, '')
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((t) => t.some((w) => w.startsWith('vcni-')))
        .map((t) => t.filter((w) => w.startsWith('vcni-') || w.startsWith('abstract:')).join(' '));
    } catch {
      appns = [];
    }
    return {
      interfaces: ifs.filter((i) => i.tag !== '' || !POD_LIKE.test(i.interface_name)).map((i) => `${i.tag || i.interface_name} up=${i.flags & 1}`).sort(),
      untaggedPodLike: ifs.filter((i) => i.tag === '' && POD_LIKE.test(i.interface_name)).map((i) => i.interface_name).sort(),
      neighbors: neighbors.sort(),
      memifs: memifs.map((m) => `${label.get(m.sw_if_index)} role=${m.role} mode=${m.mode} ring=${m.ring_size}`).sort(),
      sockets: sockets.map((s) => s.socket_filename).sort(),
      pbl: clients.map((c) => c.client.addr).sort(),
      routes: routes.sort(),
      appns: appns.sort(),
    };
  }

  /**
   * The veth host ends of this harness's pods (ifalias carrying one of its container ids): `name alias UP`,
   * ifindex aside (a re-made pair has a new one under the same derived name).
   */
  hostVeths(): string[] {
    return hostVethLinks()
      .filter((l) => l.ifalias.startsWith(`vcni:${this.idPrefix}`))
      .map((l) => `${l.ifname} ${l.ifalias}${l.up ? ' UP' : ''}`)
      .sort();
  }

  /** VPP, the Linux side of the given namespaces, and this harness's veth host ends. */
  async state(namespaces: readonly TestNetns[]): Promise<{ vpp: VppView; linux: Record<string, ReturnType<typeof linuxState>>; host: string[] }> {
    const linux: Record<string, ReturnType<typeof linuxState>> = {};
    for (const ns of namespaces) linux[ns.name] = linuxState(ns);
    return { vpp: await this.vppState(), linux, host: this.hostVeths() };
  }
}
