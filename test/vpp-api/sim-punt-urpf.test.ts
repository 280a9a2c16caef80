/** punt (set_punt, punt sockets), ip punt redirects and uRPF in the simulator, as VPP's handlers answer them. */
import { interface_, ip, punt, urpf, vlib } from '../../vpp-api/generated/index.js';
import { RawVppClient, SimFixture } from '../helpers/raw-vpp-client.js';

const fx = new SimFixture('vpp-sim-punt-urpf');
afterAll(() => fx.cleanup());

const ALL = 0xffffffff;
const TCP = 6;
const UDP = 17;

interface PuntSnapshot {
  unknownL4: string[];
  udpPorts: string[];
  redirects: { af: number; rxSwIfIndex: number; paths: { swIfIndex: number; tableId: number; nh: string }[] }[];
  urpf: { key: string; mode: number; tableId: number; custom: boolean; active: boolean }[];
}

async function state(c: RawVppClient): Promise<PuntSnapshot> {
  const r = await c.request(vlib.cli_inband, { cmd: 'sim state' }, vlib.cli_inband_reply);
  return (JSON.parse(r.reply) as { punt: PuntSnapshot }).punt;
}

function setPunt(c: RawVppClient, isAdd: boolean, l4: { af: number; protocol: number; port: number }) {
  return c.request(punt.set_punt, { is_add: isAdd, punt: { type: 0, punt: { l4 } } }, punt.set_punt_reply);
}

async function loopback(c: RawVppClient): Promise<number> {
  return (await c.request(interface_.create_loopback, { mac_address: '00:00:00:00:00:00' }, interface_.create_loopback_reply)).sw_if_index;
}

async function table(c: RawVppClient, id: number, isIp6 = false): Promise<void> {
  expect(await c.request(ip.ip_table_add_del, { is_add: true, table: { table_id: id, is_ip6: isIp6, name: `t${id}` } }, ip.ip_table_add_del_reply)).toEqual({ retval: 0 });
}

describe('set_punt', () => {
  test('unknown TCP/UDP per family (idempotent), UDP ports, TCP ports and other types refused, bad family -97', async () => {
    const c = await fx.client(await fx.start());
    for (const af of [0, 1]) {
      for (const protocol of [TCP, UDP]) {
        expect(await setPunt(c, true, { af, protocol, port: 0xffff })).toEqual({ retval: 0 });
        expect(await setPunt(c, true, { af, protocol, port: 0xffff })).toEqual({ retval: 0 });
      }
    }
    expect(await setPunt(c, true, { af: 0, protocol: UDP, port: 53 })).toEqual({ retval: 0 });
    expect(await setPunt(c, true, { af: 0, protocol: TCP, port: 80 })).toEqual({ retval: -1 });
    expect(await setPunt(c, true, { af: 0, protocol: 132, port: 0xffff })).toEqual({ retval: -1 });
    expect(await setPunt(c, true, { af: 2, protocol: TCP, port: 0xffff })).toEqual({ retval: -97 });
    expect(await c.request(punt.set_punt, { is_add: true, punt: { type: 1, punt: { ip_proto: { af: 0, protocol: 47 } } } }, punt.set_punt_reply)).toEqual({ retval: -1 });
    expect(await c.request(punt.set_punt, { is_add: true, punt: { type: 2, punt: { exception: { id: 1 } } } }, punt.set_punt_reply)).toEqual({ retval: -1 });
    let s = await state(c);
    expect(s.unknownL4).toEqual(['4/tcp', '4/udp', '6/tcp', '6/udp']);
    expect(s.udpPorts).toEqual(['4/53']);

    expect(await setPunt(c, false, { af: 1, protocol: UDP, port: 0xffff })).toEqual({ retval: 0 });
    expect(await setPunt(c, false, { af: 1, protocol: UDP, port: 0xffff })).toEqual({ retval: 0 });
    expect(await setPunt(c, false, { af: 0, protocol: UDP, port: 53 })).toEqual({ retval: 0 });
    s = await state(c);
    expect(s.unknownL4).toEqual(['4/tcp', '4/udp', '6/tcp']);
    expect(s.udpPorts).toEqual([]);
  });

  test('punt sockets are not configured: register/deregister -1, an empty dump; a register that does not decode gets no reply', async () => {
    const c = await fx.client(await fx.start());
    const l4 = { type: 0, punt: { l4: { af: 0, protocol: UDP, port: 4789 } } };
    expect(await c.request(punt.punt_socket_register, { header_version: 1, punt: l4, pathname: '/tmp/x.sock' }, punt.punt_socket_register_reply)).toEqual({ retval: -1, pathname: '' });
    expect(await c.request(punt.punt_socket_deregister, { punt: l4 }, punt.punt_socket_deregister_reply)).toEqual({ retval: -1 });
    expect(await c.dump(punt.punt_socket_dump, { type: 0 }, punt.punt_socket_details)).toEqual([]);
    c.send(punt.punt_socket_register, { header_version: 1, punt: { type: 9 }, pathname: '/tmp/x.sock' });
    await c.expectNothing(200);
  });
});

describe('ip punt redirect', () => {
  test('v2: rx ~0 kept as 0, add replaces, per family, dump all or one rx, del silent twice, path checks', async () => {
    const c = await fx.client(await fx.start());
    await table(c, 77);
    await table(c, 77, true);
    const lookup4 = { sw_if_index: ALL, table_id: 77, proto: 0 as const };
    const lookup6 = { sw_if_index: ALL, table_id: 77, proto: 1 as const };
    const add = (rx: number, af: number, paths: object[], isAdd = true) =>
      c.request(ip.add_del_ip_punt_redirect_v2, { is_add: isAdd, punt: { rx_sw_if_index: rx, af, paths } }, ip.add_del_ip_punt_redirect_v2_reply);
    expect(await add(ALL, 0, [lookup4])).toEqual({ retval: 0 });
    expect(await add(ALL, 1, [lookup6])).toEqual({ retval: 0 });
    expect(await add(ALL, 0, [{ sw_if_index: ALL, table_id: 78, proto: 0 }])).toEqual({ retval: -3 });
    expect(await add(ALL, 0, [{ sw_if_index: 42, proto: 0 }])).toEqual({ retval: -54 });
    expect(await add(ALL, 3, [lookup4])).toEqual({ retval: -97 });
    const loop = await loopback(c);
    expect(await add(loop, 0, [{ sw_if_index: loop, proto: 0, nh: { address: { ip4: '10.1.1.1' } } }])).toEqual({ retval: 0 });

    const all4 = await c.dump(ip.ip_punt_redirect_v2_dump, { sw_if_index: ALL, af: 0 }, ip.ip_punt_redirect_v2_details);
    expect(all4.map((d) => [d.punt.rx_sw_if_index, d.punt.af, d.punt.paths.map((p) => [p.sw_if_index, p.table_id, p.nh.address.ip4])])).toEqual([
      [0, 0, [[ALL, 77, '0.0.0.0']]],
      [loop, 0, [[loop, 0, '10.1.1.1']]],
    ]);
    // "From any" is asked for as 0, not ~0 (which means "all").
    expect((await c.dump(ip.ip_punt_redirect_v2_dump, { sw_if_index: 0, af: 0 }, ip.ip_punt_redirect_v2_details)).length).toBe(1);
    expect((await c.dump(ip.ip_punt_redirect_v2_dump, { sw_if_index: ALL, af: 1 }, ip.ip_punt_redirect_v2_details)).map((d) => d.punt.paths[0]!.table_id)).toEqual([77]);
    expect(await c.dump(ip.ip_punt_redirect_v2_dump, { sw_if_index: ALL, af: 5 }, ip.ip_punt_redirect_v2_details)).toEqual([]);

    // An add replaces the paths of that rx; a delete needs no paths and is silent when nothing is there.
    await table(c, 99);
    expect(await add(ALL, 0, [{ sw_if_index: ALL, table_id: 99, proto: 0 }])).toEqual({ retval: 0 });
    expect((await state(c)).redirects.filter((r) => r.af === 4).map((r) => [r.rxSwIfIndex, r.paths.map((p) => p.tableId)])).toEqual([
      [0, [99]],
      [loop, [0]],
    ]);
    expect(await add(ALL, 0, [], false)).toEqual({ retval: 0 });
    expect(await add(ALL, 0, [], false)).toEqual({ retval: 0 });
    expect((await state(c)).redirects.map((r) => [r.af, r.rxSwIfIndex])).toEqual([
      [6, 0],
      [4, loop],
    ]);
  });

  test('v1: a missing tx interface answers 0 and changes nothing; the v1 dump shows the first path', async () => {
    const c = await fx.client(await fx.start());
    expect(await c.request(ip.ip_punt_redirect, { is_add: true, punt: { rx_sw_if_index: ALL, tx_sw_if_index: 55, nh: '10.0.0.1' } }, ip.ip_punt_redirect_reply)).toEqual({ retval: 0 });
    expect((await state(c)).redirects).toEqual([]);
    const loop = await loopback(c);
    expect(await c.request(ip.ip_punt_redirect, { is_add: true, punt: { rx_sw_if_index: ALL, tx_sw_if_index: loop, nh: '10.0.0.1' } }, ip.ip_punt_redirect_reply)).toEqual({ retval: 0 });
    const d = await c.dump(ip.ip_punt_redirect_dump, { sw_if_index: ALL, is_ipv6: false }, ip.ip_punt_redirect_details);
    expect(d.map((x) => x.punt)).toEqual([{ rx_sw_if_index: 0, tx_sw_if_index: loop, nh: '10.0.0.1' }]);
  });
});

describe('urpf', () => {
  const upd = (c: RawVppClient, v: { sw_if_index: number; mode: number; af?: number; table_id?: number; is_input?: boolean }) =>
    c.request(urpf.urpf_update_v2, { is_input: true, af: 0, table_id: ALL, ...v }, urpf.urpf_update_v2_reply);

  test('checks: interface -2, mode -7, family -97, unknown table -7; dump per family then direction', async () => {
    const c = await fx.client(await fx.start());
    const loop = await loopback(c);
    expect(await upd(c, { sw_if_index: 99, mode: 1 })).toEqual({ retval: -2 });
    expect(await upd(c, { sw_if_index: loop, mode: 3 })).toEqual({ retval: -7 });
    expect(await upd(c, { sw_if_index: loop, mode: 1, af: 2 })).toEqual({ retval: -97 });
    expect(await upd(c, { sw_if_index: loop, mode: 1, table_id: 5 })).toEqual({ retval: -7 });
    await table(c, 5);
    await table(c, 6, true);
    expect(await upd(c, { sw_if_index: loop, mode: 1, table_id: 5 })).toEqual({ retval: 0 });
    expect(await upd(c, { sw_if_index: loop, mode: 2, af: 1, table_id: 6 })).toEqual({ retval: 0 });
    expect(await upd(c, { sw_if_index: loop, mode: 2, is_input: false })).toEqual({ retval: 0 });
    expect(await c.request(urpf.urpf_update, { is_input: true, mode: 2, af: 0, sw_if_index: 0 }, urpf.urpf_update_reply)).toEqual({ retval: 0 });
    const d = await c.dump(urpf.urpf_interface_dump, { sw_if_index: ALL }, urpf.urpf_interface_details);
    expect(d).toEqual([
      { sw_if_index: 0, is_input: true, mode: 2, af: 0, table_id: 0 },
      { sw_if_index: loop, is_input: true, mode: 1, af: 0, table_id: 5 },
      { sw_if_index: loop, is_input: false, mode: 2, af: 0, table_id: 0 },
      { sw_if_index: loop, is_input: true, mode: 2, af: 1, table_id: 6 },
    ]);
    expect((await c.dump(urpf.urpf_interface_dump, { sw_if_index: 0 }, urpf.urpf_interface_details)).length).toBe(1);
    // Off with the interface's own table leaves nothing to show; off with a custom table still shows.
    expect(await upd(c, { sw_if_index: 0, mode: 0 })).toEqual({ retval: 0 });
    expect(await upd(c, { sw_if_index: loop, mode: 0, table_id: 5 })).toEqual({ retval: 0 });
    expect((await c.dump(urpf.urpf_interface_dump, { sw_if_index: ALL }, urpf.urpf_interface_details)).map((x) => [x.sw_if_index, x.mode, x.table_id, x.af, x.is_input])).toEqual([
      [loop, 0, 5, 0, true],
      [loop, 2, 0, 0, false],
      [loop, 2, 6, 1, true],
    ]);
  });

  test('the config outlives the interface: a new one with the same index inherits it, and the same update does not switch it on', async () => {
    const c = await fx.client(await fx.start());
    await table(c, 5);
    const a = await loopback(c);
    expect(await upd(c, { sw_if_index: a, mode: 1, table_id: 5 })).toEqual({ retval: 0 });
    expect((await state(c)).urpf).toEqual([{ key: `4/rx/${a}`, mode: 1, tableId: 5, custom: true, active: true }]);
    expect(await c.request(interface_.delete_loopback, { sw_if_index: a }, interface_.delete_loopback_reply)).toEqual({ retval: 0 });
    const b = await loopback(c);
    expect(b).toBe(a);
    expect(await c.dump(urpf.urpf_interface_dump, { sw_if_index: b }, urpf.urpf_interface_details)).toEqual([{ sw_if_index: b, is_input: true, mode: 1, af: 0, table_id: 5 }]);
    expect(await upd(c, { sw_if_index: b, mode: 1, table_id: 5 })).toEqual({ retval: 0 });
    expect((await state(c)).urpf[0]!.active).toBe(false);
    // Off, then on again, really switches the check on for the new interface.
    expect(await upd(c, { sw_if_index: b, mode: 0, table_id: 5 })).toEqual({ retval: 0 });
    expect(await upd(c, { sw_if_index: b, mode: 1, table_id: 5 })).toEqual({ retval: 0 });
    expect((await state(c)).urpf[0]!.active).toBe(true);
  });
});
