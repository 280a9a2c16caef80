/**
 * Three "nodes" on one machine: network namespaces joined by a bridge (the underlay), each with its own
 * simulator and node reconciler, all fed by one fake apiserver. With vxlan and then host-gw, every node's host
 * gets exactly the routes (and VXLAN device, FDB, neighbors) the design says, and a packet really crosses:
 * an address standing for a pod on node b answers a TCP connection from node a. A node removed loses its routes on the
 * others; uninstall leaves nothing of ours.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient, parseKubeconfig } from '../../agent/kube/client.js';
import { VppClient } from '../../vpp-api/client/index.js';
import { allModules } from '../../vpp-api/generated/index.js';
import { VppSimulator, noVhostNet } from '../../vpp-api/sim/index.js';
import { NodeDataplaneSource } from '../../agent/kube/node-dataplane-source.js';
import { HostCmd } from '../../agent/linux/host-cmd.js';
import { HostRoutes } from '../../agent/linux/host-routes.js';
import { VxlanDevice } from '../../agent/linux/vxlan.js';
import { NodeReconciler } from '../../agent/node/reconciler.js';
import { vtepMacFor, type CrossNodeMode } from '../../agent/node/node-routes.js';
import { FakeApiServer } from '../helpers/fake-apiserver.js';
import { createNetns, deleteAllNetns, haveRoot, ipj, type TestNetns } from '../helpers/netns.js';
import { until } from '../helpers/until.js';

const d = haveRoot() ? describe : describe.skip;
if (!haveRoot()) process.stderr.write('multi-node: not root; network namespace test skipped\n');

const log = { debug: () => undefined, info: () => undefined, warn: () => undefined };
const NAMES = ['a', 'b', 'c'] as const;
const underlayIp = (i: number): string => `192.168.70.${i + 1}`;
const podCidr = (i: number): string => `10.244.${i}.0/24`;

interface Node {
  name: string;
  ns: TestNetns;
  sim: VppSimulator;
  vpp: VppClient;
  cmd: HostCmd;
  routes: HostRoutes;
  vxlan: VxlanDevice;
  rec?: NodeReconciler;
  src?: NodeDataplaneSource;
}

let dir = '';
let api: FakeApiServer;
let underlay: TestNetns;
const nodes: Node[] = [];

function inNs(ns: TestNetns, argv: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns.name, ...argv], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
}

/**
 * A TCP exchange from `from` (source `src`) to `dst`:7000 in `to`: a one-shot server (its own node process in
 * the destination netns, gone after one connection or 10 s) and a client with a 5 s timeout. No ping here.
 */
async function tcpCrosses(from: TestNetns, src: string, to: TestNetns, dst: string): Promise<string> {
  const server = spawn('ip', ['netns', 'exec', to.name, process.execPath, '-e', `const s=require('net').createServer((c)=>{c.end('pong');s.close();}).listen(7000,'${dst}',()=>console.log('listening'));setTimeout(()=>process.exit(2),10000).unref();`], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      server.stdout.once('data', () => resolve());
      server.once('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
    return execFileSync('ip', ['netns', 'exec', from.name, process.execPath, '-e', `const c=require('net').connect({host:'${dst}',port:7000,localAddress:'${src}',timeout:5000});let d='';c.on('data',(x)=>d+=x);c.on('end',()=>console.log(d));c.on('timeout',()=>{console.log('timeout');process.exit(1)});c.on('error',(e)=>{console.log(e.message);process.exit(1)});`], { encoding: 'utf8', timeout: 10_000 }).trim();
  } finally {
    server.kill('SIGKILL');
  }
}

function routesOf(n: Node): string[] {
  return (ipj(n.ns, ['-4', 'route', 'show', 'proto', '199']) as { dst: string; gateway?: string; dev: string; flags: string[] }[])
    .map((r) => `${r.dst} via ${r.gateway ?? '-'} dev ${r.dev}${r.flags.includes('onlink') ? ' onlink' : ''}`)
    .sort();
}

async function startAgents(mode: CrossNodeMode): Promise<void> {
  for (const n of nodes) {
    const kc = new KubeClient(parseKubeconfig(api.kubeconfigFile(), '/'));
    n.src = new NodeDataplaneSource({ kc, log, services: false, backoff: { initialMs: 20, maxMs: 200 } });
    n.src.start();
    expect(await n.src.waitForSync(5000)).toBe(true);
    n.rec = new NodeReconciler({ vpp: n.vpp, routes: n.routes, log }, { nodes: () => n.src!.nodes.list(), services: () => [], slices: () => [] }, {
      nodeName: n.name,
      mode,
      servicesEnabled: false,
      hostLinkPrefixes: ['169.254.100.0/30'],
      vxlan: { device: n.vxlan, name: 'vcni-vxlan', vni: 4097, port: 4789, mtu: 1450 },
    });
    const rec = n.rec;
    n.src.onChange((c) => rec.trigger(undefined, c));
    rec.trigger();
    await rec.idle();
  }
}

async function stopAgents(): Promise<void> {
  for (const n of nodes) {
    n.rec?.close();
    await n.rec?.idle();
    await n.src?.close();
  }
}

beforeAll(async () => {
  if (!haveRoot()) return;
  dir = mkdtempSync(join(tmpdir(), 'vcni-multinode-'));
  api = await FakeApiServer.start();
  underlay = createNetns('ul');
  inNs(underlay, ['ip', 'link', 'add', 'br0', 'type', 'bridge']);
  inNs(underlay, ['ip', 'link', 'set', 'br0', 'up']);
  for (const [i, name] of NAMES.entries()) {
    const ns = createNetns(`n${name}`);
    execFileSync('ip', ['-n', underlay.name, 'link', 'add', `u${name}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name]);
    inNs(underlay, ['ip', 'link', 'set', `u${name}`, 'master', 'br0', 'up']);
    inNs(ns, ['ip', 'link', 'set', 'lo', 'up']);
    inNs(ns, ['ip', 'link', 'set', 'eth0', 'up']);
    inNs(ns, ['ip', 'addr', 'add', `${underlayIp(i)}/24`, 'dev', 'eth0']);
    // Stands for a pod behind this node's VPP.
    inNs(ns, ['ip', 'addr', 'add', `10.244.${i}.1/32`, 'dev', 'lo']);
    inNs(ns, ['sysctl', '-q', '-w', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);
    const sim = await VppSimulator.start({ socketPath: join(dir, `${name}.sock`), host: noVhostNet() });
    const vpp = new VppClient({ socketPath: sim.socketPath, modules: allModules, healthCheck: false, requestTimeoutMs: 5000 });
    await vpp.connect();
    const cmd = new HostCmd({ netns: ns.name });
    nodes.push({ name, ns, sim, vpp, cmd, routes: new HostRoutes(cmd), vxlan: new VxlanDevice(cmd) });
    api.addObject('nodes', { metadata: { name }, spec: { podCIDR: podCidr(i), podCIDRs: [podCidr(i)] }, status: { addresses: [{ type: 'InternalIP', address: underlayIp(i) }] } });
  }
});

afterAll(async () => {
  await stopAgents();
  for (const n of nodes) {
    await n.vpp.close();
    await n.sim.stop();
  }
  await api?.stop();
  deleteAllNetns();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

d('three nodes', () => {
  test('vxlan: device, FDB, neighbors and onlink routes on every node; a TCP connection crosses; a removed node disappears; uninstall leaves nothing', async () => {
    await startAgents('vxlan');
    for (const [i, n] of nodes.entries()) {
      const others = NAMES.map((_, j) => j).filter((j) => j !== i);
      expect(routesOf(n)).toEqual(others.map((j) => `${podCidr(j)} via 10.244.${j}.0 dev vcni-vxlan onlink`).sort());
      const st = await n.vxlan.read('vcni-vxlan');
      expect(st.device).toMatchObject({ vni: 4097, local: underlayIp(i), mac: vtepMacFor(underlayIp(i)), mtu: 1450 });
      expect(st.fdb.map((e) => `${e.mac} ${e.dst}`).sort()).toEqual(others.map((j) => `${vtepMacFor(underlayIp(j))} ${underlayIp(j)}`).sort());
    }
    // a → pod address on b, through the VXLAN device.
    expect(await tcpCrosses(nodes[0]!.ns, '10.244.0.1', nodes[1]!.ns, '10.244.1.1')).toBe('pong');

    api.deleteObject('nodes', undefined, 'c');
    await until('node c gone everywhere', () => routesOf(nodes[0]!).length === 1 && routesOf(nodes[1]!).length === 1);
    expect((await nodes[0]!.vxlan.read('vcni-vxlan')).fdb.map((e) => e.dst)).toEqual([underlayIp(1)]);
    await stopAgents();
    for (const n of nodes) {
      await n.routes.removeAll();
      await n.vxlan.remove('vcni-vxlan');
      expect(routesOf(n)).toEqual([]);
      expect((ipj(n.ns, ['link', 'show']) as { ifname: string }[]).map((l) => l.ifname).sort()).toEqual(['eth0', 'lo']);
    }
    api.addObject('nodes', { metadata: { name: 'c' }, spec: { podCIDR: podCidr(2), podCIDRs: [podCidr(2)] }, status: { addresses: [{ type: 'InternalIP', address: underlayIp(2) }] } });
  });

  test('host-gw: routes via the InternalIPs on every node; a TCP connection crosses; a podCIDR change follows; uninstall leaves nothing', async () => {
    await startAgents('host-gw');
    for (const [i, n] of nodes.entries()) {
      expect(routesOf(n)).toEqual(NAMES.map((_, j) => j).filter((j) => j !== i).map((j) => `${podCidr(j)} via ${underlayIp(j)} dev eth0`).sort());
    }
    expect(await tcpCrosses(nodes[2]!.ns, '10.244.2.1', nodes[0]!.ns, '10.244.0.1')).toBe('pong');
    api.updateObject('nodes', undefined, 'b', (o) => Object.assign(o, { spec: { podCIDR: '10.244.11.0/24', podCIDRs: ['10.244.11.0/24'] } }));
    await until('podCIDR change on a', () => routesOf(nodes[0]!).includes(`10.244.11.0/24 via ${underlayIp(1)} dev eth0`) && !routesOf(nodes[0]!).includes(`10.244.1.0/24 via ${underlayIp(1)} dev eth0`));
    await stopAgents();
    for (const n of nodes) {
      await n.routes.removeAll();
      expect(routesOf(n)).toEqual([]);
    }
  });
});
