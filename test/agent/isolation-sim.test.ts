/**
 * VCL isolation and source checks made on the simulator through apply.ts: the VPP objects exactly as planned,
 * two VCL pods on the same node, VCL + PBL, uRPF on every eth0 kind (tun, tap, veth's af_packet), rollback at
 * every step, DEL back to the state before, and the uRPF config VPP keeps after an interface is gone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VppClient } from '../../vpp-api/client/index.js';
import { af_packet, allModules, interface_, ip, pbl, session, tapv2, urpf } from '../../vpp-api/generated/index.js';
import { VppSimulator } from '../../vpp-api/sim/index.js';
import { fakeTap } from '../../vpp-api/sim/host.js';
import { createSourceCheck, createVclIsolation, deleteSourceCheck, deleteVclIsolation, ensureNodePunt, PuntRedirectTakenError } from '../../agent/pod/isolation/apply.js';
import { vppIsolationOps } from '../../agent/vpp/isolation.js';
import { planNodePunt, planSourceCheck, planVcl, ANY, type PodInterfaceRef } from '../../agent/pod/isolation/plan.js';
import { allocateTableId, tableKey } from '../../agent/pod/isolation/tables.js';
import { IsolationNode } from '../../agent/pod/isolation/node.js';
import { StepError, transact } from '../../agent/pod/transaction.js';
import { isolationObjectsOf, orphanTables, readIsolationInventory, steeredAddressOwners, sweepOrphanTables, verifySourceCheck, verifyVclIsolation } from '../../agent/pod/isolation/inventory.js';

const dir = mkdtempSync(join(tmpdir(), 'vcni-isolation-'));
let n = 0;
const sims: VppSimulator[] = [];
const clients: VppClient[] = [];
afterAll(async () => {
  for (const c of clients) await c.close();
  for (const s of sims) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

const quiet = { debug: () => undefined, warn: () => undefined };

let lastSim: VppSimulator | undefined;

async function start(): Promise<VppClient> {
  const host = fakeTap({ pathExists: () => true, interfaceExists: (name) => name.startsWith('vcni') });
  const sim = await VppSimulator.start({ socketPath: join(dir, `api${n++}.sock`), host });
  sims.push(sim);
  lastSim = sim;
  const vpp = new VppClient({ socketPath: sim.socketPath, modules: allModules, healthCheck: false, requestTimeoutMs: 3000 });
  clients.push(vpp);
  await vpp.connect();
  await vpp.request(session.session_sapi_enable_disable, { is_enable: true });
  await vpp.request(session.session_enable_disable_v2, { rt_engine_type: 1 });
  return vpp;
}

interface SimView {
  interfaces: { swIfIndex: number; ip4Table: number; ip6Table: number; addresses: string[] }[];
  tables: { af: number; tableId: number; name: string; routes: { prefix: string; paths: { swIfIndex: number; tableId: number; nh: string }[] }[] }[];
  session: { namespaces: { nsId: string; swIfIndex: number; ip4FibId: number; ip6FibId: number; sockName: string }[] };
  pblClients: { addr: string; tableId: number }[];
  punt: { unknownL4: string[]; redirects: { af: number; rxSwIfIndex: number; paths: { swIfIndex: number; tableId: number }[] }[]; urpf: { key: string; mode: number; tableId: number; custom: boolean; active: boolean }[] };
}

async function view(vpp: VppClient): Promise<SimView> {
  return JSON.parse(await vpp.cli('sim state')) as SimView;
}

function routesOf(v: SimView, af: number, tableId: number): string[] {
  const t = v.tables.find((x) => x.af === af && x.tableId === tableId);
  return (t?.routes ?? []).map((r) => `${r.prefix} -> ${r.paths.map((p) => (p.swIfIndex === ANY ? `table ${p.tableId}` : `${p.swIfIndex}${p.nh ? ` nh ${p.nh}` : ''}`)).join(',')}`);
}

/** A tun eth0 as the tun kind makes it: the tap and the pod's host routes in table 0. */
async function tunPod(vpp: VppClient, netns: string, addresses: string[], tun = true): Promise<PodInterfaceRef> {
  const r = await vpp.request(tapv2.tap_create_v3, {
    id: ANY,
    use_random_mac: true,
    num_rx_queues: 1,
    num_tx_queues: 1,
    host_namespace_set: true,
    host_namespace: netns,
    host_if_name_set: true,
    host_if_name: 'eth0',
    tap_flags: tun ? tapv2.TapFlags.TAP_API_FLAG_TUN : 0,
  });
  for (const a of addresses) {
    const v6 = a.includes(':');
    await vpp.request(ip.ip_route_add_del, {
      is_add: true,
      route: { table_id: 0, prefix: `${a}/${v6 ? 128 : 32}`, paths: [{ sw_if_index: r.sw_if_index, weight: 1, proto: v6 ? 1 : 0, ...(tun ? {} : { nh: { address: v6 ? { ip6: a } : { ip4: a } } }) }] },
    });
  }
  return { swIfIndex: r.sw_if_index, ethernet: !tun };
}

async function loopback(vpp: VppClient): Promise<number> {
  return (await vpp.request(interface_.create_loopback, { mac_address: '02:76:63:00:00:01' })).sw_if_index;
}

const podA = { containerId: 'aaaaaaaaaaaa0000', ifName: 'eth0', podNamespace: 'default', podName: 'vcl-a' };
const podB = { containerId: 'bbbbbbbbbbbb0000', ifName: 'eth0', podNamespace: 'default', podName: 'vcl-b' };

describe('VCL isolation on the simulator', () => {
  test('two VCL pods: each namespace bound to a loopback holding its pod IP in its own VRF; table 0 steers into the VRFs; the punt table leads to eth0', async () => {
    const vpp = await start();
    const ops = vppIsolationOps(vpp);
    const puntId = allocateTableId('node:punt', new Set());
    await ensureNodePunt(ops, planNodePunt(puntId));
    await ensureNodePunt(ops, planNodePunt(puntId)); // a second run changes nothing

    const made = [];
    for (const [owner, addrs] of [
      [podA, ['10.244.1.5', 'fd00:244::5']],
      [podB, ['10.244.1.6']],
    ] as const) {
      const eth0 = await tunPod(vpp, `/var/run/netns/${owner.podName}`, [...addrs]);
      const loop = await loopback(vpp);
      const vrf = allocateTableId(tableKey(owner, 'vrf'), new Set([puntId]));
      const plan = planVcl({
        owner,
        addresses: addrs,
        eth0,
        vrfTableId: vrf,
        puntTableId: puntId,
        namespaceId: `vcni-${owner.containerId.slice(0, 12)}-eth0`,
        sockName: `abstract:vpp/session,netns_name=/var/run/netns/${owner.podName}`,
      });
      made.push({ eth0, loop, vrf, m: await transact(owner.podName, quiet, undefined, (tx) => createVclIsolation(ops, tx, plan, loop, 42n)) });
    }
    const [a, b] = made as [(typeof made)[0], (typeof made)[0]];
    expect(a.vrf).not.toBe(b.vrf);

    const v = await view(vpp);
    const ns = v.session.namespaces.filter((x) => x.nsId.startsWith('vcni-'));
    expect(ns).toEqual([
      expect.objectContaining({ nsId: 'vcni-aaaaaaaaaaaa-eth0', swIfIndex: a.loop, ip4FibId: a.vrf, ip6FibId: a.vrf, sockName: 'abstract:vpp/session,netns_name=/var/run/netns/vcl-a' }),
      expect.objectContaining({ nsId: 'vcni-bbbbbbbbbbbb-eth0', swIfIndex: b.loop, ip4FibId: b.vrf, ip6FibId: b.vrf }),
    ]);
    const loopA = v.interfaces.find((i) => i.swIfIndex === a.loop)!;
    expect([loopA.ip4Table, loopA.ip6Table, loopA.addresses]).toEqual([a.vrf, a.vrf, ['10.244.1.5/32', 'fd00:244::5/128']]);
    expect(v.interfaces.find((i) => i.swIfIndex === b.loop)!.addresses).toEqual(['10.244.1.6/32']);

    expect(routesOf(v, 4, 0).filter((r) => r.startsWith('10.244.'))).toEqual([`10.244.1.5/32 -> table ${a.vrf}`, `10.244.1.6/32 -> table ${b.vrf}`]);
    expect(routesOf(v, 6, 0)).toEqual([`fd00:244::5/128 -> table ${a.vrf}`]);
    expect(routesOf(v, 4, a.vrf)).toEqual(['0.0.0.0/0 -> table 0']);
    expect(routesOf(v, 6, a.vrf)).toEqual(['::/0 -> table 0']);
    expect(routesOf(v, 4, puntId)).toEqual([`10.244.1.5/32 -> ${a.eth0.swIfIndex}`, `10.244.1.6/32 -> ${b.eth0.swIfIndex}`]);
    expect(routesOf(v, 6, puntId)).toEqual([`fd00:244::5/128 -> ${a.eth0.swIfIndex}`]);
    expect(v.punt.unknownL4).toEqual(['4/tcp', '4/udp', '6/tcp', '6/udp']);
    expect(v.punt.redirects.map((r) => [r.af, r.rxSwIfIndex, r.paths.map((p) => [p.swIfIndex, p.tableId])])).toEqual([
      [4, 0, [[ANY, puntId]]],
      [6, 0, [[ANY, puntId]]],
    ]);

    // VCL + PBL: the pod's PBL clients stay on table 0's entry of the pod IP (now a lookup into the VRF).
    const r = await vpp.request(pbl.pbl_client_update, {
      client: { id: ANY, addr: '10.244.1.5', table_id: a.m.plan.pblTableId, paths: { sw_if_index: a.eth0.swIfIndex, weight: 1 }, port_ranges: [{ start: 4444, end: 4500, iproto: 6 }] },
    });
    // The address is routed (into the VRF): PBL's FIB clone of the client is there too (docs/pbl.md).
    expect((await view(vpp)).pblClients).toEqual([expect.objectContaining({ id: r.id, addr: '10.244.1.5', tableId: 0 }), expect.objectContaining({ cloneOf: r.id })]);
    expect(routesOf(await view(vpp), 4, 0)).toContain(`10.244.1.5/32 -> table ${a.vrf}`);
    await vpp.request(pbl.pbl_client_del, { id: r.id });

    // DEL of pod A: its table-0 routes go back to eth0, its VRF, addresses, punt routes and namespace go; pod B stays.
    await deleteVclIsolation(ops, a.m);
    await deleteVclIsolation(ops, a.m); // twice is fine
    const after = await view(vpp);
    expect(routesOf(after, 4, 0).filter((x) => x.startsWith('10.244.'))).toEqual([`10.244.1.5/32 -> ${a.eth0.swIfIndex}`, `10.244.1.6/32 -> table ${b.vrf}`]);
    expect(routesOf(after, 6, 0)).toEqual([`fd00:244::5/128 -> ${a.eth0.swIfIndex}`]);
    expect(after.tables.some((t) => t.tableId === a.vrf)).toBe(false);
    expect(after.session.namespaces.map((x) => x.nsId)).toEqual(['default', 'vcni-bbbbbbbbbbbb-eth0']);
    expect(after.interfaces.find((i) => i.swIfIndex === a.loop)).toMatchObject({ ip4Table: 0, ip6Table: 0, addresses: [] });
    expect(routesOf(after, 4, puntId)).toEqual([`10.244.1.6/32 -> ${b.eth0.swIfIndex}`]);
  });

  test('a failure at any step undoes every earlier one: VPP is left as before', async () => {
    const vpp = await start();
    const ops = vppIsolationOps(vpp);
    const puntId = allocateTableId('node:punt', new Set());
    await ensureNodePunt(ops, planNodePunt(puntId));
    const eth0 = await tunPod(vpp, '/var/run/netns/p', ['10.244.2.5', 'fd00::25'], false);
    const loop = await loopback(vpp);
    const plan = planVcl({ owner: podA, addresses: ['10.244.2.5', 'fd00::25'], eth0, vrfTableId: allocateTableId('x', new Set()), puntTableId: puntId, namespaceId: 'vcni-x', sockName: 'abstract:vpp/session,netns_name=/var/run/netns/p' });
    const before = JSON.stringify(await view(vpp));
    const steps: string[] = [];
    await transact('p', quiet, (s) => void steps.push(s), async (tx) => {
      const m = await createVclIsolation(ops, tx, plan, loop, 7n);
      await deleteVclIsolation(ops, m);
    });
    expect(steps.length).toBe(2 + 2 + 2 + 4 + 2 + 1);
    expect(JSON.stringify(await view(vpp))).toBe(before);
    for (const failAt of steps) {
      const err = await transact('p', quiet, (s) => { if (s === failAt) throw new Error('injected'); }, (tx) => createVclIsolation(ops, tx, plan, loop, 7n)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StepError);
      expect((err as StepError).step).toBe(failAt);
      expect((err as StepError).undoFailures).toEqual([]);
      expect(JSON.stringify(await view(vpp))).toBe(before);
    }
  });

  test("a punt redirect from any interface that is not ours is left alone, and the error says why", async () => {
    const vpp = await start();
    const ops = vppIsolationOps(vpp);
    await vpp.request(ip.ip_table_add_del, { is_add: true, table: { table_id: 5, name: 'theirs' } });
    await vpp.request(ip.add_del_ip_punt_redirect_v2, { is_add: true, punt: { rx_sw_if_index: ANY, af: 0, paths: [{ sw_if_index: ANY, table_id: 5, proto: 0 }] } });
    const puntId = allocateTableId('node:punt', new Set());
    await expect(ensureNodePunt(ops, planNodePunt(puntId))).rejects.toThrow(PuntRedirectTakenError);
    await expect(ensureNodePunt(ops, planNodePunt(puntId))).rejects.toThrow('IPv4 punt redirect from any interface already exists and is not ours');
    const v = await view(vpp);
    expect(v.punt.redirects.map((r) => r.paths[0]!.tableId)).toEqual([5]);
    expect(v.punt.unknownL4).toEqual([]);
  });
});

describe('source checks on every eth0 kind', () => {
  const kinds: [string, (vpp: VppClient) => Promise<PodInterfaceRef>][] = [
    ['tun', (vpp) => tunPod(vpp, '/var/run/netns/s1', ['10.244.3.5', 'fd00::35'])],
    ['tap (L2)', (vpp) => tunPod(vpp, '/var/run/netns/s2', ['10.244.3.5', 'fd00::35'], false)],
    [
      'veth (af_packet)',
      async (vpp) => {
        const r = await vpp.request(af_packet.af_packet_create_v3, { mode: 1, use_random_hw_addr: true, host_if_name: 'vcni0123456789a', num_rx_queues: 1, num_tx_queues: 1 });
        return { swIfIndex: r.sw_if_index, ethernet: true };
      },
    ],
  ];

  test.each(kinds)('%s: a table with only the pod prefixes and its allowed prefixes, loose uRPF in both families; DEL switches it off first', async (_kind, make) => {
    const vpp = await start();
    const ops = vppIsolationOps(vpp);
    const eth0 = await make(vpp);
    const rpf = allocateTableId(tableKey(podA, 'rpf'), new Set());
    const plan = planSourceCheck({ owner: podA, addresses: ['10.244.3.5', 'fd00::35'], allowedPrefixes: ['192.0.2.0/24'], interfaces: [eth0], rpfTableId: rpf });
    const before = JSON.stringify(await view(vpp));
    const made = await transact('s', quiet, undefined, (tx) => createSourceCheck(ops, tx, plan));
    const nh = eth0.ethernet ? ' nh 10.244.3.5' : '';
    const v = await view(vpp);
    expect(routesOf(v, 4, rpf)).toEqual([`10.244.3.5/32 -> ${eth0.swIfIndex}${nh}`, `192.0.2.0/24 -> ${eth0.swIfIndex}`]);
    expect(routesOf(v, 6, rpf)).toEqual([`fd00::35/128 -> ${eth0.swIfIndex}${eth0.ethernet ? ' nh fd00::35' : ''}`]);
    expect(await vpp.dumpAll(urpf.urpf_interface_dump, { sw_if_index: ANY })).toEqual([
      { sw_if_index: eth0.swIfIndex, is_input: true, mode: 1, af: 0, table_id: rpf },
      { sw_if_index: eth0.swIfIndex, is_input: true, mode: 1, af: 1, table_id: rpf },
    ]);
    expect(v.punt.urpf.every((c) => c.active)).toBe(true);

    await deleteSourceCheck(ops, made);
    await deleteSourceCheck(ops, made);
    expect(await vpp.dumpAll(urpf.urpf_interface_dump, { sw_if_index: ANY })).toEqual([]);
    const after = await view(vpp);
    expect(after.tables.some((t) => t.tableId === rpf)).toBe(false);
    // What VPP keeps of a switched-off check (mode off, the interface's own table) is the only difference.
    expect(JSON.stringify({ ...after, punt: { ...after.punt, urpf: [] } })).toBe(before);
  });

  test('an interface that reuses the index of one deleted with its check on gets the check switched on for real', async () => {
    const vpp = await start();
    const ops = vppIsolationOps(vpp);
    const rpf = allocateTableId(tableKey(podA, 'rpf'), new Set());
    const first = await tunPod(vpp, '/var/run/netns/r1', ['10.244.4.5']);
    const plan = planSourceCheck({ owner: podA, addresses: ['10.244.4.5'], allowedPrefixes: [], interfaces: [first], rpfTableId: rpf });
    await transact('r', quiet, undefined, (tx) => createSourceCheck(ops, tx, plan));
    // The agent dies; the tap goes (e.g. the runtime's DEL of a half-made pod) without the check being switched off.
    await vpp.request(tapv2.tap_delete_v2, { sw_if_index: first.swIfIndex });
    const second = await tunPod(vpp, '/var/run/netns/r2', ['10.244.4.5']);
    expect(second.swIfIndex).toBe(first.swIfIndex);
    expect((await view(vpp)).punt.urpf.map((c) => c.active)).toEqual([false, false]);
    await transact('r', quiet, undefined, (tx) => createSourceCheck(ops, tx, plan));
    expect((await view(vpp)).punt.urpf.map((c) => [c.key, c.mode, c.active])).toEqual([
      [`4/rx/${second.swIfIndex}`, 1, true],
      [`6/rx/${second.swIfIndex}`, 1, true],
    ]);
  });
});

describe('adoption, sweep and VPP restart', () => {
  async function vclPod(vpp: VppClient, puntId: number, addrs: string[]) {
    const ops = vppIsolationOps(vpp);
    const eth0 = await tunPod(vpp, '/var/run/netns/vcl-a', addrs);
    const loop = await loopback(vpp);
    const plan = planVcl({
      owner: podA,
      addresses: addrs,
      eth0,
      vrfTableId: allocateTableId(tableKey(podA, 'vrf'), new Set([puntId])),
      puntTableId: puntId,
      namespaceId: 'vcni-aaaaaaaaaaaa-eth0',
      sockName: 'abstract:vpp/session,netns_name=/var/run/netns/vcl-a',
    });
    const vcl = await transact('a', quiet, undefined, (tx) => createVclIsolation(ops, tx, plan, loop, 9n));
    const check = planSourceCheck({ owner: podA, addresses: addrs, allowedPrefixes: [], interfaces: [eth0], rpfTableId: allocateTableId(tableKey(podA, 'rpf'), new Set([puntId])) });
    const src = await transact('a', quiet, undefined, (tx) => createSourceCheck(ops, tx, check));
    return { eth0, loop, vcl, src };
  }

  test('adoption finds everything as made and names what is missing, without changing VPP', async () => {
    const vpp = await start();
    const ops = vppIsolationOps(vpp);
    const puntId = allocateTableId('node:punt', new Set());
    await ensureNodePunt(ops, planNodePunt(puntId));
    const p = await vclPod(vpp, puntId, ['10.244.5.5', 'fd00::55']);
    const before = JSON.stringify(await view(vpp));
    const inv = await readIsolationInventory(ops, [p.loop], puntId);
    expect(JSON.stringify(await view(vpp))).toBe(before);
    expect(verifyVclIsolation(p.vcl, inv)).toEqual([]);
    expect(verifySourceCheck(p.src, inv)).toEqual([]);

    await ops.routeDel(p.vcl.plan.puntRoutes[0]!);
    await ops.urpfSet(p.eth0.swIfIndex, 6, 'off', ANY);
    const inv2 = await readIsolationInventory(ops, [p.loop], puntId);
    expect(verifyVclIsolation(p.vcl, inv2)).toEqual([{ object: `route 10.244.5.5/32 in table ${puntId}`, problem: 'missing in VPP' }]);
    expect(verifySourceCheck(p.src, inv2)).toEqual([{ object: `ipv6 uRPF on interface ${p.eth0.swIfIndex}`, problem: `not loose against table ${p.src.tables[0]!.tableId}` }]);
  });

  test('removal by identity finds one owner\'s tables and what leads into them; a steered address names its owner', async () => {
    const vpp = await start();
    const ops = vppIsolationOps(vpp);
    const puntId = allocateTableId('node:punt', new Set());
    await ensureNodePunt(ops, planNodePunt(puntId));
    const p = await vclPod(vpp, puntId, ['10.244.7.5']);
    const inv = await readIsolationInventory(ops, [p.loop], puntId);
    expect(isolationObjectsOf(inv, (o) => o === 'bbbbbbbbbbbb:eth0')).toEqual({ tables: [], routes: [], urpf: [] });
    const mine = isolationObjectsOf(inv, (o) => o === 'aaaaaaaaaaaa:eth0');
    expect(mine.tables.map((t) => [t.af, t.purpose]).sort()).toEqual([[4, 'rpf'], [4, 'vrf'], [6, 'rpf'], [6, 'vrf']]);
    expect(mine.routes.map((r) => [r.tableId, r.prefix])).toEqual([[0, '10.244.7.5/32'], [puntId, '10.244.7.5/32']]);
    expect(mine.urpf.map((u) => u.af).sort()).toEqual([4, 6]);
    expect([...steeredAddressOwners(inv)]).toEqual([['10.244.7.5', 'aaaaaaaaaaaa:eth0']]);
  });

  test('the sweep removes the tables of an owner without a record and what refers to them, and keeps the live owner', async () => {
    const vpp = await start();
    const ops = vppIsolationOps(vpp);
    const puntId = allocateTableId('node:punt', new Set());
    await ensureNodePunt(ops, planNodePunt(puntId));
    const clean = JSON.stringify(await view(vpp));
    const p = await vclPod(vpp, puntId, ['10.244.6.5']);
    const withPod = JSON.stringify(await view(vpp));

    const inv = await readIsolationInventory(ops, [], puntId);
    expect(orphanTables(inv, new Set(['aaaaaaaaaaaa:eth0']), puntId)).toEqual({ tables: [], routes: [], urpf: [] });
    await sweepOrphanTables(ops, orphanTables(inv, new Set(['aaaaaaaaaaaa:eth0']), puntId));
    expect(JSON.stringify(await view(vpp))).toBe(withPod);

    const o = orphanTables(inv, new Set(), puntId);
    expect(o.tables.map((t) => [t.af, t.purpose])).toEqual([
      [4, 'vrf'],
      [4, 'rpf'],
      [6, 'vrf'],
      [6, 'rpf'],
    ]);
    expect(o.routes.map((r) => [r.tableId, r.prefix])).toEqual([
      [0, '10.244.6.5/32'],
      [puntId, '10.244.6.5/32'],
    ]);
    expect(o.urpf.map((u) => [u.swIfIndex, u.af])).toEqual([
      [p.eth0.swIfIndex, 4],
      [p.eth0.swIfIndex, 6],
    ]);
    // The other kinds' sweep removes the pod's app namespace, loopback and tap (tables bound to an interface live
    // until it goes, in VPP as in the simulator); then ours.
    await vpp.request(session.app_namespace_add_del_v4, { is_add: false, namespace_id: 'vcni-aaaaaaaaaaaa-eth0', sw_if_index: p.loop, secret: 9n });
    await vpp.request(interface_.delete_loopback, { sw_if_index: p.loop });
    await vpp.request(tapv2.tap_delete_v2, { sw_if_index: p.eth0.swIfIndex });
    await sweepOrphanTables(ops, o);
    await sweepOrphanTables(ops, o); // twice is fine
    const after = await view(vpp);
    expect(after.tables.filter((t) => t.tableId !== 0 && t.tableId !== puntId)).toEqual([]);
    expect(routesOf(after, 4, 0)).toEqual([]);
    expect(routesOf(after, 4, puntId)).toEqual([]);
    // The tap went before the sweep could switch its check off (VPP answers -2 then): VPP keeps the config of the
    // index, inactive; the next interface on that index gets it switched off first (tested above).
    expect(after.punt.urpf.map((c) => [c.mode, c.active])).toEqual([
      [1, false],
      [1, false],
    ]);
    expect(JSON.stringify({ ...after, punt: { ...after.punt, urpf: [] } })).toBe(clean);
    expect(clean).not.toBe(withPod);
  });

  test('after a VPP restart the same plan, on the new eth0, makes the same objects again (ids free in a fresh VPP)', async () => {
    const vpp = await start();
    const ops = vppIsolationOps(vpp);
    const puntId = allocateTableId('node:punt', new Set());
    await ensureNodePunt(ops, planNodePunt(puntId));
    const p1 = await vclPod(vpp, puntId, ['10.244.7.5']);
    const shape = (v: SimView) => ({ tables: v.tables.map((t) => [t.af, t.tableId, t.name, t.routes.length]), ns: v.session.namespaces.map((n) => [n.nsId, n.ip4FibId]), punt: v.punt });
    const first = shape(await view(vpp));

    const restarted = new Promise<void>((resolve) => vpp.onRestart(() => resolve()));
    lastSim!.restart();
    await restarted;
    expect((await view(vpp)).tables.length).toBe(2);
    await vpp.request(session.session_sapi_enable_disable, { is_enable: true });
    await vpp.request(session.session_enable_disable_v2, { rt_engine_type: 1 });
    await ensureNodePunt(ops, planNodePunt(puntId));
    const p2 = await vclPod(vpp, puntId, ['10.244.7.5']);
    expect(p2.vcl.plan.tables).toEqual(p1.vcl.plan.tables);
    expect(shape(await view(vpp))).toEqual(first);
    expect(verifyVclIsolation(p2.vcl, await readIsolationInventory(ops, [p2.loop], puntId))).toEqual([]);
  });
});

describe('IsolationNode', () => {
  test('the punt path once for concurrent callers, found again by a new agent, made again after a VPP restart; ids held while in flight', async () => {
    const vpp = await start();
    const ops = vppIsolationOps(vpp);
    const node = new IsolationNode(ops);
    const [a, b] = await Promise.all([node.puntTable(), node.puntTable()]);
    expect(a).toBe(b);
    const v = await view(vpp);
    expect(v.tables.filter((t) => t.name === 'vcni:node:punt').map((t) => [t.af, t.tableId])).toEqual([
      [4, a],
      [6, a],
    ]);
    expect(v.punt.redirects.length).toBe(2);

    // An agent restart: a new instance finds the table by its name and keeps its id.
    await vpp.request(ip.ip_table_add_del, { is_add: true, table: { table_id: 0x76630001, name: 'someone else' } });
    expect(await new IsolationNode(ops).puntTable()).toBe(a);

    // Ids: two allocations for the same key in flight get two ids; a wanted free id of ours is kept; release frees.
    const x = await node.allocate('k');
    const y = await node.allocate('k');
    expect(y).not.toBe(x);
    expect([x, y]).not.toContain(a);
    node.release(x);
    expect(await node.allocate('k')).toBe(x);
    expect(await node.allocate('other', 0x7663abcd)).toBe(0x7663abcd);
    expect(await node.allocate('other', 0x7663abcd)).not.toBe(0x7663abcd);
    expect(await node.allocate('other', 5)).not.toBe(5);

    const restarted = new Promise<void>((resolve) => vpp.onRestart(() => resolve()));
    lastSim!.restart();
    await restarted;
    node.reset();
    expect(await node.puntTable()).toBe(a);
    expect((await view(vpp)).punt.unknownL4).toEqual(['4/tcp', '4/udp', '6/tcp', '6/udp']);
  });
});
