/**
 * Fault hooks (in-process and through `sim ...` CLI commands), restart / drop, start and stop, and the
 * process entry point (vpp-api/sim/main.ts).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { interface_, memclnt, memif, vlib, vpe } from '../../vpp-api/generated/index.js';
import { VppSimulator } from '../../vpp-api/sim/index.js';
import { RawVppClient, SimFixture } from '../helpers/raw-vpp-client.js';

const fx = new SimFixture('vpp-sim-faults');
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const ch of children) if (ch.exitCode === null && ch.signalCode === null) ch.kill('SIGKILL');
  await fx.cleanup();
});

const ALL = 0xffffffff;

async function cli(c: RawVppClient, cmd: string): Promise<{ retval: number; reply: string }> {
  return c.request(vlib.cli_inband, { cmd }, vlib.cli_inband_reply);
}

async function loopbackNames(c: RawVppClient): Promise<string[]> {
  return (await c.dump(interface_.sw_interface_dump, { sw_if_index: ALL }, interface_.sw_interface_details)).map((d) => d.interface_name);
}

describe('fault hooks in process', () => {
  test('failWith: answers the retval without effect, `times` times, then the real handler runs', async () => {
    const sim = await fx.start();
    const c = await fx.client(sim);
    sim.faults.failWith('create_loopback', -9, 2);
    const req = () => c.request(interface_.create_loopback, { mac_address: '00:00:00:00:00:00' }, interface_.create_loopback_reply);
    expect(await req()).toEqual({ retval: -9, sw_if_index: 0 });
    expect(await req()).toEqual({ retval: -9, sw_if_index: 0 });
    expect(await loopbackNames(c)).toEqual(['local0']);
    expect(await req()).toEqual({ retval: 0, sw_if_index: 1 });
    // On a dump: no details, and the trailing ping is still answered.
    sim.faults.failWith('sw_interface_dump', -1);
    expect(await loopbackNames(c)).toEqual([]);
    sim.faults.clear();
    expect(await loopbackNames(c)).toEqual(['local0', 'loop0']);
  });

  test('noReply: the request takes effect, nothing is sent back', async () => {
    const sim = await fx.start();
    const c = await fx.client(sim);
    sim.faults.noReply('create_loopback');
    c.send(interface_.create_loopback, { mac_address: '00:00:00:00:00:00' });
    await c.expectNothing(200);
    sim.faults.clear('create_loopback');
    expect(await loopbackNames(c)).toEqual(['local0', 'loop0']);
  });

  test('delay: everything behind the delayed request waits, and order is kept', async () => {
    const sim = await fx.start();
    const c = await fx.client(sim);
    const other = await fx.client(sim, 'other');
    sim.faults.delay('show_version', 600);
    const v = c.send(vpe.show_version, {});
    const p = c.send(memclnt.control_ping, {});
    const q = other.send(memclnt.control_ping, {});
    await c.expectNothing(150);
    await other.expectNothing(10);
    const first = await c.next(3000);
    expect([first.id, first.msg.readUInt32BE(2)]).toEqual([c.id(vpe.show_version_reply), v]);
    expect((await c.next()).msg.readUInt32BE(2)).toBe(p);
    expect((await other.next()).msg.readUInt32BE(2)).toBe(q);
    sim.faults.clear();
  });

  test('bad fault arguments are refused', async () => {
    const sim = await fx.start();
    expect(() => sim.faults.failWith('create_loopback', 1.5)).toThrow(RangeError);
    expect(() => sim.faults.failWith('create_loopback', -1, 0)).toThrow(RangeError);
    expect(() => sim.faults.delay('create_loopback', -1)).toThrow(RangeError);
    expect(() => sim.faults.noReply('Not A Name')).toThrow(RangeError);
    expect(sim.faults.active).toBe(false);
  });
});

describe('fault hooks over cli_inband (`sim ...`)', () => {
  test('fail / noreply / delay / clear / state, reachable even when cli_inband itself is faulted', async () => {
    const sim = await fx.start();
    const c = await fx.client(sim);
    expect(await cli(c, 'sim fault fail memif_socket_filename_add_del_v2 -73 1')).toEqual({ retval: 0, reply: 'ok\n' });
    const add = { is_add: true, socket_id: 5, socket_filename: 'abstract:x' };
    expect(await c.request(memif.memif_socket_filename_add_del_v2, add, memif.memif_socket_filename_add_del_v2_reply)).toEqual({ retval: -73, socket_id: 0 });
    expect(await c.request(memif.memif_socket_filename_add_del_v2, add, memif.memif_socket_filename_add_del_v2_reply)).toEqual({ retval: 0, socket_id: 5 });

    expect((await cli(c, 'sim fault noreply cli_inband')).retval).toBe(0);
    c.send(vlib.cli_inband, { cmd: 'show version' });
    await c.expectNothing(150);
    const state = JSON.parse((await cli(c, 'sim state')).reply) as { faults: Record<string, unknown>; memifSockets: { socketId: number }[]; vpePid: number };
    expect(state.faults).toEqual({ cli_inband: { noReply: true } });
    expect(state.memifSockets.map((s) => s.socketId)).toEqual([0, 5]);
    expect(state.vpePid).toBe(sim.vpePid);

    expect(await cli(c, 'sim fault delay control_ping 300')).toEqual({ retval: 0, reply: 'ok\n' });
    const ctx = c.send(memclnt.control_ping, {});
    await c.expectNothing(100);
    expect((await c.next(2000)).msg.readUInt32BE(2)).toBe(ctx);

    expect(await cli(c, 'sim fault clear')).toEqual({ retval: 0, reply: 'ok\n' });
    expect(sim.faults.active).toBe(false);
    expect((await cli(c, 'show version')).retval).toBe(0);
    expect(await cli(c, 'sim fault explode x')).toMatchObject({ retval: -1 });
    expect(await cli(c, 'sim fault fail create_loopback notanumber')).toMatchObject({ retval: -1 });
  });

  test('sim drop: connections closed, state kept; sim restart: new pid, state empty, connections closed', async () => {
    const sim = await fx.start({ vpePid: 1111 });
    const c = await fx.client(sim);
    await c.request(interface_.create_loopback, { mac_address: '00:00:00:00:00:00' }, interface_.create_loopback_reply);
    expect(await cli(c, 'sim drop')).toEqual({ retval: 0, reply: 'ok\n' });
    await c.waitClosed();
    const d = await fx.client(sim);
    expect(d.clientIndex).toBe(0x80000001);
    expect(await loopbackNames(d)).toEqual(['local0', 'loop0']);
    expect(await cli(d, 'sim restart')).toEqual({ retval: 0, reply: 'ok\n' });
    await d.waitClosed();
    const e = await fx.client(sim);
    expect(e.clientIndex).toBe(0x80000001);
    const ping = await e.request(memclnt.control_ping, {}, memclnt.control_ping_reply);
    expect(ping.vpe_pid).not.toBe(1111);
    expect(ping.vpe_pid).toBe(sim.vpePid);
    expect(await loopbackNames(e)).toEqual(['local0']);
  });
});

describe('restart, drop, start and stop in process', () => {
  test('restart(): every connection dropped, all state emptied (interfaces, memif, events), new vpe_pid', async () => {
    const sim = await fx.start({ vpePid: 2222 });
    const a = await fx.client(sim, 'a');
    const b = await fx.client(sim, 'b');
    await a.request(interface_.want_interface_events, { enable_disable: 1, pid: 1 }, interface_.want_interface_events_reply);
    await a.request(interface_.create_loopback, { mac_address: '00:00:00:00:00:00' }, interface_.create_loopback_reply);
    await a.next(); // the ADD event
    await a.request(memif.memif_socket_filename_add_del_v2, { is_add: true, socket_id: ALL, socket_filename: 'abstract:r' }, memif.memif_socket_filename_add_del_v2_reply);
    sim.restart();
    await a.waitClosed();
    await b.waitClosed();
    expect(sim.connectionCount).toBe(0);
    expect(sim.vpePid).not.toBe(2222);
    const c = await fx.client(sim);
    expect(c.clientIndex).toBe(0x80000001);
    expect(await loopbackNames(c)).toEqual(['local0']);
    expect(await c.dump(memif.memif_socket_filename_dump, {}, memif.memif_socket_filename_details)).toEqual([{ socket_id: 0, socket_filename: '/run/vpp/memif.sock' }]);
    // The random sequence restarts with the process.
    expect((await c.request(memif.memif_socket_filename_add_del_v2, { is_add: true, socket_id: ALL, socket_filename: 'abstract:r' }, memif.memif_socket_filename_add_del_v2_reply)).socket_id).toBe(1013904223);
    expect(await c.request(interface_.want_interface_events, { enable_disable: 0, pid: 1 }, interface_.want_interface_events_reply)).toEqual({ retval: -31 });
  });

  test('stop() removes the socket; start() creates the directory and replaces a stale socket; refuses a regular file', async () => {
    const path = join(fx.dir, 'nested', 'dir', 'api.sock');
    const sim = await VppSimulator.start({ socketPath: path });
    expect(existsSync(path)).toBe(true);
    await sim.stop();
    expect(existsSync(path)).toBe(false);
    // A stale socket: a process that bound it and died without unlinking.
    try {
      execFileSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`], { stdio: 'pipe' });
    } catch {
      // killed, as intended
    }
    expect(existsSync(path)).toBe(true);
    const again = await VppSimulator.start({ socketPath: path });
    const c = await RawVppClient.open(path);
    await expect(c.request(memclnt.control_ping, {}, memclnt.control_ping_reply)).resolves.toMatchObject({ retval: 0 });
    c.destroy();
    await again.stop();
    const file = join(fx.dir, 'regular-file');
    writeFileSync(file, 'x');
    await expect(VppSimulator.start({ socketPath: file })).rejects.toThrow(/not a socket/);
  });
});

describe('process entry point', () => {
  test('vpp-sim (tsx vpp-api/sim/main.ts, the npm script): a JSON line on start, faults across processes, SIGTERM stops it and removes the socket', async () => {
    const path = join(fx.dir, 'proc', 'api.sock');
    const tsx = resolve('node_modules/.bin/tsx');
    const child = spawn(tsx, ['vpp-api/sim/main.ts', '--socket', path, '--pid', '4242', '--host', 'fake-tap'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const line = await new Promise<string>((resolveLine, reject) => {
      const rl = createInterface({ input: child.stdout! });
      rl.once('line', resolveLine);
      child.once('exit', () => reject(new Error(`vpp-sim exited before listening: ${stderr}`)));
    });
    expect(JSON.parse(line)).toMatchObject({ event: 'listening', socket: path, vpePid: 4242, host: 'fake-tap' });

    const c = await RawVppClient.open(path, 'from-another-process');
    expect(await c.request(memclnt.control_ping, {}, memclnt.control_ping_reply)).toEqual({ retval: 0, client_index: 0x80000001, vpe_pid: 4242 });
    expect(await cli(c, 'sim fault fail create_loopback -3 1')).toEqual({ retval: 0, reply: 'ok\n' });
    expect(await c.request(interface_.create_loopback, { mac_address: '00:00:00:00:00:00' }, interface_.create_loopback_reply)).toEqual({ retval: -3, sw_if_index: 0 });
    c.destroy();

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(path)).toBe(false);
  });
});
