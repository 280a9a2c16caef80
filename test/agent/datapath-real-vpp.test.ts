/**
 * Issue 16's datapath on a real VPP, pods made by the agent's own pod code (PodNetwork, interface mode auto:
 * tun where VPP can open /dev/vhost-net, veth + af_packet elsewhere) in real network namespaces:
 *  - a TCP connection from pod A reaches a VCL app in pod B (LD_PRELOAD) while a kernel port of pod B still
 *    answers, and the VCL port has no kernel listener;
 *  - a spoofed source from pod A is dropped by the source check (uRPF), its own address passes;
 *  - PBL: a listed port of pod C goes to its memif (VPP's trace shows ip4-pbl-tx and the memif's output),
 *    another port reaches pod C's kernel.
 * Needs root, VPPCNI_TEST_VPP_SOCKET (a VPP this test may change; it removes every pod it makes) and, for the
 * VCL part, VPPCNI_TEST_VCL_LDPRELOAD (libvcl_ldpreload.so of that VPP's release). Skips with one line otherwise.
 * The apps are /usr/bin/python3 one-liners (Debian's python3).
 */
import { silentLogger } from '../../lib/logger.js';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VppClient } from '../../vpp-api/client/index.js';
import { interface_ } from '../../vpp-api/generated/index.js';
import { API_MODULES } from '../../agent/vpp/connection.js';
import { LinuxNetns } from '../../agent/linux/netns.js';
import { NodeResources } from '../../agent/pod/node-resources.js';
import { PodNetwork } from '../../agent/pod/pod-network.js';
import { ANN } from '../../agent/pod/annotations.js';
import type { AttachRequest } from '../../agent/pod/attachment.js';
import type { AttachmentRecord } from '../../agent/pod/record.js';
import { createNetns, deleteAllNetns, haveRoot, type TestNetns } from '../helpers/netns.js';
import { PYTHON, probeText, startTcpServer, tcpProbe } from '../helpers/tcp-probe.js';

const SOCKET = process.env['VPPCNI_TEST_VPP_SOCKET'] ?? '';
const LDP = process.env['VPPCNI_TEST_VCL_LDPRELOAD'] ?? '';
const why = !haveRoot()
  ? 'needs root'
  : SOCKET === '' || !existsSync(SOCKET)
    ? 'no real VPP; set VPPCNI_TEST_VPP_SOCKET'
    : !existsSync(PYTHON)
      ? `no ${PYTHON}`
      : '';
const haveLdp = LDP !== '' && existsSync(LDP);
const ENV = { ...process.env, LC_ALL: 'C' };
const RUN = `dp${(process.pid % 0xffff).toString(16).padStart(4, '0')}`;
const NET = `10.246.${process.pid % 250}`;


const d = why === '' ? describe : describe.skip;

d(`datapath on a real VPP (${why === '' ? SOCKET : `skipped: ${why}`})`, () => {
  let vpp: VppClient;
  let net: PodNetwork;
  const dir = mkdtempSync(join(tmpdir(), 'vcni-dp-'));
  const procs: ChildProcess[] = [];
  const recs: AttachmentRecord[] = [];
  const pods: Record<'a' | 'b' | 'c', { ns: TestNetns; ip: string }> = {} as never;

  async function pod(key: 'a' | 'b' | 'c', host: number, annotations: Record<string, string>): Promise<void> {
    const ns = createNetns(key);
    const ip = `${NET}.${host}`;
    const req: AttachRequest = {
      containerId: `${RUN}${key}${'0'.repeat(64)}`.slice(0, 64),
      ifName: 'eth0',
      netns: ns.path,
      pod: { namespace: 'realvpp', name: `pod-${key}` },
      ips: [{ address: `${ip}/24`, gateway: `${NET}.1` }],
      routes: [{ dst: '0.0.0.0/0' }],
      annotations,
    };
    recs.push(await net.add(req));
    pods[key] = { ns, ip };
  }

  /** Starts a server in `ns`; with `preload`, under VCL. Resolves once it listens. */
  async function server(ns: TestNetns, port: number, banner: string, preload = false): Promise<void> {
    await startTcpServer(procs, { netns: ns.name, port, banner, env: preload ? [`LD_PRELOAD=${LDP}`, `VCL_CONFIG=${join(dir, 'vcl.conf')}`] : [] });
  }

  function connect(from: TestNetns, ip: string, port: number, src = '', timeoutS = 3): string {
    return probeText(tcpProbe({ netns: from.name, ip, port, src, timeoutS }));
  }

  beforeAll(async () => {
    writeFileSync(join(dir, 'vcl.conf'), 'vcl {\n  app-socket-api abstract:vpp/session\n  use-mq-eventfd\n}\n');
    vpp = new VppClient({ socketPath: SOCKET, modules: API_MODULES, healthCheck: false, requestTimeoutMs: 10_000 });
    await vpp.connect();
    const node = new NodeResources(vpp);
    await node.unnumberedLoopback();
    const log = silentLogger;
    net = new PodNetwork({
      vpp,
      netns: new LinuxNetns(),
      node,
      log,
      cfg: { gates: { memifEnabled: true, vclEnabled: true, multinetEnabled: false }, defaults: { rx: 1, tx: 1, rxqsz: 1024, txqsz: 1024 }, limits: { rx: 4, tx: 4, rxqsz: 4096, txqsz: 4096 }, mtu: 1400, interfaceMode: 'auto' },
    });
    await pod('a', 10, {});
    await pod('b', 20, { [ANN.vcl]: 'enable' });
    await pod('c', 30, { [ANN.extraMemifPorts]: 'tcp:5555' });
  }, 60_000);

  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    for (const r of recs.reverse()) await net.del(r).catch(() => undefined);
    deleteAllNetns();
    await vpp?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('pod A reaches a kernel port of pod B through VPP', async () => {
    await server(pods.b.ns, 8081, 'kernel-b');
    expect(connect(pods.a.ns, pods.b.ip, 8081)).toBe(`kernel-b ${pods.a.ip}`);
  }, 30_000);

  (haveLdp ? test : test.skip)(`a VCL app in pod B answers its port while the kernel port still answers${haveLdp ? '' : ' (skipped: set VPPCNI_TEST_VCL_LDPRELOAD)'}`, async () => {
    await server(pods.b.ns, 8080, 'vcl-b', true);
    expect(connect(pods.a.ns, pods.b.ip, 8080)).toBe(`vcl-b ${pods.a.ip}`);
    expect(connect(pods.a.ns, pods.b.ip, 8081)).toBe(`kernel-b ${pods.a.ip}`);
    // The VCL listener lives in VPP's session layer, not in pod B's kernel.
    const kernelListeners = execFileSync('ip', ['netns', 'exec', pods.b.ns.name, 'ss', '-Htln'], { env: ENV, encoding: 'utf8', timeout: 10_000 });
    expect(kernelListeners).toMatch(/:8081\b/);
    expect(kernelListeners).not.toMatch(/:8080\b/);
    expect(await vpp.cli('show session verbose')).toMatch(new RegExp(`${pods.b.ip.replace(/\./g, '\\.')}:8080|0\\.0\\.0\\.0:8080`));
  }, 60_000);

  test('a spoofed source from pod A is dropped by the source check; its own address passes', async () => {
    await server(pods.b.ns, 8082, 'kernel-b2');
    const spoof = `198.18.${process.pid % 250}.5`;
    execFileSync('ip', ['-n', pods.a.ns.name, 'address', 'add', `${spoof}/32`, 'dev', 'eth0'], { env: ENV, timeout: 10_000 });
    const dropsBefore = urpfDrops(await vpp.cli('show errors'));
    expect(connect(pods.a.ns, pods.b.ip, 8082, spoof)).toBe('TIMEOUT');
    expect(urpfDrops(await vpp.cli('show errors'))).toBeGreaterThan(dropsBefore);
    expect(connect(pods.a.ns, pods.b.ip, 8082, pods.a.ip)).toBe(`kernel-b2 ${pods.a.ip}`);
  }, 30_000);

  test('PBL: a listed port of pod C goes to its memif, another port to its kernel', async () => {
    await server(pods.c.ns, 5555, 'kernel-c-listed');
    await server(pods.c.ns, 5556, 'kernel-c');
    const memifIf = recs.find((r) => r.pod.name === 'pod-c')!.objects.memif!;
    const inputNode = recs.find((r) => r.pod.name === 'pod-a')!.kind === 'veth' ? 'af-packet-input' : 'virtio-input';
    await vpp.cli('clear trace');
    await vpp.cli(`trace add ${inputNode} 100`);
    expect(connect(pods.a.ns, pods.c.ip, 5555, '', 2)).toBe('TIMEOUT'); // the memif has no client: the SYN ends there
    const trace = await vpp.cli('show trace');
    await vpp.cli('clear trace');
    // PBL took the SYN (ip4-pbl-tx: "matched PBL client"); with no memif client connected VPP drops it there. It
    // never went out of pod C's eth0 (its af_packet or tap output node).
    expect(trace).toContain('ip4-pbl-tx');
    expect(trace).toContain('matched PBL client');
    const podC = recs.find((r) => r.pod.name === 'pod-c')!;
    const eth0Sw = podC.objects.veth?.swIfIndex ?? podC.objects.tun!.swIfIndex;
    const eth0C = (await vpp.dumpAll(interface_.sw_interface_dump, { sw_if_index: eth0Sw }))[0]!.interface_name;
    expect(trace).not.toContain(`${eth0C}-output`);
    expect(memifIf.swIfIndex).toBeGreaterThan(0);
    expect(connect(pods.a.ns, pods.c.ip, 5556)).toBe(`kernel-c ${pods.a.ip}`);
  }, 30_000);
});

/** Packets VPP's error counters attribute to uRPF (`show errors` lines of the urpf nodes). */
function urpfDrops(showErrors: string): number {
  let n = 0;
  for (const line of showErrors.split('\n')) {
    if (!/urpf/i.test(line)) continue;
    const m = /^\s*(\d+)\s/.exec(line);
    if (m) n += Number(m[1]);
  }
  return n;
}
