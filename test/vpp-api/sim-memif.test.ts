/** memif in the simulator: socket filenames and every validation retval, interfaces, dumps. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { interface_, memif } from '../../vpp-api/generated/index.js';
import type { VppSimulator } from '../../vpp-api/sim/index.js';
import { RawVppClient, SimFixture } from '../helpers/raw-vpp-client.js';

const fx = new SimFixture('vpp-sim-memif');
/** Stands in for an existing netns file (the host check is fs.existsSync). */
const fakeNetnsDir = mkdtempSync(join(tmpdir(), 'vpp-sim-netns-'));
afterAll(async () => {
  await fx.cleanup();
  rmSync(fakeNetnsDir, { recursive: true, force: true });
});

const ALL = 0xffffffff;
let sim: VppSimulator;
let c: RawVppClient;
beforeAll(async () => {
  sim = await fx.start();
  c = await fx.client(sim);
});

const sock = (isAdd: boolean, socketId: number, filename: string) =>
  c.request(memif.memif_socket_filename_add_del_v2, { is_add: isAdd, socket_id: socketId, socket_filename: filename }, memif.memif_socket_filename_add_del_v2_reply);

function memifArgs(over: Partial<{ role: 0 | 1; mode: 0 | 1 | 2; id: number; socket_id: number; ring_size: number; buffer_size: number; hw_addr: string; rx_queues: number; tx_queues: number; no_zero_copy: boolean }>) {
  return { role: 0 as const, mode: 0 as const, rx_queues: 1, tx_queues: 1, id: 0, socket_id: 0, ring_size: 1024, buffer_size: 2048, no_zero_copy: false, use_dma: false, hw_addr: '00:00:00:00:00:00', secret: '', ...over };
}

const create = (over: Parameters<typeof memifArgs>[0]) => c.request(memif.memif_create_v2, memifArgs(over), memif.memif_create_v2_reply);
const del = (sw: number) => c.request(memif.memif_delete, { sw_if_index: sw }, memif.memif_delete_reply);

describe('memif_socket_filename_add_del_v2', () => {
  test('auto ids come from VPP random_u32 (fresh: 1013904223, 1196435762, ...) and are echoed even when the add fails', async () => {
    expect(await sock(true, ALL, 'abstract:a1')).toEqual({ retval: 0, socket_id: 1013904223 });
    expect(await sock(true, ALL, '')).toEqual({ retval: -73, socket_id: 1196435762 });
    expect(await sock(false, 1013904223, '')).toEqual({ retval: 0, socket_id: 1013904223 });
  });

  test('socket 0 is reserved (-73); an unknown id cannot be deleted (-73); another filename for an id is -116', async () => {
    expect(await sock(true, 0, 'abstract:zero')).toEqual({ retval: -73, socket_id: 0 });
    expect(await sock(false, 0, '')).toEqual({ retval: -73, socket_id: 0 });
    expect(await sock(false, 4242, '')).toEqual({ retval: -73, socket_id: 4242 });
    expect(await sock(true, 77, 'abstract:gld-a')).toEqual({ retval: 0, socket_id: 77 });
    expect(await sock(true, 77, 'abstract:gld-a')).toEqual({ retval: 0, socket_id: 77 });
    expect(await sock(true, 77, 'abstract:gld-b')).toEqual({ retval: -116, socket_id: 77 });
    expect(await sock(false, 77, '')).toEqual({ retval: 0, socket_id: 77 });
    expect(await sock(false, 77, '')).toEqual({ retval: -73, socket_id: 77 });
  });

  test('filenames: abstract names kept (netns not checked), relative ones under the runtime dir, absolute ones need their directory', async () => {
    expect((await sock(true, 10, 'abstract:')).retval).toBe(0);
    expect((await sock(true, 11, 'abstract:x,netns_name=/nonexistent/netns/x')).retval).toBe(0);
    expect((await sock(true, 12, 'pod/memif.sock')).retval).toBe(0);
    expect((await sock(true, 13, '/nonexistent-dir/memif.sock')).retval).toBe(-73);
    expect((await sock(true, 14, join(fakeNetnsDir, 'memif.sock'))).retval).toBe(0);
    const dump = await c.dump(memif.memif_socket_filename_dump, {}, memif.memif_socket_filename_details);
    expect(dump).toEqual([
      { socket_id: 0, socket_filename: '/run/vpp/memif.sock' },
      { socket_id: 10, socket_filename: 'abstract:' },
      { socket_id: 11, socket_filename: 'abstract:x,netns_name=/nonexistent/netns/x' },
      { socket_id: 12, socket_filename: '/run/vpp/pod/memif.sock' },
      { socket_id: 14, socket_filename: join(fakeNetnsDir, 'memif.sock') },
    ]);
    for (const id of [10, 11, 12, 14]) await sock(false, id, '');
  });
});

describe('memif_create_v2 / memif_delete', () => {
  test('validations: ring not a power of 2, unknown socket, duplicate id, master/slave mix, punt mode', async () => {
    await sock(true, 20, 'abstract:v20');
    expect(await create({ ring_size: 1000 })).toEqual({ retval: -73, sw_if_index: 0 });
    expect(await create({ socket_id: 4242 })).toEqual({ retval: -73, sw_if_index: 0 });
    const first = await create({ socket_id: 20, id: 0 });
    expect(first.retval).toBe(0);
    expect(await create({ socket_id: 20, id: 0 })).toEqual({ retval: -68, sw_if_index: 0 });
    expect(await create({ socket_id: 20, id: 1, role: 1 })).toEqual({ retval: -68, sw_if_index: 0 });
    expect(await create({ socket_id: 20, id: 2, mode: 2 })).toEqual({ retval: -12, sw_if_index: 0 });
    expect(await sock(false, 20, '')).toEqual({ retval: -74, socket_id: 20 });
    expect(await del(first.sw_if_index)).toEqual({ retval: 0 });
    expect(await del(first.sw_if_index)).toEqual({ retval: -2 });
    expect(await del(0)).toEqual({ retval: -2 });
    expect(await sock(false, 20, '')).toEqual({ retval: 0, socket_id: 20 });
  });

  test('a master on an abstract socket whose netns is missing: -14, sw_if_index reported, no interface', async () => {
    await sock(true, 30, 'abstract:m,netns_name=/nonexistent/netns/pod');
    const before = await c.dump(interface_.sw_interface_dump, { sw_if_index: ALL }, interface_.sw_interface_details);
    const r = await create({ socket_id: 30 });
    expect(r.retval).toBe(-14);
    expect(r.sw_if_index).toBeGreaterThan(0);
    const after = await c.dump(interface_.sw_interface_dump, { sw_if_index: ALL }, interface_.sw_interface_details);
    expect(after).toEqual(before);
    // the index was freed again: the next interface gets it
    const ok = await sock(true, 31, `abstract:m,netns_name=${fakeNetnsDir}`);
    expect(ok.retval).toBe(0);
    const m = await create({ socket_id: 31 });
    expect(m).toEqual({ retval: 0, sw_if_index: r.sw_if_index });
    // a slave does not listen, so the netns does not matter
    const s = await create({ socket_id: 30, role: 1, id: 5 });
    expect(s.retval).toBe(0);
    await del(m.sw_if_index);
    await del(s.sw_if_index);
    await sock(false, 30, '');
    await sock(false, 31, '');
  });

  test('masters on path sockets: in the runtime dir (VPP made it) fine, in a missing directory -14', async () => {
    const own = mkdtempSync(join(tmpdir(), 'vpp-sim-memif-dir-'));
    await sock(true, 50, 'pod-x/memif.sock');
    await sock(true, 51, join(own, 'm.sock'));
    const a = await create({ socket_id: 50 });
    const b = await create({ socket_id: 51 });
    expect([a.retval, b.retval]).toEqual([0, 0]);
    rmSync(own, { recursive: true, force: true });
    expect((await sock(true, 52, join(own, 'n.sock'))).retval).toBe(-73);
    for (const r of [a, b]) await del(r.sw_if_index);
    // the directory went away after the filename was added: the listener cannot be created
    const c2 = await create({ socket_id: 51 });
    expect(c2.retval).toBe(-14);
    await sock(false, 50, '');
    await sock(false, 51, '');
  });

  test('interfaces and dumps: names, defaults, random MAC, ip mode, admin up without a peer', async () => {
    await sock(true, 42, 'abstract:vpp/memif-eth1');
    const eth = await create({ socket_id: 42, id: 0, ring_size: 0, buffer_size: 0 });
    const ipm = await create({ socket_id: 42, id: 1, mode: 1, hw_addr: '02:fe:00:00:00:09' });
    const slave = await create({ socket_id: 0, id: 3, role: 1, hw_addr: '02:fe:0d:00:00:01' });
    await c.request(interface_.sw_interface_set_flags, { sw_if_index: eth.sw_if_index, flags: 1 }, interface_.sw_interface_set_flags_reply);
    const d = await c.dump(memif.memif_dump, {}, memif.memif_details);
    expect(d).toHaveLength(3);
    // memif_dump walks the memif pool: earlier deletes make its order differ from creation order.
    const [de, di, ds] = [eth, ipm, slave].map((r) => d.find((x) => x.sw_if_index === r.sw_if_index));
    expect(de).toMatchObject({ sw_if_index: eth.sw_if_index, id: 0, role: 0, mode: 0, zero_copy: false, socket_id: 42, ring_size: 1, buffer_size: 0, flags: 1, if_name: 'memif42/0' });
    expect(de!.hw_addr).toMatch(/^02:fe:/);
    expect(di).toMatchObject({ if_name: 'memif42/1', mode: 1, hw_addr: '00:00:00:00:00:00', flags: 0 });
    expect(ds).toMatchObject({ if_name: 'memif0/3', role: 1, zero_copy: true, hw_addr: '02:fe:0d:00:00:01' });
    const sw = await c.dump(interface_.sw_interface_dump, { sw_if_index: eth.sw_if_index }, interface_.sw_interface_details);
    expect(sw[0]).toMatchObject({ interface_name: 'memif42/0', interface_dev_type: 'memif', link_mtu: 9000, flags: 1 });
    const swIp = await c.dump(interface_.sw_interface_dump, { sw_if_index: ipm.sw_if_index }, interface_.sw_interface_details);
    expect(swIp[0]).toMatchObject({ l2_address: '00:00:00:00:00:00', link_mtu: 0, mtu: [0, 0, 0, 0] });
    for (const r of [eth, ipm, slave]) await del(r.sw_if_index);
    expect(await c.dump(memif.memif_dump, {}, memif.memif_details)).toEqual([]);
    await sock(false, 42, '');
  });
});
