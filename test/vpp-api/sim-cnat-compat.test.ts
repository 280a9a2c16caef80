/**
 * Issue 13: Calico VPP images up to v3.31 announce cnat_set_snat_policy with CRC d3e6eaf4 (their cnat.api
 * predates CNAT_POLICY_DNAT); ours is 37a3ce23. The façade picks the encoding the connected VPP offers, and
 * names both CRCs when it offers neither. The simulator serves the old CRC through `crcOverrides`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cnat } from '../../vpp-api/generated/index.js';
import { VppSimulator, noVhostNet } from '../../vpp-api/sim/index.js';
import { VppClient } from '../../vpp-api/client/index.js';
import { API_MODULES } from '../../agent/vpp/connection.js';
import { CnatEncodingError, cnat_set_snat_policy_before_dnat, setSnatAddresses, setSnatPolicyK8s } from '../../agent/vpp/cnat.js';

let dir = '';
let sim: VppSimulator | undefined;
let vpp: VppClient | undefined;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vpp-sim-cnat-compat-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await vpp?.close();
  await sim?.stop();
  vpp = undefined;
  sim = undefined;
});

async function connect(crcOverrides?: ReadonlyMap<string, number>): Promise<{ sim: VppSimulator; vpp: VppClient }> {
  sim = await VppSimulator.start({ socketPath: join(dir, 'api.sock'), host: noVhostNet(), ...(crcOverrides ? { crcOverrides } : {}) });
  vpp = new VppClient({ socketPath: sim.socketPath, modules: API_MODULES, reconnect: false, healthCheck: false });
  await vpp.connect();
  await setSnatAddresses(vpp, '192.168.0.10', undefined);
  return { sim, vpp };
}

test('the old encoding of cnat_set_snat_policy is the same bytes under the old name_crc', () => {
  expect(cnat_set_snat_policy_before_dnat.nameCrc).toBe('cnat_set_snat_policy_d3e6eaf4');
  expect(cnat.cnat_set_snat_policy.nameCrc).toBe('cnat_set_snat_policy_37a3ce23');
  const msg = { policy: cnat.CnatSnatPolicies.CNAT_POLICY_K8S };
  const a = Buffer.alloc(cnat.cnat_set_snat_policy.size(msg));
  const b = Buffer.alloc(cnat_set_snat_policy_before_dnat.size(msg));
  cnat.cnat_set_snat_policy.encode(a, 0, 77, 1, 2, msg);
  cnat_set_snat_policy_before_dnat.encode(b, 0, 77, 1, 2, msg);
  expect(b).toEqual(a);
});

test('a VPP with the current CRC gets the bindings encoding; the compatibility report does not call it incompatible', async () => {
  const { sim, vpp } = await connect();
  expect(vpp.has(cnat.cnat_set_snat_policy)).toBe(true);
  expect(vpp.has(cnat_set_snat_policy_before_dnat)).toBe(false);
  expect(vpp.compatibility().incompatible.map((x) => x.name)).not.toContain('cnat_set_snat_policy');
  await setSnatPolicyK8s(vpp);
  expect(sim.state.cnat.snatPolicy).toBe(cnat.CnatSnatPolicies.CNAT_POLICY_K8S);
});

test('a VPP announcing the pre-DNAT CRC (Calico VPP <= v3.31) gets the old encoding and applies K8S', async () => {
  const { sim, vpp } = await connect(new Map([['cnat_set_snat_policy', 0xd3e6eaf4]]));
  expect(vpp.has(cnat.cnat_set_snat_policy)).toBe(false);
  expect(vpp.has(cnat_set_snat_policy_before_dnat)).toBe(true);
  expect(vpp.compatibility().incompatible.map((x) => x.name)).not.toContain('cnat_set_snat_policy');
  await setSnatPolicyK8s(vpp);
  expect(sim.state.cnat.snatPolicy).toBe(cnat.CnatSnatPolicies.CNAT_POLICY_K8S);
});

test('a VPP offering neither encoding: the error names the message, both CRCs we speak and the one VPP has', async () => {
  const { sim, vpp } = await connect(new Map([['cnat_set_snat_policy', 0x0badc0de]]));
  expect(vpp.compatibility().incompatible).toEqual([
    { name: 'cnat_set_snat_policy', expected: 'cnat_set_snat_policy_37a3ce23', found: ['cnat_set_snat_policy_0badc0de'] },
  ]);
  const err = await setSnatPolicyK8s(vpp).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CnatEncodingError);
  expect((err as Error).message).toBe(
    'cnat_set_snat_policy: the connected VPP offers cnat_set_snat_policy_0badc0de; this agent speaks cnat_set_snat_policy_37a3ce23 and cnat_set_snat_policy_d3e6eaf4',
  );
  expect(sim.state.cnat.snatPolicy).toBe(0);
});
