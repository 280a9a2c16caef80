/**
 * The node dataplane (host link, VPP default routes, cnat SNAT policy, Service translations, host routes, our
 * iptables chains) run by the real Agent against a REAL VPP, with real packets between pods made by the agent's
 * ADD path (veth + af_packet):
 *  (a) pod A → ClusterIP:port of a Service whose ready endpoint is pod B reaches pod B, the reply comes from the VIP;
 *  (b) pod A → an address of the node netns (VPP's default route → the host side of the host link);
 *  (c) hairpin: pod A → its own Service.
 * The host link's af_packet binds a link of the node's host netns, and pod veth host ends live in the agent's own
 * netns: so VPP, the agent (this jest process) and "the node" share ONE named netns, never the machine's root one.
 * Run (root):
 *   ip netns add N; ip -n N link set lo up; ip netns exec N vpp -c <startup.conf>
 *   ip netns exec N env VPPCNI_TEST_VPP_SOCKET=<api socket> VPPCNI_TEST_NODE_NETNS=N npx jest test/node/node-real-vpp.test.ts
 * Skips with one line otherwise. Everything it makes is removed in afterAll (pods, translations, host link,
 * routes, chains); cnat's node-wide SNAT addresses and policy stay, as the agent leaves them.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Agent } from '../../agent/agent.js';
import { loadConfig } from '../../agent/config.js';
import { createLogger } from '../../agent/log.js';
import { KubeClient, parseKubeconfig } from '../../agent/kube/client.js';
import { NodeDataplaneSource } from '../../agent/kube/node-dataplane-source.js';
import { HostCmd } from '../../agent/linux/host-cmd.js';
import { LinuxNetns } from '../../agent/linux/netns.js';
import { HOST_LINK_TAG } from '../../agent/node/kinds/host-link.js';
import type { PodSource } from '../../agent/pod-info/source.js';
import { VppClient } from '../../vpp-api/client/index.js';
import { allModules, cnat, interface_ as iface } from '../../vpp-api/generated/index.js';
import { FakeApiServer } from '../helpers/fake-apiserver.js';
import { createNetns, deleteAllNetns, haveRoot, type TestNetns } from '../helpers/netns.js';
import { until } from '../helpers/until.js';
import { PYTHON, probeText, startTcpServer, tcpProbe } from '../helpers/tcp-probe.js';

const SOCKET = process.env['VPPCNI_TEST_VPP_SOCKET'] ?? '';
const NODE_NS = process.env['VPPCNI_TEST_NODE_NETNS'] ?? '';

/** This process runs in the named netns NODE_NS (same inode), which is not the machine's root netns. */
function inNodeNetns(): boolean {
  try {
    const own = readlinkSync('/proc/self/ns/net');
    return own === `net:[${statSync(`/run/netns/${NODE_NS}`).ino}]`;
  } catch {
    return false;
  }
}
const why = !haveRoot()
  ? 'needs root'
  : SOCKET === '' || !existsSync(SOCKET)
    ? 'no real VPP; set VPPCNI_TEST_VPP_SOCKET'
    : NODE_NS === '' || !inNodeNetns()
      ? 'set VPPCNI_TEST_NODE_NETNS to the named netns VPP and this test run in (ip netns exec)'
      : !existsSync(PYTHON)
        ? `no ${PYTHON}`
        : '';
if (why !== '') process.stderr.write(`node-real-vpp: skipped: ${why}\n`);
const ENV = { ...process.env, LC_ALL: 'C' };
const RUN = `n${(process.pid % 0xfffffff).toString(16).padStart(7, '0')}`;


const VIP = '10.96.0.20';
const VIP_SELF = '10.96.0.21';
const NODE_ADDR = '192.168.80.1';
const podIp = { a: '10.244.0.10', b: '10.244.0.20' } as const;

const logLines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _e, cb) {
    for (const l of chunk.toString().split('\n')) if (l.trim()) logLines.push(JSON.parse(l) as Record<string, unknown>);
    if (process.env['VCNI_TEST_LOG']) process.stderr.write(chunk);
    cb();
  },
});

const d = why === '' ? describe : describe.skip;

d(`node dataplane on a real VPP (${why === '' ? `${SOCKET}, netns ${NODE_NS}` : `skipped: ${why}`})`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vcni-node-real-'));
  const procs: ChildProcess[] = [];
  const podNs: Partial<Record<'a' | 'b', TestNetns>> = {};
  const reqs: Parameters<Agent['manager']['add']>[0][] = [];
  let api: FakeApiServer | undefined;
  let src: NodeDataplaneSource | undefined;
  let agent: Agent | undefined;
  let vpp: VppClient;
  let uplinkMade = false;

  const pods: PodSource = {
    getPod: (namespace, name) => Promise.resolve(namespace === 'default' && (name === 'pod-a' || name === 'pod-b') ? { namespace, name, uid: `uid-${name}`, annotations: {} } : undefined),
    close: () => Promise.resolve(),
  };

  const cli = (cmd: string): Promise<string> => vpp.cli(cmd);

  async function server(ns: TestNetns | undefined, port: number, banner: string): Promise<void> {
    await startTcpServer(procs, { ...(ns ? { netns: ns.name } : {}), port, banner });
  }

  /** `<who answered> <first line>` (the peer as the kernel sees it), or TIMEOUT / ERROR <reason>. */
  function connect(from: TestNetns, ip: string, port: number, timeoutS = 3): string {
    return probeText(tcpProbe({ netns: from.name, ip, port, timeoutS }), true);
  }

  async function translations(): Promise<string[]> {
    return (await vpp.dumpAll(cnat.cnat_translation_dump, {})).map((t) => `${t.translation.vip.addr}:${t.translation.vip.port} -> ${t.translation.paths.map((p) => `${p.dst_ep.addr}:${p.dst_ep.port}`).join(',')}`).sort();
  }

  function ip(args: string[]): void {
    execFileSync('ip', args, { env: ENV, timeout: 10_000, stdio: ['ignore', 'ignore', 'pipe'] });
  }

  async function startAgent(): Promise<void> {
    const cfg = loadConfig({}, [
      '--vpp-socket', SOCKET,
      '--cni-socket', join(dir, 'cni', 'agent.sock'),
      '--metrics-port', '0',
      '--health-port', '0',
      '--node-name', 'a',
      '--state-dir', join(dir, 'state'),
      '--sweep-interval', '0',
      '--cross-node', 'host-gw',
      '--node-netns', NODE_NS,
      '--pod-interface-mode', 'veth',
    ]);
    const kc = new KubeClient(parseKubeconfig(api!.kubeconfigFile(), '/'));
    const s = new NodeDataplaneSource({ kc, log: { debug: () => undefined, info: () => undefined, warn: () => undefined }, services: true, backoff: { initialMs: 20, maxMs: 200 } });
    src = s;
    s.start();
    expect(await s.waitForSync(5000)).toBe(true);
    const a = new Agent(cfg, createLogger('debug', 'a', sink), {
      pods,
      netns: new LinuxNetns(),
      cluster: { nodes: () => s.nodes.list(), services: () => s.services!.list(), slices: () => s.slices!.list(), onChange: (l) => s.onChange(l), waitForSync: (ms) => s.waitForSync(ms) },
      nodeDataplane: { resyncMs: 1000, retry: { initialMs: 100, maxMs: 1000 }, host: new HostCmd({ netns: NODE_NS }) },
      state: { retry: { initialMs: 100, maxMs: 1000 }, drainTimeoutMs: 5000 },
    });
    agent = a;
    await a.start();
    await a.ready();
    await until(`node dataplane started (${JSON.stringify(a.nodeDataplane!.notReady())})`, () => agent!.nodeDataplane!.notReady() === undefined, 30_000).catch((e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify(agent!.nodeDataplane!.notReady())}; ${logLines.filter((l) => Number(l['level']) >= 40).slice(-5).map((l) => JSON.stringify(l)).join('\n')}`);
    });
    await a.nodeDataplane!.idle();
    await a.state.settled();
  }

  beforeAll(async () => {
    vpp = new VppClient({ socketPath: SOCKET, modules: allModules, healthCheck: false, requestTimeoutMs: 10_000 });
    await vpp.connect();
    // An uplink of "the node" with its InternalIP (a veth pair inside the node netns).
    ip(['link', 'add', `${RUN}u0`, 'type', 'veth', 'peer', 'name', `${RUN}u1`]);
    uplinkMade = true;
    ip(['link', 'set', `${RUN}u0`, 'up']);
    ip(['link', 'set', `${RUN}u1`, 'up']);
    ip(['addr', 'add', `${NODE_ADDR}/24`, 'dev', `${RUN}u0`]);

    api = await FakeApiServer.start();
    const nodeObj = (name: string, cidr: string, addr: string) => ({ metadata: { name }, spec: { podCIDR: cidr, podCIDRs: [cidr] }, status: { addresses: [{ type: 'InternalIP', address: addr }] } });
    const sliceObj = (name: string, svc: string, ips: string[]) => ({
      metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': svc } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: ips.map((a) => ({ addresses: [a], conditions: { ready: true } })),
    });
    api.addObject('nodes', nodeObj('a', '10.244.0.0/24', NODE_ADDR));
    api.addObject('nodes', nodeObj('b', '10.244.1.0/24', '192.168.80.2'));
    api.addObject('services', { metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: VIP, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } });
    api.addObject('endpointslices', sliceObj('web-1', 'web', [podIp.b]));
    api.addObject('services', { metadata: { name: 'self', namespace: 'default' }, spec: { clusterIP: VIP_SELF, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } });
    api.addObject('endpointslices', sliceObj('self-1', 'self', [podIp.a]));

    await startAgent();

    for (const key of ['a', 'b'] as const) {
      const ns = createNetns(`rn${key}`);
      podNs[key] = ns;
      const req = {
        containerId: `${RUN}${key}${'0123456789abcdef'.repeat(4)}`.slice(0, 64),
        ifName: 'eth0',
        netns: ns.path,
        pod: { namespace: 'default', name: `pod-${key}`, uid: `uid-pod-${key}` },
        ips: [{ address: `${podIp[key]}/24` }],
        routes: [{ dst: '0.0.0.0/0' }],
        network: 'vpp-cni',
      };
      reqs.push(req);
      await agent!.manager.add(req);
    }
  }, 120_000);

  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    for (const r of reqs.reverse()) await agent?.manager.del(r).catch(() => undefined);
    const report = await agent?.nodeDataplane?.cleanup().catch((e: Error) => ({ removed: [], errors: [e.message] }));
    if (report && report.errors.length > 0) process.stderr.write(`node-real-vpp: cleanup errors: ${report.errors.join('; ')}\n`);
    await agent?.stop().catch(() => undefined);
    await src?.close().catch(() => undefined);
    await api?.stop().catch(() => undefined);
    if (uplinkMade) {
      try {
        ip(['link', 'del', `${RUN}u0`]);
      } catch {
        // already gone
      }
    }
    deleteAllNetns();
    await vpp?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  test('VPP shows what docs/node-dataplane.md says: host link, default route, SNAT policy, translations', async () => {
    expect(agent!.nodeDataplane!.startReport).toMatchObject({ hostLink: expect.stringMatching(/created|adopted/), cnat: expect.stringMatching(/applied|adopted/) });
    const hl = (await vpp.dumpAll(iface.sw_interface_dump, {})).find((i) => i.tag === HOST_LINK_TAG);
    expect(hl?.interface_name).toBe('host-vcni-hl0');
    const int = await cli('show interface');
    expect(int).toMatch(/host-vcni-hl0\s+\d+\s+up/);
    const fib = await cli('show ip fib 0.0.0.0/0');
    expect(fib).toMatch(/via 169\.254\.100\.2 host-vcni-hl0/);
    expect(await translations()).toEqual([`${VIP}:80 -> ${podIp.b}:8080`, `${VIP_SELF}:80 -> ${podIp.a}:8080`]);
    const tr = await cli('show cnat translation');
    expect(tr).toContain(`${VIP};80`);
    const snat = await cli('show cnat snat-policy');
    expect(snat).toMatch(/10\.96\.0\.0\/12/);
    expect(snat).toMatch(/k8s pod interfaces:\n\s+host-/);
    expect(snat).toMatch(/k8s host interfaces:\n\s+host-vcni-hl0/);
  }, 30_000);

  test('(a) pod A → ClusterIP:80 reaches pod B:8080; the reply comes from the VIP', async () => {
    await server(podNs.b, 8080, 'web-b');
    await cli('clear trace');
    await cli('trace add af-packet-input 50');
    const out = connect(podNs.a!, VIP, 80);
    const trace = await cli('show trace');
    await cli('clear trace');
    if (process.env['VPPCNI_TEST_SHOW']) process.stderr.write(`--- trace (a)\n${trace}\n`);
    // The peer A's kernel sees is the VIP (the reply was translated back); B saw A's address or the SNAT one.
    expect(out).toMatch(new RegExp(`^${VIP.replace(/\./g, '\\.')} web-b \\S+$`));
    process.stderr.write(`node-real-vpp (a): ${out}\n`);
    // Translated in VPP (cnat-input) and sent straight to pod B's interface, not through the host.
    expect(trace).toContain('cnat-input-ip4');
    expect(trace).toContain(`${podIp.a} -> ${podIp.b}`);
    expect(trace).toContain(`${VIP} -> ${podIp.a}`);
    expect(trace).not.toContain('host-vcni-hl0-output');
  }, 30_000);

  test('(b) pod A → an address of the node netns goes through the host link', async () => {
    await server(undefined, 18080, 'node');
    await cli('clear trace');
    await cli('trace add af-packet-input 50');
    const out = connect(podNs.a!, NODE_ADDR, 18080);
    const trace = await cli('show trace');
    await cli('clear trace');
    expect(`${out}${out.startsWith(NODE_ADDR) ? '' : `\n${trace}\n${await cli('show ip neighbors')}\n${execFileSync('ip', ['route'], { encoding: 'utf8' })}\n${execFileSync('ip', ['neigh'], { encoding: 'utf8' })}`}`).toBe(`${NODE_ADDR} node ${podIp.a}`);
    expect(await cli('show ip neighbors')).toMatch(/169\.254\.100\.2\s/);
  }, 30_000);

  test('VPP shows the pods in the POD table, the host link in the HOST table, sessions and neighbors', async () => {
    const show = async (c: string): Promise<string> => {
      const out = await cli(c);
      if (process.env['VPPCNI_TEST_SHOW']) process.stderr.write(`--- ${c}\n${out}\n`);
      return out;
    };
    const snat = await show('show cnat snat-policy');
    expect(snat.match(/k8s pod interfaces:\n((?:\s+\S+\n)+)/)?.[1]?.trim().split(/\s+/)).toHaveLength(2);
    await show('show cnat translation');
    await show('show cnat session');
    await show('show ip fib 10.96.0.20/32');
    await show('show ip fib 10.244.0.10/32');
    await show('show interface');
    expect(await show('show ip neighbors')).toMatch(/169\.254\.100\.2\s.*S/);
    // CHECK reads the POD table back from the real VPP's CLI output: nothing wrong.
    for (const r of reqs) await agent!.manager.check(r);
  }, 30_000);

  test('agent restart on the real VPP: the host link and cnat adopted, the chains unchanged, the pods still reach the Service', async () => {
    const before = { tr: await translations(), ifs: (await vpp.dumpAll(iface.sw_interface_dump, {})).map((i) => `${i.sw_if_index} ${i.interface_name} ${i.tag}`) };
    await agent!.stop();
    agent = undefined;
    await src?.close();
    src = undefined;
    await startAgent();
    expect(agent!.nodeDataplane!.startReport).toEqual({ hostLink: 'adopted', cnat: 'adopted', chainsChanged: false });
    for (const r of reqs) await agent!.manager.check(r);
    expect({ tr: await translations(), ifs: (await vpp.dumpAll(iface.sw_interface_dump, {})).map((i) => `${i.sw_if_index} ${i.interface_name} ${i.tag}`) }).toEqual(before);
    expect(connect(podNs.a!, VIP, 80)).toMatch(new RegExp(`^${VIP.replace(/\./g, '\\.')} web-b `));
  }, 60_000);

  test('(c) hairpin: pod A → its own Service', async () => {
    await server(podNs.a, 8080, 'self-a');
    const out = connect(podNs.a!, VIP_SELF, 80);
    process.stderr.write(`node-real-vpp (c): ${out}\n`);
    expect(out).toMatch(new RegExp(`^${VIP_SELF.replace(/\./g, '\\.')} self-a \\S+$`));
  }, 30_000);

  test('DEL of the pods and cleanup() leave VPP as it was: no translation, host link, POD/HOST entry, excluded prefix or default route of ours', async () => {
    for (const r of reqs) await agent!.manager.del(r);
    const report = await agent!.nodeDataplane!.cleanup();
    expect(report.errors).toEqual([]);
    expect(await translations()).toEqual([]);
    expect((await vpp.dumpAll(iface.sw_interface_dump, {})).filter((i) => i.tag === HOST_LINK_TAG || i.interface_name.startsWith('host-'))).toEqual([]);
    const snat = await cli('show cnat snat-policy');
    expect(snat).toMatch(/k8s pod interfaces:\n\s*k8s host interfaces:\s*$/);
    expect(snat).toMatch(/0 active elements/);
    expect(await cli('show ip fib 0.0.0.0/0')).toMatch(/dpo-drop/);
  }, 60_000);
});
