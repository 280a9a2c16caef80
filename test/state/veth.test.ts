/**
 * The state machinery with veth attachments (eth0 as a veth pair + VPP af_packet), against a simulator
 * that behaves like a node without /dev/vhost-net (taps refused with -11) and real veth pairs in the host
 * netns: the orphan sweep removes orphaned veth attachments (af_packet, routes, host end and with it the
 * pod end) and never touches a host link named like ours whose alias is someone else's, nor someone else's
 * af_packet; an agent restart adopts veth attachments without a VPP call or a new pair; a VPP restart makes
 * them again (new af_packet, host end replaced, pod eth0 configured as before), and a DEL meanwhile removes
 * the pair at once; a lost checkpoint is rebuilt from the tagged af_packets and the host ends' aliases; an
 * ADD that died at any step (between af_packet create and its tag in particular) is undone by the
 * reconcile (intent) or, without an intent, by the sweep.
 *
 * Container ids start with this run's prefix: host links are shared with every other test process, and
 * what this file leaves (even on failure) is found by it in afterAll.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { allModules } from '../../vpp-api/generated/index.js';
import * as afp from '../../vpp-api/generated/af_packet.js';
import * as iface from '../../vpp-api/generated/interface.js';
import * as ip from '../../vpp-api/generated/ip.js';
import { FibPathNhProto } from '../../vpp-api/generated/fib_types.js';
import { VppClient } from '../../vpp-api/client/index.js';
import { LinuxNetns } from '../../agent/linux/netns.js';
import { NodeResources } from '../../agent/pod/node-resources.js';
import { PodNetwork } from '../../agent/pod/pod-network.js';
import { ANN } from '../../agent/pod/annotations.js';
import { vethHostName } from '../../agent/pod/kinds/veth.js';
import { delStaticNeighbor as delNeighbor, delRoute } from '../../agent/vpp/ip.js';
import type { AttachmentRecord, MadeRoute } from '../../agent/pod/record.js';
import { CHECKPOINT_FILE } from '../../agent/state/checkpoint.js';
import { createNetns, deleteAllNetns, deleteNetns, haveRoot, linuxState, type TestNetns } from '../helpers/netns.js';
import { Crasher, readCheckpoint } from './crasher.js';
import { until } from '../helpers/until.js';
import { deleteHostVeths, Harness, hostVethLinks, KINDS, type TestPod } from './harness.js';
import { silentLogger } from '../../lib/logger.js';

const d = haveRoot() ? describe : describe.skip;
/** This run's container id prefix (8 characters): `5e` and the pid. */
const RUN = `5e${process.pid.toString(16).padStart(6, '0')}`;
const h = new Harness({ host: 'no-vhost-net', idPrefix: RUN });
const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');
/** Named like our host ends, with someone else's alias. */
const FOREIGN = `vcnie${hex(process.pid, 10)}`;
/** Named like our host ends, with an alias naming one of this run's attachments whose derived name it is not. */
const IMPOSTOR = `vcnid${hex(process.pid, 10)}`;
/** Not named like ours: carries someone else's tagged af_packet. */
const OTHER = `vfx${process.pid}`;
let foreignRoute: MadeRoute | undefined;
/** Extra links made by the tests (peers of the above go with them). */
const made = new Set<string>();

/** The test's second connection, for a pod layer of its own: what it makes, no agent record holds (orphans). */
let other: VppClient;
/** Where the outside pod layer's ADD hangs forever (its "death"), and who waits for it. */
let hangAt: ((step: string) => boolean) | undefined;
let hung: ((step: string) => void) | undefined;

function ipCmd(...args: string[]): void {
  execFileSync('ip', args, { timeout: 10_000, stdio: 'ignore' });
}

function hostLink(name: string): ReturnType<typeof hostVethLinks>[number] | undefined {
  return hostVethLinks().find((l) => l.ifname === name);
}

/** Any host link: name, index, alias (undefined when there is none). */
function anyLink(name: string): { ifname: string; ifindex: number; ifalias?: string } | undefined {
  try {
    const [l] = JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'dev', name], { timeout: 10_000, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { ifname: string; ifindex: number; ifalias?: string }[];
    return l && { ifname: l.ifname, ifindex: l.ifindex, ...(l.ifalias ? { ifalias: l.ifalias } : {}) };
  } catch {
    return undefined;
  }
}

/** A pod layer outside the agent, in veth mode, that hangs forever at the step `hangAt` accepts. */
function outside(): PodNetwork {
  return new PodNetwork(
    {
      vpp: other,
      netns: new LinuxNetns(),
      node: new NodeResources(other),
      cfg: {
        gates: { memifEnabled: true, vclEnabled: true, multinetEnabled: true },
        defaults: { rx: 1, tx: 1, rxqsz: 1024, txqsz: 1024 },
        limits: { rx: 4, tx: 4, rxqsz: 4096, txqsz: 4096 },
        mtu: 1400,
        interfaceMode: 'veth',
      },
      log: silentLogger,
    },
    {
      stepHook: (s) => {
        if (hangAt?.(s)) {
          hung?.(s);
          return new Promise<void>(() => undefined);
        }
      },
    },
  );
}

/** This run's host ends: name → ifindex. */
function hostIndexes(): Record<string, number> {
  return Object.fromEntries(hostVethLinks().filter((l) => l.ifalias.startsWith(`vcni:${RUN}`)).map((l) => [l.ifname, l.ifindex]));
}

function podLinks(ns: TestNetns): string[] {
  return linuxState(ns).links.filter((l) => !l.startsWith('lo '));
}

function recordOf(p: TestPod): AttachmentRecord | undefined {
  return h.agent!.manager.records.find((r) => r.containerId === p.containerId && r.ifName === p.ifName);
}

/** A pod whose eth0 is L2 (VPP resolves its addresses with ARP/ND: no static neighbors). */
function l2Pod(ns: TestNetns): TestPod {
  const p = h.pod(ns, 'tun');
  h.pods.set({ ...p.pod, annotations: { [ANN.interfacesSpec]: '{"eth0":{"isl3":false}}' } });
  return p;
}

/** Pods of every eth0 flavour the veth driver makes, added through the agent. */
async function addPods(n = 5): Promise<{ namespaces: TestNetns[]; pods: TestPod[] }> {
  const namespaces: TestNetns[] = [];
  const pods: TestPod[] = [];
  const kinds = ['tun', 'pbl', 'vcl', 'pbl+vcl', 'l2'];
  for (let i = 0; i < n; i++) {
    const ns = createNetns('ve');
    namespaces.push(ns);
    const k = kinds[i % kinds.length]!;
    const p = k === 'l2' ? l2Pod(ns) : h.pod(ns, k);
    pods.push(p);
    await h.add(p);
  }
  return { namespaces, pods };
}

async function createAfPacket(hostIfName: string): Promise<number> {
  const r = await h.vpp.request(afp.af_packet_create_v3, {
    mode: afp.AfPacketMode.AF_PACKET_API_MODE_ETHERNET,
    hw_addr: '00:00:00:00:00:00',
    use_random_hw_addr: true,
    host_if_name: hostIfName,
    rx_frame_size: 0,
    tx_frame_size: 0,
    rx_frames_per_block: 0,
    tx_frames_per_block: 0,
    flags: afp.AfPacketFlags.AF_PACKET_API_FLAG_QDISC_BYPASS,
    num_rx_queues: 1,
    num_tx_queues: 1,
  });
  return r.sw_if_index;
}

function vethPair(name: string, peer: string, alias?: string): void {
  ipCmd('link', 'add', name, 'type', 'veth', 'peer', 'name', peer);
  made.add(name);
  if (alias) ipCmd('link', 'set', 'dev', name, 'alias', alias);
}

/**
 * Someone else's objects: a link named like ours with another alias and an untagged af_packet on it (with a
 * route), a link named like ours whose alias names an attachment of this run but is not that attachment's
 * derived name, and another CNI's tagged af_packet on a link of its own.
 */
async function foreignObjects(): Promise<void> {
  vethPair(FOREIGN, `vfp${process.pid}`, 'other-cni:abc:eth0,netns=/var/run/netns/elsewhere');
  const sw = await createAfPacket(FOREIGN);
  foreignRoute = { prefix: '10.98.0.1/32', tableId: 0, swIfIndex: sw };
  await h.vpp.request(ip.ip_route_add_del, {
    is_add: true,
    route: { table_id: 0, prefix: foreignRoute.prefix, paths: [{ sw_if_index: sw, table_id: 0, weight: 1, proto: FibPathNhProto.FIB_API_PATH_NH_PROTO_IP4 }] },
  });
  vethPair(IMPOSTOR, `vip${process.pid}`, `vcni:${RUN}7777:eth0:veth:default/impostor,netns=/var/run/netns/elsewhere`);
  vethPair(OTHER, `vfy${process.pid}`);
  const tagged = await createAfPacket(OTHER);
  await h.vpp.request(iface.sw_interface_tag_add_del, { is_add: true, sw_if_index: tagged, tag: 'other-cni:def:eth0' });
}

/** Makes a pod outside the agent (an orphan as soon as it exists). */
async function orphan(ns: TestNetns, kind: keyof typeof KINDS): Promise<{ p: TestPod; rec: AttachmentRecord }> {
  const p = h.pod(ns, kind);
  const rec = await outside().add({ ...p, annotations: KINDS[kind]![0] });
  expect(rec.kind).toBe('veth');
  return { p, rec };
}

/** Starts an outside ADD that hangs forever at the first step `at` accepts; resolves once it got there. */
function outsideAddDyingAt(p: TestPod, at: (step: string) => boolean): Promise<string> {
  const reached = new Promise<string>((r) => (hung = r));
  hangAt = at;
  outside().add({ ...p, annotations: {} }).catch(() => undefined); // never settles
  return reached.finally(() => (hangAt = undefined));
}

beforeAll(async () => {
  if (!haveRoot()) return;
  await h.start();
  other = new VppClient({ socketPath: h.sim.socketPath, modules: allModules, healthCheck: false });
  await other.connect();
}, 30_000);

// One test's leftovers (it failed half way) must not fail the next ones.
afterEach(async () => {
  if (haveRoot()) await h.reset([other]);
});

afterAll(async () => {
  if (!haveRoot()) return;
  await h.stopAgent();
  deleteAllNetns(); // pod ends, and the host ends of their pairs
  deleteHostVeths(`vcni:${RUN}`);
  for (const name of made) {
    try {
      ipCmd('link', 'del', 'dev', name);
    } catch {
      // gone already
    }
  }
  await other?.close();
  await h.close();
});

d('veth attachments', () => {
  test('sweep: orphaned veth attachments go (af_packet, routes, host and pod ends); foreign links and af_packets stay', async () => {
    await h.startAgent({ interfaceMode: 'veth' });
    const a = h.agent!;
    await a.node.unnumberedLoopback();
    await a.node.sessionEnabled();
    const liveNs = [createNetns('vs'), createNetns('vs')];
    const live = [h.pod(liveNs[0]!, 'tun'), h.pod(liveNs[1]!, 'pbl+vcl')];
    for (const p of live) await h.add(p);
    expect(live.map((p) => recordOf(p)?.kind)).toEqual(['veth', 'veth']);
    await foreignObjects();
    const clean = await h.state(liveNs);
    const foreignBefore = [FOREIGN, IMPOSTOR, OTHER].map(anyLink);
    expect(foreignBefore.every((l) => l !== undefined)).toBe(true);
    expect(clean.vpp.untaggedPodLike).toEqual([`host-${FOREIGN}`]);
    expect(clean.vpp.interfaces.join('\n')).toContain('other-cni:def:eth0');

    const orphanNs = [createNetns('vo'), createNetns('vo'), createNetns('vo')];
    const whole = [await orphan(orphanNs[0]!, 'tun'), await orphan(orphanNs[1]!, 'pbl+vcl')];
    // A pair whose VPP side is gone, no record holding it, its pod netns alive: nothing says it is this
    // agent's (another agent and VPP may share the host netns), so it is left and reported.
    const bare = await orphan(orphanNs[2]!, 'tun');
    for (const r of bare.rec.objects.routes) await delRoute(h.vpp, r);
    for (const n of bare.rec.objects.neighbors) await delNeighbor(h.vpp, n);
    await h.vpp.request(afp.af_packet_delete, { host_if_name: bare.rec.objects.veth!.hostIfName });
    const bareHost = bare.rec.objects.veth!.hostIfName;
    // A host end of ours whose pod netns is gone (alias names a netns path that no longer is one): removed.
    const gonePod = h.pod(orphanNs[2]!, 'tun');
    const goneHost = vethHostName(gonePod.containerId, 'eth0');
    ipCmd('link', 'add', goneHost, 'type', 'veth', 'peer', 'name', `${goneHost.slice(0, 12)}pp`);
    made.add(goneHost);
    ipCmd('link', 'set', 'dev', goneHost, 'alias', `vcni:${gonePod.containerId.slice(0, 12)}:eth0:veth:${gonePod.pod.namespace}/${gonePod.pod.name},netns=/var/run/netns/vct-gone-${process.pid}`);
    const orphanHosts = [...whole.map((o) => o.rec.objects.veth!.hostIfName), goneHost];
    for (const n of [...orphanHosts, bareHost]) expect(hostLink(n)?.ifalias).toMatch(new RegExp(`^vcni:${RUN}`));
    expect(await h.vppState()).not.toEqual(clean.vpp);

    const r = await a.state.sweep();
    expect(r).toMatchObject({ attachments: 3, hostLinks: 3, hostLinksLeft: 1, failures: [] });
    for (const n of orphanHosts) expect(hostLink(n)).toBeUndefined();
    for (const ns of orphanNs.slice(0, 2)) expect(podLinks(ns)).toEqual([]); // the pod ends went with the host ends
    expect(hostLink(bareHost)?.ifalias).toMatch(new RegExp(`^vcni:${bare.p.containerId.slice(0, 12)}:eth0:veth:`));
    // The runtime's DEL of that pod (its netns going) takes the pair with it: the kernel tears a netns down
    // in deferred work, so the host end goes some time after `ip netns del` returned.
    deleteNetns(orphanNs[2]!);
    await until(`host end ${bareHost} gone with its pod netns`, () => hostLink(bareHost) === undefined);
    expect(await h.state(liveNs)).toEqual(clean);
    expect([FOREIGN, IMPOSTOR, OTHER].map(anyLink)).toEqual(foreignBefore);
    for (const p of live) await a.manager.check(p);
    // Nothing left to do the second time.
    expect(await a.state.sweep()).toMatchObject({ attachments: 0, interfaces: 0, sockets: 0, appNamespaces: 0, hostLinks: 0, hostLinksLeft: 0 });
    for (const p of live) await h.del(p);
    for (const ns of [...liveNs, ...orphanNs]) deleteNetns(ns);
    // Someone else's objects go (the next tests count this run's host ends, the impostor's alias included).
    await delRoute(h.vpp, foreignRoute!);
    for (const n of [FOREIGN, IMPOSTOR, OTHER]) {
      await h.vpp.request(afp.af_packet_delete, { host_if_name: n }).catch(() => undefined);
      ipCmd('link', 'del', 'dev', n);
      made.delete(n);
    }
  }, 90_000);

  test('sweep: an ADD that died between af_packet create and its tag, without an intent, is removed (af_packet, host end)', async () => {
    await h.startAgent({ interfaceMode: 'veth' });
    const a = h.agent!;
    await a.node.unnumberedLoopback();
    const ns = createNetns('vd');
    const baseline = await h.state([ns]);
    const p = h.pod(ns, 'tun');
    expect(await outsideAddDyingAt(p, (s) => s === 'af_packet tag')).toBe('af_packet tag');
    const hostIfName = vethHostName(p.containerId, p.ifName);
    expect((await h.vppState()).untaggedPodLike).toEqual([`host-${hostIfName}`]);
    expect(hostLink(hostIfName)?.ifalias).toMatch(new RegExp(`^vcni:${p.containerId.slice(0, 12)}:eth0:veth:`));
    // And an untagged af_packet on a name of ours whose host end is gone.
    const goneName = vethHostName(`${RUN}9999`, 'eth0');
    vethPair(goneName, `vgp${process.pid}`);
    await createAfPacket(goneName);
    ipCmd('link', 'del', 'dev', goneName);
    expect((await h.vppState()).untaggedPodLike).toEqual([`host-${goneName}`, `host-${hostIfName}`].sort());

    const r = await a.state.sweep();
    expect(r).toMatchObject({ attachments: 1, interfaces: 2, hostLinks: 1, failures: [] });
    expect(await h.state([ns])).toEqual(baseline);
    expect(hostLink(hostIfName)).toBeUndefined();
    expect(podLinks(ns)).toEqual([]);
    deleteNetns(ns);
  }, 60_000);

  test('agent restart: veth attachments adopted with no VPP call and the same pairs; one whose host end was removed is made again', async () => {
    await h.startAgent({ interfaceMode: 'veth' });
    const { namespaces, pods } = await addPods(10);
    expect(new Set(h.agent!.manager.records.map((r) => r.kind))).toEqual(new Set(['veth']));
    expect(h.agent!.manager.records.filter((r) => r.objects.veth!.l2)).toHaveLength(2);
    const before = await h.state(namespaces);
    const indexes = hostIndexes();
    expect(Object.keys(indexes)).toHaveLength(pods.length);
    const records = h.agent!.manager.records;
    const file = readFileSync(join(h.stateDir, CHECKPOINT_FILE), 'utf8');
    await h.stopAgent();

    const calls = await h.mutations(() => h.startAgent({ interfaceMode: 'veth' }));
    expect(calls).toEqual({});
    const a = h.agent!;
    expect(a.state.stats.reconcile).toMatchObject({ adopted: pods.length, recreated: 0, deleted: 0, rolledBack: 0, failed: [] });
    expect(a.state.stats.sweep).toMatchObject({ attachments: 0, interfaces: 0, hostLinks: 0 });
    expect(a.manager.records).toEqual(records);
    expect(readFileSync(join(h.stateDir, CHECKPOINT_FILE), 'utf8')).toBe(file);
    expect(await h.state(namespaces)).toEqual(before);
    expect(hostIndexes()).toEqual(indexes); // the pairs were not made again
    for (const p of pods) await a.manager.check(p);
    expect(await h.add(pods[0]!)).toEqual(records.find((r) => r.containerId === pods[0]!.containerId)!.result);
    await h.stopAgent();

    // Someone removed a host end (and with it the pod's eth0) behind the agent's back.
    const victim = records.find((r) => r.containerId === pods[1]!.containerId)!;
    ipCmd('link', 'del', 'dev', victim.objects.veth!.hostIfName);
    await h.startAgent({ interfaceMode: 'veth' });
    expect(h.agent!.state.stats.reconcile).toMatchObject({ adopted: pods.length - 1, recreated: 1, failed: [] });
    expect(await h.state(namespaces)).toEqual(before);
    const now = hostIndexes();
    expect(now[victim.objects.veth!.hostIfName]).not.toBe(indexes[victim.objects.veth!.hostIfName]);
    expect(Object.entries(now).filter(([n]) => n !== victim.objects.veth!.hostIfName)).toEqual(Object.entries(indexes).filter(([n]) => n !== victim.objects.veth!.hostIfName));
    for (const p of pods) await h.agent!.manager.check(p);

    for (const p of pods) await h.del(p);
    expect(hostIndexes()).toEqual({});
    for (const ns of namespaces) expect(podLinks(ns)).toEqual([]);
    for (const ns of namespaces) deleteNetns(ns);
  }, 120_000);

  test('checkpoint lost: veth records rebuilt from the tagged af_packets and the host ends, equal in substance; a half-made one is removed', async () => {
    await h.startAgent({ interfaceMode: 'veth' });
    await h.agent!.node.unnumberedLoopback();
    await h.agent!.node.sessionEnabled();
    const baselineNs = createNetns('vb');
    const baseline = await h.state([baselineNs]);
    const { namespaces, pods } = await addPods(5);
    const original = h.agent!.manager.records;
    const before = await h.state(namespaces);
    const indexes = hostIndexes();
    // An ADD that died after tagging its af_packet, before its neighbors and routes.
    const halfNs = createNetns('vb');
    const half = h.pod(halfNs, 'tun');
    expect(await outsideAddDyingAt(half, (s) => s.startsWith('neighbor '))).toMatch(/^neighbor /);
    const halfHost = vethHostName(half.containerId, half.ifName);
    expect(hostLink(halfHost)).toBeDefined();
    await h.stopAgent();
    writeFileSync(join(h.stateDir, CHECKPOINT_FILE), '{"version":1,"attachments":[{"containerId":');

    const calls = await h.mutations(() => h.startAgent({ interfaceMode: 'veth', sweepAtStart: false }));
    const a = h.agent!;
    // The half-made attachment's af_packet (and its host end) removed; nothing else touched.
    expect(calls).toEqual({ af_packet_delete: 1 });
    expect(a.state.stats.reconcile).toMatchObject({ rebuilt: pods.length, adopted: pods.length, rebuildRemoved: 1, failed: [] });
    expect(hostLink(halfHost)).toBeUndefined();
    expect(podLinks(halfNs)).toEqual([]);
    expect(await h.state(namespaces)).toEqual(before);
    expect(hostIndexes()).toEqual(indexes);

    const substance = (r: AttachmentRecord): unknown => {
      const v = r.objects.veth!;
      return {
        kind: r.kind,
        netns: r.netns,
        pod: r.pod,
        ips: r.ips.map((i) => `${i.address.split('/')[0]}/32`),
        veth: { swIfIndex: v.swIfIndex, tag: v.tag, hostIfName: v.hostIfName, podIfName: v.podIfName, podMac: v.podMac, vppMac: v.vppMac, l2: v.l2, isl3: v.spec.isl3 },
        neighbors: r.objects.neighbors,
        routes: r.objects.routes,
        memif: r.objects.memif && { swIfIndex: r.objects.memif.swIfIndex, socketFilename: r.objects.memif.socketFilename, ports: r.objects.memif.ports },
        pbl: r.objects.pbl,
        vcl: r.objects.vcl?.namespaceId,
        // The CNI result's addresses and routes are the IPAM's, which VPP does not hold (as for taps).
        interfaces: r.result.interfaces,
      };
    };
    for (const p of pods) {
      const was = original.find((r) => r.containerId === p.containerId)!;
      const rec = a.manager.records.find((r) => r.containerId === p.containerId.slice(0, 12) && r.ifName === p.ifName)!;
      expect(rec.rebuilt).toBe(true);
      expect(substance(rec)).toEqual(substance(was));
      await a.manager.check(p);
      expect((await h.add(p)).interfaces.map((i) => i.name)).toEqual(was.result.interfaces.map((i) => i.name));
    }
    for (const p of pods) await h.del(p);
    expect(a.manager.records).toEqual([]);
    expect(hostIndexes()).toEqual({});
    expect((await h.state([baselineNs])).vpp).toEqual(baseline.vpp);
    for (const ns of namespaces) expect(podLinks(ns)).toEqual([]);
    for (const ns of [...namespaces, halfNs, baselineNs]) deleteNetns(ns);
  }, 120_000);

  test('agent killed between af_packet create and its tag: the reconcile undoes the ADD (af_packet and pair), the retry succeeds', async () => {
    const crasher = new Crasher();
    await h.startAgent({ interfaceMode: 'veth', stepHook: crasher.hook });
    await h.agent!.node.unnumberedLoopback();
    const ns = createNetns('vk');
    const baseline = await h.state([ns]);
    const p = h.pod(ns, 'tun');
    const reached = crasher.arm('af_packet tag');
    h.add(p).catch(() => undefined); // never settles: the agent "dies" at the step
    expect(await reached).toBe('af_packet tag');
    await h.stopAgent();
    expect(readCheckpoint(h.stateDir).intents.map((i) => i.op)).toEqual(['add']);
    const hostIfName = vethHostName(p.containerId, p.ifName);
    expect((await h.vppState()).untaggedPodLike).toEqual([`host-${hostIfName}`]);
    expect(hostLink(hostIfName)).toBeDefined();
    expect(podLinks(ns).map((l) => l.split(' ')[0])).toEqual(['eth0']);

    await h.startAgent({ interfaceMode: 'veth', sweepAtStart: false });
    const a = h.agent!;
    expect(a.state.stats.reconcile?.rolledBack).toBe(1);
    expect(await h.state([ns])).toEqual(baseline);
    expect(hostLink(hostIfName)).toBeUndefined();
    expect(readCheckpoint(h.stateDir)).toEqual({ version: 1, attachments: [], intents: [] });
    // The runtime retries the ADD.
    await h.add(p);
    expect(recordOf(p)?.kind).toBe('veth');
    await a.manager.check(p);
    await h.del(p);
    expect(await h.state([ns])).toEqual(baseline);
    deleteNetns(ns);
  }, 60_000);
  test('VPP restart: veth attachments made again (auto mode) — new af_packets, host ends replaced, pod eth0 as before, CHECK clean', async () => {
    await h.startAgent({ interfaceMode: 'auto' });
    const { namespaces, pods } = await addPods(5);
    const a = h.agent!;
    expect(a.network.interfaceMode.status()).toMatchObject({ setting: 'auto', mode: 'veth' });
    expect(a.manager.records.map((r) => r.kind)).toEqual(pods.map(() => 'veth'));
    const before = await h.state(namespaces);
    const indexes = hostIndexes();
    const pidBefore = h.sim.vpePid;
    h.logs.length = 0;

    h.sim.restart();
    await h.recovered();
    expect(h.sim.vpePid).not.toBe(pidBefore);
    expect(a.state.stats.recovery).toMatchObject({ recreated: pods.length, dropped: 0, failed: [] });
    expect(a.state.stats.recoveryFailures).toBe(0);
    expect(a.notReady()).toBeUndefined();

    const afPackets = new Map((await h.vpp.dumpAll(afp.af_packet_dump, {})).map((x) => [x.sw_if_index, x.host_if_name]));
    const now = hostIndexes();
    for (const p of pods) {
      const rec = recordOf(p)!;
      expect(rec.kind).toBe('veth');
      const v = rec.objects.veth!;
      expect(v.hostIfName).toBe(vethHostName(p.containerId, p.ifName));
      expect(afPackets.get(v.swIfIndex)).toBe(v.hostIfName);
      expect(now[v.hostIfName]).toBeDefined();
      expect(now[v.hostIfName]).not.toBe(indexes[v.hostIfName]); // the old host end was removed and the pair made again
      await a.manager.check(p);
    }
    expect(await h.state(namespaces)).toEqual(before);
    // The old host ends were removed before each ADD (not found in its way by the veth driver).
    expect(h.logs.filter((l) => /replacing the host end/.test(String(l.msg)))).toEqual([]);
    // Nothing stray: no orphan for the sweep.
    expect(await a.state.sweep()).toMatchObject({ attachments: 0, interfaces: 0, sockets: 0, appNamespaces: 0, hostLinks: 0, hostLinksLeft: 0 });

    for (const p of pods) await h.del(p);
    expect(hostIndexes()).toEqual({});
    const v = await h.vppState();
    expect(v.interfaces.filter((i) => i.startsWith(`vcni:${RUN}`))).toEqual([]);
    expect(v.untaggedPodLike).toEqual([]);
    for (const ns of namespaces) expect(podLinks(ns)).toEqual([]);
    for (const ns of namespaces) deleteNetns(ns);
  }, 120_000);

  test('DEL while a VPP restart recovery runs: the pair goes at once, the record for good; the others are made again', async () => {
    await h.startAgent({ interfaceMode: 'veth', concurrency: 1 });
    const a = h.agent!;
    const { namespaces, pods } = await addPods(3);
    const before = await h.state(namespaces);
    const [first, gone, kept] = [pods[0]!, pods[1]!, pods[2]!];
    const goneHost = recordOf(gone)!.objects.veth!.hostIfName;
    // Hold the recovery on its first af_packet: the other records wait, stale.
    h.sim.faults.delay('af_packet_create_v3', 300);
    h.sim.restart();
    await until('the agent to start recovering', () => !!a.notReady()?.includes('recovering'), 10_000, 5);
    h.logs.length = 0;
    await h.del(gone); // the record is stale: the Linux side only
    expect(h.logs.filter((l) => l.step === 'del' && /not trusted/.test(String(l.msg))).map((l) => l.containerID)).toEqual([gone.containerId]);
    expect(hostLink(goneHost)).toBeUndefined();
    expect(podLinks(namespaces[1]!)).toEqual([]);
    h.sim.faults.clear();
    await h.recovered();
    expect(a.state.stats.recovery).toMatchObject({ recreated: 2, failed: [] });
    expect(a.manager.records.map((r) => r.containerId).sort()).toEqual([first.containerId, kept.containerId].sort());
    expect(hostLink(goneHost)).toBeUndefined();
    const after = await h.state([namespaces[0]!, namespaces[2]!]);
    const cid = gone.containerId.slice(0, 12);
    const ipGone = gone.ips[0]!.address.split('/')[0]!;
    const notGone = (l: string): boolean => !l.includes(cid) && !l.startsWith(`${ipGone}/`) && l !== ipGone && !l.endsWith(`netns_name=${gone.netns}`);
    expect(after).toEqual({
      vpp: Object.fromEntries(Object.entries(before.vpp).map(([k, v]) => [k, (v as string[]).filter(notGone)])),
      linux: Object.fromEntries(Object.entries(before.linux).filter(([k]) => k !== namespaces[1]!.name)),
      host: before.host.filter((l) => !l.startsWith(goneHost)),
    });
    for (const p of [first, kept]) await a.manager.check(p);
    expect(await a.state.sweep()).toMatchObject({ attachments: 0, interfaces: 0, hostLinks: 0 });
    for (const p of [first, kept]) await h.del(p);
    expect(hostIndexes()).toEqual({});
    for (const ns of namespaces) deleteNetns(ns);
  }, 120_000);
});
