/**
 * The client against the simulator over a real unix socket: handshake and CRC report, pipelining,
 * dumps, cursor streams, events, timeouts, reconnect with re-subscription, VPP restart signal,
 * and garbage from the peer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allModules } from '../../vpp-api/generated/index.js';
import { control_ping, sockclnt_create_reply } from '../../vpp-api/generated/memclnt.js';
import * as iface from '../../vpp-api/generated/interface.js';
import * as memif from '../../vpp-api/generated/memif.js';
import * as vpe from '../../vpp-api/generated/vpe.js';
import {
  VppApiError,
  VppClient,
  VppCompatibilityError,
  VppConnectError,
  VppDisconnectedError,
  VppTimeoutError,
  VppUnknownMessageError,
  type ConnectionState,
  type VppClientOptions,
} from '../../vpp-api/client/index.js';
import { VppSimulator } from '../../vpp-api/sim/index.js';
import type { MessageDef } from '../../vpp-api/codec/types.js';
import { FrameReader, writeFrameHeader } from '../../vpp-api/transport/frame-reader.js';

const dir = mkdtempSync(join(tmpdir(), 'vpp-client-test-'));
let n = 0;
const sockPath = (): string => join(dir, `api-${++n}.sock`);

const clients: VppClient[] = [];
const sims: VppSimulator[] = [];

async function startSim(opts: { cursorPageSize?: number } = {}): Promise<VppSimulator> {
  const sim = await VppSimulator.start({ socketPath: sockPath(), ...opts });
  sims.push(sim);
  return sim;
}

function newClient(socketPath: string, extra: Partial<VppClientOptions> = {}): VppClient {
  const c = new VppClient({
    socketPath,
    modules: allModules,
    requestTimeoutMs: 2000,
    healthCheck: false,
    backoff: { initialDelayMs: 10, maxDelayMs: 50 },
    ...extra,
  });
  clients.push(c);
  return c;
}

function waitFor(c: VppClient, state: ConnectionState, ms = 5000): Promise<void> {
  if (c.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`state ${state} not reached (now ${c.state})`)), ms);
    const off = c.onStateChange((ch) => {
      if (ch.to === state) {
        clearTimeout(t);
        off();
        resolve();
      }
    });
  });
}

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  for (const s of sims) await s.stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('connect and compatibility', () => {
  test('handshake gives a client index, the message table and the vpe_pid', async () => {
    const sim = await startSim();
    const c = newClient(sim.socketPath);
    const info = await c.connect();
    expect(info.clientIndex >>> 31).toBe(1);
    expect(info.messageCount).toBeGreaterThan(300);
    expect(info.vpePid).toBe(sim.vpePid);
    expect(c.state).toBe('connected');
    expect(info.compat.incompatible).toEqual([]);
    expect(info.compat.compatible).toContain('memif_create_v2');
  });

  test('a CRC mismatch or a missing message in `required` fails connect, listing each one', async () => {
    const sim = await startSim();
    const changed = { ...control_ping, nameCrc: 'control_ping_deadbeef' } as MessageDef;
    const missing = { ...control_ping, name: 'no_such_message', nameCrc: 'no_such_message_12345678' } as MessageDef;
    const c = newClient(sim.socketPath, { required: [changed, missing, memif.memif_create_v2] });
    const err = await c.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VppCompatibilityError);
    const problems = (err as VppCompatibilityError).problems;
    expect(problems).toEqual([
      { name: 'control_ping', expected: 'control_ping_deadbeef', found: ['control_ping_51077d14'] },
      { name: 'no_such_message', expected: 'no_such_message_12345678', found: [] },
    ]);
    expect((err as Error).message).toContain('control_ping has control_ping_51077d14 (want control_ping_deadbeef)');
    expect(c.state).toBe('idle');
  });

  test('using a message VPP does not have is a clear error, not a hang', async () => {
    const sim = await startSim();
    const c = newClient(sim.socketPath);
    await c.connect();
    const bogus = { ...vpe.show_version, nameCrc: 'show_version_00000000' } as typeof vpe.show_version;
    await expect(c.request(bogus, {})).rejects.toThrow(VppUnknownMessageError);
    await expect(c.request(bogus, {})).rejects.toThrow(/CRC mismatch, VPP has show_version_51077d14/);
  });

  test('a missing socket is a VppConnectError saying so', async () => {
    const c = newClient(join(dir, 'nothing-here.sock'));
    const err = await c.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VppConnectError);
    expect((err as VppConnectError).code).toBe('ENOENT');
    expect((err as Error).message).toMatch(/does not exist/);
  });
});

describe('requests', () => {
  let sim: VppSimulator;
  let c: VppClient;
  beforeAll(async () => {
    sim = await startSim({ cursorPageSize: 7 });
    // 10,000 requests in flight at once: a loaded CI machine needs more than 2 s for all of them.
    c = newClient(sim.socketPath, { requestTimeoutMs: 15_000 });
    await c.connect();
  });

  test('10,000 pipelined requests are all answered, each with its own reply', async () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => 1000 + i);
    const replies = await Promise.all(
      ids.map((id) => c.request(memif.memif_socket_filename_add_del_v2, { is_add: true, socket_id: id, socket_filename: `/run/vpp/m${id}.sock` })),
    );
    expect(replies.map((r) => r.socket_id)).toEqual(ids);
    expect(replies.every((r) => r.retval === 0)).toBe(true);
    const pings = await Promise.all(Array.from({ length: 10_000 }, () => c.request(control_ping, {})));
    expect(pings.every((p) => p.vpe_pid === sim.vpePid)).toBe(true);
    expect(c.inFlight).toBe(0);
  });

  test('a negative retval rejects with VppApiError carrying the message, retval and its name', async () => {
    const err = await c.request(iface.sw_interface_set_flags, { sw_if_index: 9999, flags: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VppApiError);
    expect(err).toMatchObject({ messageName: 'sw_interface_set_flags', retval: -2, retvalName: 'VNET_API_ERROR_INVALID_SW_IF_INDEX' });
  });

  test('a dump of 1,000 details', async () => {
    const created = await Promise.all(Array.from({ length: 1000 }, (_, i) => c.request(iface.create_loopback, { mac_address: `02:fe:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}` })));
    const all = await c.dumpAll(iface.sw_interface_dump, {});
    const mine = new Set(created.map((r) => r.sw_if_index));
    expect(all.filter((d) => mine.has(d.sw_if_index))).toHaveLength(1000);
    // the same through the async iterator
    let count = 0;
    for await (const d of c.dump(iface.sw_interface_dump, {})) if (mine.has(d.sw_if_index)) count++;
    expect(count).toBe(1000);
    // a dump of one index returns one entry
    const one = await c.dumpAll(iface.sw_interface_dump, { sw_if_index: created[0]!.sw_if_index });
    expect(one.map((d) => d.sw_if_index)).toEqual([created[0]!.sw_if_index]);
  });

  test('a cursor stream is followed through -165 (EAGAIN) to its end', async () => {
    const { details, reply } = await c.streamAll(iface.sw_interface_tx_placement_get, { sw_if_index: 0xffffffff });
    expect(reply.retval).toBe(0);
    const all = await c.dumpAll(iface.sw_interface_dump, {});
    expect(new Set(details.map((d) => d.sw_if_index)).size).toBe(all.length);
  });

  test('an unanswered request times out with VppTimeoutError (on the injected clock) and later replies are dropped', async () => {
    let clock = 1_000_000;
    const fc = newClient(sim.socketPath, { now: () => clock });
    await fc.connect();
    sim.faults.noReply('show_version');
    try {
      let settled: unknown;
      const req = fc.request(vpe.show_version, {}, { timeoutMs: 300 }).then(
        (r) => (settled = r),
        (e: unknown) => (settled = e),
      );
      // Other traffic round-trips while the clock stands still: the request stays in flight.
      for (let i = 0; i < 5; i++) await fc.request(control_ping, {});
      clock += 299;
      for (let i = 0; i < 5; i++) await fc.request(control_ping, {});
      expect(settled).toBeUndefined();
      expect(fc.inFlight).toBe(1);
      clock += 1;
      await req;
      expect(settled).toBeInstanceOf(VppTimeoutError);
      expect((settled as Error).message).toBe('show_version: no reply from VPP within 300 ms');
    } finally {
      sim.faults.clear();
    }
    await expect(fc.request(vpe.show_version, {})).resolves.toMatchObject({ retval: 0 });
  });

  test('an encode error is thrown before anything is sent and leaves the connection usable', async () => {
    await expect(c.request(iface.sw_interface_tag_add_del, { sw_if_index: 0, tag: 'x'.repeat(80), is_add: true })).rejects.toThrow(/sw_interface_tag_add_del\.tag/);
    await expect(c.request(control_ping, {})).resolves.toMatchObject({ retval: 0 });
  });

  test('cli_inband text', async () => {
    expect(await c.cli('show version')).toMatch(/vpp/i);
    await expect(c.cli('no such command')).rejects.toMatchObject({ retval: -1 });
  });
});

describe('events, reconnect and restart', () => {
  test('want_interface_events delivers typed events, and again after a reconnect', async () => {
    const sim = await startSim();
    const c = newClient(sim.socketPath);
    await c.connect();
    const events: { sw_if_index: number; flags: number; deleted: boolean }[] = [];
    const sub = await c.subscribe(iface.want_interface_events, { enable_disable: 1, pid: process.pid }, iface.sw_interface_event, (e) => events.push(e));
    const { sw_if_index } = await c.request(iface.create_loopback, {});
    await c.request(iface.sw_interface_set_flags, { sw_if_index, flags: 1 });
    await c.request(control_ping, {}); // events arrive after the reply that caused them
    expect(events).toContainEqual(expect.objectContaining({ sw_if_index, flags: 3, deleted: false }));

    // Drop the connection: the client reconnects and subscribes again; VPP did not restart.
    let restarted = false;
    c.onRestart(() => (restarted = true));
    const reconnected = waitFor(c, 'reconnecting').then(() => waitFor(c, 'connected'));
    sim.dropConnections();
    await reconnected;
    expect(restarted).toBe(false);
    events.length = 0;
    await c.request(iface.sw_interface_set_flags, { sw_if_index, flags: 0 });
    await c.request(control_ping, {});
    expect(events).toContainEqual(expect.objectContaining({ sw_if_index, flags: 0 }));
    await sub.close();
  });

  test('a VPP restart: pending requests fail as disconnected, the client reconnects and signals the new vpe_pid', async () => {
    const sim = await startSim();
    const c = newClient(sim.socketPath);
    const first = await c.connect();
    sim.faults.noReply('show_version');
    const pending = c.request(vpe.show_version, {}).catch((e: unknown) => e);
    const restart = new Promise<{ previousPid: number; vpePid: number }>((r) => c.onRestart(r));
    await new Promise((r) => setTimeout(r, 20));
    await sim.restart();
    expect(await pending).toBeInstanceOf(VppDisconnectedError);
    const r = await restart;
    expect(r.previousPid).toBe(first.vpePid);
    expect(r.vpePid).toBe(sim.vpePid);
    expect(r.vpePid).not.toBe(first.vpePid);
    expect(c.state).toBe('connected');
    await expect(c.request(control_ping, {})).resolves.toMatchObject({ vpe_pid: sim.vpePid });
  });

  test('requests while reconnecting fail fast as retryable, and waitConnected() resolves after', async () => {
    const sim = await startSim();
    const path = sim.socketPath;
    const c = newClient(path, { backoff: { initialDelayMs: 20, maxDelayMs: 40 } });
    await c.connect();
    await sim.stop();
    await waitFor(c, 'reconnecting');
    await expect(c.request(control_ping, {})).rejects.toBeInstanceOf(VppDisconnectedError);
    const again = await VppSimulator.start({ socketPath: path });
    sims.push(again);
    await c.waitConnected(5000);
    await expect(c.request(control_ping, {})).resolves.toMatchObject({ vpe_pid: again.vpePid });
  });

  test('close() sends sockclnt_delete and ends in state closed', async () => {
    const sim = await startSim();
    const c = newClient(sim.socketPath);
    await c.connect();
    await c.close();
    expect(c.state).toBe('closed');
    await expect(c.request(control_ping, {})).rejects.toBeInstanceOf(VppDisconnectedError);
  });
});

describe('a misbehaving peer', () => {
  /** A server that completes the handshake, then runs `after` on the socket. */
  async function fakeVpp(after: (s: Socket, ids: Map<string, number>) => void): Promise<{ server: Server; path: string }> {
    const path = sockPath();
    const ids = new Map<string, number>();
    let next = 100;
    for (const m of allModules) for (const d of m.messages) ids.set(d.nameCrc, next++);
    const server = createServer((s) => {
      const reader = new FrameReader((msg) => {
        if (msg.readUInt16BE(0) !== 15) return;
        const table = [...ids].map(([name, index]) => ({ index, name }));
        const v = { response: 0, index: 0x80000001, message_table: table };
        const size = sockclnt_create_reply.size(v);
        const f = Buffer.alloc(16 + size);
        writeFrameHeader(f, 0, size);
        sockclnt_create_reply.encode(f, 16, 16, 0, msg.readUInt32BE(2), v);
        s.write(f);
        after(s, ids);
      });
      s.on('data', (ch) => reader.push(ch));
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(path, r));
    return { server, path };
  }

  test('a frame length no peer sends: clean error, connection reset, process alive', async () => {
    const { server, path } = await fakeVpp((s, ids) => {
      // Answer the first control_ping normally (connect), then send garbage.
      let answered = false;
      s.on('data', (chunk: Buffer) => {
        if (answered || chunk.length < 26) return;
        answered = true;
        const ctx = chunk.readUInt32BE(16 + 6);
        const f = Buffer.alloc(34);
        writeFrameHeader(f, 0, 18);
        f.writeUInt16BE(ids.get('control_ping_reply_f6b0b8ca')!, 16);
        f.writeUInt32BE(ctx, 18);
        s.write(f);
        setTimeout(() => s.write(Buffer.from('ffffffffffffffffffffffffffffffff00000000', 'hex')), 50);
      });
    });
    try {
      const c = newClient(path, { reconnect: false });
      const errors: Error[] = [];
      c.onError((e) => errors.push(e));
      await c.connect();
      const pending = c.request(vpe.show_version, {}).catch((e: unknown) => e);
      await waitFor(c, 'failed');
      expect(await pending).toBeInstanceOf(VppDisconnectedError);
      expect(errors.map((e) => e.message).join('\n')).toMatch(/stream out of step/);
    } finally {
      server.close();
    }
  });

  test('a reply too short for its message: clean protocol error, connection reset', async () => {
    const { server, path } = await fakeVpp((s, ids) => {
      s.on('data', (chunk: Buffer) => {
        if (chunk.length < 26) return;
        const ctx = chunk.readUInt32BE(16 + 6);
        const f = Buffer.alloc(16 + 8);
        writeFrameHeader(f, 0, 8); // control_ping_reply needs 18 bytes
        f.writeUInt16BE(ids.get('control_ping_reply_f6b0b8ca')!, 16);
        f.writeUInt32BE(ctx, 18);
        s.write(f);
      });
    });
    try {
      const c = newClient(path, { reconnect: false });
      const errors: Error[] = [];
      c.onError((e) => errors.push(e));
      const err = await c.connect().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VppConnectError);
      expect(errors.map((e) => e.message).join('\n')).toMatch(/bad control_ping_reply from VPP: cannot decode control_ping_reply/);
    } finally {
      server.close();
    }
  });
});
