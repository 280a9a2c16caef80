/**
 * The conformance suite of the pod interface kinds: one set of cases run for every registered kind (each
 * through a pod that makes it), against the simulator (kernel taps) and real network namespaces:
 *  - ADD, CHECK clean, DEL back to the state before (VPP by dumps, the pod netns, the host links); DEL twice;
 *  - DEL with the pod netns already gone;
 *  - a failure injected at every step of the ADD leaves nothing behind and names the step (each prefix of
 *    steps once per run: a pod whose ADD runs the steps an earlier pod failed at, with the same interface
 *    mode and eth0 spec, is failed only at the steps that are new — test/helpers/step-prefixes.ts);
 *  - adoption after an agent restart: every kind's `verify` against a fresh inventory finds nothing, with
 *    no mutating VPP message sent;
 *  - what every kind lists as ours in the inventory (`owned`) holds the record's slice under its owner (the
 *    data a rebuild from tags starts from), and removing those orphans through the kinds' `delete` leaves
 *    VPP as before;
 *  - the state layer over the same registry (agent/state, with a store in memory and the host netns scoped
 *    to this run): re-creation after a VPP restart makes every slice again, CHECK is clean and DEL leaves
 *    the state as before; a lost checkpoint is rebuilt from tags with every slice and adopted without a
 *    change; the sweep removes an attachment no record holds, back to the state before.
 * A test-only kind (conformance/loop-kind.ts) is registered with one line and runs the same cases.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as iface from '../../vpp-api/generated/interface.js';
import * as memif from '../../vpp-api/generated/memif.js';
import * as pbl from '../../vpp-api/generated/pbl.js';
import type { VppClient } from '../../vpp-api/client/index.js';
import type { VppSimulator } from '../../vpp-api/sim/index.js';
import { kernelTun } from '../../vpp-api/sim/kernel-host.js';
import { LinuxNetns } from '../../agent/linux/netns.js';
import { ANN } from '../../agent/pod/annotations.js';
import type { AttachRequest } from '../../agent/pod/attachment.js';
import type { PodInterfaceConfig, PodInterfaceModeSetting } from '../../agent/pod/interface-spec.js';
import { takeInventory } from '../../agent/pod/inventory.js';
import { podKindRegistry } from '../../agent/pod/kinds/index.js';
import { vethHostName } from '../../agent/pod/kinds/veth-names.js';
import type { NodeResources } from '../../agent/pod/node-resources.js';
import { PodNetwork } from '../../agent/pod/pod-network.js';
import { recordSchemaFor } from '../../agent/pod/record.js';
import { StepError } from '../../agent/pod/transaction.js';
import { neighborTable, routeTable, startPodLayerSim } from '../helpers/pod-layer.js';
import { createNetns, deleteAllNetns, deleteNetns, haveRoot, linuxState, type TestNetns } from '../helpers/netns.js';
import { isReadOnly } from '../state/harness.js';
import { setSnatAddresses, setSnatPolicyK8s } from '../../agent/vpp/cnat.js';
import { pblCloneIds } from '../../agent/vpp/pbl.js';
import { TEST_LOOP_ANNOTATION, testLoopKind } from './conformance/loop-kind.js';
import type { AttachmentRecord } from '../../agent/pod/record.js';
import { keyOf, type StateContext, type StateStore } from '../../agent/state/context.js';
import { reconcile } from '../../agent/state/reconcile.js';
import { recoverAfterVppRestart } from '../../agent/state/recovery.js';
import { sweepOrphans } from '../../agent/state/sweep.js';
import { MemoryPods } from '../state/harness.js';
import { ScopedHostNetns } from '../state/scoped-netns.js';
import { StepPrefixes } from '../helpers/step-prefixes.js';
import { silentLogger } from '../../lib/logger.js';

const root = haveRoot();
const d = root ? describe : describe.skip;

/** The registry under test: the pod kinds, plus the test-only kind — one line. */
const kinds = podKindRegistry([testLoopKind]);

const dir = mkdtempSync(join(tmpdir(), 'vcni-conf-'));
let sim: VppSimulator;
let vpp: VppClient;
let node: NodeResources;
const cfg: PodInterfaceConfig = {
  gates: { memifEnabled: true, vclEnabled: true, multinetEnabled: true },
  defaults: { rx: 1, tx: 1, rxqsz: 1024, txqsz: 1024 },
  limits: { rx: 4, tx: 4, rxqsz: 4096, txqsz: 4096 },
  mtu: 1400,
  // Services in VPP: eth0 joins cnat's POD table (the pod-cnat kind).
  servicesInVpp: true,
};
const silent = silentLogger;
/** Container ids of this run start with it (host veth names derive from them). */
const RUN = `c0f${(process.pid % 0xffff).toString(16).padStart(4, '0')}`;

interface Pod {
  name: string;
  mode: PodInterfaceModeSetting;
  annotations: Record<string, string>;
  ifName: string;
}

/** One pod per kind it exercises; together they make every registered kind (checked below). */
const PODS: Pod[] = [
  { name: 'tun', mode: 'tun', annotations: {}, ifName: 'eth0' },
  { name: 'tap (L2): tun kind with pinned neighbors', mode: 'tun', annotations: { [ANN.interfacesSpec]: '{"eth0":{"isl3":false}}' }, ifName: 'eth0' },
  { name: 'veth', mode: 'veth', annotations: {}, ifName: 'eth0' },
  { name: 'PBL memif (and its PBL clients)', mode: 'tun', annotations: { [ANN.extraMemifPorts]: 'tcp:8080,udp:4444-4450' }, ifName: 'eth0' },
  { name: 'multinet memif (and its dummy)', mode: 'tun', annotations: {}, ifName: 'memif1' },
  { name: 'veth + PBL memif + VCL', mode: 'veth', annotations: { [ANN.extraMemifPorts]: 'tcp:8080', [ANN.vcl]: 'enable' }, ifName: 'eth0' },
  { name: 'tun + PBL memif + VCL', mode: 'tun', annotations: { [ANN.extraMemifPorts]: 'tcp:4444-20000,udp:4444-20000', [ANN.vcl]: 'enable' }, ifName: 'eth0' },
  { name: 'tap (L2) + PBL memif', mode: 'tun', annotations: { [ANN.interfacesSpec]: '{"eth0":{"isl3":false}}', [ANN.extraMemifPorts]: 'tcp:8080' }, ifName: 'eth0' },
  { name: 'test-only kind', mode: 'tun', annotations: { [TEST_LOOP_ANNOTATION]: 'yes' }, ifName: 'eth0' },
];

function network(p: Pod, stepHook?: (s: string) => void): PodNetwork {
  return new PodNetwork({ vpp, netns: new LinuxNetns(), node, cfg: { ...cfg, interfaceMode: p.mode }, log: silent }, { kinds, ...(stepHook ? { stepHook } : {}) });
}

let n = 0;
function request(ns: TestNetns, p: Pod, ips?: AttachRequest['ips']): AttachRequest {
  n++;
  return {
    containerId: `${RUN}${String(n).padStart(5, '0')}abcdef0123456789`,
    ifName: p.ifName,
    netns: ns.path,
    pod: { namespace: 'conf', name: `pod-${n}` },
    ips: ips ?? [{ address: `10.246.${n >> 8}.${n & 0xff}/24` }],
    routes: [{ dst: '0.0.0.0/0' }],
    annotations: p.annotations,
    network: 'vpp-cni',
  };
}

/** The host end a veth of `req` would have, when it exists (other test files make host links of their own). */
function hostVeth(req: AttachRequest): string[] {
  const links = JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8', timeout: 10_000 })) as { ifname: string }[];
  const name = vethHostName(req.containerId, req.ifName);
  return links.map((l) => l.ifname).filter((x) => x === name);
}

function dropHostVeth(req: AttachRequest): void {
  try {
    execFileSync('ip', ['link', 'del', 'dev', vethHostName(req.containerId, req.ifName)], { stdio: 'ignore', timeout: 10_000 });
  } catch {
    // not there
  }
}

async function vppState(): Promise<Record<string, string[]>> {
  const ifs = await vpp.dumpAll(iface.sw_interface_dump, {});
  const appns = (await vpp.cli('show app ns')).replace(/\u001b\[[0-9;]*m/g, '').split('\n').filter((l) => l.includes('vcni-'));
  return {
    interfaces: ifs.map((i) => `${i.sw_if_index} ${i.interface_name} flags=${i.flags} tag=${i.tag}`).sort(),
    sockets: (await vpp.dumpAll(memif.memif_socket_filename_dump, {})).map((s) => `${s.socket_id} ${s.socket_filename}`).sort(),
    pbl: (await vpp.dumpAll(pbl.pbl_client_dump, {})).map((c) => `${c.client.id} ${c.client.addr}`).sort(),
    routes: await routeTable(vpp),
    neighbors: await neighborTable(vpp),
    appns,
    // cnat's SNAT policy: the POD and HOST tables by interface name.
    cnat: (await vpp.cli('show cnat snat-policy')).split('\n'),
  };
}

beforeAll(async () => {
  if (!root) return;
  ({ sim, vpp, node } = await startPodLayerSim(dir, kernelTun()));
  // What the node dataplane sets up before any pod joins cnat's POD table (calls before it answer FEATURE_DISABLED).
  await setSnatAddresses(vpp, '192.168.10.1', undefined);
  await setSnatPolicyK8s(vpp);
});

afterEach(() => {
  // pbl_client_del of a PBL FIB clone crashes the real VPP; the simulator aborts and records it. No path may do it.
  if (root) expect(sim.aborts.filter((a) => /FIB clone/.test(a.reason))).toEqual([]);
});

afterAll(async () => {
  deleteAllNetns();
  await vpp?.close();
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Records in memory: the store the state layer is given here. */
class MemoryStore implements StateStore {
  readonly records = new Map<string, AttachmentRecord>();
  all(): AttachmentRecord[] {
    return [...this.records.values()];
  }
  get(key: string): AttachmentRecord | undefined {
    return this.records.get(key);
  }
  put(rec: AttachmentRecord): Promise<void> {
    this.records.set(keyOf(rec), rec);
    return Promise.resolve();
  }
  delete(key: string): Promise<void> {
    this.records.delete(key);
    return Promise.resolve();
  }
}

/** The state layer as the agent runs it, on this pod's registry, a store in memory and the host netns of this run. */
function stateContext(p: Pod, store: StateStore, pods = new MemoryPods()): StateContext {
  const host = new ScopedHostNetns(RUN);
  const podCfg = { ...cfg, interfaceMode: p.mode };
  const network = new PodNetwork({ vpp, netns: host, node, cfg: podCfg, log: silent }, { kinds });
  return { vpp, netns: host, node, cfg: podCfg, network, store, pods, exclusive: (_cid, fn) => fn(), log: silent };
}

/** Each slice of a record by kind, as the identities of what it holds (indexes, ids, prefixes, names). */
function sliceIds(rec: AttachmentRecord): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const [k, slice] of Object.entries(rec.objects as Record<string, unknown>)) {
    if (slice === undefined || (Array.isArray(slice) && slice.length === 0)) continue;
    out[k] = (Array.isArray(slice) ? slice : [slice])
      .map((o) => {
        if (typeof o !== 'object' || o === null) return o;
        const x = o as { swIfIndex?: number; loopSwIfIndex?: number; id?: number; prefix?: string; ip?: string; tables?: { tableId: number }[] };
        return x.prefix ?? x.swIfIndex ?? x.loopSwIfIndex ?? x.id ?? x.ip ?? x.tables?.map((t) => t.tableId).join(',');
      })
      .sort();
  }
  return out;
}

/** Resolves at the client's next report of a VPP restart. */
function nextRestart(): Promise<void> {
  return new Promise((resolve) => {
    const off = vpp.onRestart(() => {
      off();
      resolve();
    });
  });
}

/** The step prefixes failed at so far in this run (test/helpers/step-prefixes.ts). */
const prefixes = new StepPrefixes();

/** The kinds each pod makes (the slices of its record). */
const made = new Map<string, string[]>();

d.each(PODS)('kind conformance: $name', (p) => {
  test('ADD, CHECK, adoption without changes, owned objects, DEL back to before, DEL again', async () => {
    const ns = createNetns('c');
    const req = request(ns, p);
    try {
      const before = { vpp: await vppState(), linux: linuxState(ns), host: hostVeth(req) };
      const net = network(p);
      const rec = await net.add(req);
      made.set(p.name, Object.keys(rec.objects).filter((k) => (rec.objects as Record<string, unknown>)[k] !== undefined));
      // The record as the checkpoint reads it back (every slice by its kind's schema).
      expect(recordSchemaFor(kinds).parse(JSON.parse(JSON.stringify(rec)))).toEqual(rec);
      await expect(net.check(rec)).resolves.toEqual([]);
      // The pod address is routed: PBL has made a FIB clone of each client (another id, same address), none recorded.
      const pblIds = (rec.objects.pbl ?? []).map((c) => c.id);
      if (pblIds.length > 0) {
        const clones = await pblCloneIds(vpp);
        expect({ clones: clones.size, recordedClones: pblIds.filter((id) => clones.has(id)) }).toEqual({ clones: pblIds.length, recordedClones: [] });
      }

      // Adoption: one inventory, every kind's verify, nothing sent that changes VPP.
      const mutations: string[] = [];
      const off = sim.onRequest((m) => void (isReadOnly(m) ? undefined : mutations.push(m)));
      const inv = await takeInventory(vpp, new LinuxNetns());
      expect(kinds.verify(net.contextFor(rec), rec.objects, inv)).toEqual([]);
      off();
      expect(mutations).toEqual([]);

      // What the kinds list as ours holds each slice the inventory can see, under the attachment's owner.
      const owner = net.contextFor(rec).attachment.owner.key;
      const found = kinds.owned(inv);
      const slices = rec.objects as Record<string, unknown>;
      for (const k of kinds.all()) {
        const slice = slices[k.name];
        if (slice === undefined || (Array.isArray(slice) && slice.length === 0) || k.name === 'dummy') continue;
        const mine = (found.get(k.name) ?? []).filter((f) => f.owner === owner);
        expect({ kind: k.name, found: mine.length > 0 }).toEqual({ kind: k.name, found: true });
        const ids = (x: unknown): unknown[] => (Array.isArray(x) ? x : [x]).map((o) => (o as { swIfIndex?: number; id?: number; loopSwIfIndex?: number; prefix?: string; ip?: string }).swIfIndex ?? (o as { loopSwIfIndex?: number }).loopSwIfIndex ?? (o as { id?: number }).id);
        expect({ kind: k.name, ids: mine.flatMap((f) => ids(f.made)).sort() }).toEqual({ kind: k.name, ids: ids(slice).sort() });
      }

      await net.del(rec);
      expect({ vpp: await vppState(), linux: linuxState(ns), host: hostVeth(req) }).toEqual(before);
      await net.del(rec); // idempotent: everything is already gone
      expect(await vppState()).toEqual(before.vpp);
    } finally {
      dropHostVeth(req);
      deleteNetns(ns);
    }
  });

  test('DEL with the pod netns already gone removes the VPP side and the host links', async () => {
    const ns = createNetns('g');
    const req = request(ns, p);
    try {
      const before = { vpp: await vppState(), host: hostVeth(req) };
      const net = network(p);
      const rec = await net.add(req);
      deleteNetns(ns);
      await net.del(rec);
      expect({ vpp: await vppState(), host: hostVeth(req) }).toEqual(before);
    } finally {
      dropHostVeth(req);
      deleteNetns(ns);
    }
  });

  test('orphans: what the kinds list as ours, removed through their delete, leaves VPP as before', async () => {
    const ns = createNetns('o');
    const req = request(ns, p);
    try {
      const before = await vppState();
      const net = network(p);
      const rec = await net.add(req);
      // The record is lost (as in a crash): the objects are found by marker only, and removed by kind, newest first.
      const inv = await takeInventory(vpp, new LinuxNetns());
      const owner = net.contextFor(rec).attachment.owner.key;
      const found = kinds.owned(inv);
      for (const k of [...kinds.all()].reverse()) {
        for (const f of found.get(k.name) ?? []) if (f.owner === owner) await k.delete(net.contextFor(rec), f.made);
      }
      expect(await vppState()).toEqual(before);
    } finally {
      dropHostVeth(req);
      deleteNetns(ns);
    }
  });

  test('VPP restart: the recovery makes every slice again from the record, CHECK is clean, DEL leaves the state as before', async () => {
    const ns = createNetns('r');
    const req = request(ns, p);
    const store = new MemoryStore();
    const c = stateContext(p, store);
    try {
      const linuxBefore = linuxState(ns);
      const rec = await c.network.add(req);
      await store.put(rec);
      const restarted = nextRestart();
      sim.restart();
      await restarted;
      // The caller of the recovery resets the node objects (agent/agent.ts); made again here before the snapshot.
      node.reset();
      await node.unnumberedLoopback();
      await node.sessionEnabled();
      // The node dataplane makes cnat's SNAT base again too (beforeAll); without it the pod-cnat step answers FEATURE_DISABLED.
      await setSnatAddresses(vpp, '192.168.10.1', undefined);
      await setSnatPolicyK8s(vpp);
      const before = { vpp: await vppState(), linux: linuxBefore, host: [] };
      const report = await recoverAfterVppRestart(c, { stale: new Set(), fresh: new Set(), onFailed: () => undefined });
      expect({ recreated: report.recreated, dropped: report.dropped, failed: report.failed }).toEqual({ recreated: 1, dropped: 0, failed: [] });
      const again = store.get(keyOf(rec))!;
      expect(Object.keys(sliceIds(again)).sort()).toEqual(Object.keys(sliceIds(rec)).sort());
      await expect(c.network.check(again)).resolves.toEqual([]);
      expect(kinds.verify(c.network.contextFor(again), again.objects, await takeInventory(vpp, c.netns))).toEqual([]);
      await c.network.del(again);
      expect({ vpp: await vppState(), linux: linuxState(ns), host: hostVeth(req) }).toEqual(before);
    } finally {
      dropHostVeth(req);
      deleteNetns(ns);
    }
  });

  test('rebuild from tags: a lost checkpoint is rebuilt with every slice, adopted without a change, and its DEL leaves the state as before', async () => {
    const ns = createNetns('b');
    const req = request(ns, p);
    const store = new MemoryStore();
    const pods = new MemoryPods();
    const c = stateContext(p, store, pods);
    try {
      const before = { vpp: await vppState(), linux: linuxState(ns), host: hostVeth(req) };
      const rec = await c.network.add(req); // the checkpoint is lost: the store never holds it
      pods.set({ namespace: req.pod.namespace, name: req.pod.name, annotations: req.annotations });
      const mutations: string[] = [];
      const off = sim.onRequest((m) => void (isReadOnly(m) ? undefined : mutations.push(m)));
      const report = await reconcile(c, { stale: new Set(), rebuild: true, onFailed: () => undefined });
      off();
      expect({ rebuilt: report.rebuilt, adopted: report.adopted, recreated: report.recreated, removed: report.rebuildRemoved, failed: report.failed }).toEqual({ rebuilt: 1, adopted: 1, recreated: 0, removed: 0, failed: [] });
      expect(mutations).toEqual([]);
      const rebuilt = store.all();
      expect(rebuilt.map((r) => r.containerId)).toEqual([req.containerId.slice(0, 12)]);
      expect(sliceIds(rebuilt[0]!)).toEqual(sliceIds(rec));
      await c.network.del(rebuilt[0]!);
      expect({ vpp: await vppState(), linux: linuxState(ns), host: hostVeth(req) }).toEqual(before);
    } finally {
      dropHostVeth(req);
      deleteNetns(ns);
    }
  });

  test('sweep: an attachment no record holds is removed, VPP, the pod netns and the host as before', async () => {
    const ns = createNetns('s');
    const req = request(ns, p);
    const c = stateContext(p, new MemoryStore());
    try {
      const before = { vpp: await vppState(), linux: linuxState(ns), host: hostVeth(req) };
      await c.network.add(req); // no record holds it: an orphan
      const report = await sweepOrphans(c, { stale: new Set() });
      expect({ attachments: report.attachments, failures: report.failures }).toEqual({ attachments: 1, failures: [] });
      expect({ vpp: await vppState(), linux: linuxState(ns), host: hostVeth(req) }).toEqual(before);
    } finally {
      dropHostVeth(req);
      deleteNetns(ns);
    }
  });

  test('a failure injected at every step of the ADD leaves nothing behind and names the step', async () => {
    const ns = createNetns('f');
    const probeReq = request(ns, p);
    try {
      const steps: string[] = [];
      const probe = network(p, (s) => void steps.push(s));
      await probe.del(await probe.add(probeReq));
      expect(steps.length).toBeGreaterThan(3);
      const before = { vpp: await vppState(), linux: linuxState(ns) };
      const ips = probeReq.ips.map((a) => a.address.split('/')[0]!);
      let injected = 0;
      for (let i = 0; i < steps.length; i++) {
        // A prefix of steps an earlier pod already failed at (same mode and eth0 spec) is the same case.
        if (!prefixes.firstTime(`${p.mode} ${p.annotations[ANN.interfacesSpec] ?? ''}`, steps, i, ips)) continue;
        injected++;
        let k = 0;
        const net = network(p, (s) => {
          if (k++ === i) throw new Error(`injected failure at ${s}`);
        });
        const req = request(ns, p, probeReq.ips); // same addresses: same step names
        try {
          const err = await net.add(req).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(StepError);
          expect({ step: (err as StepError).step, undoFailures: (err as StepError).undoFailures }).toEqual({ step: steps[i], undoFailures: [] });
          expect((err as Error).message).toContain(`pod conf/${req.pod.name} (container ${req.containerId.slice(0, 12)}, ${p.ifName}): step "${steps[i]}" failed`);
          expect({ step: steps[i], state: { vpp: await vppState(), linux: linuxState(ns), host: hostVeth(req) } }).toEqual({ step: steps[i], state: { ...before, host: [] } });
        } finally {
          dropHostVeth(req);
        }
      }
      // Every pod of the suite brings a step no earlier pod reached (else it is not needed here).
      expect(injected).toBeGreaterThan(0);
    } finally {
      dropHostVeth(probeReq);
      deleteNetns(ns);
    }
  }, 120_000);
});

d('the suite covers the registry', () => {
  test('every registered kind is made by some pod of the suite (a new kind needs a pod here)', () => {
    const covered = new Set([...made.values()].flat());
    expect(kinds.names().filter((k) => !covered.has(k))).toEqual([]);
  });
});
