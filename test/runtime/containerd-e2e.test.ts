/**
 * vpp-cni driven the way kubelet drives it: containerd 1.6 + runc (Debian 12) started by the test, CRI calls
 * over gRPC (RunPodSandbox, CreateContainer, ExecSync, StopPodSandbox, RemovePodSandbox), the plugin binary
 * and the conflist written by our own install step (cniVersion 1.0.0) in the runtime's CNI directories,
 * host-local for addresses, the agent on the VPP simulator with kernel taps.
 *
 * The agent has no pod source here (no pods file, no API server): a pod's annotations exist only in the CRI
 * sandbox config, so they can reach the agent only through the runtime's runtimeConfig
 * (`io.kubernetes.cri.pod-annotations`, declared by the conflist).
 *
 * Skips (one line) only without root, where containerd cannot run; missing packages are a failure
 * naming the apt package (.ci/run installs them).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as iface from '../../vpp-api/generated/interface.js';
import * as memif from '../../vpp-api/generated/memif.js';
import { NODE_LOOPBACK_TAG } from '../../agent/pod/node-resources.js';
import { haveRoot } from '../helpers/netns.js';
import { until } from '../helpers/until.js';
import { sandboxConfig, type SandboxSpec } from './cri-client.js';
import { run } from './exec.js';
import { MEMIF_NETWORK, MULTUS_HANDLER, NETWORKS_ANNOTATION, POD_MTU, runtimeMissing, startRuntimeEnv, V110_HANDLER, type RuntimeEnv } from './setup.js';
import { NETNS_DIR } from './containerd.js';

const ROOT = process.cwd();
const root = haveRoot();
if (!root) process.stderr.write('containerd-e2e: skipped: containerd needs root (run the tests as root, as .ci/run does)\n');
const d = root ? describe : describe.skip;

const PBL_PORTS = 'cni.projectcalico.org/vppExtraMemifPorts';
/** A pod's whole life through CRI takes seconds on a loaded 2-core machine (a Multus-style pod twice that). */
const POD_TEST_MS = 90_000;
let env: RuntimeEnv | undefined;
let baseline: string[] = [];
let n = 0;

function E(): RuntimeEnv {
  if (!env) throw new Error('the runtime environment did not start (see beforeAll)');
  return env;
}

function pod(name: string, annotations: Record<string, string>): SandboxSpec {
  n++;
  return { name: `${name}-${process.pid}-${n}`, namespace: 'rt-test', uid: `uid-${process.pid}-${n}-${name}`, annotations: { 'example.com/owner': `run-${process.pid}`, ...annotations } };
}

/** VPP's interfaces but the node's own loopback (made at the first pod, kept for the node's life). */
async function vppInterfaces(): Promise<string[]> {
  const all = await E().agent.vpp.dumpAll(iface.sw_interface_dump, {});
  return all.filter((i) => i.tag !== NODE_LOOPBACK_TAG).map((i) => `${i.sw_if_index} ${i.interface_name} ${i.tag}`).sort();
}

function allocated(): string[] {
  const out: string[] = [];
  for (const net of Object.values(E().net)) {
    const p = join(E().ipamDir, net);
    if (existsSync(p)) out.push(...readdirSync(p).filter((f) => /^[\d.]+$|:/.test(f)).map((f) => `${net}/${f}`));
  }
  return out;
}

function cniNetns(): string[] {
  return existsSync(NETNS_DIR) ? readdirSync(NETNS_DIR).filter((f) => f.startsWith('cni-')) : [];
}

/** Host links whose alias names one of these container ids (the agent marks what it makes on the host). */
async function hostLinksOf(ids: string[]): Promise<string[]> {
  const r = await run('ip', ['-j', '-d', 'link', 'show'], { timeoutMs: 10_000 });
  const links = JSON.parse(r.stdout || '[]') as { ifname: string; ifalias?: string }[];
  return links.filter((l) => l.ifalias && ids.some((id) => l.ifalias!.includes(id) || l.ifalias!.includes(id.slice(0, 12)))).map((l) => l.ifname);
}

/** `ip -o addr` of the container: "eth0 10.1.2.3/32 mtu 1400" lines for every non-loopback address. */
async function podAddresses(containerId: string): Promise<string[]> {
  const a = await E().containerd.cri.execSync(containerId, ['/bin/ip', '-o', '-4', 'addr', 'show']);
  const l = await E().containerd.cri.execSync(containerId, ['/bin/ip', '-o', 'link', 'show']);
  expect(a.exitCode).toBe(0);
  const mtu = new Map<string, string>();
  for (const line of l.stdout.split('\n')) {
    const m = /^\d+: ([^:@]+)[@:].* mtu (\d+)/.exec(line);
    if (m) mtu.set(m[1]!, m[2]!);
  }
  return a.stdout
    .split('\n')
    .map((line) => /^\d+: (\S+)\s+inet (\S+)/.exec(line))
    .filter((m): m is RegExpExecArray => !!m && m[1] !== 'lo')
    .map((m) => `${m[1]} ${m[2]} mtu ${mtu.get(m[1]!) ?? '?'}`)
    .sort();
}

/** Runs a sandbox with a busybox container in it; returns ids and the netns path. */
async function startPod(spec: SandboxSpec, handler = ''): Promise<{ id: string; cid: string; netns: string; config: Record<string, unknown> }> {
  const c = E().containerd;
  const config = sandboxConfig(spec);
  const id = await c.cri.runPodSandbox(config, handler);
  const netns = (await c.netnsOf(id)) ?? '';
  const cid = await c.cri.createContainer(id, config, 'main', E().image, ['/bin/sleep', '3600']);
  await c.cri.startContainer(cid);
  return { id, cid, netns, config };
}

/** StopPodSandbox (DEL with the netns and prevResult), RemovePodSandbox (DEL again, no netns), then nothing left. */
async function removePod(id: string, netns: string): Promise<void> {
  const c = E().containerd;
  await c.cri.stopPodSandbox(id);
  await c.cri.removePodSandbox(id);
  expect(E().agent.manager.records.filter((r) => r.containerId === id)).toEqual([]);
  expect(await vppInterfaces()).toEqual(baseline);
  expect(allocated()).toEqual([]);
  expect(c.cachedResults()).toEqual([]);
  expect(await hostLinksOf([id])).toEqual([]);
  await until(`netns ${netns} removed`, () => !existsSync(netns), 10_000);
}

function within(ip: string, cidr: string): boolean {
  return ip.startsWith(cidr.split('.').slice(0, 3).join('.') + '.');
}

beforeAll(async () => {
  if (!root) return;
  const missing = runtimeMissing(ROOT);
  if (missing) throw new Error(`containerd-e2e: ${missing}`);
  env = await startRuntimeEnv(ROOT);
  baseline = await vppInterfaces();
}, 120_000);

afterAll(async () => {
  if (!env) return;
  const problems = await env.stop();
  env = undefined;
  expect(problems).toEqual([]);
}, 60_000);

d('vpp-cni under containerd 1.6 + runc (CRI)', () => {
  test('the install step wrote a 1.0.0 conflist declaring pod annotations; containerd reports it loaded and the network ready', async () => {
    const list = JSON.parse(E().conflist) as { cniVersion: string; plugins: { type: string; capabilities?: Record<string, boolean> }[] };
    expect(list.cniVersion).toBe('1.0.0');
    expect(list.plugins[0]).toMatchObject({ type: 'vpp-cni', capabilities: { 'io.kubernetes.cri.pod-annotations': true } });
    const st = await E().containerd.cri.status(true);
    expect(st.status?.conditions.find((c) => c.type === 'NetworkReady')).toMatchObject({ status: true });
    expect(st.info['cniconfig']).toContain(E().net.vpp);
    const v = await E().containerd.cri.version();
    expect(v).toMatchObject({ runtime_name: 'containerd', runtime_api_version: 'v1' });
  }, POD_TEST_MS);

  test('a plain pod: eth0 with its host-local address and the pod MTU; its annotations reached the agent through runtimeConfig; all gone after Stop + Remove', async () => {
    const spec = pod('plain', {});
    const p = await startPod(spec);
    try {
      const st = await E().containerd.cri.podSandboxStatus(p.id);
      const ip = st.status.network?.ip ?? '';
      expect(within(ip, E().subnets.vpp)).toBe(true);
      expect(allocated()).toEqual([`${E().net.vpp}/${ip}`]);
      expect(await podAddresses(p.cid)).toEqual([`eth0 ${ip}/32 mtu ${POD_MTU}`]);
      const recs = E().agent.manager.records.filter((r) => r.containerId === p.id);
      expect(recs.map((r) => `${r.ifName} ${r.pod.namespace}/${r.pod.name}`)).toEqual([`eth0 rt-test/${spec.name}`]);
      // Known only to the CRI sandbox config: arrived through runtimeConfig.
      expect(recs[0]!.annotations).toMatchObject(spec.annotations!);
    } finally {
      await removePod(p.id, p.netns);
    }
  }, POD_TEST_MS);

  test('a PBL memif pod: eth0 plus a memif (socket @vpp/memif-eth0 in the pod netns), from an annotation only the runtime knows', async () => {
    const spec = pod('pbl', { [PBL_PORTS]: 'tcp:4444-20000,udp:4444-20000' });
    const p = await startPod(spec);
    try {
      const ip = (await E().containerd.cri.podSandboxStatus(p.id)).status.network?.ip ?? '';
      expect(within(ip, E().subnets.vpp)).toBe(true);
      expect(await podAddresses(p.cid)).toEqual([`eth0 ${ip}/32 mtu ${POD_MTU}`]);
      const rec = E().agent.manager.records.find((r) => r.containerId === p.id);
      expect(rec?.annotations?.[PBL_PORTS]).toBe('tcp:4444-20000,udp:4444-20000');
      expect(rec?.result.interfaces.map((i) => `${i.name} ${i.socketPath ?? ''}`.trim())).toEqual(['eth0', 'memif-eth0 @vpp/memif-eth0']);
      const sockets = await E().agent.vpp.dumpAll(memif.memif_socket_filename_dump, {});
      expect(sockets.map((s) => s.socket_filename)).toContain(`abstract:vpp/memif-eth0,netns_name=${p.netns}`);
    } finally {
      await removePod(p.id, p.netns);
    }
  }, POD_TEST_MS);

  test('a multinet memif pod (Multus-style second network memif-net@memif1, named in an annotation containerd passed in runtimeConfig): eth0 and memif1 with their addresses', async () => {
    const spec = pod('multi', { [NETWORKS_ANNOTATION]: `${MEMIF_NETWORK}@memif1` });
    const p = await startPod(spec, MULTUS_HANDLER);
    try {
      const ip = (await E().containerd.cri.podSandboxStatus(p.id)).status.network?.ip ?? '';
      expect(within(ip, E().subnets.vpp)).toBe(true);
      const addrs = await podAddresses(p.cid);
      expect(addrs[0]).toBe(`eth0 ${ip}/32 mtu ${POD_MTU}`);
      expect(addrs[1]).toMatch(/^memif1 10\.232\.\d+\.\d+\/32 mtu \d+$/);
      expect(within(addrs[1]!.split(' ')[1]!, E().subnets.memif)).toBe(true);
      const recs = E().agent.manager.records.filter((r) => r.containerId === p.id);
      expect(recs.map((r) => `${r.ifName} ${r.kind}`).sort()).toEqual(['eth0 tun', 'memif1 memif-multinet']);
      // What containerd put into runtimeConfig for a plugin declaring only the pod-annotations capability:
      // exactly the sandbox's annotations (libcni passes only declared capabilities).
      const rc = JSON.parse(readFileSync(join(E().recordDir, `${p.id}.ADD.json`), 'utf8')) as Record<string, unknown>;
      expect(rc).toEqual({ 'io.kubernetes.cri.pod-annotations': spec.annotations });
      expect(allocated().map((a) => a.split('/')[0]).sort()).toEqual([E().net.memif, E().net.vpp].sort());
    } finally {
      await removePod(p.id, p.netns);
    }
    // Both DELs (StopPodSandbox, RemovePodSandbox) came with the annotations too.
    expect(JSON.parse(readFileSync(join(E().recordDir, `${p.id}.DEL.json`), 'utf8'))).toEqual({ 'io.kubernetes.cri.pod-annotations': spec.annotations });
  }, POD_TEST_MS);

  test('the former default (a 1.1.0 conflist) fails every pod on containerd 1.6, and the runtime’s DEL leaves nothing', async () => {
    const spec = pod('v110', {});
    await expect(E().containerd.cri.runPodSandbox(sandboxConfig(spec), V110_HANDLER)).rejects.toThrow(/unsupported CNI result version "1\.1\.0"/);
    expect(E().agent.manager.records.filter((r) => r.pod.name === spec.name)).toEqual([]);
    expect(await vppInterfaces()).toEqual(baseline);
    expect(allocated()).toEqual([]);
    expect(E().containerd.cachedResults()).toEqual([]);
  }, POD_TEST_MS);

  test('a sandbox whose ADD fails (invalid annotation) is refused with the reason and cleaned up by the runtime’s DEL', async () => {
    const netnsBefore = cniNetns();
    const spec = pod('bad', { [PBL_PORTS]: 'tcp:70000' });
    await expect(E().containerd.cri.runPodSandbox(sandboxConfig(spec))).rejects.toThrow(/plugin type="vpp-cni" failed \(add\):.*vppExtraMemifPorts "tcp:70000": port 70000 is outside 1-65535/);
    expect(E().agent.manager.records.filter((r) => r.pod.name === spec.name)).toEqual([]);
    expect(await vppInterfaces()).toEqual(baseline);
    expect(allocated()).toEqual([]);
    expect(E().containerd.cachedResults()).toEqual([]);
    await until('the failed sandbox’s netns removed', () => cniNetns().filter((x) => !netnsBefore.includes(x)).length === 0, 10_000);
    expect((await E().containerd.cri.listPodSandbox({ 'io.kubernetes.pod.name': spec.name })).filter((s) => s.state === 'SANDBOX_READY')).toEqual([]);
  }, POD_TEST_MS);
});
