/**
 * The simulator's cnat plugin beyond the captured sequence: the abort on a translation without paths (what the
 * agent must never send), VIP identity, the snat gate, session port encoding, interface deletion, and a route in
 * a non-zero table.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cnat, interface_, ip } from '../../vpp-api/generated/index.js';
import { VppSimulator, noVhostNet } from '../../vpp-api/sim/index.js';
import { RawVppClient } from '../helpers/raw-vpp-client.js';

const ANY = 0xffffffff;
const ep = (addr: string, port: number) => ({ addr, port, sw_if_index: ANY, if_af: addr.includes(':') ? 1 : 0 });
const path = (addr: string, port: number) => ({ dst_ep: ep(addr, port), src_ep: ep(addr.includes(':') ? '::' : '0.0.0.0', 0) });

let dir = '';
let sim: VppSimulator;
let c: RawVppClient;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vpp-sim-cnat-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(async () => {
  sim = await VppSimulator.start({ socketPath: join(dir, 'api.sock'), host: noVhostNet() });
  c = await RawVppClient.open(sim.socketPath);
});
afterEach(async () => {
  c.destroy();
  await sim.stop();
});

test('a translation without paths aborts the simulated VPP: no reply, connection dropped, fresh state', async () => {
  const before = sim.vpePid;
  const r = await c.request(cnat.cnat_translation_update, { translation: { vip: ep('10.96.0.1', 443), ip_proto: 6, paths: [path('10.244.1.5', 6443)] } }, cnat.cnat_translation_update_reply);
  expect(r).toEqual({ retval: 0, id: 0 });
  c.send(cnat.cnat_translation_update, { translation: { vip: ep('10.96.0.20', 80), ip_proto: 6, paths: [] } });
  await c.waitClosed(2000);
  expect(sim.aborts).toHaveLength(1);
  expect(sim.aborts[0]!.vpePid).toBe(before);
  expect(sim.vpePid).not.toBe(before);
  expect(sim.state.cnat.translationList()).toEqual([]);
});

test('updating a VIP keeps its id and first lb_type and replaces the paths; deleting twice gives NO_SUCH_ENTRY', async () => {
  const up = (paths: ReturnType<typeof path>[], lb: number) =>
    c.request(cnat.cnat_translation_update, { translation: { vip: ep('fd00:96::a', 53), ip_proto: 17, lb_type: lb as 0, paths } }, cnat.cnat_translation_update_reply);
  expect((await up([path('fd00:244:1::5', 53)], 0)).id).toBe(0);
  expect((await up([path('fd00:244:2::7', 5353), path('fd00:244:3::9', 5353)], 1)).id).toBe(0);
  const d = await c.dump(cnat.cnat_translation_dump, {}, cnat.cnat_translation_details);
  expect(d).toHaveLength(1);
  expect(d[0]!.translation.lb_type).toBe(0);
  expect(d[0]!.translation.paths.map((p) => `${p.dst_ep.addr}:${p.dst_ep.port}:${p.flags}`)).toEqual(['fd00:244:2::7:5353:4', 'fd00:244:3::9:5353:4']);
  expect(await c.request(cnat.cnat_translation_del, { id: 0 }, cnat.cnat_translation_del_reply)).toEqual({ retval: 0 });
  expect(await c.request(cnat.cnat_translation_del, { id: 0 }, cnat.cnat_translation_del_reply)).toEqual({ retval: -6 });
});

test('snat calls answer FEATURE_DISABLED until an address entry with USE_AS_DEFAULT exists', async () => {
  const lo = await c.request(interface_.create_loopback, {}, interface_.create_loopback_reply);
  const policy = () => c.request(cnat.cnat_set_snat_policy, { policy: 2 }, cnat.cnat_set_snat_policy_reply);
  expect((await policy()).retval).toBe(-30);
  // Without USE_AS_DEFAULT the entry is not the default: still disabled.
  await c.request(cnat.cnat_set_snat_addresses_v2, { snat_ip4: '192.168.10.1', snat_ip6: 'fd00:10::1', sw_if_index: ANY, flags: 2 }, cnat.cnat_set_snat_addresses_v2_reply);
  expect((await policy()).retval).toBe(-30);
  await c.request(cnat.cnat_set_snat_addresses_v2, { snat_ip4: '192.168.10.1', snat_ip6: 'fd00:10::1', sw_if_index: ANY, flags: 6 }, cnat.cnat_set_snat_addresses_v2_reply);
  expect((await policy()).retval).toBe(0);
  expect((await c.request(cnat.cnat_snat_policy_add_del_if, { sw_if_index: lo.sw_if_index, is_add: 1, table: 2 }, cnat.cnat_snat_policy_add_del_if_reply)).retval).toBe(0);
  expect((await c.request(cnat.feature_cnat_enable_disable, { sw_if_index: lo.sw_if_index, enable_disable: true }, cnat.feature_cnat_enable_disable_reply)).retval).toBe(0);
  expect(sim.state.cnat.featureInterfaces.has(lo.sw_if_index)).toBe(true);
  // The interface goes: it leaves the policy and feature sets.
  await c.request(interface_.delete_loopback, { sw_if_index: lo.sw_if_index }, interface_.delete_loopback_reply);
  expect(sim.state.cnat.featureInterfaces.size).toBe(0);
  expect(sim.state.cnat.policyInterfaces[2].size).toBe(0);
});

test('session ports go on the wire byte-swapped, as VPP writes them', async () => {
  await c.request(cnat.cnat_translation_update, { translation: { vip: ep('10.96.0.10', 53), ip_proto: 17, paths: [path('10.244.1.5', 53)] } }, cnat.cnat_translation_update_reply);
  expect(sim.state.cnat.traffic({ ipProto: 17, src: '10.244.0.9', srcPort: 40053, dst: '10.96.0.10', dstPort: 53 })).toBeDefined();
  expect(sim.state.cnat.traffic({ ipProto: 17, src: '10.244.0.9', srcPort: 1, dst: '10.96.0.99', dstPort: 53 })).toBeUndefined();
  const s = await c.dump(cnat.cnat_session_dump, {}, cnat.cnat_session_details);
  expect(s.map((d) => d.session.tuple.port)).toEqual([[30108, 13568]]);
});

test('a route in a non-zero table needs the table; it is listed there only', async () => {
  const route = { table_id: 1010, prefix: '10.244.2.0/24', paths: [{ sw_if_index: ANY, nh: { address: { ip4: '169.254.100.2' } } }] };
  expect((await c.request(ip.ip_route_add_del, { is_add: true, route }, ip.ip_route_add_del_reply)).retval).toBe(-3);
  await c.request(ip.ip_table_add_del, { is_add: true, table: { table_id: 1010, is_ip6: false, name: 'vcni:node:test' } }, ip.ip_table_add_del_reply);
  expect((await c.request(ip.ip_route_add_del, { is_add: true, route }, ip.ip_route_add_del_reply)).retval).toBe(0);
  const inTable = await c.dump(ip.ip_route_dump, { table: { table_id: 1010, is_ip6: false } }, ip.ip_route_details);
  expect(inTable.map((d) => d.route.prefix)).toContain('10.244.2.0/24');
  const inZero = await c.dump(ip.ip_route_dump, { table: { table_id: 0, is_ip6: false } }, ip.ip_route_details);
  expect(inZero.map((d) => d.route.prefix)).not.toContain('10.244.2.0/24');
});
