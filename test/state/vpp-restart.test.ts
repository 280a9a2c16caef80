/**
 * VPP restarts under a running agent (the simulator's restart: all state gone, a new vpe_pid, the pods'
 * taps removed from their netns): every pod's VPP side is made again from the checkpoint — tap back in
 * its netns, memif socket listening again, PBL clients, app namespaces, routes — and VPP and Linux end as
 * they were (indexes aside). ADDs meanwhile get "try again later"; a DEL meanwhile removes the pod for
 * good; a re-creation that fails is logged with the pod, counted and retried until it succeeds.
 */
import * as memif from '../../vpp-api/generated/memif.js';
import { CniFailure } from '../../agent/cni/cni-error.js';
import { createNetns, deleteAllNetns, deleteNetns, haveRoot, linuxState, type TestNetns } from '../helpers/netns.js';
import { Harness, KINDS, type TestPod } from './harness.js';
import { until } from '../helpers/until.js';

const d = haveRoot() ? describe : describe.skip;
const h = new Harness();
const namespaces: TestNetns[] = [];
const pods: TestPod[] = [];

beforeAll(async () => {
  if (!haveRoot()) return;
  await h.start();
  await h.startAgent();
  const kinds = Object.keys(KINDS);
  for (let i = 0; i < 50; i++) {
    const ns = createNetns('v');
    namespaces.push(ns);
    const p = h.pod(ns, kinds[i % kinds.length]!);
    pods.push(p);
    await h.add(p);
  }
}, 120_000);

afterAll(async () => {
  deleteAllNetns();
  if (haveRoot()) await h.close();
});

d('VPP restart', () => {
  test('50 pods: all made again, each memif socket and tap back, VPP and Linux as before', async () => {
    const before = await h.state(namespaces);
    const pidBefore = h.sim.vpePid;
    h.sim.restart();
    await h.recovered();
    expect(h.sim.vpePid).not.toBe(pidBefore);
    const a = h.agent!;
    expect(a.state.stats.recovery).toMatchObject({ recreated: 50, dropped: 0, failed: [] });
    expect(a.state.stats.recoveryFailures).toBe(0);
    expect(a.notReady()).toBeUndefined();

    const sockets = (await h.vpp.dumpAll(memif.memif_socket_filename_dump, {})).map((s) => s.socket_filename);
    for (const p of pods) {
      const rec = a.manager.records.find((r) => r.containerId === p.containerId)!;
      if (rec.objects.memif) expect(sockets).toContain(rec.objects.memif.socketFilename);
      const ns = namespaces.find((n) => n.path === p.netns)!;
      expect(linuxState(ns).links.join('\n')).toContain(`${p.ifName} `);
      await a.manager.check(p);
    }
    expect(await h.state(namespaces)).toEqual(before);
  }, 120_000);

  test('ADD meanwhile answers 11; DEL meanwhile removes the pod for good', async () => {
    const a = h.agent!;
    const before = await h.state(namespaces);
    const gone = pods.pop()!;
    const goneNs = namespaces.pop()!;
    const newNs = createNetns('v');
    const fresh = h.pod(newNs, 'tun');
    // Hold the recovery on its first tap.
    h.sim.faults.delay('tap_create_v3', 300);
    h.sim.restart();
    await until('the agent to start recovering', () => !!a.notReady()?.includes('recovering'), 10_000, 5);
    const err = await h.add(fresh).catch((e: unknown) => e);
    expect((err as CniFailure).code).toBe(11);
    expect((err as Error).message).toMatch(/recovering: making pod interfaces again after a VPP restart/);
    await h.del(gone); // Linux side only: the record is stale
    h.sim.faults.clear();
    await h.recovered();
    expect(a.state.stats.recovery).toMatchObject({ recreated: pods.length, failed: [] });
    expect(a.manager.records.map((r) => r.containerId)).not.toContain(gone.containerId);
    const after = await h.state(namespaces);
    // As before, without the deleted pod.
    const ip = gone.ips[0]!.address.split('/')[0]!;
    const notGone = (l: string): boolean => !l.includes(gone.containerId.slice(0, 12)) && !l.includes(`${ip}/`) && l !== ip && !l.endsWith(`netns_name=${goneNs.path}`);
    const expected = Object.fromEntries(Object.entries(before.vpp).map(([k, v]) => [k, (v as string[]).filter(notGone)]));
    expect(after).toEqual({ vpp: expected, linux: Object.fromEntries(Object.entries(before.linux).filter(([k]) => k !== goneNs.name)), host: before.host });
    expect(after.vpp.interfaces.join('\n')).not.toContain(gone.containerId.slice(0, 12));
    expect(linuxState(goneNs).links.join('\n')).not.toMatch(/eth0|memif1/);
    deleteNetns(goneNs);
    await h.add(fresh);
    await h.del(fresh);
    deleteNetns(newNs);
  }, 120_000);

  test('a pod whose re-creation fails is logged with its pod, counted, and retried until made', async () => {
    const a = h.agent!;
    const before = await h.state(namespaces);
    h.logs.length = 0;
    const failuresBefore = a.state.recoveryFailures;
    // The first two memif creations after the restart fail: two pods fail once, then their retries succeed.
    h.sim.faults.failWith('memif_create_v2', -1, 2);
    h.sim.restart();
    await h.recovered();
    expect(a.state.stats.recovery?.failed).toHaveLength(2);
    expect(a.state.recoveryFailures - failuresBefore).toBe(2);
    const logged = h.logs.filter((l) => l.step === 'recovery' && l.level === 50);
    expect(logged).toHaveLength(2);
    for (const l of logged) expect(l).toMatchObject({ namespace: 'default', pod: expect.stringMatching(/^p\d+$/), containerID: expect.any(String), ifname: expect.any(String), err: expect.stringContaining('memif create') });
    // Retried with backoff until made.
    await until('every failed re-creation retried and made', () => a.state.stats.recoveryPending === 0, 20_000);
    await a.state.settled();
    expect(a.state.stats.recoveryPending).toBe(0);
    expect(a.state.stale.size).toBe(0);
    expect(await h.state(namespaces)).toEqual(before);
    for (const p of pods) await a.manager.check(p);
  }, 120_000);

  test('all pods deleted after the restarts: nothing of them is left', async () => {
    for (const p of pods) await h.del(p);
    const v = await h.vppState();
    expect(v.interfaces.filter((i) => i.startsWith('vcni:') && !i.startsWith('vcni:node:'))).toEqual([]);
    expect({ untagged: v.untaggedPodLike, memifs: v.memifs, sockets: v.sockets.filter((x) => x.startsWith('abstract:')), pbl: v.pbl, appns: v.appns }).toEqual({ untagged: [], memifs: [], sockets: [], pbl: [], appns: [] });
    expect(v.routes.filter((r) => r.includes('vcni:') || r.startsWith('10.77.'))).toEqual([]);
    for (const ns of namespaces) expect(linuxState(ns).links.filter((l) => !l.startsWith('lo '))).toEqual([]);
  }, 60_000);
});
