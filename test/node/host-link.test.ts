/**
 * The host link kind: veth pair in a netns standing for the node's host, af_packet on one end in the
 * simulator (its host checks look into that netns), addresses, neighbors, default routes, MTU; verify from an
 * inventory; rollback when a step fails; delete leaves nothing.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VppClient } from '../../vpp-api/client/index.js';
import { allModules, interface_ as iface, ip } from '../../vpp-api/generated/index.js';
import { VppSimulator, noVhostNet } from '../../vpp-api/sim/index.js';
import { HostCmd } from '../../agent/linux/host-cmd.js';
import { HostRoutes } from '../../agent/linux/host-routes.js';
import { hostLinkKind, HOST_LINK_TAG, type HostLinkCtx, type HostLinkSpec } from '../../agent/node/kinds/host-link.js';
import { takeNodeInventory } from '../../agent/node/context.js';
import { transact, StepError } from '../../agent/pod/transaction.js';
import { createNetns, deleteAllNetns, haveRoot, ipj, type TestNetns } from '../helpers/netns.js';

const d = haveRoot() ? describe : describe.skip;
if (!haveRoot()) process.stderr.write('host-link: not root; network namespace test skipped\n');

const log = { debug: () => undefined, info: () => undefined, warn: () => undefined };
let dir = '';
let sim: VppSimulator;
let vpp: VppClient;
let ns: TestNetns;
let ctx: HostLinkCtx;

const spec: HostLinkSpec = {
  vppIf: 'vcni-hl0',
  hostIf: 'vcni-hl1',
  vppMac: '02:fe:0d:00:08:01',
  hostMac: '02:fe:0d:00:08:02',
  mtu: 1450,
  ip4: { vpp: '169.254.100.1', host: '169.254.100.2', len: 30 },
  ip6: { vpp: 'fd00:ffff::1', host: 'fd00:ffff::2', len: 126 },
};

function linkIn(name: string): { ifname: string; mtu: number; ifalias?: string; address: string } | undefined {
  try {
    const out = execFileSync('ip', ['-j', '-n', ns.name, 'link', 'show', 'dev', name], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
    return (JSON.parse(out) as { ifname: string; mtu: number; ifalias?: string; address: string }[])[0];
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  if (!haveRoot()) return;
  dir = mkdtempSync(join(tmpdir(), 'vcni-hostlink-'));
  ns = createNetns('hl');
  const inNs = (name: string): boolean => linkIn(name) !== undefined;
  sim = await VppSimulator.start({ socketPath: join(dir, 'api.sock'), host: noVhostNet({ interfaceExists: inNs, interfaceUp: inNs, interfaceMtu: (n) => linkIn(n)?.mtu ?? 1500 }) });
  vpp = new VppClient({ socketPath: sim.socketPath, modules: allModules, healthCheck: false, requestTimeoutMs: 5000 });
  await vpp.connect();
  const host = new HostCmd({ netns: ns.name });
  ctx = { vpp, routes: new HostRoutes(host), log, host };
});
afterAll(async () => {
  await vpp?.close();
  await sim?.stop();
  deleteAllNetns();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

d('host link (veth + af_packet)', () => {
  test('created: both ends in the host netns, tagged af_packet, addresses, neighbors, default routes and MTU in VPP; verified; deleted without a trace', async () => {
    const made = await transact('node host link', log, undefined, (tx) => hostLinkKind.create(ctx, tx, spec));
    expect(linkIn('vcni-hl0')).toMatchObject({ mtu: 1450, ifalias: HOST_LINK_TAG });
    expect(linkIn('vcni-hl1')).toMatchObject({ mtu: 1450, ifalias: HOST_LINK_TAG, address: '02:fe:0d:00:08:02' });
    const addrs = (ipj(ns, ['addr', 'show', 'dev', 'vcni-hl1']) as { addr_info: { local: string; prefixlen: number }[] }[])[0]!.addr_info.map((a) => `${a.local}/${a.prefixlen}`);
    expect(addrs).toEqual(expect.arrayContaining(['169.254.100.2/30', 'fd00:ffff::2/126']));
    const [itf] = await vpp.dumpAll(iface.sw_interface_dump, { sw_if_index: made.swIfIndex });
    expect(itf).toMatchObject({ interface_name: 'host-vcni-hl0', tag: HOST_LINK_TAG, l2_address: '02:fe:0d:00:08:01', mtu: [1450, 0, 0, 0], flags: 3 });
    const r4 = await vpp.dumpAll(ip.ip_route_dump, { table: { table_id: 0, is_ip6: false } });
    expect(r4.find((r) => r.route.prefix === '0.0.0.0/0')!.route.paths[0]!.nh.address.ip4).toBe('169.254.100.2');
    const r6 = await vpp.dumpAll(ip.ip_route_dump, { table: { table_id: 0, is_ip6: true } });
    expect(r6.find((r) => r.route.prefix === '::/0')!.route.paths[0]!.nh.address.ip6).toBe('fd00:ffff::2');
    const inv = await takeNodeInventory(ctx);
    expect(hostLinkKind.verify(ctx, made, inv)).toEqual([]);
    expect(hostLinkKind.owned(inv).map((f) => f.made.vppIf)).toEqual(['vcni-hl0']);
    expect(await hostLinkKind.check(ctx, made, spec)).toEqual([]);

    await hostLinkKind.delete(ctx, made);
    await hostLinkKind.delete(ctx, made); // idempotent
    expect(linkIn('vcni-hl0')).toBeUndefined();
    expect(linkIn('vcni-hl1')).toBeUndefined();
    expect((await vpp.dumpAll(iface.sw_interface_dump, {})).map((i) => i.interface_name)).toEqual(['local0']);
    expect((await vpp.dumpAll(ip.ip_route_dump, { table: { table_id: 0, is_ip6: false } })).find((r) => r.route.prefix === '0.0.0.0/0')!.route.paths[0]!.type).toBe(2);
  });

  test('a failing step rolls everything back: no veth, no af_packet left', async () => {
    sim.faults.failWith('sw_interface_add_del_address', -105, 1);
    const err = await transact('node host link', log, undefined, (tx) => hostLinkKind.create(ctx, tx, spec)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as StepError).message).toMatch(/node host link: step "host link addresses" failed/);
    expect((err as StepError).retvalName).toBe('VNET_API_ERROR_ADDRESS_IN_USE');
    expect(linkIn('vcni-hl0')).toBeUndefined();
    expect((await vpp.dumpAll(iface.sw_interface_dump, {})).map((i) => i.interface_name)).toEqual(['local0']);
  });
});
