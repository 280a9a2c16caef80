/**
 * Churn: pods created and deleted among agent restarts, agent deaths in the middle of ADD and DEL, VPP
 * restarts under the agent and VPP restarts while the agent is down (seeded, so a failure replays). After
 * every step each live pod has its record and passes CHECK; at the end, with every pod deleted, nothing of
 * any pod is left in VPP, in the checkpoint or in a netns.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHECKPOINT_FILE } from '../../agent/state/checkpoint.js';
import { createNetns, deleteNetns, haveRoot, linuxState, type TestNetns } from '../helpers/netns.js';
import { Harness, KINDS, useHarness, type TestPod } from './harness.js';

const d = haveRoot() ? describe : describe.skip;
const h = new Harness();
const CYCLES = Number(process.env.VCNI_CHURN_CYCLES ?? 30);
const SEED = Number(process.env.VCNI_CHURN_SEED ?? 20261122);

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

useHarness(h);

d('churn', () => {
  test(`${CYCLES} cycles of pods, agent deaths and VPP restarts end with nothing leaked (seed ${SEED})`, async () => {
    const rnd = prng(SEED);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    let crashAt = -1;
    let calls = 0;
    let reached: (() => void) | undefined;
    const stepHook = (): void | Promise<void> => {
      if (calls++ === crashAt) {
        reached?.();
        return new Promise<void>(() => undefined);
      }
    };
    const start = (): Promise<unknown> => h.startAgent({ stepHook });
    const live = new Map<string, { pod: TestPod; ns: TestNetns }>();
    const history: string[] = [];
    const newPod = (): { pod: TestPod; ns: TestNetns } => {
      const ns = createNetns('u');
      return { pod: h.pod(ns, pick(Object.keys(KINDS))), ns };
    };
    await start();

    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const ops = ['add', 'add', 'del', 'restart', 'crash-add', 'crash-del', 'vpp-restart', 'vpp-restart-and-del', 'vpp-restart-while-down'].filter((o) => !(o.includes('del') && live.size === 0));
      const op = pick(ops);
      history.push(op);
      switch (op) {
        case 'add': {
          const x = newPod();
          await h.add(x.pod);
          live.set(x.pod.containerId, x);
          break;
        }
        case 'del': {
          const x = pick([...live.values()]);
          await h.del(x.pod);
          live.delete(x.pod.containerId);
          deleteNetns(x.ns);
          break;
        }
        case 'restart':
          await h.stopAgent();
          await start();
          break;
        case 'crash-add': {
          const x = newPod();
          crashAt = Math.floor(rnd() * 20);
          calls = 0;
          const hit = new Promise<boolean>((r) => (reached = () => r(true)));
          const done = h.add(x.pod).then(
            () => false,
            () => false,
          );
          const crashed = await Promise.race([hit, done]);
          crashAt = -1;
          await h.stopAgent();
          await start();
          if (!crashed) {
            live.set(x.pod.containerId, x); // it had fewer steps: completed
          } else if (rnd() < 0.5) {
            await h.add(x.pod); // the runtime retries
            live.set(x.pod.containerId, x);
          } else {
            await h.del(x.pod); // the runtime gives up on the sandbox
            deleteNetns(x.ns);
          }
          break;
        }
        case 'crash-del': {
          const x = pick([...live.values()]);
          const m = pick(['ip_route_add_del', 'tap_delete_v2', 'memif_delete', 'memif_socket_filename_add_del_v2', 'pbl_client_del', 'app_namespace_add_del_v4']);
          h.sim.faults.noReply(m);
          let off = (): void => undefined;
          const hit = new Promise<boolean>((r) => (off = h.sim.onRequest((n) => n === m && r(true))));
          const done = h.del(x.pod).then(
            () => false,
            () => false,
          );
          await Promise.race([hit, done]);
          off();
          await h.stopAgent();
          h.sim.faults.clear();
          await start();
          await h.del(x.pod); // the runtime's retry (a no-op if the reconcile finished it)
          live.delete(x.pod.containerId);
          deleteNetns(x.ns);
          break;
        }
        case 'vpp-restart':
          h.sim.restart();
          await h.recovered();
          break;
        case 'vpp-restart-and-del': {
          // A DEL while the pods are being made again (before or after this one was).
          const x = pick([...live.values()]);
          const a = h.agent!;
          h.sim.restart();
          const deadline = Date.now() + 10_000;
          while (!a.notReady()?.includes('recovering') && a.state.recoveredPid !== h.sim.vpePid && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
          await h.del(x.pod);
          live.delete(x.pod.containerId);
          await h.recovered();
          deleteNetns(x.ns);
          break;
        }
        case 'vpp-restart-while-down':
          await h.stopAgent();
          h.sim.restart();
          await start();
          break;
      }
      const a = h.agent!;
      await a.state.settled();
      const where = { cycle, history: history.join(' ') };
      expect({ ...where, records: a.manager.records.map((r) => r.containerId).sort() }).toEqual({ ...where, records: [...live.keys()].sort() });
      expect({ ...where, stale: a.state.stale.size }).toEqual({ ...where, stale: 0 });
      for (const { pod } of live.values()) await a.manager.check(pod);
      const ips = a.manager.records.flatMap((r) => r.ips.map((i) => i.address));
      expect(new Set(ips).size).toBe(ips.length);
    }

    for (const { pod, ns } of live.values()) {
      await h.del(pod);
      expect(linuxState(ns).links.filter((l) => !l.startsWith('lo '))).toEqual([]);
      deleteNetns(ns);
    }
    await h.agent!.state.sweep();
    const v = await h.vppState();
    expect({ history, interfaces: v.interfaces.filter((i) => i.startsWith('vcni:') && !i.startsWith('vcni:node:')) }).toEqual({ history, interfaces: [] });
    expect({ untagged: v.untaggedPodLike, memifs: v.memifs, sockets: v.sockets.filter((x) => x.startsWith('abstract:')), pbl: v.pbl, appns: v.appns }).toEqual({ untagged: [], memifs: [], sockets: [], pbl: [], appns: [] });
    expect(v.routes.filter((r) => r.includes('vcni:') || r.startsWith('10.77.'))).toEqual([]);
    expect(JSON.parse(readFileSync(join(h.stateDir, CHECKPOINT_FILE), 'utf8'))).toEqual({ version: 1, attachments: [], intents: [] });
    expect(h.agent!.state.recoveryFailures).toBe(0);
    await h.stopAgent();
  }, 300_000);
});
