/**
 * The node dataplane without Kubernetes: the agent's pods file lists Nodes, a Service and its EndpointSlice
 * (the pods-file mode's static cluster), cross-node vxlan, the host side in a network namespace. The VXLAN device
 * (MTU = link − 50), its FDB and onlink routes, this node's podCIDR via VPP, the translation; a file change
 * (a third Node) is followed; cleanup() removes the device too.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../agent/agent.js';
import { loadConfig } from '../../agent/config.js';
import { createLogger } from '../../agent/log.js';
import { VXLAN_ALIAS, VxlanDevice } from '../../agent/linux/vxlan.js';
import { HostCmd } from '../../agent/linux/host-cmd.js';
import { vtepMacFor } from '../../agent/node/node-routes.js';
import { StaticCluster } from '../../agent/node/static-cluster.js';
import { PodsFileSource } from '../../agent/pod-info/pods-file.js';
import { VppClient } from '../../vpp-api/client/index.js';
import { allModules, cnat } from '../../vpp-api/generated/index.js';
import { VppSimulator, noVhostNet } from '../../vpp-api/sim/index.js';
import { createNetns, deleteAllNetns, haveRoot, ipj, type TestNetns } from '../helpers/netns.js';
import { until } from '../helpers/until.js';
import { ScopedHostNetns } from '../state/scoped-netns.js';

const root = haveRoot();
const d = root ? describe : describe.skip;
if (!root) process.stderr.write('agent-node-vxlan: not root; network namespace test skipped\n');

const dir = mkdtempSync(join(tmpdir(), 'vcni-agent-vx-'));
const podsFile = join(dir, 'pods.yaml');
const RUN = `d${(process.pid % 0xfffffff).toString(16).padStart(7, '0')}`;
const silent = { info: () => undefined, warn: () => undefined };
let sim: VppSimulator;
let vpp: VppClient;
let ns: TestNetns;
let agent: Agent | undefined;
let file: PodsFileSource | undefined;

const node = (name: string, i: number): string => `- metadata: {name: ${name}}\n  spec: {podCIDR: 10.244.${i}.0/24}\n  status: {addresses: [{type: InternalIP, address: 192.168.81.${i + 1}}]}\n`;
const FILE = (extraNode = ''): string => `items:
- metadata: {name: web-0, namespace: default}
nodes:
${node('a', 0)}${node('b', 1)}${extraNode}services:
- metadata: {name: dns, namespace: kube-system}
  spec: {clusterIP: 10.96.0.10, ports: [{name: dns, port: 53, protocol: UDP}]}
endpointSlices:
- metadata: {name: dns-1, namespace: kube-system, labels: {kubernetes.io/service-name: dns}}
  addressType: IPv4
  ports: [{name: dns, port: 53, protocol: UDP}]
  endpoints: [{addresses: [10.244.1.5]}]
`;

function sh(argv: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns.name, ...argv], { encoding: 'utf8', timeout: 10_000, env: { ...process.env, LC_ALL: 'C' } });
}

function linkIn(name: string): { mtu: number } | undefined {
  try {
    return (JSON.parse(execFileSync('ip', ['-j', '-n', ns.name, 'link', 'show', 'dev', name], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] })) as { mtu: number }[])[0];
  } catch {
    return undefined;
  }
}

function ourRoutes(): string[] {
  return (ipj(ns, ['-4', 'route', 'show', 'proto', '199']) as { dst: string; gateway?: string; dev: string; flags: string[] }[]).map((r) => `${r.dst} via ${r.gateway ?? '-'} dev ${r.dev}${r.flags.includes('onlink') ? ' onlink' : ''}`).sort();
}

beforeAll(async () => {
  if (!root) return;
  ns = createNetns('agx');
  sh(['ip', 'link', 'set', 'lo', 'up']);
  sh(['ip', 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1']);
  sh(['ip', 'link', 'set', 'up0', 'up']);
  sh(['ip', 'link', 'set', 'up1', 'up']);
  sh(['ip', 'addr', 'add', '192.168.81.1/24', 'dev', 'up0']);
  const inNs = (n: string): boolean => linkIn(n) !== undefined;
  sim = await VppSimulator.start({ socketPath: join(dir, 'api.sock'), host: noVhostNet({ interfaceExists: inNs, interfaceUp: inNs, interfaceMtu: (n) => linkIn(n)?.mtu ?? 1500 }) });
  vpp = new VppClient({ socketPath: sim.socketPath, modules: allModules, healthCheck: false, requestTimeoutMs: 5000 });
  await vpp.connect();
  writeFileSync(podsFile, FILE());
});

afterAll(async () => {
  await agent?.stop();
  await file?.close();
  await vpp?.close();
  await sim?.stop();
  deleteAllNetns();
  rmSync(dir, { recursive: true, force: true });
});

d('node dataplane from a pods file (vxlan)', () => {
  test('VXLAN device, FDB and onlink routes, own podCIDR via VPP, the translation; a new Node in the file is followed; cleanup removes it all', async () => {
    const cfg = loadConfig({}, [
      '--vpp-socket', sim.socketPath,
      '--cni-socket', join(dir, 'cni', 'agent.sock'),
      '--metrics-port', '0',
      '--health-port', '0',
      '--node-name', 'a',
      '--state-dir', join(dir, 'state'),
      '--pods-file', podsFile,
      '--node-netns', ns.name,
    ]);
    expect(cfg.node).toMatchObject({ enabled: 'auto', crossNode: 'vxlan' });
    file = new PodsFileSource(podsFile, silent);
    const cluster = new StaticCluster(silent, file.cluster());
    file.onClusterChange((c) => cluster.set(c));
    agent = new Agent(cfg, createLogger('silent', 'a'), { pods: file, netns: new ScopedHostNetns(RUN), cluster, nodeDataplane: { retry: { initialMs: 50, maxMs: 400 } } });
    await agent.start();
    await agent.ready();
    await until('node dataplane started', () => agent!.nodeDataplane!.notReady() === undefined);
    await agent.nodeDataplane!.idle();

    const vx = await new VxlanDevice(new HostCmd({ netns: ns.name })).read('vcni-vxlan');
    expect(vx.device).toEqual({ name: 'vcni-vxlan', vni: 4097, port: 4789, local: '192.168.81.1', mac: vtepMacFor('192.168.81.1'), mtu: 1450 });
    expect((ipj(ns, ['link', 'show', 'dev', 'vcni-vxlan']) as { ifalias: string }[])[0]!.ifalias).toBe(VXLAN_ALIAS);
    expect(vx.fdb).toEqual([{ mac: vtepMacFor('192.168.81.2'), dst: '192.168.81.2' }]);
    expect(ourRoutes()).toEqual(['10.244.0.0/24 via 169.254.100.1 dev vcni-hl1', '10.244.1.0/24 via 10.244.1.0 dev vcni-vxlan onlink']);
    const tr = await vpp.dumpAll(cnat.cnat_translation_dump, {});
    expect(tr.map((t) => `${t.translation.vip.addr}:${t.translation.vip.port}/${t.translation.ip_proto} -> ${t.translation.paths.map((p) => `${p.dst_ep.addr}:${p.dst_ep.port}`).join(',')}`)).toEqual(['10.96.0.10:53/17 -> 10.244.1.5:53']);

    writeFileSync(podsFile, FILE(node('c', 2)));
    await file.reload();
    await until('node c routed', () => ourRoutes().includes('10.244.2.0/24 via 10.244.2.0 dev vcni-vxlan onlink'));
    expect((await agent.nodeDataplane!.status()).clusterCidrs).toEqual(['10.244.0.0/24', '10.244.1.0/24', '10.244.2.0/24']);
    await until('chains follow the new Node', () => sh(['iptables-save', '-t', 'filter']).includes('-A VPPCNI-FORWARD -s 10.244.2.0/24 -j ACCEPT'));

    const report = await agent.nodeDataplane!.cleanup();
    expect(report.errors).toEqual([]);
    expect(report.removed).toContain('vxlan device vcni-vxlan');
    expect(ourRoutes()).toEqual([]);
    expect((ipj(ns, ['link', 'show']) as { ifname: string }[]).map((l) => l.ifname).sort()).toEqual(['lo', 'up0', 'up1']);
    expect(sh(['iptables-save'])).not.toContain('VPPCNI');
    expect(await vpp.dumpAll(cnat.cnat_translation_dump, {})).toEqual([]);
  });
});
