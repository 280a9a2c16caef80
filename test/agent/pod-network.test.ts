/**
 * The pod-interface layer against the simulator (with real kernel taps) and real network namespaces:
 * for each kind and combination, the VPP state (by dumps) and the Linux state (by `ip -j -n`) after ADD
 * are exactly as expected, and after DEL both are as before; VPP refusals name the pod, the step, the
 * message and the retval name (a failure at every step of every ADD: conformance.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import * as iface from '../../vpp-api/generated/interface.js';
import * as ipn from '../../vpp-api/generated/ip_neighbor.js';
import * as memif from '../../vpp-api/generated/memif.js';
import * as pbl from '../../vpp-api/generated/pbl.js';
import type { VppClient } from '../../vpp-api/client/index.js';
import type { VppSimulator } from '../../vpp-api/sim/index.js';
import { kernelTun } from '../../vpp-api/sim/kernel-host.js';
import { LinuxNetns } from '../../agent/linux/netns.js';
import { NodeResources, NODE_LOOPBACK_TAG } from '../../agent/pod/node-resources.js';
import { PodNetwork } from '../../agent/pod/pod-network.js';
import { StepError } from '../../agent/pod/transaction.js';
import { ANN } from '../../agent/pod/annotations.js';
import type { AttachRequest } from '../../agent/pod/attachment.js';
import type { PodInterfaceConfig } from '../../agent/pod/interface-spec.js';
import { neighborTable, routeTable, startPodLayerSim } from '../helpers/pod-layer.js';
import { createNetns, deleteAllNetns, deleteNetns, haveRoot, ipj, linuxState, type TestNetns } from '../helpers/netns.js';
import { silentLogger } from '../../lib/logger.js';
import { pblCloneIds } from '../../agent/vpp/pbl.js';

const root = haveRoot();
const d = root ? describe : describe.skip;

const dir = mkdtempSync(join(tmpdir(), 'vcni-pod-'));
let sim: VppSimulator;
let vpp: VppClient;
let node: NodeResources;
const cfg: PodInterfaceConfig = {
  gates: { memifEnabled: true, vclEnabled: true, multinetEnabled: true },
  defaults: { rx: 1, tx: 1, rxqsz: 1024, txqsz: 1024 },
  limits: { rx: 4, tx: 4, rxqsz: 4096, txqsz: 4096 },
  mtu: 1400,
};
const silent = silentLogger;

function ipCmd(...args: string[]): void {
  execFileSync('ip', args, { timeout: 10_000, stdio: 'ignore' });
}

function network(stepHook?: (s: string) => void): PodNetwork {
  return new PodNetwork({ vpp, netns: new LinuxNetns(), node, cfg, log: silent }, stepHook ? { stepHook } : {});
}

let cid = 0;
function request(ns: TestNetns, over: Partial<AttachRequest> = {}): AttachRequest {
  cid++;
  return {
    containerId: `c0ffee${String(cid).padStart(6, '0')}abcdef0123456789`,
    ifName: 'eth0',
    netns: ns.path,
    pod: { namespace: 'default', name: `web-${cid}` },
    ips: [{ address: `10.244.1.${cid % 250}/24`, gateway: '10.244.1.1' }],
    routes: [{ dst: '0.0.0.0/0' }],
    annotations: {},
    ...over,
  };
}

/** Everything the layer may touch in VPP, in comparable text form. */
async function vppState(): Promise<Record<string, string[]>> {
  const ifs = await vpp.dumpAll(iface.sw_interface_dump, {});
  const memifs = await vpp.dumpAll(memif.memif_dump, {});
  const sockets = await vpp.dumpAll(memif.memif_socket_filename_dump, {});
  const clients = await vpp.dumpAll(pbl.pbl_client_dump, {});
  const appns = (await vpp.cli('show app ns'))
    .replace(/\u001b\[[0-9;]*m/g, '')
    .split('\n')
    .filter((l) => l.includes('vcni-'));
  return {
    interfaces: ifs.map((i) => `${i.sw_if_index} ${i.interface_name} flags=${i.flags} tag=${i.tag}`).sort(),
    memifs: memifs.map((m) => `${m.sw_if_index} role=${m.role} mode=${m.mode} socket=${m.socket_id}`).sort(),
    sockets: sockets.map((s) => `${s.socket_id} ${s.socket_filename}`).sort(),
    pbl: clients.map((c) => `${c.client.id} ${c.client.addr}`).sort(),
    routes: await routeTable(vpp),
    neighbors: await neighborTable(vpp),
    appns,
  };
}

beforeAll(async () => {
  if (!root) return;
  ({ sim, vpp, node } = await startPodLayerSim(dir, kernelTun()));
});

afterAll(async () => {
  deleteAllNetns();
  await vpp?.close();
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const COMBOS: [string, Record<string, string>, string][] = [
  ['tun', {}, 'eth0'],
  ['tun + PBL memif', { [ANN.extraMemifPorts]: 'tcp:4444-20000,udp:4444-20000' }, 'eth0'],
  ['multinet memif alone', {}, 'memif1'],
  ['tun + VCL', { [ANN.vcl]: 'enable' }, 'eth0'],
  ['tun + PBL memif + VCL', { [ANN.extraMemifPorts]: 'tcp:8080', [ANN.vcl]: 'enable' }, 'eth0'],
  ['tap (L2)', { [ANN.interfacesSpec]: '{"eth0":{"isl3":false}}' }, 'eth0'],
  ['tap (L2) + PBL memif', { [ANN.interfacesSpec]: '{"eth0":{"isl3":false}}', [ANN.extraMemifPorts]: 'tcp:8080' }, 'eth0'],
];

d('ADD then DEL, per kind', () => {
  test.each(COMBOS)('%s', async (_name, annotations, ifName) => {
    const ns = createNetns('k');
    try {
      const beforeVpp = await vppState();
      const beforeLinux = linuxState(ns);
      const req = request(ns, { annotations, ifName });
      const net = network();
      const rec = await net.add(req);
      const ip4 = req.ips[0]!.address.split('/')[0]!;
      const after = await vppState();
      const linux = linuxState(ns);
      const added = (k: string): string[] => after[k]!.filter((x) => !beforeVpp[k]!.includes(x));
      const cid12 = req.containerId.slice(0, 12);
      const memifExpected = !!annotations[ANN.extraMemifPorts] || ifName.startsWith('memif');

      if (ifName === 'eth0' && !annotations[ANN.interfacesSpec]) {
        const tun = rec.objects.tun!;
        expect(added('interfaces')).toContainEqual(expect.stringMatching(new RegExp(`^${tun.swIfIndex} tun\\d+ flags=\\d+ tag=vcni:${cid12}:eth0:tun:default/${req.pod.name}$`)));
        // A VCL pod's IP leads into its VRF (a lookup path, ~0), where it is the VCL loopback's address (docs/vcl.md).
        expect(added('routes')).toContain(`${ip4}/32 -> ${annotations[ANN.vcl] ? 0xffffffff : tun.swIfIndex}`);
        expect(added('neighbors').filter((n) => n.startsWith(`${tun.swIfIndex} `))).toEqual([]); // point to point: nothing to resolve
        expect(linux.links).toContain('eth0 none mtu 1400 UP');
        expect(linux.addrs).toEqual([`eth0 ${ip4}/32`]);
        expect(linux.routes).toEqual(['default dev eth0']);
        expect(rec.result.interfaces[0]).toEqual({ name: 'eth0', mtu: 1400, sandbox: ns.path });
      }
      if (annotations[ANN.interfacesSpec]) {
        // A TAP: an ethernet eth0 with a MAC the agent chose, the pod's address pinned to it in VPP (VPP
        // could not ARP for it from an interface unnumbered to an address-less loopback), and the pod's
        // gateway pinned to VPP's MAC.
        const tun = rec.objects.tun!;
        expect(tun.l2).toBe(true);
        expect(tun.hostMac).toMatch(/^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/);
        expect(added('interfaces')).toContainEqual(expect.stringMatching(new RegExp(`^${tun.swIfIndex} tap\\d+ flags=\\d+ tag=vcni:${cid12}:eth0:tun:default/${req.pod.name}$`)));
        expect(added('routes')).toContain(`${ip4}/32 -> ${tun.swIfIndex}`);
        expect(rec.objects.routes[0]).toMatchObject({ swIfIndex: tun.swIfIndex, nh: ip4 });
        expect(added('neighbors').filter((n) => n.startsWith(`${tun.swIfIndex} `))).toEqual([`${tun.swIfIndex} ${ip4} ${tun.hostMac}`]);
        expect(linux.links).toContain('eth0 ether mtu 1400 UP');
        expect((ipj(ns, ['link', 'show', 'dev', 'eth0']) as { address: string }[])[0]!.address).toBe(tun.hostMac);
        const vppMac = (await vpp.dumpAll(iface.sw_interface_dump, { sw_if_index: tun.swIfIndex }))[0]!.l2_address;
        expect(ipj(ns, ['neighbor', 'show', 'dev', 'eth0'])).toContainEqual(expect.objectContaining({ dst: '169.254.1.1', lladdr: vppMac, state: ['PERMANENT'] }));
        expect(linux.addrs).toEqual([`eth0 ${ip4}/32`]);
        expect(linux.routes).toEqual(['169.254.1.1 dev eth0', 'default via 169.254.1.1 dev eth0']);
        expect(rec.result.interfaces[0]).toEqual({ name: 'eth0', mac: tun.hostMac, mtu: 1400, sandbox: ns.path });
      }
      if (memifExpected) {
        const m = rec.objects.memif!;
        const sockName = ifName === 'eth0' ? 'vpp/memif-eth0' : ifName;
        expect(added('sockets')).toEqual([`${m.socketId} abstract:${sockName},netns_name=${ns.path}`]);
        expect(added('memifs')).toEqual([`${m.swIfIndex} role=0 mode=0 socket=${m.socketId}`]);
        expect(added('interfaces')).toContainEqual(expect.stringMatching(new RegExp(`^${m.swIfIndex} memif${m.socketId}/0 flags=1 tag=vcni:${cid12}:${ifName}:(memif|mmif):`)));
        expect(rec.result.interfaces).toContainEqual(expect.objectContaining({ socketPath: `@${sockName}` }));
      }
      if (annotations[ANN.extraMemifPorts]) {
        // The pod address is routed: PBL's FIB clone of the client is listed too (docs/pbl.md), and is not recorded.
        const clones = await pblCloneIds(vpp);
        expect(added('pbl').filter((x) => !clones.has(Number(x.split(' ')[0])))).toEqual([`${rec.objects.pbl[0]!.id} ${ip4}`]);
        expect(added('pbl').filter((x) => clones.has(Number(x.split(' ')[0]))).map((x) => x.split(' ')[1])).toEqual([ip4]);
      } else {
        expect(added('pbl')).toEqual([]);
      }
      if (ifName.startsWith('memif')) {
        expect(added('routes')).toEqual([`${ip4}/32 -> ${rec.objects.memif!.swIfIndex}`]);
        expect(linux.links).toContain('memif1 ether mtu 1500 UP');
        expect(linux.addrs).toEqual([`memif1 ${ip4}/32`]);
        expect(linux.routes).toEqual(['default dev memif1']);
      }
      if (annotations[ANN.vcl]) {
        expect(after.appns).toHaveLength(beforeVpp.appns!.length + 1);
        expect(after.appns!.join('\n')).toContain(`abstract:vpp/session,netns_name=${ns.path}`);
        expect(added('interfaces')).toContainEqual(expect.stringMatching(new RegExp(`tag=vcni:${cid12}:eth0:vcl:`)));
      } else {
        expect(after.appns).toEqual(beforeVpp.appns);
      }
      await expect(net.check(rec)).resolves.toEqual([]);

      await net.del(rec);
      expect(await vppState()).toEqual(beforeVpp);
      expect(linuxState(ns)).toEqual(beforeLinux);
      await net.del(rec); // idempotent
    } finally {
      deleteNetns(ns);
    }
  });

  test('DEL still removes the VPP side when the netns is already gone', async () => {
    const ns = createNetns('g');
    const before = await vppState();
    const net = network();
    const rec = await net.add(request(ns, { annotations: { [ANN.extraMemifPorts]: 'tcp:80' } }));
    deleteNetns(ns);
    await net.del(rec);
    expect(await vppState()).toEqual(before);
  });

  test('CHECK reports what is missing', async () => {
    const ns = createNetns('c');
    try {
      const net = network();
      const rec = await net.add(request(ns));
      await vpp.request(iface.sw_interface_set_flags, { sw_if_index: rec.objects.tun!.swIfIndex, flags: 0 });
      const problems = await net.check(rec);
      expect(problems).toContainEqual({ object: expect.stringMatching(/^tap /), problem: 'admin down' });
      await net.del(rec);
    } finally {
      deleteNetns(ns);
    }
  });

  test('CHECK of a TAP (L2): a pinned address gone from VPP and a changed pod MAC are reported', async () => {
    const ns = createNetns('c');
    try {
      const net = network();
      const rec = await net.add(request(ns, { annotations: { [ANN.interfacesSpec]: '{"eth0":{"isl3":false}}' } }));
      const tun = rec.objects.tun!;
      const ip4 = rec.ips[0]!.address.split('/')[0]!;
      await expect(net.check(rec)).resolves.toEqual([]);
      await vpp.request(ipn.ip_neighbor_add_del, { is_add: false, neighbor: { sw_if_index: tun.swIfIndex, flags: 1, mac_address: tun.hostMac!, ip_address: ip4 } });
      ipCmd('-n', ns.name, 'link', 'set', 'dev', 'eth0', 'address', '02:00:00:00:00:77');
      const problems = await net.check(rec);
      expect(problems).toContainEqual({ object: `neighbor ${ip4}`, problem: `missing on sw_if_index ${tun.swIfIndex}` });
      expect(problems).toContainEqual({ object: `eth0 in ${ns.path}`, problem: `MAC is 02:00:00:00:00:77, expected ${tun.hostMac}` });
      await net.del(rec);
    } finally {
      deleteNetns(ns);
    }
  });

  test('IPv4 + IPv6 TAP (L2): both addresses pinned to the pod MAC, both routes via the pod address', async () => {
    const ns = createNetns('6');
    try {
      const before = await vppState();
      const net = network();
      const req = request(ns, { annotations: { [ANN.interfacesSpec]: '{"eth0":{"isl3":false}}' }, ips: [{ address: '10.244.9.8/24' }, { address: 'fd00:10::8/64' }], routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }] });
      const rec = await net.add(req);
      const tun = rec.objects.tun!;
      expect(rec.objects.neighbors).toEqual([
        { swIfIndex: tun.swIfIndex, ip: '10.244.9.8', mac: tun.hostMac },
        { swIfIndex: tun.swIfIndex, ip: 'fd00:10::8', mac: tun.hostMac },
      ]);
      expect(rec.objects.routes).toEqual([
        { prefix: '10.244.9.8/32', tableId: 0, swIfIndex: tun.swIfIndex, nh: '10.244.9.8' },
        { prefix: 'fd00:10::8/128', tableId: 0, swIfIndex: tun.swIfIndex, nh: 'fd00:10::8' },
      ]);
      expect(linuxState(ns).routes).toEqual(expect.arrayContaining(['default via 169.254.1.1 dev eth0', 'default via fe80::1 dev eth0']));
      await expect(net.check(rec)).resolves.toEqual([]);
      await net.del(rec);
      expect(await vppState()).toEqual(before);
    } finally {
      deleteNetns(ns);
    }
  });

  test('IPv4 + IPv6 pod: both host routes, both addresses, IPv6 enabled in the pod', async () => {
    const ns = createNetns('6');
    try {
      const net = network();
      const req = request(ns, { ips: [{ address: '10.244.9.9/24' }, { address: 'fd00:10::9/64' }], routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }] });
      const rec = await net.add(req);
      const linux = linuxState(ns);
      expect(linux.addrs).toEqual(['eth0 10.244.9.9/32', 'eth0 fd00:10::9/128']);
      expect(linux.routes).toEqual(['default dev eth0', 'default dev eth0', 'fd00:10::9 dev eth0']);
      expect(rec.objects.routes.map((r) => r.prefix)).toEqual(['10.244.9.9/32', 'fd00:10::9/128']);
      await net.del(rec);
    } finally {
      deleteNetns(ns);
    }
  });
});

d('rollback', () => {
  /** Runs ADD once to learn its steps, then fails it at each step in turn: nothing may be left behind. */
  // A failure at every step of every combination: test/agent/conformance.test.ts.

  test.each([
    ['tap_create_v3', -12, 'VNET_API_ERROR_SYSCALL_ERROR_2', {}],
    ['memif_socket_filename_add_del_v2', -73, 'VNET_API_ERROR_INVALID_ARGUMENT', { [ANN.extraMemifPorts]: 'tcp:80' }],
    ['memif_create_v2', -14, 'VNET_API_ERROR_SYSCALL_ERROR_4', { [ANN.extraMemifPorts]: 'tcp:80' }],
    ['pbl_client_update', -6, 'VNET_API_ERROR_NO_SUCH_ENTRY', { [ANN.extraMemifPorts]: 'tcp:80' }],
    ['ip_route_add_del', -3, 'VNET_API_ERROR_NO_SUCH_FIB', {}],
    ['app_namespace_add_del_v4', -128, 'VNET_API_ERROR_APP_INVALID_NS', { [ANN.vcl]: 'enable' }],
  ] as const)('VPP refusing %s (%d): error names the step, message and retval; nothing left', async (msg, retval, name, annotations) => {
    const ns = createNetns('v');
    try {
      const before = await vppState();
      const beforeLinux = linuxState(ns);
      sim.faults.failWith(msg, retval);
      const err = await network().add(request(ns, { annotations })).catch((e: unknown) => e);
      sim.faults.clear();
      expect(err).toBeInstanceOf(StepError);
      expect(err).toMatchObject({ vppMessage: msg, retval, retvalName: name });
      expect((err as Error).message).toContain(`${msg}: VPP returned ${retval} (${name})`);
      expect(await vppState()).toEqual(before);
      expect(linuxState(ns)).toEqual(beforeLinux);
    } finally {
      sim.faults.clear();
      deleteNetns(ns);
    }
  });

  test('the netns disappearing is a clear error', async () => {
    const ns = createNetns('x');
    const req = request(ns);
    deleteNetns(ns);
    const err = await network().add(req).catch((e: unknown) => e);
    expect((err as Error).message).toContain(`step "netns check" failed: network namespace ${ns.path} does not exist`);
  });
});

d('gates and requests', () => {
  test('a multinet memif on a node without multinet is refused', () => {
    const net = new PodNetwork({ vpp, netns: new LinuxNetns(), node, cfg: { ...cfg, gates: { ...cfg.gates, multinetEnabled: false } }, log: silent });
    expect(() => net.plan(request({ name: 'x', path: '/nonexistent' }, { ifName: 'memif1' }))).toThrow(
      /interface memif1 is a multinet memif, which is disabled on this node \(feature gate multinetEnabled is false\)/,
    );
  });

  test('the node loopback is found again by its tag', async () => {
    const again = new NodeResources(vpp);
    expect(await again.unnumberedLoopback()).toBe(await node.unnumberedLoopback());
    const all = await vpp.dumpAll(iface.sw_interface_dump, {});
    expect(all.filter((i) => i.tag === NODE_LOOPBACK_TAG)).toHaveLength(1);
  });
});
