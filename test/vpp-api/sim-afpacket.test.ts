/**
 * af_packet in the simulator, against the af_packet plugin's behaviour (af_packet_api.c, af_packet.c):
 * the v3 mode check, the order of VPP's checks (-7, -79, -71, setting the host interface up, the kernel's
 * ring checks -11), queues and ring geometry in `sim state`, MACs and MTUs per mode, deletes and their
 * interface events. Host interfaces come from injected checks, and in the last part from a real veth pair
 * in this netns (needs root), with the no-vhost-net host that refuses taps.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { AfPacketCreateV3In } from '../../vpp-api/generated/af_packet.js';
import { af_packet, interface_, tapv2, vlib } from '../../vpp-api/generated/index.js';
import { noVhostNet, type HostChecks, type VppSimulator } from '../../vpp-api/sim/index.js';
import { RawVppClient, SimFixture } from '../helpers/raw-vpp-client.js';

const fx = new SimFixture('vpp-sim-afpacket');
afterAll(() => fx.cleanup());

const ALL = 0xffffffff;
const ETHERNET = 1;
const IP = 2;
const FLAG_VERSION_2 = 8;
const HOST = 'vcni-h1';

type CreateV3 = AfPacketCreateV3In;

function createV3(c: RawVppClient, over: CreateV3 = {}) {
  const req: CreateV3 = { mode: IP, hw_addr: '00:00:00:00:00:00', use_random_hw_addr: true, host_if_name: HOST, num_rx_queues: 1, num_tx_queues: 1, ...over };
  return c.request(af_packet.af_packet_create_v3, req, af_packet.af_packet_create_v3_reply);
}

function deleteAfPacket(c: RawVppClient, name = HOST) {
  return c.request(af_packet.af_packet_delete, { host_if_name: name }, af_packet.af_packet_delete_reply);
}

async function details(c: RawVppClient, swIfIndex = ALL) {
  return c.dump(interface_.sw_interface_dump, { sw_if_index: swIfIndex }, interface_.sw_interface_details);
}

async function afPacketDump(c: RawVppClient) {
  return c.dump(af_packet.af_packet_dump, {}, af_packet.af_packet_details);
}

interface StateItf {
  swIfIndex: number;
  name: string;
  device: Record<string, unknown>;
  rxModes: string[];
}

async function itfState(c: RawVppClient, swIfIndex: number): Promise<StateItf> {
  const r = await c.request(vlib.cli_inband, { cmd: 'sim state' }, vlib.cli_inband_reply);
  expect(r.retval).toBe(0);
  const found = (JSON.parse(r.reply) as { interfaces: StateItf[] }).interfaces.find((i) => i.swIfIndex === swIfIndex);
  if (!found) throw new Error(`sw_if_index ${swIfIndex} not in sim state`);
  return found;
}

async function txQueueIds(c: RawVppClient, swIfIndex: number): Promise<number[]> {
  c.send(interface_.sw_interface_tx_placement_get, { cursor: 0, sw_if_index: swIfIndex });
  const ids: number[] = [];
  for (;;) {
    const f = await c.next();
    if (f.id === c.id(interface_.sw_interface_tx_placement_get_reply)) return ids;
    ids.push(interface_.sw_interface_tx_placement_details.decode(f.msg).queue_id);
  }
}

/** A no-vhost-net sim whose host has `vcni-h1` (MTU 1400, up) unless the checks given say otherwise. */
async function simWith(checks: Partial<HostChecks> = {}): Promise<{ sim: VppSimulator; c: RawVppClient }> {
  const sim = await fx.start({ host: noVhostNet({ interfaceExists: (n) => n === HOST, interfaceMtu: () => 1400, ...checks }) });
  return { sim, c: await fx.client(sim) };
}

describe('af_packet_create_v3: the order of VPP checks', () => {
  test('a mode other than ETHERNET or IP is -7 with sw_if_index ~0, before any other check', async () => {
    const { c } = await simWith();
    expect(await createV3(c, { mode: 0 })).toEqual({ retval: -7, sw_if_index: ALL });
    expect(await createV3(c, { mode: 3 })).toEqual({ retval: -7, sw_if_index: ALL });
    expect(await createV3(c, { mode: 3, host_if_name: 'vcni-nosuch' })).toEqual({ retval: -7, sw_if_index: ALL });
    expect((await details(c)).map((d) => d.interface_name)).toEqual(['local0']);
    const r = await createV3(c);
    expect(r).toEqual({ retval: 0, sw_if_index: 1 });
    // Even on a host interface that already has one: the API handler rejects the mode first.
    expect(await createV3(c, { mode: 0 })).toEqual({ retval: -7, sw_if_index: ALL });
  });

  test('-79 carries the existing sw_if_index and comes before the host lookup; -71 carries 0', async () => {
    let hostHasIt = true;
    const { c } = await simWith({ interfaceExists: (n) => n === HOST && hostHasIt });
    const r = await createV3(c);
    expect(r.retval).toBe(0);
    expect(await createV3(c, { mode: ETHERNET })).toEqual({ retval: -79, sw_if_index: r.sw_if_index });
    hostHasIt = false;
    expect(await createV3(c)).toEqual({ retval: -79, sw_if_index: r.sw_if_index });
    expect(await createV3(c, { host_if_name: 'vcni-nosuch' })).toEqual({ retval: -71, sw_if_index: 0 });
    expect(await createV3(c, { host_if_name: '' })).toEqual({ retval: -71, sw_if_index: 0 });
    expect(await afPacketDump(c)).toEqual([{ sw_if_index: r.sw_if_index, host_if_name: HOST }]);
  });

  test('a host interface that is down is set up first; a refusal is -11 and leaves nothing', async () => {
    const setUp: string[] = [];
    let up = false;
    const { c } = await simWith({
      interfaceUp: () => up,
      setInterfaceUp: (n) => {
        setUp.push(n);
        up = true;
      },
    });
    const r = await createV3(c);
    expect(r.retval).toBe(0);
    expect(setUp).toEqual([HOST]);
    await deleteAfPacket(c);
    // Already up: nothing to set.
    expect((await createV3(c)).retval).toBe(0);
    expect(setUp).toEqual([HOST]);

    const rejects = (): Promise<void> => Promise.reject(new Error('RTNETLINK answers: Operation not permitted'));
    const throws = (): void => {
      throw new Error('EPERM');
    };
    for (const refuse of [rejects, throws]) {
      const { c: c2 } = await simWith({ interfaceUp: () => false, setInterfaceUp: refuse });
      expect(await createV3(c2)).toEqual({ retval: -11, sw_if_index: 0 });
      expect((await details(c2)).map((d) => d.interface_name)).toEqual(['local0']);
      expect(await afPacketDump(c2)).toEqual([]);
      // Nothing was consumed: the next interface still gets sw_if_index 1.
      expect((await c2.request(interface_.create_loopback, { mac_address: '00:00:00:00:00:00' }, interface_.create_loopback_reply)).sw_if_index).toBe(1);
    }
  });
});

describe('rings and queues', () => {
  test.each([
    ['rx block not a multiple of the page size (2048 x 3)', { rx_frame_size: 2048, rx_frames_per_block: 3 }],
    ['tx block not a multiple of the page size (2048 x 3)', { tx_frame_size: 2048, tx_frames_per_block: 3 }],
    ['rx frame not a multiple of TPACKET_ALIGNMENT (4104 x 512)', { rx_frame_size: 4104, rx_frames_per_block: 512 }],
    ['tx frame not a multiple of TPACKET_ALIGNMENT (4104 x 512)', { tx_frame_size: 4104, tx_frames_per_block: 512 }],
    ['rx frame smaller than the TPACKET_V3 header (48 x 256)', { rx_frame_size: 48, rx_frames_per_block: 256 }],
    ['rx frame of 64 under TPACKET_V3 (header 68)', { rx_frame_size: 64, rx_frames_per_block: 64 }],
    ['rx frame of 48 under TPACKET_V2 (header 52)', { rx_frame_size: 48, rx_frames_per_block: 256, flags: FLAG_VERSION_2 }],
    ['rx block size wrapping to 0 in u32 (65536 x 65536)', { rx_frame_size: 65536, rx_frames_per_block: 65536 }],
    ['rx block size above INT_MAX (65536 x 32768)', { rx_frame_size: 65536, rx_frames_per_block: 32768 }],
  ])('%s: -11, sw_if_index 0, nothing left', async (_what, ring) => {
    const { c } = await simWith();
    const before = await details(c);
    expect(await createV3(c, { mode: ETHERNET, ...ring })).toEqual({ retval: -11, sw_if_index: 0 });
    expect(await details(c)).toEqual(before);
    expect(await afPacketDump(c)).toEqual([]);
    // The device instance and sw_if_index were not consumed, and the name is free.
    expect(await createV3(c)).toEqual({ retval: 0, sw_if_index: 1 });
  });

  test('TPACKET_V2 (flag VERSION_2) accepts a 64-byte frame that TPACKET_V3 refuses', async () => {
    const { c } = await simWith();
    const r = await createV3(c, { rx_frame_size: 64, rx_frames_per_block: 64, flags: FLAG_VERSION_2 });
    expect(r.retval).toBe(0);
    expect((await itfState(c, r.sw_if_index)).device).toMatchObject({ tpacketVersion: 2, rxRing: { blockSize: 4096, blockNr: 1, frameSize: 64, frameNr: 64 } });
  });

  test('queue counts and ring geometry are recorded; rx queues start in interrupt mode; tx placement has the tx queues', async () => {
    const { c } = await simWith();
    const r = await createV3(c, { num_rx_queues: 4, num_tx_queues: 2, rx_frame_size: 4096, rx_frames_per_block: 8 });
    expect(r.retval).toBe(0);
    const s = await itfState(c, r.sw_if_index);
    expect(s.device).toEqual({
      kind: 'af_packet',
      devInstance: 0,
      hostIfName: HOST,
      mode: IP,
      flags: 4, // FANOUT, for more than one rx queue
      tpacketVersion: 3,
      rxQueues: 4,
      txQueues: 2,
      rxRing: { blockSize: 32768, blockNr: 160, frameSize: 4096, frameNr: 1280 },
      txRing: { blockSize: 2048 * 33 * 1024, blockNr: 1, frameSize: 2048 * 33, frameNr: 1024 },
    });
    expect(s.rxModes).toEqual(['interrupt', 'interrupt', 'interrupt', 'interrupt']);
    expect(await txQueueIds(c, r.sw_if_index)).toEqual([0, 1]);
    // A queue id past the last rx queue: -9.
    const setMode = (q: number) => c.request(interface_.sw_interface_set_rx_mode, { sw_if_index: r.sw_if_index, mode: 1, queue_id_valid: true, queue_id: q }, interface_.sw_interface_set_rx_mode_reply);
    expect(await setMode(3)).toEqual({ retval: 0 });
    expect(await setMode(4)).toEqual({ retval: -9 });
  });

  test('defaults: 0 and 1 queues are one queue, counts are u8; TPACKET_V3 rx 2048 x 32 x 160, VERSION_2 rx 67584 x 1024 x 1', async () => {
    const { c } = await simWith({ interfaceExists: () => true });
    const dev = async (name: string, over: CreateV3) => {
      const r = await createV3(c, { host_if_name: name, ...over });
      expect(r.retval).toBe(0);
      return (await itfState(c, r.sw_if_index)).device;
    };
    const v3Rx = { blockSize: 65536, blockNr: 160, frameSize: 2048, frameNr: 5120 };
    expect(await dev('h0', { num_rx_queues: 0, num_tx_queues: 0 })).toMatchObject({ rxQueues: 1, txQueues: 1, flags: 0, tpacketVersion: 3, rxRing: v3Rx });
    expect(await dev('h1', { num_rx_queues: 257, num_tx_queues: 1 })).toMatchObject({ rxQueues: 1, txQueues: 1 });
    // 256 truncates to 0: no rx queue, no rx ring (the tx queue still gets its socket).
    const noRx = await createV3(c, { host_if_name: 'h2', num_rx_queues: 256 });
    expect(noRx.retval).toBe(0);
    expect(await itfState(c, noRx.sw_if_index)).toMatchObject({ rxModes: [], device: { rxQueues: 0, txQueues: 1, rxRing: null } });
    expect(await dev('h3', { flags: FLAG_VERSION_2 | 1 })).toMatchObject({
      flags: 9,
      tpacketVersion: 2,
      rxRing: { blockSize: 2048 * 33 * 1024, blockNr: 1, frameSize: 2048 * 33, frameNr: 1024 },
    });
  });

  test('v2 is ethernet with one tx queue and the default flags; v1 leaves the queue counts at 0', async () => {
    const { c } = await simWith({ interfaceExists: () => true });
    const v2 = await c.request(
      af_packet.af_packet_create_v2,
      { hw_addr: '00:00:00:00:00:00', use_random_hw_addr: true, host_if_name: 'h-v2', num_rx_queues: 2, flags: 0 },
      af_packet.af_packet_create_v2_reply,
    );
    expect(v2.retval).toBe(0);
    expect(await itfState(c, v2.sw_if_index)).toMatchObject({ device: { mode: ETHERNET, flags: 3 | 4, rxQueues: 2, txQueues: 1 }, rxModes: ['interrupt', 'interrupt'] });
    const v1 = await c.request(af_packet.af_packet_create, { hw_addr: '00:00:00:00:00:00', use_random_hw_addr: true, host_if_name: 'h-v1' }, af_packet.af_packet_create_reply);
    expect(v1.retval).toBe(0);
    expect(await itfState(c, v1.sw_if_index)).toMatchObject({ device: { mode: ETHERNET, flags: 3, rxQueues: 0, txQueues: 0, rxRing: null, txRing: null }, rxModes: [] });
    expect(await txQueueIds(c, v1.sw_if_index)).toEqual([]);
    expect((await details(c, v1.sw_if_index))[0]).toMatchObject({ interface_name: 'host-h-v1', flags: 2, link_mtu: 9000 });
  });
});

describe('MAC and MTU', () => {
  test('ethernet: a random 02:fe:xx:xx:xx:xx with use_random_hw_addr, otherwise the given MAC (all zero included); MTU 9000 whatever the host MTU (real VPP: 9000 on a veth of MTU 1400)', async () => {
    const { c } = await simWith({ interfaceExists: () => true });
    const eth = async (name: string, hw: string, random: boolean) => {
      const r = await createV3(c, { host_if_name: name, mode: ETHERNET, hw_addr: hw, use_random_hw_addr: random });
      expect(r.retval).toBe(0);
      return (await details(c, r.sw_if_index))[0]!;
    };
    const a = await eth('ra', '02:00:00:00:00:01', true);
    const b = await eth('rb', '00:00:00:00:00:00', true);
    for (const d of [a, b]) {
      expect(d.l2_address).toMatch(/^02:fe:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$/);
      expect(d).toMatchObject({ interface_dev_type: 'af-packet', link_mtu: 9000, mtu: [9000, 0, 0, 0], flags: 2 });
    }
    expect((await eth('given', '02:00:00:00:00:01', false)).l2_address).toBe('02:00:00:00:00:01');
    // af_packet_api.c passes mp->hw_addr whenever use_random_hw_addr is false: a zero MAC stays zero.
    expect((await eth('zero', '00:00:00:00:00:00', false)).l2_address).toBe('00:00:00:00:00:00');
  });

  test('IP mode: no L2 address and no MTU, whatever the request says (as in the golden sw_interface_details)', async () => {
    const { c } = await simWith();
    const r = await createV3(c, { use_random_hw_addr: false, hw_addr: '02:00:00:00:00:01' });
    expect((await details(c, r.sw_if_index))[0]).toMatchObject({ interface_name: `host-${HOST}`, l2_address: '00:00:00:00:00:00', link_mtu: 0, mtu: [0, 0, 0, 0], flags: 2 });
  });
});

describe('af_packet_delete', () => {
  test('0 then -11; gone from the dumps; the events are those of any interface delete', async () => {
    const { sim, c } = await simWith();
    const ev = await fx.client(sim, 'events');
    expect(await ev.request(interface_.want_interface_events, { enable_disable: 1, pid: 4242 }, interface_.want_interface_events_reply)).toEqual({ retval: 0 });
    const nextEvent = async () => {
      const f = await ev.next();
      expect(f.id).toBe(ev.id(interface_.sw_interface_event));
      return interface_.sw_interface_event.decode(f.msg);
    };
    const r = await createV3(c);
    expect(await nextEvent()).toEqual({ pid: 4242, sw_if_index: r.sw_if_index, flags: 2, deleted: false });
    await c.request(interface_.sw_interface_set_flags, { sw_if_index: r.sw_if_index, flags: 1 }, interface_.sw_interface_set_flags_reply);
    // Event flags are the bits of what happened: admin up only (the link was already up).
    expect(await nextEvent()).toEqual({ pid: 4242, sw_if_index: r.sw_if_index, flags: 1, deleted: false });
    expect(await deleteAfPacket(c)).toEqual({ retval: 0 });
    expect(await nextEvent()).toEqual({ pid: 4242, sw_if_index: r.sw_if_index, flags: 0, deleted: true });
    expect(await deleteAfPacket(c)).toEqual({ retval: -11 });
    expect(await deleteAfPacket(c, 'vcni-nosuch')).toEqual({ retval: -11 });
    await ev.expectNothing(100);
    expect((await details(c)).map((d) => d.interface_name)).toEqual(['local0']);
    expect(await details(c, r.sw_if_index)).toEqual([]);
    expect(await afPacketDump(c)).toEqual([]);

    // A loopback deleted while admin up ends the same way.
    const lo = await c.request(interface_.create_loopback, { mac_address: '00:00:00:00:00:00' }, interface_.create_loopback_reply);
    expect(await nextEvent()).toMatchObject({ sw_if_index: lo.sw_if_index, deleted: false });
    await c.request(interface_.sw_interface_set_flags, { sw_if_index: lo.sw_if_index, flags: 1 }, interface_.sw_interface_set_flags_reply);
    expect(await nextEvent()).toMatchObject({ sw_if_index: lo.sw_if_index, flags: 3 });
    await c.request(interface_.delete_loopback, { sw_if_index: lo.sw_if_index }, interface_.delete_loopback_reply);
    expect(await nextEvent()).toEqual({ pid: 4242, sw_if_index: lo.sw_if_index, flags: 0, deleted: true });
  });

  test('af_packet_dump lists in device-instance order; a freed instance is reused first', async () => {
    const { c } = await simWith({ interfaceExists: () => true });
    const a = await createV3(c, { host_if_name: 'ha' });
    const b = await createV3(c, { host_if_name: 'hb' });
    expect(await deleteAfPacket(c, 'ha')).toEqual({ retval: 0 });
    const lo = await c.request(interface_.create_loopback, { mac_address: '00:00:00:00:00:00' }, interface_.create_loopback_reply);
    expect(lo.sw_if_index).toBe(a.sw_if_index);
    const d = await createV3(c, { host_if_name: 'hc' });
    // hc takes device instance 0 (freed by ha) and a new sw_if_index: it is listed before hb.
    expect(await afPacketDump(c)).toEqual([
      { sw_if_index: d.sw_if_index, host_if_name: 'hc' },
      { sw_if_index: b.sw_if_index, host_if_name: 'hb' },
    ]);
  });
});

describe('no /dev/vhost-net and a real veth pair', () => {
  const tag = process.pid % 10000;
  const hostEnd = `vct${tag}a`;
  const peerEnd = `vct${tag}b`;
  const ip = (...args: string[]): void => {
    execFileSync('ip', args, { stdio: 'pipe', timeout: 10_000 });
  };
  const isUp = (name: string): boolean => (Number.parseInt(readFileSync(`/sys/class/net/${name}/flags`, 'utf8').trim(), 16) & 1) !== 0;

  let created = false;

  beforeAll(() => {
    ip('link', 'add', hostEnd, 'mtu', '1400', 'type', 'veth', 'peer', 'name', peerEnd);
    created = true;
  });
  afterAll(() => {
    // Deleting one end deletes the pair; only ours, and only once made.
    if (created) ip('link', 'del', hostEnd);
  });

  test('tap_create_v3 is -11 with ~0 and leaves nothing; af_packet binds to the real veth and sets it up', async () => {
    const sim = await fx.start({ host: noVhostNet() });
    const c = await fx.client(sim);
    expect(sim.host.kind).toBe('no-vhost-net');
    const tap = await c.request(
      tapv2.tap_create_v3,
      { id: ALL, use_random_mac: true, num_rx_queues: 1, num_tx_queues: 1, tx_ring_sz: 256, rx_ring_sz: 256, host_if_name_set: true, host_if_name: 'vct-tap0' },
      tapv2.tap_create_v3_reply,
    );
    expect(tap).toEqual({ retval: -11, sw_if_index: ALL });
    expect((await details(c)).map((d) => d.interface_name)).toEqual(['local0']);
    expect(await c.dump(tapv2.sw_interface_tap_v2_dump, { sw_if_index: ALL }, tapv2.sw_interface_tap_v2_details)).toEqual([]);

    expect([isUp(hostEnd), isUp(peerEnd)]).toEqual([false, false]);
    const r = await createV3(c, { host_if_name: hostEnd, mode: ETHERNET });
    expect(r).toEqual({ retval: 0, sw_if_index: 1 });
    expect(isUp(hostEnd)).toBe(true);
    expect(isUp(peerEnd)).toBe(false);
    const d = (await details(c, r.sw_if_index))[0]!;
    expect(d).toMatchObject({ interface_name: `host-${hostEnd}`, interface_dev_type: 'af-packet', link_mtu: 9000, flags: 2 });
    expect(d.l2_address).toMatch(/^02:fe:/);

    // IP mode on the other end, which is down too.
    const p = await createV3(c, { host_if_name: peerEnd });
    expect(p.retval).toBe(0);
    expect(isUp(peerEnd)).toBe(true);
    expect(await afPacketDump(c)).toEqual([
      { sw_if_index: r.sw_if_index, host_if_name: hostEnd },
      { sw_if_index: p.sw_if_index, host_if_name: peerEnd },
    ]);

    expect(await createV3(c, { host_if_name: hostEnd })).toEqual({ retval: -79, sw_if_index: r.sw_if_index });
    expect(await createV3(c, { host_if_name: `vct${tag}x` })).toEqual({ retval: -71, sw_if_index: 0 });
    // Not interfaces, though /sys/class/net/<name> exists for them.
    expect(await createV3(c, { host_if_name: '..' })).toEqual({ retval: -71, sw_if_index: 0 });
    expect(await createV3(c, { host_if_name: '.' })).toEqual({ retval: -71, sw_if_index: 0 });

    expect(await deleteAfPacket(c, hostEnd)).toEqual({ retval: 0 });
    expect(await deleteAfPacket(c, hostEnd)).toEqual({ retval: -11 });
    expect(await deleteAfPacket(c, peerEnd)).toEqual({ retval: 0 });
    // VPP closes its sockets and leaves the host interface as it was.
    expect(isUp(hostEnd)).toBe(true);
    expect((await details(c)).map((x) => x.interface_name)).toEqual(['local0']);
  });
});
