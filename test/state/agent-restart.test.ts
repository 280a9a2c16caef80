/**
 * Agent restarts against the simulator (real kernel taps) and real network namespaces: healthy pods are
 * adopted with no create or delete call to VPP; records whose objects were removed behind the agent's
 * back are made again; pods whose netns and pod are gone are deleted; ADDs wait (code 11) while the
 * reconcile runs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tapv2 from '../../vpp-api/generated/tapv2.js';
import * as memif from '../../vpp-api/generated/memif.js';
import { CHECKPOINT_FILE } from '../../agent/state/checkpoint.js';
import { CniFailure } from '../../agent/cni/cni-error.js';
import { createNetns, deleteNetns, haveRoot, type TestNetns } from '../helpers/netns.js';
import { Harness, KINDS, useHarness, type TestPod } from './harness.js';
import { until } from '../helpers/until.js';

const d = haveRoot() ? describe : describe.skip;
const h = new Harness();

useHarness(h);

d('agent restart', () => {
  test('N healthy pods of every kind: adopted with zero create or delete calls to VPP, records unchanged', async () => {
    await h.startAgent();
    const namespaces: TestNetns[] = [];
    const pods: TestPod[] = [];
    const kinds = Object.keys(KINDS);
    for (let i = 0; i < 15; i++) {
      const ns = createNetns('r');
      namespaces.push(ns);
      const p = h.pod(ns, kinds[i % kinds.length]!);
      pods.push(p);
      await h.add(p);
    }
    const before = await h.state(namespaces);
    const records = h.agent!.manager.records;
    const file = readFileSync(join(h.stateDir, CHECKPOINT_FILE), 'utf8');
    await h.stopAgent();

    const calls = await h.mutations(() => h.startAgent());
    expect(calls).toEqual({});
    const a = h.agent!;
    expect(a.state.stats.reconcile).toMatchObject({ adopted: 15, recreated: 0, deleted: 0, rolledBack: 0, failed: [] });
    expect(a.manager.records).toEqual(records);
    expect(readFileSync(join(h.stateDir, CHECKPOINT_FILE), 'utf8')).toBe(file);
    expect(await h.state(namespaces)).toEqual(before);
    // The adopted records are trusted again: CHECK passes, ADD of an existing attachment returns its result.
    for (const p of pods) await a.manager.check(p);
    expect(await h.add(pods[0]!)).toEqual(records.find((r) => r.containerId === pods[0]!.containerId)!.result);

    for (const p of pods) await h.del(p);
    for (const ns of namespaces) deleteNetns(ns);
    await h.stopAgent();
  }, 120_000);

  test('objects removed behind the agent are made again; a pod whose netns and pod are gone is deleted', async () => {
    await h.startAgent();
    const nsA = createNetns('r');
    const nsB = createNetns('r');
    const nsC = createNetns('r');
    const a = h.pod(nsA, 'pbl');
    const b = h.pod(nsB, 'tun');
    const c = h.pod(nsC, 'multinet');
    for (const p of [a, b, c]) await h.add(p);
    const beforeA = await h.state([nsA]);
    await h.stopAgent();

    // Someone removed pod a's memif socket (and with it the memif) and tap; pod b's sandbox and pod are gone.
    const recA = JSON.parse(readFileSync(join(h.stateDir, CHECKPOINT_FILE), 'utf8')).attachments.find((r: { containerId: string }) => r.containerId === a.containerId);
    await h.vpp.request(memif.memif_delete, { sw_if_index: recA.objects.memif.swIfIndex });
    await h.vpp.request(memif.memif_socket_filename_add_del_v2, { is_add: false, socket_id: recA.objects.memif.socketId, socket_filename: '' });
    await h.vpp.request(tapv2.tap_delete_v2, { sw_if_index: recA.objects.tun.swIfIndex });
    deleteNetns(nsB);
    h.pods.remove(b.pod.namespace, b.pod.name);

    await h.startAgent();
    const agent = h.agent!;
    expect(agent.state.stats.reconcile).toMatchObject({ adopted: 1, recreated: 1, deleted: 1, failed: [] });
    expect(agent.manager.records.map((r) => r.containerId).sort()).toEqual([a.containerId, c.containerId].sort());
    // Made again: the same objects (indexes aside), and pod b's tap and route are gone from VPP.
    const after = await h.state([nsA]);
    expect(after.linux).toEqual(beforeA.linux);
    expect(after.vpp.interfaces.filter((i) => i.includes(a.containerId.slice(0, 12)))).toEqual(beforeA.vpp.interfaces.filter((i) => i.includes(a.containerId.slice(0, 12))));
    const ipA = `${a.ips[0]!.address.split('/')[0]}/32`;
    expect(after.vpp.routes.filter((r) => r.startsWith(ipA))).toEqual(beforeA.vpp.routes.filter((r) => r.startsWith(ipA)));
    expect(after.vpp.interfaces.join('\n')).not.toContain(b.containerId.slice(0, 12));
    expect(after.vpp.routes.join('\n')).not.toContain(b.ips[0]!.address.split('/')[0]);
    await agent.manager.check(a);
    for (const p of [a, c]) await h.del(p);
    deleteNetns(nsA);
    deleteNetns(nsC);
    await h.stopAgent();
  }, 60_000);

  test('ADD answers "try again later" (11) while the reconcile runs, and succeeds once it is done', async () => {
    await h.startAgent();
    const ns = createNetns('r');
    const p = h.pod(ns, 'tun');
    await h.stopAgent();
    // Hold the reconcile's first dump: the agent is connected but not ready.
    h.sim.faults.delay('sw_interface_dump', 400);
    const started = h.startAgent();
    try {
      await until('the agent connected to VPP', () => h.agent?.vpp.state === 'connected', 10_000, 5);
      const err = await h.add(p).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CniFailure);
      expect((err as CniFailure).code).toBe(11);
      expect((err as Error).message).toMatch(/agent not ready: recovering: reconciling the checkpoint with VPP/);
    } finally {
      h.sim.faults.clear();
      await started;
    }
    await h.add(p);
    await h.del(p);
    deleteNetns(ns);
    await h.stopAgent();
    expect(existsSync(join(h.stateDir, CHECKPOINT_FILE))).toBe(true);
  }, 60_000);
});
