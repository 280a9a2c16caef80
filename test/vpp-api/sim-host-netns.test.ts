/**
 * `vpp-sim --host-netns NAME` (the demo's node host): af_packet_create_v3 finds a host interface in that
 * named netns when the simulator's own has none, brings it up there as VPP would, and answers link MTU 9000 whatever the host MTU (as the real VPP does); a
 * name found nowhere is still INVALID_INTERFACE. Needs root (a network namespace and a veth pair in it).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { VppClient } from '../../vpp-api/client/index.js';
import { af_packet, allModules, interface_ } from '../../vpp-api/generated/index.js';
import { createNetns, deleteAllNetns, haveRoot, ipj, type TestNetns } from '../helpers/netns.js';

const root = haveRoot();
const d = root ? describe : describe.skip;
if (!root) process.stderr.write('sim-host-netns: not root; network namespace test skipped\n');

const dir = mkdtempSync(join(tmpdir(), 'vcni-sim-hn-'));
let child: ChildProcess | undefined;
let vpp: VppClient | undefined;
let ns: TestNetns;

const req = (hostIfName: string) => ({
  mode: af_packet.AfPacketMode.AF_PACKET_API_MODE_ETHERNET,
  hw_addr: '00:00:00:00:00:00',
  use_random_hw_addr: true,
  host_if_name: hostIfName,
  rx_frame_size: 0,
  tx_frame_size: 0,
  rx_frames_per_block: 32,
  tx_frames_per_block: 32,
  flags: 0,
  num_rx_queues: 1,
  num_tx_queues: 1,
});

afterAll(async () => {
  await vpp?.close();
  if (child && child.exitCode === null) {
    const gone = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    await gone;
  }
  deleteAllNetns();
  rmSync(dir, { recursive: true, force: true });
});

d('vpp-sim --host-netns', () => {
  test('af_packet on a link of the named netns: found, brought up there, link MTU 9000 as on a real VPP; a name in neither netns refused', async () => {
    ns = createNetns('shn');
    const a = `shn${process.pid % 100000}a`;
    execFileSync('ip', ['-n', ns.name, 'link', 'add', a, 'mtu', '1400', 'type', 'veth', 'peer', 'name', `${a}p`], { timeout: 10_000 });
    const socket = join(dir, 'api.sock');
    child = spawn(resolve('node_modules/.bin/tsx'), ['vpp-api/sim/main.ts', '--socket', socket, '--host', 'no-vhost-net', '--host-netns', ns.name], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const line = await new Promise<string>((ok, fail) => {
      createInterface({ input: child!.stdout! }).once('line', ok);
      child!.once('exit', () => fail(new Error(`vpp-sim exited before listening: ${stderr}`)));
    });
    expect(JSON.parse(line)).toMatchObject({ event: 'listening', host: 'no-vhost-net' });
    vpp = new VppClient({ socketPath: socket, modules: allModules, healthCheck: false, requestTimeoutMs: 5000 });
    await vpp.connect();

    expect((ipj(ns, ['link', 'show', 'dev', a]) as { flags: string[] }[])[0]!.flags).not.toContain('UP');
    const r = await vpp.request(af_packet.af_packet_create_v3, req(a));
    expect(r.retval).toBe(0);
    expect((ipj(ns, ['link', 'show', 'dev', a]) as { flags: string[] }[])[0]!.flags).toContain('UP');
    const [itf] = await vpp.dumpAll(interface_.sw_interface_dump, { sw_if_index: r.sw_if_index });
    expect(itf).toMatchObject({ interface_name: `host-${a}`, link_mtu: 9000 });

    await expect(vpp.request(af_packet.af_packet_create_v3, req(`${a}x`))).rejects.toMatchObject({ retvalName: 'VNET_API_ERROR_INVALID_INTERFACE' });
  });
});

test('--host-netns refuses what is not a namespace name', async () => {
  const p = spawn(resolve('node_modules/.bin/tsx'), ['vpp-api/sim/main.ts', '--socket', join(dir, 'x.sock'), '--host-netns', '../etc'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const code = await new Promise<number | null>((r) => p.once('exit', r));
  expect(code).toBe(2);
  expect(err).toBe('vpp-sim: --host-netns must be a network namespace name\n');
});
