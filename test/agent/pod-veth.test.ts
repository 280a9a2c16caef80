/**
 * eth0 as a veth pair + VPP af_packet, against the simulator set to behave like a node without
 * /dev/vhost-net (tap_create → -11, as real VPP answered on the capture host), real network namespaces
 * and real veth pairs in the host netns:
 *  - tun mode: a clear error naming the cause; nothing left;
 *  - auto mode: the first pod falls back (logged once), gets a working eth0 and every later pod is veth;
 *  - veth with PBL memif, VCL, both; IPv4 + IPv6; L2; CHECK; DEL leaves no veth, af_packet, neighbor or route;
 *  - a failure injected at every step of the auto fallback path rolls everything back (every step of the
 *    other combinations: test/agent/conformance.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as afp from '../../vpp-api/generated/af_packet.js';
import * as iface from '../../vpp-api/generated/interface.js';
import * as ipn from '../../vpp-api/generated/ip_neighbor.js';
import * as memif from '../../vpp-api/generated/memif.js';
import * as pbl from '../../vpp-api/generated/pbl.js';
import * as tapv2 from '../../vpp-api/generated/tapv2.js';
import type { VppClient } from '../../vpp-api/client/index.js';
import type { VppSimulator } from '../../vpp-api/sim/index.js';
import { noVhostNet } from '../../vpp-api/sim/host.js';
import { LinuxNetns } from '../../agent/linux/netns.js';
import type { NodeResources } from '../../agent/pod/node-resources.js';
import { PodNetwork } from '../../agent/pod/pod-network.js';
import { StepError } from '../../agent/pod/transaction.js';
import { ANN } from '../../agent/pod/annotations.js';
import { afPacketRings, isVethHostName, vethHostName } from '../../agent/pod/kinds/veth.js';
import { fallbackEventMessage, PodInterfaceModeState } from '../../agent/pod/interface-mode.js';
import type { AttachRequest, PodRef } from '../../agent/pod/attachment.js';
import type { PodInterfaceConfig, PodInterfaceModeSetting } from '../../agent/pod/interface-spec.js';
import { neighborTable, routeTable, startPodLayerSim } from '../helpers/pod-layer.js';
import { createNetns, deleteAllNetns, deleteNetns, haveRoot, ipj, linuxState, type TestNetns } from '../helpers/netns.js';
import { silentLogger, type Logger } from '../../lib/logger.js';
import { pblCloneIds } from '../../agent/vpp/pbl.js';

const root = haveRoot();
const d = root ? describe : describe.skip;

const dir = mkdtempSync(join(tmpdir(), 'vcni-veth-'));
/** Container ids of this run start with it: host links are told apart from other test files' by it. */
const RUN = `ve${(process.pid % 0xffff).toString(16).padStart(4, '0')}`;
let sim: VppSimulator;
let vpp: VppClient;
let node: NodeResources;
const cfg: PodInterfaceConfig = {
  gates: { memifEnabled: true, vclEnabled: true, multinetEnabled: true },
  defaults: { rx: 1, tx: 1, rxqsz: 1024, txqsz: 1024 },
  limits: { rx: 4, tx: 4, rxqsz: 4096, txqsz: 4096 },
  mtu: 1400,
};

interface Captured {
  warn: { obj: object; msg: string | undefined }[];
}
function logger(c?: Captured): Logger {
  return { ...silentLogger, warn: (obj: object, msg?: string) => void c?.warn.push({ obj, msg }) };
}

function network(mode: PodInterfaceModeSetting, stepHook?: (s: string) => void, c?: Captured): PodNetwork {
  return new PodNetwork({ vpp, netns: new LinuxNetns(), node, cfg: { ...cfg, interfaceMode: mode }, log: logger(c) }, stepHook ? { stepHook } : {});
}

let cid = 0;
function request(ns: TestNetns, over: Partial<AttachRequest> = {}): AttachRequest {
  cid++;
  return {
    containerId: `${RUN}${String(cid).padStart(6, '0')}abcdef0123456789`,
    ifName: 'eth0',
    netns: ns.path,
    pod: { namespace: 'default', name: `web-${cid}` },
    ips: [{ address: `10.245.1.${cid % 250}/24`, gateway: '10.245.1.1' }],
    routes: [{ dst: '0.0.0.0/0' }],
    annotations: {},
    ...over,
  };
}

interface HostLink {
  ifname: string;
  ifalias?: string;
  flags: string[];
  mtu: number;
}
/** This run's veth host ends in the host netns (name, up, alias). */
function hostLinks(): string[] {
  const all = JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8', timeout: 10_000 })) as HostLink[];
  return all
    .filter((l) => isVethHostName(l.ifname) && (l.ifalias ?? '').startsWith(`vcni:${RUN}`))
    .map((l) => `${l.ifname} mtu ${l.mtu}${l.flags.includes('UP') ? ' UP' : ''} ${l.ifalias ?? ''}`)
    .sort();
}

/** Everything the layer may touch in VPP, in comparable text form. */
async function vppState(): Promise<Record<string, string[]>> {
  const ifs = await vpp.dumpAll(iface.sw_interface_dump, {});
  return {
    interfaces: ifs.map((i) => `${i.sw_if_index} ${i.interface_name} flags=${i.flags} tag=${i.tag}`).sort(),
    afPackets: (await vpp.dumpAll(afp.af_packet_dump, {})).map((a) => `${a.sw_if_index} ${a.host_if_name}`).sort(),
    taps: (await vpp.dumpAll(tapv2.sw_interface_tap_v2_dump, { sw_if_index: 0xffffffff })).map((t) => `${t.sw_if_index} ${t.host_if_name}`).sort(),
    memifs: (await vpp.dumpAll(memif.memif_dump, {})).map((m) => `${m.sw_if_index} socket=${m.socket_id}`).sort(),
    sockets: (await vpp.dumpAll(memif.memif_socket_filename_dump, {})).map((s) => `${s.socket_id} ${s.socket_filename}`).sort(),
    pbl: (await vpp.dumpAll(pbl.pbl_client_dump, {})).map((c) => `${c.client.id} ${c.client.addr}`).sort(),
    routes: await routeTable(vpp),
    neighbors: await neighborTable(vpp),
  };
}

beforeAll(async () => {
  if (!root) return;
  // The switch that makes the simulator a node without /dev/vhost-net, explicitly (whatever this machine has).
  ({ sim, vpp, node } = await startPodLayerSim(dir, noVhostNet()));
});

afterAll(async () => {
  deleteAllNetns();
  if (root) {
    const all = JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8', timeout: 10_000 })) as HostLink[];
    for (const l of all) {
      if (isVethHostName(l.ifname) && (l.ifalias ?? '').startsWith(`vcni:${RUN}`)) execFileSync('ip', ['link', 'del', 'dev', l.ifname], { timeout: 10_000 });
    }
  }
  await vpp?.close();
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

d('tun mode on a node without vhost-net', () => {
  test('a clear error naming the cause, and nothing left behind', async () => {
    const ns = createNetns('t');
    try {
      const before = await vppState();
      const beforeLinux = linuxState(ns);
      const net = network('tun');
      const req = request(ns);
      const err = await net.add(req).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StepError);
      expect(err).toMatchObject({ step: 'tap create', vppMessage: 'tap_create_v3', retval: -11, retvalName: 'VNET_API_ERROR_SYSCALL_ERROR_1' });
      const msg = (err as Error).message;
      expect(msg).toContain(`pod default/${req.pod.name} (container ${req.containerId.slice(0, 12)}, eth0): step "tap create" failed: tap_create_v3: VPP returned -11 (VNET_API_ERROR_SYSCALL_ERROR_1)`);
      expect(msg).toContain('VPP could not open /dev/vhost-net');
      expect(msg).toContain('VPPCNI_POD_INTERFACE_MODE');
      expect(net.interfaceMode.status()).toEqual({ setting: 'tun', mode: 'tun' });
      expect(await vppState()).toEqual(before);
      expect(linuxState(ns)).toEqual(beforeLinux);
      expect(hostLinks()).toEqual([]);
    } finally {
      deleteNetns(ns);
    }
  });
});

d('auto mode falls back to veth', () => {
  test('the first pod gets a working veth eth0; the switch is logged once and later pods are veth without trying a tap', async () => {
    const ns = createNetns('a');
    const ns2 = createNetns('b');
    const cap: Captured = { warn: [] };
    try {
      const before = await vppState();
      const told: [PodRef, string][] = [];
      const mode = new PodInterfaceModeState('auto', logger(cap), (pod, s) => void told.push([pod, fallbackEventMessage(s)]));
      const net = new PodNetwork({ vpp, netns: new LinuxNetns(), node, cfg: { ...cfg, interfaceMode: 'auto' }, log: logger(cap) }, { interfaceMode: mode });
      expect(net.interfaceMode.mode).toBe('tun');
      const req = request(ns);
      const rec = await net.add(req);
      const ip4 = req.ips[0]!.address.split('/')[0]!;
      const v = rec.objects.veth!;
      const cid12 = req.containerId.slice(0, 12);

      expect(rec.kind).toBe('veth');
      expect(rec.objects.tun).toBeUndefined();
      expect(v.hostIfName).toBe(vethHostName(req.containerId, 'eth0'));
      expect(v.hostIfName).toMatch(/^vcni[0-9a-f]{11}$/);
      expect(net.interfaceMode.status()).toMatchObject({ setting: 'auto', mode: 'veth', fallback: { pod: expect.stringContaining(req.pod.name) as string } });
      expect(net.interfaceMode.status().fallback!.reason).toContain('/dev/vhost-net');
      const modeLogs = cap.warn.filter((w) => w.msg?.includes('veth pairs with an af_packet interface from now on'));
      expect(modeLogs).toHaveLength(1);
      expect(modeLogs[0]!.obj).toMatchObject({ setting: 'auto', mode: 'veth', reason: expect.stringContaining('/dev/vhost-net') as string, cost: expect.stringContaining('kernel') as string });
      // The agent turns this into a PodInterfaceFallback Event on the first pod.
      expect(told).toEqual([[req.pod, expect.stringContaining('VPP on this node cannot make taps (it cannot open /dev/vhost-net; tap_create answered -11, setting auto)') as string]]);

      // VPP: an af_packet on the host end, tagged, up, with the pod's address pinned to its MAC and routed to it.
      const after = await vppState();
      const added = (k: string): string[] => after[k]!.filter((x) => !before[k]!.includes(x));
      expect(added('afPackets')).toEqual([`${v.swIfIndex} ${v.hostIfName}`]);
      expect(added('interfaces')).toEqual([`${v.swIfIndex} host-${v.hostIfName} flags=3 tag=vcni:${cid12}:eth0:veth:default/${req.pod.name}`]);
      expect(added('taps')).toEqual([]);
      expect(added('routes')).toEqual([`${ip4}/32 -> ${v.swIfIndex}`]);
      expect(added('neighbors')).toEqual([`${v.swIfIndex} ${ip4} ${v.podMac}`]);
      const itf = (await vpp.dumpAll(iface.sw_interface_dump, { sw_if_index: v.swIfIndex }))[0]!;
      expect(itf.l2_address).toBe(v.vppMac);
      expect(v.vppMac).toMatch(/^02:fe:/);

      // Linux: the pod end as eth0 with its address, MTU, MAC and routes through the pinned gateway.
      const linux = linuxState(ns);
      expect(linux.links).toContain('eth0 ether mtu 1400 UP');
      expect(linux.addrs).toEqual([`eth0 ${ip4}/32`]);
      expect(linux.routes).toEqual(['169.254.1.1 dev eth0', 'default via 169.254.1.1 dev eth0']);
      const neigh = ipj(ns, ['neighbor', 'show', 'dev', 'eth0']) as { dst: string; lladdr: string; state: string[] }[];
      expect(neigh).toContainEqual(expect.objectContaining({ dst: '169.254.1.1', lladdr: v.vppMac, state: ['PERMANENT'] }));
      const podLink = (ipj(ns, ['link', 'show', 'dev', 'eth0']) as { address: string; link_type: string }[])[0]!;
      expect(podLink.address).toBe(v.podMac);
      // The host end: up, MTU, alias with the owner tag and the netns, no IPv6 from the host stack.
      expect(hostLinks()).toEqual([`${v.hostIfName} mtu 1400 UP vcni:${cid12}:eth0:veth:default/${req.pod.name},cid=${req.containerId},netns=${ns.path}`]);
      const hostJson = (args: string[]): Record<string, unknown> => (JSON.parse(execFileSync('ip', ['-j', ...args, 'dev', v.hostIfName], { encoding: 'utf8', timeout: 10_000 })) as Record<string, unknown>[])[0]!;
      expect(hostJson(['-d', 'link', 'show']).inet6_addr_gen_mode).toBe('none');
      expect(hostJson(['address', 'show']).addr_info).toEqual([]);
      expect(rec.result.interfaces[0]).toEqual({ name: 'eth0', mac: v.podMac, mtu: 1400, sandbox: ns.path });
      await expect(net.check(rec)).resolves.toEqual([]);

      // The next pod: veth straight away (plan says so), no second tap attempt, no second log line.
      const req2 = request(ns2);
      expect(net.plan(req2).kind).toBe('veth');
      const steps: string[] = [];
      const net2 = new PodNetwork({ vpp, netns: new LinuxNetns(), node, cfg: { ...cfg, interfaceMode: 'auto' }, log: logger(cap) }, { stepHook: (s) => void steps.push(s), interfaceMode: net.interfaceMode });
      const rec2 = await net2.add(req2);
      expect(rec2.kind).toBe('veth');
      expect(steps).not.toContain('tap create');
      expect(cap.warn.filter((w) => w.msg?.includes('from now on'))).toHaveLength(1);
      expect(told).toHaveLength(1);

      await net.del(rec);
      await net2.del(rec2);
      expect(await vppState()).toEqual(before);
      expect(hostLinks()).toEqual([]);
      expect(linuxState(ns).links).not.toContainEqual(expect.stringMatching(/^eth0 /));
      await net.del(rec); // idempotent
    } finally {
      deleteNetns(ns);
      deleteNetns(ns2);
    }
  });
});

const COMBOS: [string, Record<string, string>, string][] = [
  ['veth', {}, 'eth0'],
  ['veth + PBL memif', { [ANN.extraMemifPorts]: 'tcp:4444-20000,udp:4444-20000' }, 'eth0'],
  ['veth + VCL', { [ANN.vcl]: 'enable' }, 'eth0'],
  ['veth + PBL memif + VCL', { [ANN.extraMemifPorts]: 'tcp:8080', [ANN.vcl]: 'enable' }, 'eth0'],
  ['veth L2', { [ANN.interfacesSpec]: '{"eth0": {"isl3": false}}' }, 'eth0'],
];

d('veth mode: ADD, CHECK, DEL per combination', () => {
  test.each(COMBOS)('%s', async (_name, annotations, ifName) => {
    const ns = createNetns('k');
    try {
      const beforeVpp = await vppState();
      const beforeLinux = linuxState(ns);
      const req = request(ns, { annotations, ifName });
      const net = network('veth');
      const rec = await net.add(req);
      const ip4 = req.ips[0]!.address.split('/')[0]!;
      const after = await vppState();
      const added = (k: string): string[] => after[k]!.filter((x) => !beforeVpp[k]!.includes(x));
      const v = rec.objects.veth!;
      expect(rec.kind).toBe('veth');
      expect(added('afPackets')).toEqual([`${v.swIfIndex} ${v.hostIfName}`]);
      // A VCL pod's IP leads into its VRF (a lookup path, ~0), where it is the VCL loopback's address (docs/vcl.md).
      expect(added('routes')).toContain(`${ip4}/32 -> ${annotations[ANN.vcl] ? 0xffffffff : v.swIfIndex}`);
      // isl3: false is recorded; the pod's address is pinned to its MAC either way (VPP could not resolve it).
      expect(v.l2).toBe(annotations[ANN.interfacesSpec] !== undefined);
      expect(added('neighbors').filter((n) => n.startsWith(`${v.swIfIndex} `))).toEqual([`${v.swIfIndex} ${ip4} ${v.podMac}`]);
      if (annotations[ANN.extraMemifPorts]) {
        const m = rec.objects.memif!;
        expect(added('sockets')).toEqual([`${m.socketId} abstract:vpp/memif-eth0,netns_name=${ns.path}`]);
        // PBL steers the listed ports of the pod's address to the memif; everything else follows the route to the af_packet.
        // The pod address is routed: PBL's FIB clone of the client is listed too (docs/pbl.md), and is not recorded.
        const clones = await pblCloneIds(vpp);
        expect(added('pbl').filter((x) => !clones.has(Number(x.split(' ')[0])))).toEqual([`${rec.objects.pbl[0]!.id} ${ip4}`]);
        expect(added('pbl').filter((x) => clones.has(Number(x.split(' ')[0]))).map((x) => x.split(' ')[1])).toEqual([ip4]);
        expect(rec.result.interfaces).toContainEqual({ name: 'memif-eth0', sandbox: ns.path, socketPath: '@vpp/memif-eth0' });
      } else {
        expect(added('pbl')).toEqual([]);
      }
      if (annotations[ANN.vcl]) {
        expect(rec.objects.vcl).toBeDefined();
        expect(added('interfaces')).toContainEqual(expect.stringMatching(new RegExp(`tag=vcni:${req.containerId.slice(0, 12)}:eth0:vcl:`)));
      }
      expect(linuxState(ns).links).toContain('eth0 ether mtu 1400 UP');
      await expect(net.check(rec)).resolves.toEqual([]);

      await net.del(rec);
      expect(await vppState()).toEqual(beforeVpp);
      expect(linuxState(ns)).toEqual(beforeLinux);
      expect(hostLinks()).toEqual([]);
      await net.del(rec);
    } finally {
      deleteNetns(ns);
    }
  });

  test('queues and rings from the spec reach af_packet_create_v3 and the veth pair (2 queues, rxqsz 4096 → 32 frames per rx block, txqsz 128; ethernet, qdisc bypass + checksum/GSO)', async () => {
    const ns = createNetns('q');
    try {
      const net = network('veth');
      const rec = await net.add(request(ns, { annotations: { [ANN.interfacesSpec]: '{"eth0": {"rx": 2, "tx": 2, "rxqsz": 4096, "txqsz": 128}}' } }));
      const itf = sim.state.interfaces.get(rec.objects.veth!.swIfIndex)!;
      expect(itf.device).toMatchObject({
        kind: 'af_packet',
        mode: 1,
        tpacketVersion: 3,
        flags: 1 | 2 | 4, // QDISC_BYPASS | CKSUM_GSO, and FANOUT with more than one rx queue
        rxQueues: 2,
        txQueues: 2,
        rxRing: { frameSize: 2048, blockSize: 2048 * 32, blockNr: 160 },
        txRing: { frameSize: 2048 * 33, blockSize: 2048 * 33 * 128, blockNr: 1 },
      });
      // Both ends of the pair have as many queues.
      const queues = (args: string[]): unknown => {
        const l = (JSON.parse(execFileSync('ip', ['-d', '-j', ...args], { encoding: 'utf8', timeout: 10_000 })) as { num_tx_queues: number; num_rx_queues: number }[])[0]!;
        return [l.num_tx_queues, l.num_rx_queues];
      };
      expect(queues(['-n', ns.name, 'link', 'show', 'dev', 'eth0'])).toEqual([2, 2]);
      expect(queues(['link', 'show', 'dev', rec.objects.veth!.hostIfName])).toEqual([2, 2]);
      await net.del(rec);
    } finally {
      deleteNetns(ns);
    }
  });

  test('IPv4 + IPv6 pod: both addresses, both routes and neighbors, IPv6 routes through fe80::1', async () => {
    const ns = createNetns('6');
    try {
      const net = network('veth');
      const before = await vppState();
      const req = request(ns, { ips: [{ address: '10.245.9.9/24' }, { address: 'fd00:11::9/64' }], routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }] });
      const rec = await net.add(req);
      const v = rec.objects.veth!;
      const linux = linuxState(ns);
      expect(linux.addrs).toEqual(['eth0 10.245.9.9/32', 'eth0 fd00:11::9/128']);
      expect(linux.routes).toEqual(['169.254.1.1 dev eth0', 'default via 169.254.1.1 dev eth0', 'default via fe80::1 dev eth0', 'fd00:11::9 dev eth0']);
      expect(rec.objects.routes.map((r) => `${r.prefix} nh ${r.nh}`)).toEqual(['10.245.9.9/32 nh 10.245.9.9', 'fd00:11::9/128 nh fd00:11::9']);
      expect(rec.objects.neighbors).toEqual([
        { swIfIndex: v.swIfIndex, ip: '10.245.9.9', mac: v.podMac },
        { swIfIndex: v.swIfIndex, ip: 'fd00:11::9', mac: v.podMac },
      ]);
      await expect(net.check(rec)).resolves.toEqual([]);
      await net.del(rec);
      expect(await vppState()).toEqual(before);
    } finally {
      deleteNetns(ns);
    }
  });

  test('ring geometry from the spec: rx blocks hold a 64 KiB GSO packet, tx at most one vector, whole pages', () => {
    const ring = (rxqsz: number, txqsz: number): ReturnType<typeof afPacketRings> => afPacketRings({ rx: 1, tx: 1, rxqsz, txqsz, isl3: true, rxMode: 'adaptive' });
    expect(ring(1024, 1024)).toEqual({ rxFramesPerBlock: 32, txFramesPerBlock: 256 }); // 64 KiB rx blocks, one vector of tx frames
    expect(ring(16384, 128)).toEqual({ rxFramesPerBlock: 104, txFramesPerBlock: 128 });
    expect(ring(8192, 1)).toEqual({ rxFramesPerBlock: 52, txFramesPerBlock: 2 });
  });

  test('DEL after the pod netns is gone removes the af_packet and its routes (the kernel took the pair)', async () => {
    const ns = createNetns('g');
    const before = await vppState();
    const net = network('veth');
    const rec = await net.add(request(ns, { annotations: { [ANN.extraMemifPorts]: 'tcp:80' } }));
    deleteNetns(ns);
    await net.del(rec);
    expect(await vppState()).toEqual(before);
    expect(hostLinks()).toEqual([]);
  });

  test('CHECK reports a missing host end, a down af_packet, a missing pod address and a wrong or missing static neighbor', async () => {
    const ns = createNetns('c');
    try {
      const net = network('veth');
      const rec = await net.add(request(ns));
      const v = rec.objects.veth!;
      await vpp.request(iface.sw_interface_set_flags, { sw_if_index: v.swIfIndex, flags: 0 });
      execFileSync('ip', ['-n', ns.name, 'address', 'flush', 'dev', 'eth0'], { timeout: 10_000 });
      const problems = await net.check(rec);
      expect(problems).toContainEqual({ object: `af_packet host-${v.hostIfName}`, problem: 'admin down' });
      expect(problems).toContainEqual({ object: `eth0 in ${ns.path}`, problem: `address ${rec.ips[0]!.address.split('/')[0]}/32 missing` });
      // A static neighbor replaced with another MAC, then removed.
      const ip4 = rec.ips[0]!.address.split('/')[0]!;
      await vpp.request(ipn.ip_neighbor_add_del, { is_add: true, neighbor: { sw_if_index: v.swIfIndex, flags: 1, mac_address: '02:00:00:00:00:99', ip_address: ip4 } });
      expect(await net.check(rec)).toContainEqual({ object: `neighbor ${ip4}`, problem: `MAC is 02:00:00:00:00:99, expected ${v.podMac}` });
      await vpp.request(ipn.ip_neighbor_add_del, { is_add: false, neighbor: { sw_if_index: v.swIfIndex, flags: 1, mac_address: '02:00:00:00:00:99', ip_address: ip4 } });
      expect(await net.check(rec)).toContainEqual({ object: `neighbor ${ip4}`, problem: `missing on sw_if_index ${v.swIfIndex}` });
      execFileSync('ip', ['link', 'del', 'dev', v.hostIfName], { timeout: 10_000 });
      const gone = await net.check(rec);
      expect(gone).toContainEqual({ object: `host interface ${v.hostIfName}`, problem: 'missing' });
      expect(gone).toContainEqual({ object: `eth0 in ${ns.path}`, problem: 'missing' });
      await net.del(rec);
    } finally {
      deleteNetns(ns);
    }
  });

  test("two containers sharing the first 12 characters of their ids: the second ADD fails, the first pod's pair is not touched", async () => {
    const ns1 = createNetns('p');
    const ns2 = createNetns('p');
    try {
      const net = network('veth');
      const first = request(ns1);
      const rec = await net.add(first);
      const second = request(ns2, { containerId: `${first.containerId.slice(0, 12)}${'9'.repeat(52)}` });
      expect(vethHostName(second.containerId, 'eth0')).toBe(rec.objects.veth!.hostIfName);
      const err = await net.add(second).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StepError);
      expect((err as Error).message).toContain(`step "veth create" failed: cannot make the veth pair ${rec.objects.veth!.hostIfName}/eth0: host interface ${rec.objects.veth!.hostIfName} exists and is not this attachment's`);
      await expect(net.check(rec)).resolves.toEqual([]);
      await net.del(rec);
    } finally {
      deleteNetns(ns1);
      deleteNetns(ns2);
    }
  });

  test('a host end left by an earlier attempt of the same attachment is replaced; a foreign link of that name is not touched', async () => {
    const ns = createNetns('s');
    try {
      const net = network('veth');
      const req = request(ns);
      const name = vethHostName(req.containerId, 'eth0');
      // Leftover of an attempt that died after making the pair (its alias names this attachment).
      execFileSync('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.path], { timeout: 10_000 });
      execFileSync('ip', ['link', 'set', 'dev', name, 'alias', `vcni:${req.containerId.slice(0, 12)}:eth0:veth:default/${req.pod.name},netns=${ns.path}`], { timeout: 10_000 });
      const rec = await net.add(req);
      await expect(net.check(rec)).resolves.toEqual([]);
      await net.del(rec);
      // ... or left without its alias (a batch cut short between `link add` and `link set alias`).
      const reqA = request(ns);
      const nameA = vethHostName(reqA.containerId, 'eth0');
      execFileSync('ip', ['link', 'add', nameA, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.path], { timeout: 10_000 });
      const recA = await net.add(reqA);
      await expect(net.check(recA)).resolves.toEqual([]);
      await net.del(recA);

      const req2 = request(ns);
      const name2 = vethHostName(req2.containerId, 'eth0');
      execFileSync('ip', ['link', 'add', name2, 'type', 'veth', 'peer', 'name', `${name2.slice(0, 10)}p`], { timeout: 10_000 });
      try {
        execFileSync('ip', ['link', 'set', 'dev', name2, 'alias', 'someone-else'], { timeout: 10_000 });
        const before = await vppState();
        const err = await net.add(req2).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StepError);
        expect((err as Error).message).toContain(`step "veth create" failed: cannot make the veth pair ${name2}/eth0: host interface ${name2} exists and is not this attachment's (alias "someone-else")`);
        expect(await vppState()).toEqual(before);
        const still = JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'dev', name2], { encoding: 'utf8', timeout: 10_000 })) as HostLink[];
        expect(still[0]!.ifalias).toBe('someone-else');
      } finally {
        execFileSync('ip', ['link', 'del', 'dev', name2], { timeout: 10_000 });
      }
    } finally {
      deleteNetns(ns);
    }
  });
});

d('veth rollback', () => {
  // veth alone and veth + PBL memif + VCL: test/agent/conformance.test.ts (every kind, every step).
  const ROLLBACK: [string, PodInterfaceModeSetting, Record<string, string>][] = [['auto fallback (tap refused, then veth)', 'auto', { [ANN.extraMemifPorts]: 'udp:53' }]];
  test.each(ROLLBACK)('a failure at every step of %s leaves nothing behind', async (_n, mode, annotations) => {
    const ns = createNetns('r');
    try {
      const steps: string[] = [];
      const probeReq = request(ns, { annotations });
      // A fresh mode state per ADD: each auto attempt goes through the tap refusal and the fallback.
      const probe = new PodNetwork({ vpp, netns: new LinuxNetns(), node, cfg: { ...cfg, interfaceMode: mode }, log: logger() }, { stepHook: (s) => void steps.push(s) });
      const rec = await probe.add(probeReq);
      await probe.del(rec);
      if (mode === 'auto') expect(steps).toContain('tap create');
      expect(steps).toContain('af_packet create');
      const beforeVpp = await vppState();
      const beforeLinux = linuxState(ns);
      for (let i = 0; i < steps.length; i++) {
        let n = 0;
        const net = new PodNetwork(
          { vpp, netns: new LinuxNetns(), node, cfg: { ...cfg, interfaceMode: mode }, log: logger() },
          {
            stepHook: (s) => {
              if (n++ === i) throw new Error(`injected failure at ${s}`);
            },
            interfaceMode: new PodInterfaceModeState(mode, logger()),
          },
        );
        const req = request(ns, { annotations, ips: probeReq.ips });
        const err = await net.add(req).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StepError);
        expect((err as StepError).step).toBe(steps[i]);
        expect((err as StepError).undoFailures).toEqual([]);
        expect({ step: steps[i], vpp: await vppState() }).toEqual({ step: steps[i], vpp: beforeVpp });
        expect({ step: steps[i], linux: linuxState(ns) }).toEqual({ step: steps[i], linux: beforeLinux });
        expect({ step: steps[i], host: hostLinks() }).toEqual({ step: steps[i], host: [] });
      }
    } finally {
      deleteNetns(ns);
    }
  }, 120_000);

  test.each([
    ['af_packet_create_v3', -71, 'VNET_API_ERROR_INVALID_INTERFACE'],
    ['ip_neighbor_add_del', -7, 'VNET_API_ERROR_INVALID_VALUE'],
    ['ip_route_add_del', -3, 'VNET_API_ERROR_NO_SUCH_FIB'],
  ] as const)('VPP refusing %s (%d): error names the step, message and retval; nothing left', async (msg, retval, name) => {
    const ns = createNetns('v');
    try {
      const before = await vppState();
      const beforeLinux = linuxState(ns);
      sim.faults.failWith(msg, retval);
      const err = await network('veth').add(request(ns)).catch((e: unknown) => e);
      sim.faults.clear();
      expect(err).toBeInstanceOf(StepError);
      expect(err).toMatchObject({ vppMessage: msg, retval, retvalName: name });
      expect((err as Error).message).toContain(`${msg}: VPP returned ${retval} (${name})`);
      expect(await vppState()).toEqual(before);
      expect(linuxState(ns)).toEqual(beforeLinux);
      expect(hostLinks()).toEqual([]);
    } finally {
      sim.faults.clear();
      deleteNetns(ns);
    }
  });
});
