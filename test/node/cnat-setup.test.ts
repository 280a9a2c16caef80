/** The cnat configuration around Service translations, against the simulator (VPP's order and retvals). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VppClient } from '../../vpp-api/client/index.js';
import { allModules, cnat, interface_ as iface } from '../../vpp-api/generated/index.js';
import { VppSimulator, noVhostNet } from '../../vpp-api/sim/index.js';
import { CnatConfigurator } from '../../agent/node/cnat-setup.js';

let dir = '';
let sim: VppSimulator;
let vpp: VppClient;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vcni-cnat-setup-'));
  sim = await VppSimulator.start({ socketPath: join(dir, 'api.sock'), host: noVhostNet() });
  vpp = new VppClient({ socketPath: sim.socketPath, modules: allModules, healthCheck: false, requestTimeoutMs: 5000 });
  await vpp.connect();
});
afterAll(async () => {
  await vpp.close();
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('addresses and K8S policy first (so the snat calls are accepted), then excluded prefixes, POD/HOST interfaces and the feature; changes are diffs; nothing repeated', async () => {
  const pod = (await vpp.request(iface.create_loopback, {})).sw_if_index;
  const pod2 = (await vpp.request(iface.create_loopback, {})).sw_if_index;
  const host = (await vpp.request(iface.create_loopback, {})).sw_if_index;
  const c = new CnatConfigurator(vpp);
  const want = { snatIp4: '192.168.1.10', snatIp6: 'fd00:1::10', excludePrefixes: ['10.244.0.0/16', '10.96.0.0/12', '192.168.1.10/32'], podInterfaces: [pod], hostInterfaces: [host] };
  await c.apply(want);
  const st = sim.state.cnat;
  expect(st.defaultSnat).toMatchObject({ ip4: '192.168.1.10', ip6: 'fd00:1::10', swIfIndex: 0xffffffff, flags: 6 });
  expect(st.snatPolicy).toBe(cnat.CnatSnatPolicies.CNAT_POLICY_K8S);
  expect(st.excludePrefixes).toEqual(['10.244.0.0/16', '10.96.0.0/12', '192.168.1.10/32']);
  expect([...st.policyInterfaces[2]]).toEqual([pod]);
  expect([...st.policyInterfaces[3]]).toEqual([host]);
  expect([...st.featureInterfaces].sort()).toEqual([pod, host].sort());
  const calls = (): number => [...sim.requestCounts.entries()].filter(([n]) => n.startsWith('cnat_') || n.startsWith('feature_cnat')).reduce((a, [, v]) => a + v, 0);
  const n0 = calls();
  await c.apply(want);
  expect(calls()).toBe(n0);
  await c.apply({ ...want, excludePrefixes: ['10.244.0.0/16', '10.96.0.0/12'], podInterfaces: [pod2] });
  expect(st.excludePrefixes).toEqual(['10.244.0.0/16', '10.96.0.0/12']);
  expect([...st.policyInterfaces[2]]).toEqual([pod2]);
  expect([...st.featureInterfaces].sort()).toEqual([pod2, host].sort());
  expect(calls() - n0).toBe(5);
});
