/**
 * The checkpoint is unusable at start (corrupt, or written by a newer version): it is moved aside, and the
 * records are rebuilt from VPP's tagged objects and the pod source — nothing is dropped silently, no VPP
 * object is made or removed for a whole attachment, and the runtime's later DEL (with the full container
 * id the tags only know 12 characters of) removes everything. Tagged objects that do not make a whole
 * attachment are removed.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tapv2 from '../../vpp-api/generated/tapv2.js';
import { CHECKPOINT_FILE, CHECKPOINT_VERSION } from '../../agent/state/checkpoint.js';
import { createNetns, deleteNetns, haveRoot, type TestNetns } from '../helpers/netns.js';
import { Harness, KINDS, useHarness, type TestPod } from './harness.js';

const d = haveRoot() ? describe : describe.skip;
const h = new Harness();

useHarness(h, { resetEach: true });

d('checkpoint lost', () => {
  test.each([
    ['corrupt', '{"version":1,"attachments":[{"containerId":'],
    ['future version', JSON.stringify({ version: CHECKPOINT_VERSION + 1, attachments: [], intents: [], somethingNew: true })],
  ])('%s checkpoint: moved aside, attachments rebuilt from VPP, DEL by full id removes everything', async (_name, content) => {
    await h.startAgent();
    await h.agent!.node.unnumberedLoopback();
    await h.agent!.node.sessionEnabled();
    const namespaces: TestNetns[] = [];
    const pods: TestPod[] = [];
    const baselineNs = createNetns('b');
    const baseline = await h.state([baselineNs]);
    for (const kind of Object.keys(KINDS)) {
      const ns = createNetns('b');
      namespaces.push(ns);
      const p = h.pod(ns, kind);
      pods.push(p);
      await h.add(p);
    }
    const original = h.agent!.manager.records;
    const before = await h.state(namespaces);
    await h.stopAgent();
    const bad = (): string[] => readdirSync(h.stateDir).filter((f) => f.startsWith(`${CHECKPOINT_FILE}.bad-`));
    const badBefore = bad().length;
    writeFileSync(join(h.stateDir, CHECKPOINT_FILE), content);

    h.logs.length = 0;
    const calls = await h.mutations(() => h.startAgent());
    const a = h.agent!;
    expect(calls).toEqual({});
    expect(bad()).toHaveLength(badBefore + 1);
    expect(h.logs.some((l) => l.level === 50 && /checkpoint moved aside/.test(String(l.msg)))).toBe(true);
    expect(a.state.stats.reconcile).toMatchObject({ rebuilt: pods.length, adopted: pods.length, rebuildRemoved: 0, failed: [] });
    expect(await h.state(namespaces)).toEqual(before);

    for (const p of pods) {
      const was = original.find((r) => r.containerId === p.containerId)!;
      const rec = a.manager.records.find((r) => r.containerId === p.containerId.slice(0, 12) && r.ifName === p.ifName)!;
      expect(rec).toMatchObject({ rebuilt: true, netns: was.netns, kind: was.kind, pod: was.pod });
      expect(rec.annotations).toEqual(was.annotations);
      expect(rec.ips).toEqual([{ address: `${p.ips[0]!.address.split('/')[0]}/32` }]);
      // The same objects, by index.
      expect({ tun: rec.objects.tun?.swIfIndex, memif: rec.objects.memif?.swIfIndex, socket: rec.objects.memif?.socketFilename, pbl: rec.objects.pbl, vcl: rec.objects.vcl?.namespaceId, dummy: rec.objects.dummy }).toEqual({
        tun: was.objects.tun?.swIfIndex,
        memif: was.objects.memif?.swIfIndex,
        socket: was.objects.memif?.socketFilename,
        pbl: was.objects.pbl,
        vcl: was.objects.vcl?.namespaceId,
        dummy: was.objects.dummy,
      });
      expect(rec.objects.memif?.ports).toEqual(was.objects.memif?.ports);
      // The runtime speaks with the full container id.
      await a.manager.check(p);
      expect((await h.add(p)).interfaces.map((i) => i.name)).toEqual(was.result.interfaces.map((i) => i.name));
    }
    for (const p of pods) await h.del(p);
    expect(a.manager.records).toEqual([]);
    expect((await h.state([baselineNs])).vpp).toEqual(baseline.vpp);
    for (const ns of namespaces) deleteNetns(ns);
    deleteNetns(baselineNs);
    await h.stopAgent();
  }, 120_000);

  test('tagged objects that make no whole attachment (an ADD that died) are removed while rebuilding', async () => {
    await h.startAgent();
    await h.agent!.node.unnumberedLoopback();
    const ns = createNetns('b');
    const baseline = await h.state([ns]);
    // A tap tagged for a pod, without the routes an ADD makes last.
    const { sw_if_index } = await h.vpp.request(tapv2.tap_create_v3, {
      id: 0xffffffff,
      use_random_mac: true,
      host_namespace_set: true,
      host_namespace: ns.path,
      host_if_name_set: true,
      host_if_name: 'eth0',
      tap_flags: tapv2.TapFlags.TAP_API_FLAG_TUN,
      tag: 'vcni:deadbeef0001:eth0:tun:default/half',
    });
    expect(sw_if_index).toBeGreaterThan(0);
    await h.stopAgent();
    writeFileSync(join(h.stateDir, CHECKPOINT_FILE), 'not json');
    await h.startAgent({ sweepAtStart: false });
    expect(h.agent!.state.stats.reconcile).toMatchObject({ rebuilt: 0, rebuildRemoved: 1 });
    expect(await h.state([ns])).toEqual(baseline);
    expect(existsSync(join(h.stateDir, CHECKPOINT_FILE))).toBe(false);
    deleteNetns(ns);
    await h.stopAgent();
  }, 60_000);
});
