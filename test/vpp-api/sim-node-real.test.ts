/**
 * Where the real VPP answered the node dataplane's messages differently from the simulator (docs/real-vpp.md,
 * "The node dataplane"): the simulator now answers as VPP did.
 */
import { interface_, ip } from '../../vpp-api/generated/index.js';
import type { VppSimulator } from '../../vpp-api/sim/index.js';
import { RawVppClient, SimFixture } from '../helpers/raw-vpp-client.js';

const fx = new SimFixture('vpp-sim-node-real');
afterAll(() => fx.cleanup());

describe('the node dataplane messages as the real VPP answers them', () => {
  let sim: VppSimulator;
  let c: RawVppClient;
  beforeAll(async () => {
    sim = await fx.start();
    c = await fx.client(sim);
  });

  async function loopback(): Promise<number> {
    const r = await c.request(interface_.create_loopback, { mac_address: '00:00:00:00:00:00' }, interface_.create_loopback_reply);
    expect(r.retval).toBe(0);
    return r.sw_if_index;
  }
  const enable6 = async (sw: number, enable = true): Promise<number> => (await c.request(ip.sw_interface_ip6_enable_disable, { sw_if_index: sw, enable }, ip.sw_interface_ip6_enable_disable_reply)).retval;

  test('sw_interface_ip6_enable_disable: VALUE_EXIST (-81) when IPv6 is on already (an IPv6 address turns it on); enables and disables count as locks', async () => {
    const a = await loopback();
    // The sequence and answers seen on the real VPP (a loopback): every enable takes a lock, even the -81 one.
    const seen: number[] = [];
    for (const e of [true, true, false, true, false, false, true]) seen.push(await enable6(a, e));
    expect(seen).toEqual([0, -81, 0, -81, 0, 0, 0]);
    const b = await loopback();
    expect((await c.request(interface_.sw_interface_add_del_address, { sw_if_index: b, is_add: true, del_all: false, prefix: 'fd56:6370:636e::1/126' }, interface_.sw_interface_add_del_address_reply)).retval).toBe(0);
    expect(await enable6(b)).toBe(-81);
    expect(await enable6(9999)).toBe(-2);
    for (const sw of [a, b]) await c.request(interface_.delete_loopback, { sw_if_index: sw }, interface_.delete_loopback_reply);
  });
});
