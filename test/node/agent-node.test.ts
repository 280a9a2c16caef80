/**
 * The node dataplane started by the real Agent: the simulator, the fake apiserver (Nodes, a Service, its
 * EndpointSlice), and a network namespace standing for the node's host (VPPCNI_NODE_NETNS), host-gw.
 *  - start: the host link at both ends (addresses, MTU, alias/tag), VPP's default routes via the host side,
 *    host routes for this node's podCIDR via VPP and to the other node, our iptables chains, cnat translation;
 *  - an EndpointSlice change reaches VPP; a stale host route of ours is removed by the periodic full run;
 *  - agent restart: zero mutating VPP messages and zero host commands that change anything; a stale translation
 *    left in VPP while the agent was down is swept at the next start;
 *  - VPP restart: host link, cnat and translations made again;
 *  - cleanup(): nothing of ours is left (chains, proto-199 routes, vcni links, translations, the host link, the
 *    node checkpoint).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Agent } from '../../agent/agent.js';
import { loadConfig } from '../../agent/config.js';
import { createLogger } from '../../agent/log.js';
import { KubeClient, parseKubeconfig } from '../../agent/kube/client.js';
import { NodeDataplaneSource } from '../../agent/kube/node-dataplane-source.js';
import { HostCmd } from '../../agent/linux/host-cmd.js';
import { HOST_LINK_TAG } from '../../agent/node/kinds/host-link.js';
import type { PodSource } from '../../agent/pod-info/source.js';
import { vethHostName } from '../../agent/pod/kinds/veth-names.js';
import { VppClient } from '../../vpp-api/client/index.js';
import { allModules, cnat, interface_ as iface, ip } from '../../vpp-api/generated/index.js';
import { VppSimulator, noVhostNet } from '../../vpp-api/sim/index.js';
import { FakeApiServer } from '../helpers/fake-apiserver.js';
import { createNetns, deleteAllNetns, haveRoot, ipj, type TestNetns } from '../helpers/netns.js';
import { until } from '../helpers/until.js';
import { isReadOnly } from '../state/harness.js';
import { ScopedHostNetns } from '../state/scoped-netns.js';

const root = haveRoot();
const d = root ? describe : describe.skip;
if (!root) process.stderr.write('agent-node: not root; network namespace test skipped\n');

/** Records every host command (argv) the node dataplane runs. */
class CountingHostCmd extends HostCmd {
  readonly calls: string[][] = [];
  override run(cmd: string, args: readonly string[], input?: string): Promise<string> {
    this.calls.push([cmd, ...args]);
    return super.run(cmd, args, input);
  }
}

/** Host commands that change something (reads: `ip … show`, `bridge … show`, `sysctl -n`, `*tables-save`). */
function mutating(calls: readonly string[][]): string[] {
  return calls
    .filter(([cmd, ...args]) => {
      if (cmd === 'ip' || cmd === 'bridge') return !args.includes('show');
      if (cmd === 'sysctl') return !args.includes('-n');
      return !(cmd === 'iptables-save' || cmd === 'ip6tables-save');
    })
    .map((a) => a.join(' '));
}

const POD = { namespace: 'default', name: 'client', uid: 'uid-client' };
const pods: PodSource = { getPod: (ns, name) => Promise.resolve(ns === POD.namespace && name === POD.name ? { ...POD, annotations: {} } : undefined), close: () => Promise.resolve() };
const dir = mkdtempSync(join(tmpdir(), 'vcni-agent-node-'));
const stateDir = join(dir, 'state');
const RUN = `c${(process.pid % 0xfffffff).toString(16).padStart(7, '0')}`;
const logLines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _e, cb) {
    for (const l of chunk.toString().split('\n')) if (l.trim()) logLines.push(JSON.parse(l) as Record<string, unknown>);
    if (process.env.VCNI_TEST_LOG) process.stderr.write(chunk);
    cb();
  },
});

let api: FakeApiServer;
let sim: VppSimulator;
let vpp: VppClient;
let ns: TestNetns;
let agent: Agent | undefined;
let src: NodeDataplaneSource | undefined;
let host: CountingHostCmd;

function sh(argv: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns.name, ...argv], { encoding: 'utf8', timeout: 10_000, env: { ...process.env, LC_ALL: 'C' } });
}

/** A link of the machine's own netns (pod veth host ends live there). */
function hostLinkExists(name: string): boolean {
  try {
    execFileSync('ip', ['link', 'show', 'dev', name], { timeout: 10_000, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function linkIn(name: string): { ifname: string; ifindex: number; mtu: number; ifalias?: string; address: string } | undefined {
  try {
    return (JSON.parse(execFileSync('ip', ['-j', '-n', ns.name, 'link', 'show', 'dev', name], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] })) as { ifname: string; ifindex: number; mtu: number; ifalias?: string; address: string }[])[0];
  } catch {
    return undefined;
  }
}

const nodeObj = (name: string, cidr: string, addr: string) => ({ metadata: { name }, spec: { podCIDR: cidr, podCIDRs: [cidr] }, status: { addresses: [{ type: 'InternalIP', address: addr }] } });
const sliceObj = (ips: string[]) => ({
  metadata: { name: 'web-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints: ips.map((a) => ({ addresses: [a], conditions: { ready: true } })),
});

async function translations(): Promise<string[]> {
  return (await vpp.dumpAll(cnat.cnat_translation_dump, {})).map((t) => `${t.translation.vip.addr}:${t.translation.vip.port} -> ${t.translation.paths.map((p) => `${p.dst_ep.addr}:${p.dst_ep.port}`).join(',')}`).sort();
}

function ourRoutes(): string[] {
  return [...(ipj(ns, ['-4', 'route', 'show', 'proto', '199']) as { dst: string; gateway?: string; dev: string }[]), ...(ipj(ns, ['-6', 'route', 'show', 'proto', '199']) as { dst: string; gateway?: string; dev: string }[])]
    .map((r) => `${r.dst} via ${r.gateway ?? '-'} dev ${r.dev}`)
    .sort();
}

/** iptables-save without its comment lines (they carry the time). */
function iptablesSave(table: string): string {
  return sh(['iptables-save', '-t', table])
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n');
}

async function hostLinkInVpp(): Promise<{ sw_if_index: number; tag: string; mtu: number[]; l2_address: string } | undefined> {
  return (await vpp.dumpAll(iface.sw_interface_dump, {})).find((i) => i.interface_name === 'host-vcni-hl0');
}

async function startAgent(): Promise<Agent> {
  const cfg = loadConfig({}, [
    '--vpp-socket', sim.socketPath,
    '--cni-socket', join(dir, 'cni', 'agent.sock'),
    '--metrics-port', '0',
    '--health-port', '0',
    '--node-name', 'a',
    '--state-dir', stateDir,
    '--sweep-interval', '0',
    '--cross-node', 'host-gw',
    '--node-netns', ns.name,
    '--pod-interface-mode', 'veth',
  ]);
  const kc = new KubeClient(parseKubeconfig(api.kubeconfigFile(), '/'));
  const s = new NodeDataplaneSource({ kc, log: { debug: () => undefined, info: () => undefined, warn: () => undefined }, services: true, backoff: { initialMs: 20, maxMs: 200 } });
  src = s;
  s.start();
  expect(await s.waitForSync(5000)).toBe(true);
  const a = new Agent(cfg, createLogger('debug', 'a', sink), {
    pods,
    netns: new ScopedHostNetns(RUN),
    cluster: { nodes: () => s.nodes.list(), services: () => s.services!.list(), slices: () => s.slices!.list(), onChange: (l) => s.onChange(l), waitForSync: (ms) => s.waitForSync(ms) },
    nodeDataplane: { resyncMs: 300, retry: { initialMs: 50, maxMs: 400 }, host },
    state: { retry: { initialMs: 50, maxMs: 400 }, drainTimeoutMs: 2000 },
  });
  agent = a;
  await a.start();
  await a.ready();
  await until('node dataplane started', () => a.nodeDataplane!.notReady() === undefined);
  await a.state.settled();
  await a.nodeDataplane!.idle();
  return a;
}

async function stopAgent(): Promise<void> {
  await agent?.stop();
  agent = undefined;
  await src?.close();
  src = undefined;
}

beforeAll(async () => {
  if (!root) return;
  api = await FakeApiServer.start();
  ns = createNetns('agn');
  sh(['ip', 'link', 'set', 'lo', 'up']);
  sh(['ip', 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1']);
  sh(['ip', 'link', 'set', 'up0', 'up']);
  sh(['ip', 'link', 'set', 'up1', 'up']);
  sh(['ip', 'addr', 'add', '192.168.80.1/24', 'dev', 'up0']);
  // The host link's af_packet binds in the node netns; a pod veth's host end is in the machine's own.
  const exists = (name: string): boolean => linkIn(name) !== undefined || hostLinkExists(name);
  sim = await VppSimulator.start({ socketPath: join(dir, 'api.sock'), host: noVhostNet({ interfaceExists: exists, interfaceUp: exists, interfaceMtu: (n) => linkIn(n)?.mtu ?? 1500 }) });
  vpp = new VppClient({ socketPath: sim.socketPath, modules: allModules, healthCheck: false, requestTimeoutMs: 5000, backoff: { initialDelayMs: 20, maxDelayMs: 200 } });
  await vpp.connect();
  host = new CountingHostCmd({ netns: ns.name });
  api.addObject('nodes', nodeObj('a', '10.244.0.0/24', '192.168.80.1'));
  api.addObject('nodes', nodeObj('b', '10.244.1.0/24', '192.168.80.2'));
  api.addObject('services', { metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80, targetPort: 'http' }] } });
  api.addObject('endpointslices', sliceObj(['10.244.0.5', '10.244.1.7']));
});

afterAll(async () => {
  await stopAgent().catch(() => undefined);
  await vpp?.close();
  await sim?.stop();
  await api?.stop();
  deleteAllNetns();
  rmSync(dir, { recursive: true, force: true });
});

d('the agent runs the node dataplane (host-gw, Services in VPP)', () => {
  test('start: host link both ends, VPP default routes, host routes, iptables chains, a translation for the Service', async () => {
    const a = await startAgent();
    expect(a.nodeDataplane!.startReport).toEqual({ hostLink: 'created', cnat: 'applied', chainsChanged: true });
    // Host side.
    expect(linkIn('vcni-hl0')).toMatchObject({ mtu: 1500, ifalias: HOST_LINK_TAG });
    expect(linkIn('vcni-hl1')).toMatchObject({ mtu: 1500, ifalias: HOST_LINK_TAG });
    const addrs = (ipj(ns, ['addr', 'show', 'dev', 'vcni-hl1']) as { addr_info: { local: string; prefixlen: number; scope: string }[] }[])[0]!.addr_info.filter((x) => x.scope !== 'link').map((x) => `${x.local}/${x.prefixlen}`);
    expect(addrs.sort()).toEqual(['169.254.100.2/30', 'fd56:6370:636e::2/126']);
    expect(sh(['sysctl', '-n', 'net.ipv4.ip_forward', 'net.ipv4.conf.vcni-hl1.rp_filter', 'net.ipv4.conf.vcni-hl1.arp_announce']).split('\n').filter(Boolean)).toEqual(['1', '2', '2']);
    // VPP side.
    const hl = await hostLinkInVpp();
    expect(hl).toMatchObject({ tag: HOST_LINK_TAG, mtu: [1500, 0, 0, 0] });
    const def4 = (await vpp.dumpAll(ip.ip_route_dump, { table: { table_id: 0, is_ip6: false } })).find((r) => r.route.prefix === '0.0.0.0/0')!;
    expect(def4.route.paths.map((p) => [p.sw_if_index, p.nh.address.ip4])).toEqual([[hl!.sw_if_index, '169.254.100.2']]);
    const def6 = (await vpp.dumpAll(ip.ip_route_dump, { table: { table_id: 0, is_ip6: true } })).find((r) => r.route.prefix === '::/0')!;
    expect(def6.route.paths.map((p) => [p.sw_if_index, p.nh.address.ip6])).toEqual([[hl!.sw_if_index, 'fd56:6370:636e::2']]);
    // Routes: own podCIDR via VPP's side of the host link, node b's via its InternalIP.
    expect(ourRoutes()).toEqual(['10.244.0.0/24 via 169.254.100.1 dev vcni-hl1', '10.244.1.0/24 via 192.168.80.2 dev up0']);
    // Chains: cluster CIDRs derived from the Nodes; masquerade outside cluster and service CIDRs.
    const filter = iptablesSave('filter');
    expect(filter).toContain('-A FORWARD -m comment --comment vpp-cni -j VPPCNI-FORWARD');
    for (const c of ['10.244.0.0/24', '10.244.1.0/24']) {
      expect(filter).toContain(`-A VPPCNI-FORWARD -s ${c} -j ACCEPT`);
      expect(filter).toContain(`-A VPPCNI-FORWARD -d ${c} -j ACCEPT`);
    }
    const nat = iptablesSave('nat');
    expect(nat).toContain('-A VPPCNI-POSTROUTING -d 10.96.0.0/12 -j RETURN');
    expect(nat).toContain('-A VPPCNI-POSTROUTING -s 10.244.0.0/24 -j MASQUERADE');
    // Services.
    expect(await translations()).toEqual(['10.96.0.20:80 -> 10.244.0.5:8080,10.244.1.7:8080']);
    const cli = await vpp.cli('show cnat snat-policy');
    expect(cli).toMatch(/10\.96\.0\.0\/12/);
    // The view for vpp-cnictl.
    const st = await a.nodeDataplane!.status();
    expect(st).toMatchObject({ nodeName: 'a', mode: 'host-gw', servicesEnabled: true, natOutgoing: true, clusterCidrs: ['10.244.0.0/24', '10.244.1.0/24'], serviceCidrs: ['10.96.0.0/12'], translations: 1 });
    expect(st.hostLink).toMatchObject({ vppIf: 'vcni-hl0', hostIf: 'vcni-hl1', swIfIndex: hl!.sw_if_index, mtu: 1500, vpp: { name: 'host-vcni-hl0', mtu: 1500 }, host: { name: 'vcni-hl1', mtu: 1500 } });
    expect(st.routes).toEqual([{ node: 'b', podCidr: '10.244.1.0/24', via: '192.168.80.2', present: true }]);
    expect(await a.nodeDataplane!.service('default', 'web')).toMatchObject({ service: 'default/web', translations: [{ vip: '10.96.0.20', port: 80, protocol: 'TCP', backends: ['10.244.0.5:8080', '10.244.1.7:8080'] }], warnings: [] });
    expect(await a.nodeDataplane!.service('default', 'nope')).toBeUndefined();
    expect(a.nodeDataplane!.counts()).toEqual({ nodesRouted: 1, translations: 1 });
  });

  test("a pod's eth0 joins cnat's POD table with the feature on, and leaves it on DEL", async () => {
    const podNs = createNetns('agp');
    const req = {
      containerId: `${RUN}0001${'0123456789abcdef'.repeat(3)}`,
      ifName: 'eth0',
      netns: podNs.path,
      pod: POD,
      ips: [{ address: '10.244.0.9/24' }],
      routes: [{ dst: '0.0.0.0/0' }],
      network: 'vpp-cni',
    };
    const podTable = async (): Promise<string[]> => {
      const out = (await vpp.cli('show cnat snat-policy')).split('\n');
      const i = out.indexOf('k8s pod interfaces:');
      const names: string[] = [];
      for (const l of out.slice(i + 1)) {
        if (!l.startsWith('  ')) break;
        names.push(l.trim());
      }
      return names;
    };
    try {
      await agent!.manager.add(req);
      const rec = agent!.manager.records.find((r) => r.containerId === req.containerId)!;
      const eth0 = (rec.objects as { veth?: { swIfIndex: number } }).veth!.swIfIndex;
      expect((rec.objects as { cnat?: unknown }).cnat).toEqual([{ swIfIndex: eth0 }]);
      const name = (await vpp.dumpAll(iface.sw_interface_dump, { sw_if_index: eth0 }))[0]!.interface_name;
      expect(await podTable()).toEqual([name]);
      expect(await vpp.cli(`show interface features ${name}`)).toMatch(/cnat/);
      await agent!.manager.del(req);
      expect(await podTable()).toEqual([]);
    } finally {
      await agent!.manager.del(req).catch(() => undefined);
      try {
        execFileSync('ip', ['link', 'del', 'dev', vethHostName(req.containerId, req.ifName)], { stdio: 'ignore', timeout: 10_000 });
      } catch {
        // gone with the DEL
      }
    }
  });

  test('an EndpointSlice change reaches VPP; a stale route of ours is removed by the periodic full run', async () => {
    api.updateObject('endpointslices', 'default', 'web-1', (o) => Object.assign(o, sliceObj(['10.244.1.7', '10.244.1.8'])));
    await until('translation updated', async () => (await translations()).join() === '10.96.0.20:80 -> 10.244.1.7:8080,10.244.1.8:8080');
    sh(['ip', 'route', 'add', '10.244.99.0/24', 'via', '192.168.80.9', 'proto', '199']);
    await until('stale route swept', () => !ourRoutes().some((r) => r.startsWith('10.244.99.0/24')), 10_000);
    expect(ourRoutes()).toEqual(['10.244.0.0/24 via 169.254.100.1 dev vcni-hl1', '10.244.1.0/24 via 192.168.80.2 dev up0']);
  });

  test('agent restart: a stale translation left meanwhile is swept; the next restart makes zero changes in VPP and on the host', async () => {
    await stopAgent();
    await vpp.request(cnat.cnat_translation_update, {
      translation: { vip: { addr: '10.96.0.99', port: 81, sw_if_index: 0xffffffff, if_af: 0 }, id: 0xffffffff, ip_proto: 6, is_real_ip: 0, flags: 0, lb_type: 0, paths: [{ dst_ep: { addr: '10.244.1.9', port: 80, sw_if_index: 0xffffffff, if_af: 0 }, src_ep: { addr: '0.0.0.0', port: 0, sw_if_index: 0xffffffff, if_af: 0 }, flags: 0 }] },
    });
    expect(await translations()).toHaveLength(2);
    await startAgent();
    expect(agent!.nodeDataplane!.startReport).toEqual({ hostLink: 'adopted', cnat: 'adopted', chainsChanged: false });
    await until('stale translation swept', async () => (await translations()).length === 1);
    await stopAgent();

    const before = { vpp: await hostLinkInVpp(), hl0: linkIn('vcni-hl0'), hl1: linkIn('vcni-hl1'), routes: ourRoutes(), filter: iptablesSave('filter'), nat: iptablesSave('nat'), translations: await translations() };
    host.calls.length = 0;
    const vppWrites: Record<string, number> = {};
    const off = sim.onRequest((name) => {
      if (!isReadOnly(name)) vppWrites[name] = (vppWrites[name] ?? 0) + 1;
    });
    try {
      const a = await startAgent();
      // Let at least one periodic full run pass as well.
      await new Promise((r) => setTimeout(r, 400));
      await a.nodeDataplane!.idle();
    } finally {
      off();
    }
    expect(agent!.nodeDataplane!.startReport).toEqual({ hostLink: 'adopted', cnat: 'adopted', chainsChanged: false });
    expect(vppWrites).toEqual({});
    expect(mutating(host.calls)).toEqual([]);
    expect(host.calls.length).toBeGreaterThan(0);
    expect({ vpp: await hostLinkInVpp(), hl0: linkIn('vcni-hl0'), hl1: linkIn('vcni-hl1'), routes: ourRoutes(), filter: iptablesSave('filter'), nat: iptablesSave('nat'), translations: await translations() }).toEqual(before);
  });

  test('a node checkpoint that does not parse: what is ours is removed and the host link made again (one af_packet, one veth pair)', async () => {
    await stopAgent();
    const oldVeth = linkIn('vcni-hl0')!.ifindex;
    writeFileSync(join(stateDir, 'node.json'), '{"version":1,"hostLink":{"swIfIndex":"x"}}\n');
    logLines.length = 0;
    await startAgent();
    expect(agent!.nodeDataplane!.startReport).toMatchObject({ hostLink: 'created', cnat: 'applied' });
    expect(logLines.some((l) => l.msg === 'node checkpoint not usable: the host link is made again')).toBe(true);
    const tagged = (await vpp.dumpAll(iface.sw_interface_dump, {})).filter((i) => i.tag === HOST_LINK_TAG);
    expect(tagged).toHaveLength(1);
    // Made again (VPP may hand out the freed sw_if_index again; the kernel gives the new veth a new ifindex).
    expect(linkIn('vcni-hl0')!.ifindex).not.toBe(oldVeth);
    expect((ipj(ns, ['link', 'show']) as { ifname: string }[]).map((l) => l.ifname).filter((n) => n.startsWith('vcni')).sort()).toEqual(['vcni-hl0', 'vcni-hl1']);
    expect(ourRoutes()).toEqual(['10.244.0.0/24 via 169.254.100.1 dev vcni-hl1', '10.244.1.0/24 via 192.168.80.2 dev up0']);
    expect(await translations()).toEqual(['10.96.0.20:80 -> 10.244.1.7:8080,10.244.1.8:8080']);
  });

  test('VPP restart: the host link, cnat and the translation are made again', async () => {
    const oldVeth = linkIn('vcni-hl0')!.ifindex;
    sim.restart();
    await until('test client back', () => vpp.pid === sim.vpePid && vpp.state === 'connected');
    await until('host link made again in VPP', async () => (await hostLinkInVpp())?.tag === HOST_LINK_TAG, 20_000);
    await until('translation made again', async () => (await translations()).join() === '10.96.0.20:80 -> 10.244.1.7:8080,10.244.1.8:8080', 20_000);
    await agent!.nodeDataplane!.idle();
    expect(linkIn('vcni-hl0')!.ifindex).not.toBe(oldVeth);
    const def4 = (await vpp.dumpAll(ip.ip_route_dump, { table: { table_id: 0, is_ip6: false } })).find((r) => r.route.prefix === '0.0.0.0/0')!;
    expect(def4.route.paths[0]!.nh.address.ip4).toBe('169.254.100.2');
    expect(await vpp.cli('show cnat snat-policy')).toMatch(/10\.96\.0\.0\/12/);
    expect(ourRoutes()).toEqual(['10.244.0.0/24 via 169.254.100.1 dev vcni-hl1', '10.244.1.0/24 via 192.168.80.2 dev up0']);
  });

  test('cleanup(): nothing of ours is left', async () => {
    const report = await agent!.nodeDataplane!.cleanup();
    expect(report.errors).toEqual([]);
    expect(report.removed).toEqual(
      expect.arrayContaining([expect.stringMatching(/^cnat translation 10\.96\.0\.20:80/), 'host route 10.244.1.0/24 (proto 199)', expect.stringMatching(/^iptables chains/), expect.stringMatching(/^host link host-vcni-hl0/), expect.stringMatching(/^node checkpoint/)]),
    );
    expect(await translations()).toEqual([]);
    expect(ourRoutes()).toEqual([]);
    expect((ipj(ns, ['link', 'show']) as { ifname: string }[]).map((l) => l.ifname).filter((n) => n.startsWith('vcni'))).toEqual([]);
    expect(iptablesSave('filter')).not.toContain('VPPCNI');
    expect(iptablesSave('nat')).not.toContain('VPPCNI');
    expect(sh(['ip6tables-save'])).not.toContain('VPPCNI');
    expect(await hostLinkInVpp()).toBeUndefined();
    expect(existsSync(join(stateDir, 'node.json'))).toBe(false);
    // Twice: already gone is done.
    expect(await agent!.nodeDataplane!.cleanup()).toEqual({ removed: [], errors: [] });
  });
});
