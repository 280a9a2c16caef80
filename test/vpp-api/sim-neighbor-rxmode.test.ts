/**
 * sw_interface_set_rx_mode and ip_neighbor_add_del / ip_neighbor_dump in the simulator: every retval, the
 * per-queue modes and the neighbor entries as `sim state` and the dumps show them, and what interface
 * changes (admin down, address removal, deletion) and a restart do to neighbors.
 */
import { af_packet, interface_, ip_neighbor, memif, tapv2, vlib } from '../../vpp-api/generated/index.js';
import { fakeTap, noVhostNet, type VppSimulator } from '../../vpp-api/sim/index.js';
import { RawVppClient, SimFixture } from '../helpers/raw-vpp-client.js';

const fx = new SimFixture('vpp-sim-nbr-rxmode');
afterAll(() => fx.cleanup());

const ALL = 0xffffffff;
const POLLING = 1;
const INTERRUPT = 2;
const ADAPTIVE = 3;
const DEFAULT = 4;

interface StateItf {
  swIfIndex: number;
  rxModes: string[];
  neighbors: { ip: string; mac: string; static: boolean; noFibEntry: boolean; statsIndex: number | null }[];
}

async function simState(c: RawVppClient): Promise<StateItf[]> {
  const r = await c.request(vlib.cli_inband, { cmd: 'sim state' }, vlib.cli_inband_reply);
  expect(r.retval).toBe(0);
  return (JSON.parse(r.reply) as { interfaces: StateItf[] }).interfaces;
}

async function itfState(c: RawVppClient, swIfIndex: number): Promise<StateItf> {
  const found = (await simState(c)).find((i) => i.swIfIndex === swIfIndex);
  if (!found) throw new Error(`sw_if_index ${swIfIndex} not in sim state`);
  return found;
}

async function loopback(c: RawVppClient): Promise<number> {
  const r = await c.request(interface_.create_loopback, { mac_address: '00:00:00:00:00:00' }, interface_.create_loopback_reply);
  expect(r.retval).toBe(0);
  return r.sw_if_index;
}

function rxMode(c: RawVppClient, swIfIndex: number, mode: number, queueId?: number) {
  return c.request(
    interface_.sw_interface_set_rx_mode,
    { sw_if_index: swIfIndex, mode, queue_id_valid: queueId !== undefined, queue_id: queueId ?? 0 },
    interface_.sw_interface_set_rx_mode_reply,
  );
}

describe('sw_interface_set_rx_mode', () => {
  test('-2 for an unknown sw_if_index', async () => {
    const sim = await fx.start();
    const c = await fx.client(sim);
    expect(await rxMode(c, 42, POLLING)).toEqual({ retval: -2 });
    expect(await rxMode(c, ALL, INTERRUPT, 0)).toEqual({ retval: -2 });
  });

  test('loopback and local0 have no rx queues: 0 for all queues (nothing to do), -9 for any queue id', async () => {
    const sim = await fx.start();
    const c = await fx.client(sim);
    const lo = await loopback(c);
    for (const sw of [0, lo]) {
      expect(await rxMode(c, sw, INTERRUPT)).toEqual({ retval: 0 });
      expect(await rxMode(c, sw, INTERRUPT, 0)).toEqual({ retval: -9 });
      expect((await itfState(c, sw)).rxModes).toEqual([]);
    }
  });

  test('tap: one mode per rx queue, set for all or one queue; DEFAULT is polling; -9 past the last queue', async () => {
    const sim = await fx.start({ host: fakeTap() });
    const c = await fx.client(sim);
    const t = await c.request(
      tapv2.tap_create_v3,
      { id: ALL, use_random_mac: true, num_rx_queues: 2, num_tx_queues: 1, tx_ring_sz: 256, rx_ring_sz: 256, tap_flags: 0 },
      tapv2.tap_create_v3_reply,
    );
    expect(t.retval).toBe(0);
    const sw = t.sw_if_index;
    expect((await itfState(c, sw)).rxModes).toEqual(['polling', 'polling']);

    expect(await rxMode(c, sw, INTERRUPT)).toEqual({ retval: 0 });
    expect((await itfState(c, sw)).rxModes).toEqual(['interrupt', 'interrupt']);
    expect(await rxMode(c, sw, ADAPTIVE, 1)).toEqual({ retval: 0 });
    expect((await itfState(c, sw)).rxModes).toEqual(['interrupt', 'adaptive']);
    expect(await rxMode(c, sw, POLLING, 2)).toEqual({ retval: -9 });
    expect((await itfState(c, sw)).rxModes).toEqual(['interrupt', 'adaptive']);
    expect(await rxMode(c, sw, DEFAULT, 0)).toEqual({ retval: 0 });
    expect((await itfState(c, sw)).rxModes).toEqual(['polling', 'adaptive']);
  });

  test('af_packet starts in interrupt mode and refuses adaptive: the reply is still 0 and the queue keeps its mode', async () => {
    const sim = await fx.start({ host: noVhostNet({ interfaceExists: (n) => n === 'vcni-h1', interfaceMtu: () => 1500 }) });
    const c = await fx.client(sim);
    const r = await c.request(
      af_packet.af_packet_create_v3,
      { mode: 1, hw_addr: '00:00:00:00:00:00', use_random_hw_addr: true, host_if_name: 'vcni-h1', num_rx_queues: 1, num_tx_queues: 1 },
      af_packet.af_packet_create_v3_reply,
    );
    expect(r.retval).toBe(0);
    // af_packet_set_rx_queues switches every rx queue to interrupt once registered.
    expect((await itfState(c, r.sw_if_index)).rxModes).toEqual(['interrupt']);
    expect(await rxMode(c, r.sw_if_index, ADAPTIVE)).toEqual({ retval: 0 });
    expect((await itfState(c, r.sw_if_index)).rxModes).toEqual(['interrupt']);
    expect(await rxMode(c, r.sw_if_index, POLLING, 0)).toEqual({ retval: 0 });
    expect((await itfState(c, r.sw_if_index)).rxModes).toEqual(['polling']);
    // DEFAULT is the interface's default mode, polling, not the mode it was created in.
    expect(await rxMode(c, r.sw_if_index, INTERRUPT)).toEqual({ retval: 0 });
    expect(await rxMode(c, r.sw_if_index, DEFAULT)).toEqual({ retval: 0 });
    expect((await itfState(c, r.sw_if_index)).rxModes).toEqual(['polling']);
  });

  test('memif registers its rx queues only once connected: a new (unconnected) one has none', async () => {
    const sim = await fx.start();
    const c = await fx.client(sim);
    const m = await c.request(
      memif.memif_create_v2,
      { role: 0, mode: 0, rx_queues: 2, tx_queues: 2, id: 0, socket_id: 0, ring_size: 1024, buffer_size: 2048, no_zero_copy: false, use_dma: false, hw_addr: '00:00:00:00:00:00', secret: '' },
      memif.memif_create_v2_reply,
    );
    expect(m.retval).toBe(0);
    expect(await rxMode(c, m.sw_if_index, INTERRUPT)).toEqual({ retval: 0 });
    expect(await rxMode(c, m.sw_if_index, INTERRUPT, 0)).toEqual({ retval: -9 });
    expect((await itfState(c, m.sw_if_index)).rxModes).toEqual([]);
  });
});

const MAC_A = '02:00:00:00:00:0a';
const MAC_B = '02:00:00:00:00:0b';
const STATIC = 1;
const NO_FIB = 2;

function nbr(c: RawVppClient, isAdd: boolean, swIfIndex: number, ipAddress: string, mac = MAC_A, flags = STATIC) {
  return c.request(
    ip_neighbor.ip_neighbor_add_del,
    { is_add: isAdd, neighbor: { sw_if_index: swIfIndex, flags, mac_address: mac, ip_address: ipAddress } },
    ip_neighbor.ip_neighbor_add_del_reply,
  );
}

async function nbrDump(c: RawVppClient, swIfIndex = ALL, af = 0) {
  const d = await c.dump(ip_neighbor.ip_neighbor_dump, { sw_if_index: swIfIndex, af }, ip_neighbor.ip_neighbor_details);
  for (const x of d) expect(x.age).toBeGreaterThanOrEqual(0);
  return d.map((x) => x.neighbor);
}

describe('ip_neighbor_add_del / ip_neighbor_dump', () => {
  let sim: VppSimulator;
  let c: RawVppClient;
  beforeEach(async () => {
    sim = await fx.start();
    c = await fx.client(sim);
  });

  test('-2 (stats_index ~0) for an unknown interface, add or delete', async () => {
    expect(await nbr(c, true, 7, '10.0.0.1')).toEqual({ retval: -2, stats_index: ALL });
    expect(await nbr(c, false, ALL, '10.0.0.1')).toEqual({ retval: -2, stats_index: ALL });
    expect(await nbrDump(c)).toEqual([]);
  });

  test('a static entry: its adjacency as stats_index, in the dump and in sim state; replaced in place', async () => {
    const lo = await loopback(c);
    const add = await nbr(c, true, lo, '10.0.0.2');
    expect(add.retval).toBe(0);
    expect(add.stats_index).not.toBe(ALL);
    expect(await nbrDump(c)).toEqual([{ sw_if_index: lo, flags: STATIC, mac_address: MAC_A, ip_address: '10.0.0.2' }]);
    expect((await itfState(c, lo)).neighbors).toEqual([{ ip: '10.0.0.2', mac: MAC_A, static: true, noFibEntry: false, statsIndex: add.stats_index }]);

    // Same key again with another MAC: replaced, same adjacency.
    expect(await nbr(c, true, lo, '10.0.0.2', MAC_B)).toEqual({ retval: 0, stats_index: add.stats_index });
    expect(await nbrDump(c, lo)).toEqual([{ sw_if_index: lo, flags: STATIC, mac_address: MAC_B, ip_address: '10.0.0.2' }]);
  });

  test('dynamic entries: flags 0 in the dump; a dynamic add never overwrites a static entry (-2 unless same MAC)', async () => {
    const lo = await loopback(c);
    const s = await nbr(c, true, lo, '10.0.0.3', MAC_A, STATIC);
    expect(await nbr(c, true, lo, '10.0.0.3', MAC_B, 0)).toEqual({ retval: -2, stats_index: ALL });
    expect(await nbr(c, true, lo, '10.0.0.3', MAC_A, 0)).toEqual({ retval: 0, stats_index: s.stats_index });
    expect(await nbrDump(c, lo)).toEqual([{ sw_if_index: lo, flags: STATIC, mac_address: MAC_A, ip_address: '10.0.0.3' }]);

    // A dynamic entry takes a new MAC, and becomes static when added as static.
    const d = await nbr(c, true, lo, '10.0.0.4', MAC_A, 0);
    expect(d.retval).toBe(0);
    expect(await nbr(c, true, lo, '10.0.0.4', MAC_B, 0)).toEqual({ retval: 0, stats_index: d.stats_index });
    expect((await nbrDump(c, lo)).find((n) => n.ip_address === '10.0.0.4')).toEqual({ sw_if_index: lo, flags: 0, mac_address: MAC_B, ip_address: '10.0.0.4' });
    expect(await nbr(c, true, lo, '10.0.0.4', MAC_B, STATIC)).toEqual({ retval: 0, stats_index: d.stats_index });
    expect((await nbrDump(c, lo)).find((n) => n.ip_address === '10.0.0.4')!.flags).toBe(STATIC);
  });

  test('no-fib-entry: no adjacency (stats_index ~0), flag kept in the dump', async () => {
    const lo = await loopback(c);
    expect(await nbr(c, true, lo, '10.0.0.5', MAC_A, STATIC | NO_FIB)).toEqual({ retval: 0, stats_index: ALL });
    expect(await nbrDump(c, lo)).toEqual([{ sw_if_index: lo, flags: STATIC | NO_FIB, mac_address: MAC_A, ip_address: '10.0.0.5' }]);
    expect((await itfState(c, lo)).neighbors[0]).toMatchObject({ noFibEntry: true, statsIndex: null });
  });

  test('delete: 0 with stats_index ~0; -6 for an entry that does not exist (also the other family)', async () => {
    const lo = await loopback(c);
    await nbr(c, true, lo, '10.0.0.6');
    expect(await nbr(c, false, lo, '10.0.0.7')).toEqual({ retval: -6, stats_index: ALL });
    expect(await nbr(c, false, lo, '::a00:6')).toEqual({ retval: -6, stats_index: ALL });
    expect(await nbr(c, false, lo, '10.0.0.6', MAC_B, 0)).toEqual({ retval: 0, stats_index: ALL });
    expect(await nbrDump(c)).toEqual([]);
    expect(await nbr(c, false, lo, '10.0.0.6')).toEqual({ retval: -6, stats_index: ALL });
    expect((await itfState(c, lo)).neighbors).toEqual([]);
  });

  test('dump: by family (0 ip4, 1 ip6, anything else nothing), by interface (~0 all, in sw_if_index order)', async () => {
    const a = await loopback(c);
    const b = await loopback(c);
    await nbr(c, true, b, '10.0.1.1');
    await nbr(c, true, a, '10.0.0.1');
    await nbr(c, true, a, 'fd00::1', MAC_B);
    await nbr(c, true, 0, '10.0.2.1');
    expect((await nbrDump(c, ALL, 0)).map((n) => [n.sw_if_index, n.ip_address])).toEqual([
      [0, '10.0.2.1'],
      [a, '10.0.0.1'],
      [b, '10.0.1.1'],
    ]);
    expect(await nbrDump(c, ALL, 1)).toEqual([{ sw_if_index: a, flags: STATIC, mac_address: MAC_B, ip_address: 'fd00::1' }]);
    expect((await nbrDump(c, b, 0)).map((n) => n.ip_address)).toEqual(['10.0.1.1']);
    expect(await nbrDump(c, b, 1)).toEqual([]);
    expect(await nbrDump(c, 99, 0)).toEqual([]);
    expect(await nbrDump(c, ALL, 2)).toEqual([]);
  });

  test('admin down flushes dynamic entries only; removing an address flushes the dynamic ones it covers', async () => {
    const lo = await loopback(c);
    const up = (on: boolean) => c.request(interface_.sw_interface_set_flags, { sw_if_index: lo, flags: on ? 1 : 0 }, interface_.sw_interface_set_flags_reply);
    expect(await up(true)).toEqual({ retval: 0 });
    await nbr(c, true, lo, '10.0.0.1', MAC_A, STATIC);
    await nbr(c, true, lo, '10.0.0.2', MAC_A, 0);
    expect(await up(false)).toEqual({ retval: 0 });
    expect((await nbrDump(c, lo)).map((n) => n.ip_address)).toEqual(['10.0.0.1']);

    const addr = (isAdd: boolean, prefix: string) =>
      c.request(interface_.sw_interface_add_del_address, { sw_if_index: lo, is_add: isAdd, del_all: false, prefix }, interface_.sw_interface_add_del_address_reply);
    expect(await addr(true, '10.0.0.254/24')).toEqual({ retval: 0 });
    await nbr(c, true, lo, '10.0.0.3', MAC_A, 0);
    await nbr(c, true, lo, '10.9.0.3', MAC_A, 0);
    expect(await addr(false, '10.0.0.254/24')).toEqual({ retval: 0 });
    expect((await nbrDump(c, lo)).map((n) => n.ip_address)).toEqual(['10.0.0.1', '10.9.0.3']);
  });

  test('deleting the interface removes its entries (static too) and frees their adjacencies', async () => {
    const lo = await loopback(c);
    const first = await nbr(c, true, lo, '10.0.0.1');
    await nbr(c, true, lo, 'fd00::1');
    expect(sim.state.adjPool.size).toBe(2);
    expect(await c.request(interface_.delete_loopback, { sw_if_index: lo }, interface_.delete_loopback_reply)).toEqual({ retval: 0 });
    expect(sim.state.adjPool.size).toBe(0);
    expect(await nbrDump(c, ALL, 0)).toEqual([]);
    expect(await nbrDump(c, ALL, 1)).toEqual([]);
    // The same sw_if_index comes back without entries.
    const again = await loopback(c);
    expect(again).toBe(lo);
    expect(await nbrDump(c, again)).toEqual([]);
    expect(first.retval).toBe(0);
  });

  test('restart clears every entry', async () => {
    await nbr(c, true, 0, '10.0.0.1');
    expect(await nbrDump(c)).toHaveLength(1);
    sim.restart();
    await c.closed;
    const d = await fx.client(sim);
    expect(await nbrDump(d)).toEqual([]);
  });

  test('-162 once a family holds the limit of 50000 entries (the other family is unaffected)', async () => {
    const lo = await loopback(c);
    const itf = sim.state.get(lo)!;
    for (let i = 0; i < 50000; i++) {
      const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      itf.neighbors.set(`4|${ip}`, { af: 4, ip, mac: MAC_A, isStatic: true, noFibEntry: true, adjIndex: undefined, updatedAt: 0 });
    }
    expect(await nbr(c, true, lo, '192.168.0.1')).toEqual({ retval: -162, stats_index: ALL });
    expect((await nbr(c, true, lo, 'fd00::1')).retval).toBe(0);
    // Replacing an existing entry is not an allocation.
    expect(await nbr(c, true, lo, '10.0.0.1', MAC_B, STATIC | NO_FIB)).toEqual({ retval: 0, stats_index: ALL });
  });
});
