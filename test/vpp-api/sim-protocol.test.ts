/**
 * The simulator's socket protocol: handshake and message table, registrations and client_index routing,
 * sockclnt_delete, silently dropped frames, dump ordering, pipelining.
 */
import { allModules, interface_, memclnt, vpe } from '../../vpp-api/generated/index.js';
import type { VppSimulator } from '../../vpp-api/sim/index.js';
import { frameHeader, RawVppClient, SimFixture } from '../helpers/raw-vpp-client.js';

const fx = new SimFixture('vpp-sim-protocol');
afterAll(() => fx.cleanup());

let sim: VppSimulator;
beforeAll(async () => {
  sim = await fx.start({ vpePid: 4321 });
});

function ping(c: RawVppClient, context: number, clientIndex = c.clientIndex): Buffer {
  return c.frame(memclnt.control_ping, {}, { context, clientIndex }).bytes;
}

describe('handshake', () => {
  test('sockclnt_create_reply: context echoed, index 0x80000000|registration, the whole table, q = 0', async () => {
    const c = await fx.rawClient(sim);
    const f = await c.handshake('proto-test', 777);
    expect(f.header.readBigUInt64BE(0)).toBe(0n);
    expect(f.header.readUInt32BE(8)).toBe(f.msg.length);
    const r = memclnt.sockclnt_create_reply.decode(f.msg);
    expect(f.msg.readUInt32BE(2)).toBe(0); // client_index field: unused, zero
    expect(f.msg.readUInt32BE(6)).toBe(777);
    expect(r.response).toBe(0);
    expect(r.index).toBe(0x80000001);
    const total = allModules.reduce((n, m) => n + m.messages.length, 0);
    expect(r.count).toBe(total);
    // memclnt messages are 1..28 in declaration order; every other module gets a contiguous block from 29 on.
    const memclntDefs = allModules.find((m) => m.module === 'memclnt')!.messages;
    memclntDefs.forEach((d, i) => expect(c.ids.get(d.nameCrc)).toBe(i + 1));
    expect(c.ids.get(memclnt.sockclnt_create.nameCrc)).toBe(15);
    expect(c.ids.get(memclnt.sockclnt_create_reply.nameCrc)).toBe(16);
    for (const m of allModules) {
      if (m.module === 'memclnt' || m.messages.length === 0) continue;
      const ids = m.messages.map((d) => c.ids.get(d.nameCrc)!);
      expect(Math.min(...ids)).toBeGreaterThanOrEqual(29);
      expect(Math.max(...ids) - Math.min(...ids) + 1).toBe(ids.length);
    }
    expect(new Set(r.message_table.map((e) => e.index)).size).toBe(total);
    await c.disconnect();
  });

  test('registrations: each connection its own index, a freed one is reused first', async () => {
    const a = await fx.client(sim, 'a');
    const b = await fx.client(sim, 'b');
    expect(a.clientIndex).toBe(0x80000001);
    expect(b.clientIndex).toBe(0x80000002);
    await a.disconnect();
    const c = await fx.client(sim, 'c');
    expect(c.clientIndex).toBe(0x80000001);
    await b.disconnect();
    await c.disconnect();
  });

  test('messageIds: the ids given are announced and used', async () => {
    const ids = new Map<string, number>();
    let next = 1029;
    for (const m of allModules) m.messages.forEach((d, i) => ids.set(d.nameCrc, d.module === 'memclnt' ? i + 1 : next++));
    ids.set('not_a_known_message_12345678', 5000);
    const s = await fx.start({ messageIds: ids });
    const c = await fx.client(s);
    expect(c.ids.get(vpe.show_version.nameCrc)).toBe(ids.get(vpe.show_version.nameCrc));
    expect(c.ids.get('not_a_known_message_12345678')).toBe(5000);
    const v = await c.request(vpe.show_version, {}, vpe.show_version_reply);
    expect(v).toMatchObject({ retval: 0, program: 'vpe' });
    await c.disconnect();
  });
});

test('crcOverrides: the table announces another CRC for a message (version skew)', async () => {
  const s = await fx.start({ crcOverrides: new Map([['show_version', 0xdeadbeef]]) });
  const c = await fx.client(s);
  expect(c.ids.has(vpe.show_version.nameCrc)).toBe(false);
  expect(c.ids.has('show_version_deadbeef')).toBe(true);
  expect(c.ids.has(vpe.show_version_reply.nameCrc)).toBe(true);
  await c.disconnect();
  await expect(fx.start({ crcOverrides: new Map([['no_such_message', 1]]) })).rejects.toThrow(/no message named no_such_message/);
});

describe('client_index routing and disconnect', () => {
  test('a request with an unknown client_index gets no reply; the connection stays usable', async () => {
    const c = await fx.client(sim);
    c.writeRaw(ping(c, 5, 0x80001234));
    await c.expectNothing(300);
    const r = await c.request(memclnt.control_ping, {}, memclnt.control_ping_reply);
    expect(r).toEqual({ retval: 0, client_index: c.clientIndex, vpe_pid: 4321 });
    await c.disconnect();
  });

  test("a request naming another live client's index is answered on that client's connection (VPP routes by client_index)", async () => {
    const a = await fx.client(sim, 'a');
    const b = await fx.client(sim, 'b');
    a.writeRaw(ping(a, 42, b.clientIndex));
    const f = await b.next();
    expect(f.id).toBe(b.id(memclnt.control_ping_reply));
    expect(memclnt.control_ping_reply.decode(f.msg).client_index).toBe(b.clientIndex);
    expect(f.msg.readUInt32BE(2)).toBe(42);
    await a.expectNothing(200);
    await a.disconnect();
    await b.disconnect();
  });

  test('the request takes effect even when its reply has nowhere to go', async () => {
    const c = await fx.client(sim);
    c.send(interface_.create_loopback, { mac_address: '02:00:00:00:77:01' }, { clientIndex: 0x80000fff });
    await c.expectNothing(200);
    const all = await c.dump(interface_.sw_interface_dump, { sw_if_index: 0xffffffff }, interface_.sw_interface_details);
    const loop = all.find((d) => d.l2_address === '02:00:00:00:77:01');
    expect(loop?.interface_name).toMatch(/^loop\d+$/);
    await c.request(interface_.delete_loopback, { sw_if_index: loop!.sw_if_index }, interface_.delete_loopback_reply);
    await c.disconnect();
  });

  test('sockclnt_delete with our index: response 1, then the connection is closed', async () => {
    const c = await fx.client(sim);
    const r = await c.request(memclnt.sockclnt_delete, { index: c.clientIndex }, memclnt.sockclnt_delete_reply);
    expect(r.response).toBe(1);
    await c.waitClosed();
  });

  test('sockclnt_delete with an index that is not a registration: response -1, connection stays open', async () => {
    const c = await fx.client(sim);
    const r = await c.request(memclnt.sockclnt_delete, { index: 12345 }, memclnt.sockclnt_delete_reply);
    expect(r.response).toBe(-1);
    await expect(c.request(memclnt.control_ping, {}, memclnt.control_ping_reply)).resolves.toMatchObject({ retval: 0 });
    expect(c.isOpen).toBe(true);
    await c.disconnect();
  });
});

describe('frames VPP drops without a word', () => {
  test('an unknown message id: no reply, connection usable', async () => {
    const c = await fx.client(sim);
    const body = Buffer.from('7ff08000000100007000', 'hex');
    c.writeRaw(Buffer.concat([frameHeader(body.length), body]));
    c.writeRaw(ping(c, 9));
    const f = await c.next();
    expect(f.msg.readUInt32BE(2)).toBe(9);
    await c.disconnect();
  });

  test('a body shorter than the message (consistent header): dropped, connection usable', async () => {
    const c = await fx.client(sim);
    const full = c.frame(interface_.sw_interface_set_flags, { sw_if_index: 0, flags: 1 }, { context: 7 }).bytes.subarray(16);
    const cut = full.subarray(0, 10);
    c.writeRaw(Buffer.concat([frameHeader(cut.length), cut]));
    c.writeRaw(ping(c, 8));
    const f = await c.next();
    expect(f.id).toBe(c.id(memclnt.control_ping_reply));
    expect(f.msg.readUInt32BE(2)).toBe(8);
    await c.disconnect();
  });

  test('a string claiming more bytes than the message holds: dropped (calc_size), connection usable', async () => {
    const c = await fx.client(sim);
    const { bytes } = c.frame(vpe.show_version, {}, { context: 3 });
    const dump = c.frame(interface_.sw_interface_dump, { sw_if_index: 0, name_filter_valid: true, name_filter: 'abc' }, { context: 4 }).bytes;
    dump.writeUInt32BE(1000, dump.length - 7); // the length of name_filter, far beyond the message
    c.writeRaw(dump);
    c.writeRaw(bytes);
    const f = await c.next();
    expect(f.id).toBe(c.id(vpe.show_version_reply));
    expect(f.msg.readUInt32BE(2)).toBe(3);
    await c.disconnect();
  });

  test('a frame split across writes is answered once complete', async () => {
    const c = await fx.client(sim);
    const bytes = ping(c, 11);
    c.writeRaw(bytes.subarray(0, 5));
    await new Promise((r) => setTimeout(r, 30));
    c.writeRaw(bytes.subarray(5, 20));
    await new Promise((r) => setTimeout(r, 30));
    c.writeRaw(bytes.subarray(20));
    expect((await c.next()).msg.readUInt32BE(2)).toBe(11);
    await c.disconnect();
  });

  test('a header announcing more bytes than follow puts the stream out of step for good', async () => {
    const c = await fx.client(sim);
    const flags = c.frame(interface_.sw_interface_set_flags, { sw_if_index: 0, flags: 0 }, { context: 21 }).bytes;
    c.writeRaw(flags.subarray(0, 16 + 10)); // header says 18, only 10 follow
    c.writeRaw(ping(c, 22));
    // The message is completed with the first 8 bytes of the ping's header (zeros: sw_if_index 0, flags 0).
    const f = await c.next();
    expect(f.id).toBe(c.id(interface_.sw_interface_set_flags_reply));
    expect(f.msg.readUInt32BE(2)).toBe(21);
    c.writeRaw(ping(c, 23));
    await c.expectNothing(300);
    expect(c.isOpen).toBe(true);
    c.destroy();
  });
});

describe('ordering', () => {
  test('dump details carry the request context and come before the control_ping reply', async () => {
    const c = await fx.client(sim);
    const ctx = c.send(interface_.sw_interface_dump, { sw_if_index: 0xffffffff });
    c.send(memclnt.control_ping, {}, { context: ctx });
    const details = c.id(interface_.sw_interface_details);
    const frames = [];
    for (;;) {
      const f = await c.next();
      frames.push(f);
      if (f.id !== details) break;
    }
    const last = frames.pop()!;
    expect(last.id).toBe(c.id(memclnt.control_ping_reply));
    expect(last.msg.readUInt32BE(2)).toBe(ctx);
    expect(frames.length).toBeGreaterThanOrEqual(1);
    for (const f of frames) expect(f.msg.readUInt32BE(2)).toBe(ctx);
    expect(interface_.sw_interface_details.decode(frames[0]!.msg)).toMatchObject({ sw_if_index: 0, interface_name: 'local0', interface_dev_type: 'local' });
    await c.disconnect();
  });

  test('10,000 pipelined control_pings written at once are all answered, in order', async () => {
    const c = await fx.client(sim);
    const frames = Array.from({ length: 10_000 }, (_, i) => ping(c, 1_000_000 + i));
    c.writeRaw(Buffer.concat(frames));
    for (let i = 0; i < 10_000; i++) {
      const f = await c.next(5000);
      expect(f.msg.readUInt32BE(2)).toBe(1_000_000 + i);
      if (i === 0) {
        expect(f.header.readBigUInt64BE(0)).not.toBe(0n); // VPP's garbage `q`
        expect(memclnt.control_ping_reply.decode(f.msg)).toEqual({ retval: 0, client_index: c.clientIndex, vpe_pid: 4321 });
      }
    }
    await c.disconnect();
  });

  test('memclnt_keepalive, get_first_msg_id and api_versions', async () => {
    const c = await fx.client(sim);
    expect(await c.request(memclnt.memclnt_keepalive, {}, memclnt.memclnt_keepalive_reply)).toEqual({ retval: 0 });
    const first = await c.request(memclnt.get_first_msg_id, { name: 'memif_bf42b70a' }, memclnt.get_first_msg_id_reply);
    const memifIds = allModules.find((m) => m.module === 'memif')!.messages.map((d) => c.ids.get(d.nameCrc)!);
    expect(first).toEqual({ retval: 0, first_msg_id: Math.min(...memifIds) });
    expect(await c.request(memclnt.get_first_msg_id, { name: 'memif_d48ac702' }, memclnt.get_first_msg_id_reply)).toEqual({ retval: -7, first_msg_id: 0xffff });
    expect(await c.request(memclnt.api_versions, {}, memclnt.api_versions_reply)).toEqual({ retval: 0, count: 0, api_versions: [] });
    await c.disconnect();
  });
});
