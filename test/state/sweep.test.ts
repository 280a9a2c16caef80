/**
 * The orphan sweep: tagged VPP objects no record and no operation in flight holds are removed with what
 * hangs off them (routes, PBL clients, memif sockets, app namespaces, the pod-side links); objects without
 * our tag are never touched; an ADD in the middle of its steps keeps its objects; CNI GC removes the
 * attachments the runtime no longer lists and the orphans; the periodic sweep runs by itself.
 */
import { allModules } from '../../vpp-api/generated/index.js';
import * as iface from '../../vpp-api/generated/interface.js';
import * as memif from '../../vpp-api/generated/memif.js';
import * as pbl from '../../vpp-api/generated/pbl.js';
import * as ip from '../../vpp-api/generated/ip.js';
import * as session from '../../vpp-api/generated/session.js';
import { FibPathNhProto } from '../../vpp-api/generated/fib_types.js';
import { VppClient } from '../../vpp-api/client/index.js';
import { LinuxNetns } from '../../agent/linux/netns.js';
import { NodeResources } from '../../agent/pod/node-resources.js';
import { PodNetwork } from '../../agent/pod/pod-network.js';
import { vclLoopbackMac } from '../../agent/pod/kinds/vcl.js';
import { createNetns, deleteAllNetns, deleteNetns, haveRoot, linuxState, type TestNetns } from '../helpers/netns.js';
import { Harness, KINDS, type TestPod } from './harness.js';
import { until } from '../helpers/until.js';
import { silentLogger } from '../../lib/logger.js';

const d = haveRoot() ? describe : describe.skip;
const h = new Harness();
/** A second pod layer on the test's own connection: what it makes, no agent record holds (orphans). */
let outside: PodNetwork;
let other: VppClient;

beforeAll(async () => {
  if (!haveRoot()) return;
  await h.start();
  other = new VppClient({ socketPath: h.sim.socketPath, modules: allModules, healthCheck: false });
  await other.connect();
  outside = new PodNetwork({
    vpp: other,
    netns: new LinuxNetns(),
    node: new NodeResources(other),
    cfg: { gates: { memifEnabled: true, vclEnabled: true, multinetEnabled: true }, defaults: { rx: 1, tx: 1, rxqsz: 1024, txqsz: 1024 }, limits: { rx: 4, tx: 4, rxqsz: 4096, txqsz: 4096 }, mtu: 1400 },
    log: silentLogger,
  });
}, 30_000);

// One test's leftovers (it failed half way) must not fail the next ones.
afterEach(async () => {
  if (haveRoot()) await h.reset([other]);
});

afterAll(async () => {
  deleteAllNetns();
  await other?.close();
  if (haveRoot()) await h.close();
});

/** Makes a pod outside the agent (an orphan as soon as it exists). */
async function orphan(ns: TestNetns, kind: keyof typeof KINDS): Promise<TestPod> {
  const p = h.pod(ns, kind);
  await outside.add({ ...p, annotations: KINDS[kind]![0] });
  return p;
}

/** Objects nobody tagged: a loopback, a tagged-by-someone-else loopback, a route, a PBL client, a socket, an app namespace. */
async function foreignObjects(): Promise<void> {
  const loop = (await h.vpp.request(iface.create_loopback, {})).sw_if_index;
  const tagged = (await h.vpp.request(iface.create_loopback, {})).sw_if_index;
  await h.vpp.request(iface.sw_interface_tag_add_del, { is_add: true, sw_if_index: tagged, tag: 'other-cni:abc:eth0' });
  await h.vpp.request(ip.ip_route_add_del, {
    is_add: true,
    route: { table_id: 0, prefix: '10.99.0.1/32', paths: [{ sw_if_index: loop, table_id: 0, weight: 1, proto: FibPathNhProto.FIB_API_PATH_NH_PROTO_IP4 }] },
  });
  await h.vpp.request(pbl.pbl_client_update, { client: { id: 0xffffffff, addr: '10.99.0.1', table_id: 0, flags: 0, paths: { sw_if_index: loop, weight: 1, proto: FibPathNhProto.FIB_API_PATH_NH_PROTO_IP4 }, port_ranges: [{ start: 80, end: 80, iproto: 6 }] } });
  await h.vpp.request(memif.memif_socket_filename_add_del_v2, { is_add: true, socket_id: 0xffffffff, socket_filename: 'abstract:someone-else,netns_name=/var/run/netns/nope' });
  await h.vpp.request(session.app_namespace_add_del_v4, { is_add: true, secret: 7n, sw_if_index: loop, ip4_fib_id: 0, ip6_fib_id: 0, namespace_id: 'other-ns', sock_name: '' });
}

d('orphan sweep', () => {
  test('removes tagged orphans of every kind, leaves untagged objects and live pods alone', async () => {
    await h.startAgent();
    const a = h.agent!;
    await a.node.unnumberedLoopback();
    await a.node.sessionEnabled();
    const liveNs = [createNetns('s'), createNetns('s')];
    const live = [h.pod(liveNs[0]!, 'pbl+vcl'), h.pod(liveNs[1]!, 'multinet')];
    for (const p of live) await h.add(p);
    await foreignObjects();
    const clean = await h.state(liveNs);

    const orphanNs = Object.keys(KINDS).map(() => createNetns('o'));
    const orphans: TestPod[] = [];
    for (const [i, kind] of Object.keys(KINDS).entries()) orphans.push(await orphan(orphanNs[i]!, kind));
    // What an ADD that died before tagging leaves: a socket with our name, a VCL loopback with our MAC.
    const lostNs = createNetns('o');
    await h.vpp.request(memif.memif_socket_filename_add_del_v2, { is_add: true, socket_id: 0xffffffff, socket_filename: `abstract:vpp/memif-eth0,netns_name=${lostNs.path}` });
    await h.vpp.request(iface.create_loopback, { mac_address: vclLoopbackMac({ containerId: 'feedfacecafe0001', ifName: 'eth0' }) });
    expect(await h.vppState()).not.toEqual(clean.vpp);

    const r = await a.state.sweep();
    expect(r).toMatchObject({ attachments: orphans.length, failures: [] });
    expect(await h.state(liveNs)).toEqual(clean);
    for (const ns of [...orphanNs, lostNs]) expect(linuxState(ns).links.filter((l) => !l.startsWith('lo '))).toEqual([]);
    for (const p of live) await a.manager.check(p);
    // Nothing left to do the second time.
    expect(await a.state.sweep()).toMatchObject({ attachments: 0, interfaces: 0, sockets: 0, appNamespaces: 0 });
    for (const p of live) await h.del(p);
    for (const ns of [...liveNs, ...orphanNs, lostNs]) deleteNetns(ns);
  }, 60_000);

  test("PBL FIB clones: an orphan PBL pod's client goes with its clone, a live pod's and a foreign client's clones stay, VPP never crashes", async () => {
    await h.startAgent();
    const a = h.agent!;
    await a.node.unnumberedLoopback();
    await a.node.sessionEnabled();
    const ns = [createNetns('c'), createNetns('c')];
    const live = h.pod(ns[0]!, 'pbl');
    await h.add(live);
    await foreignObjects();
    // Two unrouted clients made and deleted (first made, first deleted): VPP's pool hands out the second id
    // first, so the orphan's client takes the higher id and its clone the lower one, and a dump-ordered delete
    // would reach the clone before its original.
    const tmp: number[] = [];
    for (let i = 0; i < 2; i++) {
      const c = { id: 0xffffffff, addr: '192.0.2.99', table_id: 0, flags: 0, paths: { sw_if_index: 0xffffffff, weight: 1, proto: FibPathNhProto.FIB_API_PATH_NH_PROTO_IP4 }, port_ranges: [] };
      tmp.push((await h.vpp.request(pbl.pbl_client_update, { client: c })).id);
    }
    for (const id of tmp) await h.vpp.request(pbl.pbl_client_del, { id });
    const dead = await orphan(ns[1]!, 'pbl');
    const clonesOf = async (): Promise<Map<string, number>> => {
      // `[<id>] pbl-client: <addr> clone:<id>` per client that has a clone, as the real VPP prints it.
      const text = await h.vpp.cli('show pbl client');
      return new Map([...text.matchAll(/^\[(\d+)\] pbl-client: (\S+) clone:(\d+)$/gm)].map((m) => [m[2]!, Number(m[3])]));
    };
    const ipOf = (p: TestPod): string => p.ips[0]!.address.split('/')[0]!;
    // Every routed client has its clone: the live pod's, the orphan's and the foreign one on 10.99.0.1.
    expect([...(await clonesOf()).keys()].sort()).toEqual([ipOf(live), ipOf(dead), '10.99.0.1'].sort());
    const deadIds = (await h.vpp.dumpAll(pbl.pbl_client_dump, {})).filter((c) => c.client.addr === ipOf(dead)).map((c) => c.client.id);
    expect(deadIds).toEqual([tmp[0], tmp[1]]);
    expect((await clonesOf()).get(ipOf(dead))).toBe(tmp[0]);
    const clean = await h.vpp.dumpAll(pbl.pbl_client_dump, {});

    const r = await a.state.sweep();
    expect(r).toMatchObject({ attachments: 1, failures: [] });
    expect(h.sim.aborts).toEqual([]);
    // The orphan's client and its clone are gone; the others (with their clones) are as they were.
    const left = await h.vpp.dumpAll(pbl.pbl_client_dump, {});
    expect(left.map((c) => c.client.addr)).not.toContain(ipOf(dead));
    expect(left).toEqual(clean.filter((c) => c.client.addr !== ipOf(dead)));
    expect([...(await clonesOf()).keys()].sort()).toEqual([ipOf(live), '10.99.0.1'].sort());
    await a.manager.check(live);
    await h.del(live);
    expect((await h.vpp.dumpAll(pbl.pbl_client_dump, {})).map((c) => c.client.addr)).toEqual(['10.99.0.1', '10.99.0.1']);
    expect(h.sim.aborts).toEqual([]);
    for (const n of ns) deleteNetns(n);
  }, 60_000);

  test('an ADD in the middle of its steps keeps its objects', async () => {
    let release!: () => void;
    let paused!: () => void;
    const atStep = new Promise<void>((r) => (paused = r));
    const gate = new Promise<void>((r) => (release = r));
    await h.startAgent({
      stepHook: (s) => {
        if (s === 'memif tag') {
          paused();
          return gate;
        }
      },
    });
    const ns = createNetns('s');
    const p = h.pod(ns, 'pbl+vcl');
    const adding = h.add(p);
    await atStep; // tap, routes, memif socket and an untagged memif exist; no record yet
    const r = await h.agent!.state.sweep();
    expect(r).toMatchObject({ attachments: 0, interfaces: 0, sockets: 0 });
    release();
    await adding;
    await h.agent!.manager.check(p);
    await h.del(p);
    deleteNetns(ns);
  }, 60_000);

  test('CNI GC removes the attachments not in the valid list, and the orphans', async () => {
    await h.startAgent();
    const a = h.agent!;
    const ns = [createNetns('g'), createNetns('g'), createNetns('g')];
    const keep = h.pod(ns[0]!, 'pbl');
    const drop = h.pod(ns[1]!, 'vcl');
    for (const p of [keep, drop]) await h.add(p);
    const o = await orphan(ns[2]!, 'tun');
    expect(await a.manager.gc('vpp-cni', [{ containerId: keep.containerId, ifName: keep.ifName }])).toBe(1);
    expect(a.manager.records.map((r) => r.containerId)).toEqual([keep.containerId]);
    const v = await h.vppState();
    for (const gone of [drop, o]) {
      expect(v.interfaces.join('\n')).not.toContain(gone.containerId.slice(0, 12));
      expect(v.routes.join('\n')).not.toContain(`${gone.ips[0]!.address.split('/')[0]}/32`);
    }
    await a.manager.check(keep);
    await h.del(keep);
    for (const n of ns) deleteNetns(n);
  }, 60_000);

  test('CNI GC of one network leaves the attachments of another network on the node alone (two networks, as the demo runs)', async () => {
    await h.startAgent();
    const a = h.agent!;
    const ns = [createNetns('n'), createNetns('n')];
    const main = h.pod(ns[0]!, 'tun');
    const second = { ...h.pod(ns[1]!, 'multinet'), network: 'memif-net' };
    for (const p of [main, second]) await h.add(p);
    expect(a.manager.records.map((r) => r.network).sort()).toEqual(['memif-net', 'vpp-cni']);
    // The runtime's GC of vpp-cni lists vpp-cni's attachments only: memif-net's is not in it.
    expect(await a.manager.gc('vpp-cni', [{ containerId: main.containerId, ifName: main.ifName }])).toBe(0);
    expect(a.manager.records).toHaveLength(2);
    await a.manager.check(second);
    // And memif-net's GC with an empty list removes its own attachment only.
    expect(await a.manager.gc('memif-net', [])).toBe(1);
    expect(a.manager.records.map((r) => r.containerId)).toEqual([main.containerId]);
    await a.manager.check(main);
    await h.del(main);
    for (const n of ns) deleteNetns(n);
  }, 60_000);

  test('the periodic sweep removes orphans by itself', async () => {
    await h.startAgent({ sweepIntervalSeconds: 1 });
    const ns = createNetns('p');
    const o = await orphan(ns, 'multinet');
    await until('the periodic sweep to remove the orphan', async () => !(await h.vppState()).interfaces.join('\n').includes(o.containerId.slice(0, 12)), 10_000, 50);
    await h.agent!.state.settled(); // the sweep that removed it ends with the pod-side link
    expect(linuxState(ns).links.filter((l) => !l.startsWith('lo '))).toEqual([]);
    deleteNetns(ns);
  }, 30_000);
});
