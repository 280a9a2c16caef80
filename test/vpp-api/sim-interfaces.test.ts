/**
 * Interfaces in the simulator: sw_if_index pool, loopbacks, flags and events, tags, addresses, tables,
 * unnumbered, the tx placement cursor stream, routes, tap (both hosts, async host) and af_packet.
 */
import { af_packet, interface_, ip, memclnt, tapv2 } from '../../vpp-api/generated/index.js';
import { fakeTap, noVhostNet, type SimHost, type TapHostRequest, type VppSimulator } from '../../vpp-api/sim/index.js';
import { RawVppClient, SimFixture } from '../helpers/raw-vpp-client.js';

const fx = new SimFixture('vpp-sim-interfaces');
afterAll(() => fx.cleanup());

const ALL = 0xffffffff;

async function loopback(c: RawVppClient, mac = '00:00:00:00:00:00'): Promise<number> {
  const r = await c.request(interface_.create_loopback, { mac_address: mac }, interface_.create_loopback_reply);
  expect(r.retval).toBe(0);
  return r.sw_if_index;
}

async function details(c: RawVppClient, swIfIndex = ALL) {
  return c.dump(interface_.sw_interface_dump, { sw_if_index: swIfIndex }, interface_.sw_interface_details);
}

describe('loopbacks and the sw_if_index pool', () => {
  let sim: VppSimulator;
  let c: RawVppClient;
  beforeAll(async () => {
    sim = await fx.start();
    c = await fx.client(sim);
  });

  test('local0 exists; loopbacks get loop<N>, the lowest free instance, and the most recently freed index', async () => {
    expect((await details(c)).map((d) => [d.sw_if_index, d.interface_name])).toEqual([[0, 'local0']]);
    const a = await loopback(c, '02:fe:0d:00:00:aa');
    const b = await loopback(c);
    expect([a, b]).toEqual([1, 2]);
    const [da, db] = [(await details(c, a))[0]!, (await details(c, b))[0]!];
    expect(da).toMatchObject({ interface_name: 'loop0', interface_dev_type: 'Loopback', l2_address: '02:fe:0d:00:00:aa', link_mtu: 9000, mtu: [9000, 0, 0, 0], flags: 0, sup_sw_if_index: a });
    expect(db).toMatchObject({ interface_name: 'loop1', l2_address: 'de:ad:00:00:00:01' });
    await c.request(interface_.delete_loopback, { sw_if_index: a }, interface_.delete_loopback_reply);
    await c.request(interface_.delete_loopback, { sw_if_index: b }, interface_.delete_loopback_reply);
    // freed 1 then 2: VPP's pool hands out 2 first; instances are the lowest free
    const x = await loopback(c);
    const y = await loopback(c);
    expect([x, y]).toEqual([2, 1]);
    expect((await details(c, x))[0]!.interface_name).toBe('loop0');
    for (const i of [x, y]) await c.request(interface_.delete_loopback, { sw_if_index: i }, interface_.delete_loopback_reply);
  });

  test('create_loopback_instance: a specified instance, -31 when it exists; delete_loopback -2 on a non-loopback', async () => {
    const r = await c.request(interface_.create_loopback_instance, { mac_address: '00:00:00:00:00:00', is_specified: true, user_instance: 4000 }, interface_.create_loopback_instance_reply);
    expect(r.retval).toBe(0);
    expect((await details(c, r.sw_if_index))[0]!.interface_name).toBe('loop4000');
    const again = await c.request(interface_.create_loopback_instance, { mac_address: '00:00:00:00:00:00', is_specified: true, user_instance: 4000 }, interface_.create_loopback_instance_reply);
    expect(again).toEqual({ retval: -31, sw_if_index: ALL });
    expect(await c.request(interface_.delete_loopback, { sw_if_index: 9999 }, interface_.delete_loopback_reply)).toEqual({ retval: -2 });
    expect(await c.request(interface_.delete_loopback, { sw_if_index: 0 }, interface_.delete_loopback_reply)).toEqual({ retval: -2 });
    await c.request(interface_.delete_loopback, { sw_if_index: r.sw_if_index }, interface_.delete_loopback_reply);
  });

  test('sw_interface_dump: one index, an unknown index (no details), a case-insensitive name filter', async () => {
    const a = await loopback(c);
    expect((await details(c, a)).map((d) => d.sw_if_index)).toEqual([a]);
    expect(await details(c, 777)).toEqual([]);
    // 0 means all, like ~0 (interface_api.c); a name filter makes the handler ignore the index.
    expect((await details(c, 0)).map((d) => d.sw_if_index)).toEqual([0, a]);
    const filtered = await c.dump(interface_.sw_interface_dump, { sw_if_index: ALL, name_filter_valid: true, name_filter: 'LOOP' }, interface_.sw_interface_details);
    expect(filtered.map((d) => d.sw_if_index)).toEqual([a]);
    await c.request(interface_.delete_loopback, { sw_if_index: a }, interface_.delete_loopback_reply);
  });

  test('flags, tags and MTU', async () => {
    const a = await loopback(c);
    expect(await c.request(interface_.sw_interface_set_flags, { sw_if_index: 9999, flags: 1 }, interface_.sw_interface_set_flags_reply)).toEqual({ retval: -2 });
    await c.request(interface_.sw_interface_set_flags, { sw_if_index: a, flags: 1 }, interface_.sw_interface_set_flags_reply);
    expect((await details(c, a))[0]!.flags).toBe(3); // a loopback's link follows admin state
    expect(await c.request(interface_.sw_interface_tag_add_del, { is_add: true, sw_if_index: 9999, tag: 'x' }, interface_.sw_interface_tag_add_del_reply)).toEqual({ retval: -2 });
    expect(await c.request(interface_.sw_interface_tag_add_del, { is_add: true, sw_if_index: a, tag: '' }, interface_.sw_interface_tag_add_del_reply)).toEqual({ retval: -7 });
    await c.request(interface_.sw_interface_tag_add_del, { is_add: true, sw_if_index: a, tag: 'vpp-cni:ns/pod/eth0' }, interface_.sw_interface_tag_add_del_reply);
    expect((await details(c, a))[0]!.tag).toBe('vpp-cni:ns/pod/eth0');
    await c.request(interface_.sw_interface_set_mtu, { sw_if_index: a, mtu: [1500, 0, 0, 0] }, interface_.sw_interface_set_mtu_reply);
    expect((await details(c, a))[0]!.mtu).toEqual([1500, 0, 0, 0]);
    await c.request(interface_.sw_interface_tag_add_del, { is_add: false, sw_if_index: a, tag: '' }, interface_.sw_interface_tag_add_del_reply);
    expect((await details(c, a))[0]!.tag).toBe('');
    await c.request(interface_.delete_loopback, { sw_if_index: a }, interface_.delete_loopback_reply);
  });
});

describe('interface events', () => {
  test('events follow the reply that caused them; -31 when enabling or disabling twice; reaped with the connection', async () => {
    const sim = await fx.start();
    const c = await fx.client(sim, 'events');
    const other = await fx.client(sim, 'other');
    const eventId = c.id(interface_.sw_interface_event);
    const want = (enable: number): Promise<{ retval: number }> => c.request(interface_.want_interface_events, { enable_disable: enable, pid: 10581 }, interface_.want_interface_events_reply);
    expect(await want(1)).toEqual({ retval: 0 });
    expect(await want(1)).toEqual({ retval: -31 });

    const nextEvent = async () => {
      const f = await c.next();
      expect(f.id).toBe(eventId);
      expect(f.msg.readUInt32BE(2)).toBe(c.clientIndex);
      return interface_.sw_interface_event.decode(f.msg);
    };
    // Created by another client: the event still reaches the subscriber.
    const loop = await other.request(interface_.create_loopback, { mac_address: '00:00:00:00:00:00' }, interface_.create_loopback_reply);
    expect(await nextEvent()).toEqual({ pid: 10581, sw_if_index: loop.sw_if_index, flags: 0, deleted: false });

    c.send(interface_.sw_interface_set_flags, { sw_if_index: loop.sw_if_index, flags: 1 });
    expect((await c.next()).id).toBe(c.id(interface_.sw_interface_set_flags_reply));
    expect(await nextEvent()).toEqual({ pid: 10581, sw_if_index: loop.sw_if_index, flags: 3, deleted: false });
    // No change, no event.
    await c.request(interface_.sw_interface_set_flags, { sw_if_index: loop.sw_if_index, flags: 1 }, interface_.sw_interface_set_flags_reply);
    await c.request(interface_.sw_interface_set_flags, { sw_if_index: loop.sw_if_index, flags: 0 }, interface_.sw_interface_set_flags_reply);
    expect(await nextEvent()).toEqual({ pid: 10581, sw_if_index: loop.sw_if_index, flags: 0, deleted: false });
    await c.request(interface_.delete_loopback, { sw_if_index: loop.sw_if_index }, interface_.delete_loopback_reply);
    expect(await nextEvent()).toEqual({ pid: 10581, sw_if_index: loop.sw_if_index, flags: 0, deleted: true });
    await other.expectNothing(100);

    expect(await want(0)).toEqual({ retval: 0 });
    expect(await want(0)).toEqual({ retval: -31 });
    await loopback(c);
    await c.expectNothing(100);

    // A registration dies with its connection: a new client on the same registration index starts unsubscribed.
    expect(await want(1)).toEqual({ retval: 0 });
    await c.disconnect();
    const again = await fx.client(sim, 'again');
    expect(again.clientIndex).toBe(c.clientIndex);
    await again.request(interface_.create_loopback, { mac_address: '00:00:00:00:00:00' }, interface_.create_loopback_reply);
    await again.expectNothing(100);
    expect(await again.request(interface_.want_interface_events, { enable_disable: 0, pid: 1 }, interface_.want_interface_events_reply)).toEqual({ retval: -31 });
  });
});

describe('addresses, tables, unnumbered and routes', () => {
  let c: RawVppClient;
  beforeAll(async () => {
    c = await fx.client(await fx.start());
  });

  test('sw_interface_add_del_address: -105 on a duplicate or overlap, -60 on a missing address, del_all', async () => {
    const a = await loopback(c);
    const b = await loopback(c);
    const addr = (sw: number, prefix: string, isAdd = true, delAll = false) =>
      c.request(interface_.sw_interface_add_del_address, { sw_if_index: sw, is_add: isAdd, del_all: delAll, prefix }, interface_.sw_interface_add_del_address_reply);
    expect(await addr(9999, '10.9.9.1/24')).toEqual({ retval: -2 });
    expect(await addr(a, '10.9.9.1/24')).toEqual({ retval: 0 });
    expect(await addr(a, '10.9.9.1/24')).toEqual({ retval: -105 });
    expect(await addr(a, '10.9.9.2/24')).toEqual({ retval: 0 }); // same interface, same length: allowed
    expect(await addr(b, '10.9.9.3/24')).toEqual({ retval: -105 }); // overlaps another interface in the table
    expect(await addr(a, 'fd00:9::1/64')).toEqual({ retval: 0 });
    expect(await addr(a, '10.9.8.1/24', false)).toEqual({ retval: -60 });
    const v4 = await c.dump(ip.ip_address_dump, { sw_if_index: a, is_ipv6: false }, ip.ip_address_details);
    expect(v4.map((d) => d.prefix)).toEqual(['10.9.9.1/24', '10.9.9.2/24']);
    const v6 = await c.dump(ip.ip_address_dump, { sw_if_index: a, is_ipv6: true }, ip.ip_address_details);
    expect(v6.map((d) => d.prefix)).toEqual(['fd00:9::1/64']);
    expect(await addr(a, '10.9.9.2/24', false)).toEqual({ retval: 0 });
    expect(await addr(a, '0.0.0.0/0', false, true)).toEqual({ retval: 0 });
    expect(await c.dump(ip.ip_address_dump, { sw_if_index: a, is_ipv6: true }, ip.ip_address_details)).toEqual([]);
  });

  test('tables: -3 for a missing one; unnumbered -74 across tables; routes and the connected entries', async () => {
    const a = await loopback(c);
    const b = await loopback(c);
    const setTable = (sw: number, vrf: number, v6 = false) => c.request(interface_.sw_interface_set_table, { sw_if_index: sw, is_ipv6: v6, vrf_id: vrf }, interface_.sw_interface_set_table_reply);
    expect(await setTable(a, 1010)).toEqual({ retval: -3 });
    expect(await c.request(ip.ip_table_add_del, { is_add: true, table: { table_id: 1010, is_ip6: false, name: 'blue' } }, ip.ip_table_add_del_reply)).toEqual({ retval: 0 });
    const tables = await c.dump(ip.ip_table_dump, {}, ip.ip_table_details);
    expect(tables.map((t) => t.table)).toEqual([
      { table_id: 0, is_ip6: false, name: 'ipv4-VRF:0' },
      { table_id: 1010, is_ip6: false, name: 'blue' },
      { table_id: 0, is_ip6: true, name: 'ipv6-VRF:0' },
    ]);
    expect(await setTable(a, 1010)).toEqual({ retval: 0 });
    expect(await c.request(interface_.sw_interface_get_table, { sw_if_index: a, is_ipv6: false }, interface_.sw_interface_get_table_reply)).toEqual({ retval: 0, vrf_id: 1010 });
    const unnum = (ipSw: number, unSw: number, isAdd = true) => c.request(interface_.sw_interface_set_unnumbered, { sw_if_index: ipSw, unnumbered_sw_if_index: unSw, is_add: isAdd }, interface_.sw_interface_set_unnumbered_reply);
    expect(await unnum(a, b)).toEqual({ retval: -74 });
    expect(await setTable(b, 1010)).toEqual({ retval: 0 });
    await c.request(interface_.sw_interface_add_del_address, { sw_if_index: a, is_add: true, del_all: false, prefix: '10.2.0.1/24' }, interface_.sw_interface_add_del_address_reply);
    expect(await unnum(a, b)).toEqual({ retval: 0 });
    expect(await unnum(a, 9999)).toEqual({ retval: -2 });
    expect(await unnum(9999, b)).toEqual({ retval: -10 });
    // ip_table_bind: the addresses (own or borrowed) must go before the VRF changes.
    expect(await setTable(a, 0)).toEqual({ retval: -114 });
    expect(await setTable(b, 0)).toEqual({ retval: -114 });
    expect((await c.dump(ip.ip_address_dump, { sw_if_index: b, is_ipv6: false }, ip.ip_address_details)).map((d) => d.prefix)).toEqual(['10.2.0.1/24']);
    expect(await c.dump(ip.ip_unnumbered_dump, { sw_if_index: ALL }, ip.ip_unnumbered_details)).toEqual([{ sw_if_index: b, ip_sw_if_index: a }]);

    const path = { sw_if_index: a, table_id: 1010, weight: 1, proto: 0 as const, nh: { address: { ip4: '10.2.0.2' } } };
    const route = (isAdd: boolean, tableId: number, prefix: string, multipath = false, paths = [path]) =>
      c.request(ip.ip_route_add_del, { is_add: isAdd, is_multipath: multipath, route: { table_id: tableId, prefix, paths } }, ip.ip_route_add_del_reply);
    expect(await route(true, 4242, '10.9.0.0/24')).toEqual({ retval: -3, stats_index: ALL });
    expect(await route(true, 1010, '10.9.0.0/24', false, [{ ...path, sw_if_index: 9999 }])).toEqual({ retval: -54, stats_index: ALL });
    expect(await route(true, 1010, '10.9.0.0/24', false, [{ ...path, sw_if_index: ALL, table_id: 4242 }])).toEqual({ retval: -3, stats_index: ALL });
    expect(await route(true, 1010, '10.9.0.0/24', false, [])).toEqual({ retval: -52, stats_index: ALL });
    const added = await route(true, 1010, '10.3.0.7/24');
    expect(added.retval).toBe(0);
    await route(true, 1010, '10.3.0.0/24', true, [{ ...path, nh: { address: { ip4: '10.2.0.3' } } }]);
    const dump = await c.dump(ip.ip_route_dump, { table: { table_id: 1010, is_ip6: false, name: '' } }, ip.ip_route_details);
    const byPrefix = new Map(dump.map((d) => [d.route.prefix, d.route]));
    expect([...byPrefix.keys()].sort()).toEqual(['0.0.0.0/0', '0.0.0.0/32', '10.2.0.0/24', '10.2.0.0/32', '10.2.0.1/32', '10.2.0.255/32', '10.3.0.0/24', '224.0.0.0/4', '240.0.0.0/4', '255.255.255.255/32'].sort());
    const r = byPrefix.get('10.3.0.0/24')!;
    expect(r.stats_index).toBe(added.stats_index);
    expect(r.paths.map((p) => [p.sw_if_index, p.nh.address.ip4, p.type])).toEqual([
      [a, '10.2.0.2', 0],
      [a, '10.2.0.3', 0],
    ]);
    expect(byPrefix.get('10.2.0.1/32')!.paths[0]).toMatchObject({ sw_if_index: a, type: 1 });
    expect(byPrefix.get('0.0.0.0/0')!.paths[0]).toMatchObject({ sw_if_index: ALL, type: 2 });
    await route(false, 1010, '10.3.0.0/24', true, [path]);
    const after = await c.dump(ip.ip_route_dump, { table: { table_id: 1010, is_ip6: false, name: '' } }, ip.ip_route_details);
    expect(after.find((d) => d.route.prefix === '10.3.0.0/24')!.route.paths.map((p) => p.nh.address.ip4)).toEqual(['10.2.0.3']);
    expect(await route(false, 1010, '10.3.0.0/24')).toEqual({ retval: 0, stats_index: ALL });
    const cleaned = await c.dump(ip.ip_route_dump, { table: { table_id: 1010, is_ip6: false, name: '' } }, ip.ip_route_details);
    expect(cleaned.some((d) => d.route.prefix === '10.3.0.0/24')).toBe(false);
    // v6: the default table holds ::/0 and fe80::/10
    const v6 = await c.dump(ip.ip_route_dump, { table: { table_id: 0, is_ip6: true, name: '' } }, ip.ip_route_details);
    expect(v6.map((d) => d.route.prefix).sort()).toEqual(['::/0', 'fe80::/10']);
  });
});

describe('tx placement cursor stream', () => {
  test('pages of cursorPageSize: -165 with the next cursor, then 0 with ~0; past the end -7', async () => {
    const sim = await fx.start({ cursorPageSize: 2 });
    const c = await fx.client(sim);
    for (let i = 0; i < 4; i++) await loopback(c);
    const get = async (cursor: number) => {
      const ctx = c.send(interface_.sw_interface_tx_placement_get, { cursor, sw_if_index: ALL });
      const got: number[] = [];
      for (;;) {
        const f = await c.next();
        const def = c.def(f.id)!;
        // The details message puts client_index (0) before its context, like sockclnt_create_reply.
        expect(f.msg.readUInt32BE(def.contextOffset)).toBe(ctx);
        if (f.id === c.id(interface_.sw_interface_tx_placement_get_reply)) return { details: got, reply: interface_.sw_interface_tx_placement_get_reply.decode(f.msg) };
        const d = interface_.sw_interface_tx_placement_details.decode(f.msg);
        expect(d).toMatchObject({ queue_id: 0, shared: 0, threads: [0] });
        got.push(d.sw_if_index);
      }
    };
    expect(await get(0)).toEqual({ details: [0, 1], reply: { retval: -165, cursor: 2 } });
    expect(await get(2)).toEqual({ details: [2, 3], reply: { retval: -165, cursor: 4 } });
    expect(await get(4)).toEqual({ details: [4], reply: { retval: 0, cursor: ALL } });
    expect(await get(5)).toEqual({ details: [], reply: { retval: 0, cursor: ALL } });
    expect(await get(6)).toEqual({ details: [], reply: { retval: -7, cursor: ALL } });
  });
});

function tapArgs(over: Record<string, unknown> = {}) {
  return {
    id: ALL,
    use_random_mac: true,
    num_rx_queues: 1,
    num_tx_queues: 1,
    tx_ring_sz: 256,
    rx_ring_sz: 256,
    host_mtu_set: true,
    host_mtu_size: 1450,
    host_ip4_prefix_set: true,
    host_ip4_prefix: '10.1.1.2/32',
    host_namespace_set: true,
    host_namespace: 'pod-ns',
    ...over,
  };
}

describe('tap', () => {
  test('without /dev/vhost-net (noVhostNet): -11, sw_if_index ~0, nothing created', async () => {
    const sim = await fx.start({ host: noVhostNet() });
    const c = await fx.client(sim);
    expect(await c.request(tapv2.tap_create_v3, tapArgs(), tapv2.tap_create_v3_reply)).toEqual({ retval: -11, sw_if_index: ALL });
    expect(await c.request(tapv2.tap_create_v2, tapArgs({ tap_flags: 16 }), tapv2.tap_create_v2_reply)).toEqual({ retval: -11, sw_if_index: ALL });
    expect(await c.dump(tapv2.sw_interface_tap_v2_dump, { sw_if_index: ALL }, tapv2.sw_interface_tap_v2_details)).toEqual([]);
    expect((await details(c)).map((d) => d.interface_name)).toEqual(['local0']);
  });

  test('fakeTap: tap<id>/tun<id>, lowest free id, -71 for an id in use, link up, tag, dump and delete', async () => {
    const sim = await fx.start({ host: fakeTap() });
    const c = await fx.client(sim);
    const t0 = await c.request(tapv2.tap_create_v3, tapArgs({ tag: 'vpp-cni:a' }), tapv2.tap_create_v3_reply);
    const t1 = await c.request(tapv2.tap_create_v3, tapArgs({ tap_flags: 16, host_if_name_set: true, host_if_name: 'eth0' }), tapv2.tap_create_v3_reply);
    expect([t0.retval, t1.retval]).toEqual([0, 0]);
    expect(await c.request(tapv2.tap_create_v3, tapArgs({ id: 1 }), tapv2.tap_create_v3_reply)).toEqual({ retval: -71, sw_if_index: ALL });
    const [d0, d1] = [(await details(c, t0.sw_if_index))[0]!, (await details(c, t1.sw_if_index))[0]!];
    expect(d0).toMatchObject({ interface_name: 'tap0', interface_dev_type: 'virtio', flags: 2, tag: 'vpp-cni:a', link_mtu: 9000 });
    expect(d0.l2_address).toMatch(/^02:fe:/);
    expect(d1).toMatchObject({ interface_name: 'tun1', flags: 2, l2_address: '00:00:00:00:00:00', link_mtu: 0 });
    const dump = await c.dump(tapv2.sw_interface_tap_v2_dump, { sw_if_index: ALL }, tapv2.sw_interface_tap_v2_details);
    expect(dump.map((d) => [d.id, d.dev_name, d.host_if_name, d.host_namespace, d.host_mtu_size, d.host_ip4_prefix, d.tap_flags, d.rx_ring_sz])).toEqual([
      [0, 'tap0', 'tap0', 'pod-ns', 1450, '10.1.1.2/32', 0, 256],
      [1, 'tun1', 'eth0', 'pod-ns', 1450, '10.1.1.2/32', 16, 256],
    ]);
    expect(await c.request(tapv2.tap_delete_v2, { sw_if_index: 0 }, tapv2.tap_delete_v2_reply)).toEqual({ retval: -2 });
    expect(await c.request(tapv2.tap_delete_v2, { sw_if_index: t0.sw_if_index }, tapv2.tap_delete_v2_reply)).toEqual({ retval: 0 });
    const again = await c.request(tapv2.tap_create_v2, tapArgs(), tapv2.tap_create_v2_reply);
    expect((await details(c, again.sw_if_index))[0]!.interface_name).toBe('tap0');
  });

  test('an async host: nothing else is handled until the tap is done, replies stay in order', async () => {
    const seen: TapHostRequest[] = [];
    let release: () => void = () => undefined;
    const base = fakeTap();
    const host: SimHost = {
      ...base,
      kind: 'slow-tap',
      createTap: (req) => {
        seen.push(req);
        return new Promise((resolve) => {
          release = () => resolve({ retval: 0, hostIfName: 'slow0' });
        });
      },
    };
    const sim = await fx.start({ host });
    const c = await fx.client(sim);
    const tapCtx = c.send(tapv2.tap_create_v3, tapArgs({ host_namespace: '/var/run/netns/x' }));
    const pingCtx = c.send(memclnt.control_ping, {});
    await c.expectNothing(150);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ id: 0, tun: false, hostNamespace: '/var/run/netns/x', hostMtu: 1450, hostIp4Prefix: '10.1.1.2/32', hostIfName: undefined });
    release();
    const first = await c.next();
    expect([first.id, first.msg.readUInt32BE(2)]).toEqual([c.id(tapv2.tap_create_v3_reply), tapCtx]);
    const second = await c.next();
    expect([second.id, second.msg.readUInt32BE(2)]).toEqual([c.id(memclnt.control_ping_reply), pingCtx]);
  });
});

describe('af_packet', () => {
  test('host-<ifname> on an existing host interface; -79 with the existing index; -71; delete and -11', async () => {
    const sim = await fx.start({ host: noVhostNet({ interfaceExists: (n) => n === 'vcni-h1', interfaceMtu: () => 1500 }) });
    const c = await fx.client(sim);
    const create = (name: string, mode = 2) =>
      c.request(af_packet.af_packet_create_v3, { mode, hw_addr: '00:00:00:00:00:00', use_random_hw_addr: true, host_if_name: name, num_rx_queues: 1, num_tx_queues: 1 }, af_packet.af_packet_create_v3_reply);
    const r = await create('vcni-h1');
    expect(r.retval).toBe(0);
    expect(await create('vcni-h1')).toEqual({ retval: -79, sw_if_index: r.sw_if_index });
    expect(await create('vcni-nosuch')).toEqual({ retval: -71, sw_if_index: 0 });
    expect((await details(c, r.sw_if_index))[0]).toMatchObject({ interface_name: 'host-vcni-h1', interface_dev_type: 'af-packet', flags: 2, l2_address: '00:00:00:00:00:00', link_mtu: 0 });
    expect(await c.dump(af_packet.af_packet_dump, {}, af_packet.af_packet_details)).toEqual([{ sw_if_index: r.sw_if_index, host_if_name: 'vcni-h1' }]);
    expect(await c.request(af_packet.af_packet_delete, { host_if_name: 'vcni-h1' }, af_packet.af_packet_delete_reply)).toEqual({ retval: 0 });
    expect(await c.request(af_packet.af_packet_delete, { host_if_name: 'vcni-h1' }, af_packet.af_packet_delete_reply)).toEqual({ retval: -11 });
    const eth = await create('vcni-h1', 1);
    expect((await details(c, eth.sw_if_index))[0]).toMatchObject({ link_mtu: 9000 }) // VPP's default for ethernet, not the host MTU (real VPP: 9000 on a veth of MTU 1400);
    expect((await details(c, eth.sw_if_index))[0]!.l2_address).toMatch(/^02:fe:/);
  });
});
