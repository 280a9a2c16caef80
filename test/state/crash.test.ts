/**
 * An agent that dies in the middle of an ADD (at every step) or a DEL (after every VPP call), then a new
 * agent on the same state dir: the reconcile leaves VPP and the pod netns exactly as before the operation
 * (no object, no address left), and the runtime's retry then ends exactly as a clean run does.
 *
 * How the agent dies: an ADD's step hook never returns at the chosen step (so no rollback runs), a DEL's
 * VPP call gets no reply (the simulator applied it); then the agent object is stopped — sockets closed,
 * nothing more written — and abandoned, and a new one starts from the checkpoint file on disk. That is
 * the state a SIGKILL at that point leaves (the intent written before the first VPP call, the objects made
 * so far), reproducible at every step in one process, where a killed child process could only be stopped
 * at steps it reports. The IPs are the records' (no IPAM here): the final records hold each IP once.
 * The restarted agent runs without its start-up sweep, which would remove the same leftovers on its own
 * (sweep.test.ts): here the reconcile alone must get it right.
 * Each prefix of ADD steps is died at once per run: a pod whose ADD runs the steps an earlier case died at,
 * with the same interface mode and eth0 spec, dies only at the steps that are new (test/helpers/step-prefixes.ts).
 */
import { createNetns, deleteNetns, haveRoot } from '../helpers/netns.js';
import { Crasher, readCheckpoint } from './crasher.js';
import { Harness, KINDS, useHarness } from './harness.js';
import { ANN } from '../../agent/pod/annotations.js';
import { StepPrefixes } from '../helpers/step-prefixes.js';

const d = haveRoot() ? describe : describe.skip;
const h = new Harness();
/** The step prefixes died at so far in this run (test/helpers/step-prefixes.ts). */
const prefixes = new StepPrefixes();

useHarness(h);

const DEL_MESSAGES = ['pbl_client_del', 'ip_neighbor_add_del', 'ip_route_add_del', 'app_namespace_add_del_v4', 'delete_loopback', 'memif_delete', 'memif_socket_filename_add_del_v2', 'tap_delete_v2'];

d('crash and restart', () => {
  // Every kind with eth0 as a tun, and the eth0 kinds with eth0 as a veth pair + af_packet.
  const ADD_CASES: [string, 'tun' | 'veth'][] = [...Object.keys(KINDS).map((k): [string, 'tun'] => [k, 'tun']), ['tun', 'veth'], ['pbl+vcl', 'veth']];
  test.each(ADD_CASES)('ADD of a %s pod (eth0 as %s) interrupted at every step', async (kind, interfaceMode) => {
    const crasher = new Crasher();
    const ns = createNetns('c');
    try {
      await h.startAgent({ stepHook: crasher.hook, interfaceMode });
      // Node-wide objects exist before any pod: the states below compare pod objects only.
      await h.agent!.node.unnumberedLoopback();
      await h.agent!.node.sessionEnabled();
      const baseline = await h.state([ns]);
      const p = h.pod(ns, kind);
      await h.add(p);
      const clean = await h.state([ns]);
      const steps = [...crasher.steps];
      expect(steps.length).toBeGreaterThan(5);
      await h.del(p);
      expect(await h.state([ns])).toEqual(baseline);

      const ips = p.ips.map((a) => a.address.split('/')[0]!);
      let crashed = 0;
      for (let i = 0; i < steps.length; i++) {
        // A prefix of steps an earlier case already died at (same mode and eth0 spec) is the same case.
        if (!prefixes.firstTime(`${interfaceMode} ${KINDS[kind]![0][ANN.interfacesSpec] ?? ''}`, steps, i, ips)) continue;
        crashed++;
        const reached = crasher.arm(i);
        h.add(p).catch(() => undefined); // never settles: the agent "dies" at the step
        expect(await reached).toBe(steps[i]);
        await h.stopAgent();
        expect({ step: steps[i], intents: readCheckpoint(h.stateDir).intents.map((x) => x.op) }).toEqual({ step: steps[i], intents: ['add'] });
        crasher.disarm();

        await h.startAgent({ stepHook: crasher.hook, sweepAtStart: false, interfaceMode });
        const a = h.agent!;
        expect({ step: steps[i], rolledBack: a.state.stats.reconcile?.rolledBack }).toEqual({ step: steps[i], rolledBack: 1 });
        expect({ step: steps[i], state: await h.state([ns]) }).toEqual({ step: steps[i], state: baseline });
        expect(readCheckpoint(h.stateDir)).toEqual({ version: 1, attachments: [], intents: [] });
        // The runtime retries the ADD: the same end as a clean run.
        await h.add(p);
        expect({ step: steps[i], state: await h.state([ns]) }).toEqual({ step: steps[i], state: clean });
        expect(a.manager.records.map((r) => r.ips)).toEqual([p.ips]);
        await h.del(p);
      }
      expect(crashed).toBeGreaterThan(0);
      expect(await h.state([ns])).toEqual(baseline);
    } finally {
      await h.stopAgent();
      deleteNetns(ns);
    }
  }, 240_000);

  test.each(Object.keys(KINDS))('DEL of a %s pod interrupted after every VPP call', async (kind) => {
    const ns = createNetns('c');
    try {
      await h.startAgent();
      const baseline = await h.state([ns]);
      const p = h.pod(ns, kind);
      let tried = 0;
      for (const m of DEL_MESSAGES) {
        await h.add(p);
        h.sim.faults.noReply(m);
        let off = (): void => undefined;
        const reached = new Promise<boolean>((resolve) => {
          off = h.sim.onRequest((name) => name === m && resolve(true));
        });
        const done = h.del(p).then(
          () => false,
          () => false,
        );
        const hit = await Promise.race([reached, done]);
        off();
        if (!hit) {
          // This kind makes no such call: the DEL completed.
          h.sim.faults.clear();
          expect(await h.state([ns])).toEqual(baseline);
          continue;
        }
        tried++;
        await h.stopAgent();
        h.sim.faults.clear();
        expect({ after: m, intents: readCheckpoint(h.stateDir).intents.map((x) => x.op) }).toEqual({ after: m, intents: ['del'] });

        await h.startAgent({ sweepAtStart: false });
        expect({ after: m, finished: h.agent!.state.stats.reconcile?.deletesFinished }).toEqual({ after: m, finished: 1 });
        expect({ after: m, state: await h.state([ns]) }).toEqual({ after: m, state: baseline });
        expect(readCheckpoint(h.stateDir)).toEqual({ version: 1, attachments: [], intents: [] });
        // The runtime's retried DEL finds nothing to do.
        await h.del(p);
      }
      expect(tried).toBeGreaterThanOrEqual(2);
    } finally {
      h.sim.faults.clear();
      await h.stopAgent();
      deleteNetns(ns);
    }
  }, 240_000);
});
