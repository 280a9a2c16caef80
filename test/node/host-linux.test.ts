/**
 * Host side of the node dataplane on a real kernel, each case in fresh network namespaces: routes marked by our
 * protocol number, the VXLAN device with its FDB + neighbors + onlink routes, the VPPCNI-* iptables chains —
 * reconciled, found and removed by their marker, and never touching what is not ours.
 */
import { execFileSync } from 'node:child_process';
import { HostCmd } from '../../agent/linux/host-cmd.js';
import { HostRoutes } from '../../agent/linux/host-routes.js';
import { ForeignDeviceError, VxlanDevice, VXLAN_ALIAS } from '../../agent/linux/vxlan.js';
import { IptablesChains, chainRules } from '../../agent/linux/iptables-chains.js';
import { createNetns, deleteAllNetns, haveRoot, ipj, type TestNetns } from '../helpers/netns.js';

const d = haveRoot() ? describe : describe.skip;
if (!haveRoot()) process.stderr.write('host-linux: not root; network namespace tests skipped\n');

afterAll(() => deleteAllNetns());

function sh(ns: TestNetns, argv: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns.name, ...argv], { encoding: 'utf8', timeout: 10_000, env: { ...process.env, LC_ALL: 'C' } });
}

/** A netns with an uplink (veth, 192.168.50.1/24 + fd00:50::1/64) so next hops resolve. */
function nodeNetns(tag: string): TestNetns {
  const ns = createNetns(tag);
  sh(ns, ['ip', 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1']);
  sh(ns, ['ip', 'link', 'set', 'up0', 'up']);
  sh(ns, ['ip', 'link', 'set', 'up1', 'up']);
  sh(ns, ['ip', 'addr', 'add', '192.168.50.1/24', 'dev', 'up0']);
  sh(ns, ['ip', '-6', 'addr', 'add', 'fd00:50::1/64', 'dev', 'up0', 'nodad']);
  return ns;
}

function routesIn(ns: TestNetns): string[] {
  const rows = [...(ipj(ns, ['-4', 'route', 'show']) as Record<string, unknown>[]), ...(ipj(ns, ['-6', 'route', 'show']) as Record<string, unknown>[])];
  return rows
    .filter((r) => r.protocol !== 'kernel' && !String(r.dst).startsWith('fe80') && r.dst !== 'multicast')
    .map((r) => `${String(r.dst)} via ${String(r.gateway ?? '-')} dev ${String(r.dev)} proto ${String(r.protocol ?? 'boot')}${(r.flags as string[]).includes('onlink') ? ' onlink' : ''}`)
    .sort();
}

d('host routes marked by protocol', () => {
  test('sync adds, changes and removes only our routes; a foreign route to the same destination is refused, never replaced', async () => {
    const ns = nodeNetns('rt');
    const r = new HostRoutes(new HostCmd({ netns: ns.name }), 199);
    sh(ns, ['ip', 'route', 'add', '10.244.9.0/24', 'via', '192.168.50.9', 'proto', 'static']);
    sh(ns, ['ip', 'route', 'add', '10.99.0.0/16', 'via', '192.168.50.8']);
    const first = await r.sync([
      { dst: '10.244.1.0/24', via: '192.168.50.11' },
      { dst: 'fd00:244:0:1::/64', via: 'fd00:50::11' },
      { dst: '10.244.9.0/24', via: '192.168.50.19' },
    ]);
    expect(first.added.sort()).toEqual(['10.244.1.0/24', 'fd00:244:0:1::/64']);
    expect(first.refused).toEqual([{ dst: '10.244.9.0/24', reason: 'a route to 10.244.9.0/24 exists that is not ours (proto static)' }]);
    expect(routesIn(ns)).toEqual([
      '10.244.1.0/24 via 192.168.50.11 dev up0 proto 199',
      '10.244.9.0/24 via 192.168.50.9 dev up0 proto static',
      '10.99.0.0/16 via 192.168.50.8 dev up0 proto boot',
      'fd00:244:0:1::/64 via fd00:50::11 dev up0 proto 199',
    ]);
    // Unchanged desired state: zero changes (adoption after a restart).
    const again = await r.sync([{ dst: '10.244.1.0/24', via: '192.168.50.11' }, { dst: 'fd00:244:0:1::/64', via: 'fd00:50::11' }]);
    expect(again).toEqual({ added: [], changed: [], removed: [], refused: [] });
    // A podCIDR change and a node gone.
    const moved = await r.sync([{ dst: '10.244.1.0/24', via: '192.168.50.21' }]);
    expect(moved).toEqual({ added: [], changed: ['10.244.1.0/24'], removed: ['fd00:244:0:1::/64'], refused: [] });
    expect(await r.removeAll()).toEqual(['10.244.1.0/24']);
    expect(routesIn(ns)).toEqual(['10.244.9.0/24 via 192.168.50.9 dev up0 proto static', '10.99.0.0/16 via 192.168.50.8 dev up0 proto boot']);
  });

  test('a route protocol outside 5..255 is refused', () => {
    expect(() => new HostRoutes(new HostCmd(), 4)).toThrow(/5\.\.255/);
    expect(() => new HostRoutes(new HostCmd(), 256)).toThrow(/5\.\.255/);
  });
});

d('vxlan device, FDB, neighbors and onlink routes', () => {
  const spec = (_ns: TestNetns, over: Partial<{ vni: number; mtu: number; mac: string }> = {}) => ({
    name: 'vcni-vxlan',
    vni: over.vni ?? 4097,
    port: 4789,
    local: '192.168.50.1',
    mac: over.mac ?? '0e:00:00:00:00:01',
    mtu: over.mtu ?? 1450,
  });

  test('created once, adopted unchanged, updated in place, re-created on a VNI change; peers synced exactly; removed with everything', async () => {
    const ns = nodeNetns('vx');
    const cmd = new HostCmd({ netns: ns.name });
    const vx = new VxlanDevice(cmd);
    const routes = new HostRoutes(cmd);
    expect(await vx.ensure(spec(ns))).toBe('created');
    expect(await vx.ensure(spec(ns))).toBe('unchanged');
    expect(await vx.ensure(spec(ns, { mtu: 1400 }))).toBe('updated');
    const peers = [
      { vtepMac: '0e:00:00:00:00:02', underlay: '192.168.50.2', gateways: ['10.244.1.0', 'fd00:244:0:1::'] },
      { vtepMac: '0e:00:00:00:00:03', underlay: '192.168.50.3', gateways: ['10.244.2.0'] },
    ];
    expect(await vx.syncPeers('vcni-vxlan', peers)).toEqual({ added: 5, removed: 0 });
    expect(await vx.syncPeers('vcni-vxlan', peers)).toEqual({ added: 0, removed: 0 });
    const rs = await routes.sync([
      { dst: '10.244.1.0/24', via: '10.244.1.0', dev: 'vcni-vxlan', onlink: true },
      { dst: 'fd00:244:0:1::/64', via: 'fd00:244:0:1::', dev: 'vcni-vxlan', onlink: true },
      { dst: '10.244.2.0/24', via: '10.244.2.0', dev: 'vcni-vxlan', onlink: true },
    ]);
    expect(rs.refused).toEqual([]);
    expect(routesIn(ns)).toEqual([
      '10.244.1.0/24 via 10.244.1.0 dev vcni-vxlan proto 199 onlink',
      '10.244.2.0/24 via 10.244.2.0 dev vcni-vxlan proto 199 onlink',
      'fd00:244:0:1::/64 via fd00:244:0:1:: dev vcni-vxlan proto 199 onlink',
    ]);
    const state = await vx.read('vcni-vxlan');
    expect(state.device).toEqual({ name: 'vcni-vxlan', vni: 4097, port: 4789, local: '192.168.50.1', mac: '0e:00:00:00:00:01', mtu: 1400 });
    expect(state.fdb.sort((a, b) => a.mac.localeCompare(b.mac))).toEqual([{ mac: '0e:00:00:00:00:02', dst: '192.168.50.2' }, { mac: '0e:00:00:00:00:03', dst: '192.168.50.3' }]);
    // Node c goes.
    expect(await vx.syncPeers('vcni-vxlan', peers.slice(0, 1))).toEqual({ added: 0, removed: 2 });
    expect((await vx.read('vcni-vxlan')).neighbors.map((n) => n.ip).sort()).toEqual(['10.244.1.0', 'fd00:244:0:1::']);
    // A VNI change re-creates the device (its routes go with it: the reconciler re-adds them).
    expect(await vx.ensure(spec(ns, { vni: 4098 }))).toBe('updated');
    expect((await vx.read('vcni-vxlan')).device!.vni).toBe(4098);
    expect(await vx.remove('vcni-vxlan')).toBe(true);
    expect(await vx.remove('vcni-vxlan')).toBe(false);
    expect(routesIn(ns)).toEqual([]);
  });

  test('a device of that name that is not ours is refused and left alone', async () => {
    const ns = nodeNetns('vf');
    sh(ns, ['ip', 'link', 'add', 'vcni-vxlan', 'type', 'vxlan', 'id', '7', 'local', '192.168.50.1', 'dstport', '4789']);
    const vx = new VxlanDevice(new HostCmd({ netns: ns.name }));
    await expect(vx.ensure(spec(ns))).rejects.toThrow(ForeignDeviceError);
    await expect(vx.remove('vcni-vxlan')).rejects.toThrow(/not ours/);
    const l = (ipj(ns, ['-d', 'link', 'show', 'dev', 'vcni-vxlan']) as { ifalias?: string; linkinfo: { info_data: { id: number } } }[])[0]!;
    expect(l.linkinfo.info_data.id).toBe(7);
    expect(l.ifalias).not.toBe(VXLAN_ALIAS);
  });
});

d('VPPCNI-* iptables chains', () => {
  test('written whole, jumped to once and first, next to foreign rules; natOutgoing off empties the NAT chain; removed without a trace', async () => {
    const ns = nodeNetns('ipt');
    // Foreign rules, as kube-proxy or Docker would have them.
    sh(ns, ['iptables', '-w', '5', '-N', 'KUBE-FORWARD']);
    sh(ns, ['iptables', '-w', '5', '-A', 'FORWARD', '-j', 'KUBE-FORWARD']);
    sh(ns, ['iptables', '-w', '5', '-t', 'nat', '-A', 'POSTROUTING', '-s', '172.17.0.0/16', '-j', 'MASQUERADE']);
    const before4 = { filter: sh(ns, ['iptables-save', '-t', 'filter']), nat: sh(ns, ['iptables-save', '-t', 'nat']) };
    const ch = new IptablesChains(new HostCmd({ netns: ns.name }));
    const spec = { podCidrs: ['10.244.0.0/16', 'fd00:244::/56'], noMasqueradeCidrs: ['10.244.0.0/16', '10.96.0.0/12', 'fd00:244::/56', 'fd00:96::/112'], natOutgoing: true };
    expect(await ch.sync(spec)).toEqual({ changed: true });
    expect(await ch.sync(spec)).toEqual({ changed: false });
    const f4 = sh(ns, ['iptables-save', '-t', 'filter']).split('\n');
    const fwd = f4.filter((l) => l.startsWith('-A FORWARD '));
    expect(fwd).toEqual(['-A FORWARD -m comment --comment vpp-cni -j VPPCNI-FORWARD', '-A FORWARD -j KUBE-FORWARD']);
    expect(f4.filter((l) => l.startsWith('-A VPPCNI-FORWARD'))).toEqual(chainRules(spec, 4).filter);
    const n6 = sh(ns, ['ip6tables-save', '-t', 'nat']).split('\n');
    expect(n6.filter((l) => l.startsWith('-A VPPCNI-POSTROUTING'))).toEqual([
      '-A VPPCNI-POSTROUTING -d fd00:244::/56 -j RETURN',
      '-A VPPCNI-POSTROUTING -d fd00:96::/112 -j RETURN',
      '-A VPPCNI-POSTROUTING -s fd00:244::/56 -j MASQUERADE',
    ]);
    // A second jump someone added by hand is folded back to one.
    sh(ns, ['iptables', '-w', '5', '-A', 'FORWARD', '-m', 'comment', '--comment', 'vpp-cni', '-j', 'VPPCNI-FORWARD']);
    expect((await ch.read(4)).forwardJumps).toBe(2);
    await ch.sync(spec);
    expect((await ch.read(4)).forwardJumps).toBe(1);
    await ch.sync({ ...spec, natOutgoing: false });
    expect((await ch.read(4)).nat).toEqual([]);
    await ch.removeAll();
    const strip = (t: string): string => t.split('\n').filter((l) => !l.startsWith('#')).join('\n');
    expect(strip(sh(ns, ['iptables-save', '-t', 'filter']))).toBe(strip(before4.filter));
    expect(strip(sh(ns, ['iptables-save', '-t', 'nat']))).toBe(strip(before4.nat));
    expect(sh(ns, ['ip6tables-save']).includes('VPPCNI')).toBe(false);
  });
});
