/** Nodes → host routes to other nodes (agent/node/node-routes.ts). */
import { desiredNodeRoutes, vtepMacFor, type CrossNodeMode } from '../../agent/node/node-routes.js';
import { nodeSchema, parseKube, type KubeNode } from '../../agent/node/kube-objects.js';

function node(name: string, podCIDRs: string[] | undefined, ips: string[]): KubeNode {
  const r = parseKube(nodeSchema, 'Node', {
    metadata: { name },
    spec: podCIDRs ? { podCIDR: podCIDRs[0], podCIDRs } : {},
    status: { addresses: [{ type: 'Hostname', address: name }, ...ips.map((address) => ({ type: 'InternalIP', address }))] },
  });
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

const HOST_LINK = ['169.254.100.0/30', 'fd00:ffff::/126'];
const opts = (mode: CrossNodeMode) => ({ selfName: 'a', mode, hostLinkPrefixes: HOST_LINK });

const cluster = [
  node('a', ['10.244.0.0/24', 'fd00:244::/64'], ['192.168.1.10', 'fd00:1::10']),
  node('b', ['10.244.1.0/24', 'fd00:244:0:1::/64'], ['192.168.1.11', 'fd00:1::11']),
  node('c', ['10.244.2.0/24'], ['192.168.1.12']),
];

test('host-gw: one route per remote podCIDR via the InternalIP of its family (IPv4, IPv6, dual-stack)', () => {
  const d = desiredNodeRoutes(cluster, opts('host-gw'));
  expect([...d.routes.values()].map((r) => `${r.node} ${r.podCidr} via ${r.via}`).sort()).toEqual([
    'b 10.244.1.0/24 via 192.168.1.11',
    'b fd00:244:0:1::/64 via fd00:1::11',
    'c 10.244.2.0/24 via 192.168.1.12',
  ]);
  expect(d.skipped).toEqual([]);
  expect(d.ownPodCidrs.map((c) => c.text)).toEqual(['10.244.0.0/24', 'fd00:244::/64']);
});

test('vxlan: gateway = the podCIDR network address, VTEP MAC from the remote underlay; every family over the IPv4 underlay', () => {
  const d = desiredNodeRoutes(cluster, opts('vxlan'));
  const b6 = d.routes.get('b|fd00:244:0:1::/64')!;
  expect(b6).toEqual({ key: 'b|fd00:244:0:1::/64', node: 'b', podCidr: 'fd00:244:0:1::/64', family: 6, via: 'fd00:244:0:1::', vxlan: { vtepMac: vtepMacFor('192.168.1.11'), underlay: '192.168.1.11' } });
  expect(d.routes.get('c|10.244.2.0/24')!.via).toBe('10.244.2.0');
  expect(d.ownUnderlay).toBe('192.168.1.10');
  expect(vtepMacFor('192.168.1.11')).toMatch(/^0e(:[0-9a-f]{2}){5}$/);
  expect(vtepMacFor('192.168.1.11')).not.toBe(vtepMacFor('192.168.1.12'));
});

test('none: no routes', () => {
  expect(desiredNodeRoutes(cluster, opts('none')).routes.size).toBe(0);
});

test('a Node without podCIDRs or without InternalIP is skipped with its reason; a missing family skips that CIDR only', () => {
  const d = desiredNodeRoutes(
    [...cluster, node('d', undefined, ['192.168.1.13']), node('e', ['10.244.4.0/24'], []), node('f', ['10.244.5.0/24', 'fd00:244:0:5::/64'], ['192.168.1.15']), node('g', ['10.244.6.0/33'], ['192.168.1.16'])],
    opts('host-gw'),
  );
  expect(d.skipped).toEqual([
    { node: 'd', reason: 'no podCIDRs in its spec' },
    { node: 'e', reason: 'no InternalIP in its status' },
    { node: 'g', reason: 'podCIDR 10.244.6.0/33 is not a prefix' },
    { node: 'f', reason: 'no IPv6 InternalIP for podCIDR fd00:244:0:5::/64' },
  ]);
  expect(d.routes.has('f|10.244.5.0/24')).toBe(true);
});

test('overlapping podCIDRs: both remote nodes skipped; overlap with this node or the host link refused', () => {
  const d = desiredNodeRoutes(
    [
      ...cluster,
      node('h', ['10.244.8.0/23'], ['192.168.1.17']),
      node('i', ['10.244.9.0/24'], ['192.168.1.18']),
      node('j', ['10.244.0.128/25'], ['192.168.1.19']),
      node('k', ['169.254.100.0/24'], ['192.168.1.20']),
    ],
    opts('host-gw'),
  );
  expect(d.skipped).toEqual([
    { node: 'j', reason: "podCIDR 10.244.0.128/25 overlaps this node's podCIDR" },
    { node: 'k', reason: 'podCIDR 169.254.100.0/24 overlaps the host link' },
    { node: 'h', reason: 'podCIDR 10.244.8.0/23 overlaps 10.244.9.0/24 of node i' },
    { node: 'i', reason: 'podCIDR 10.244.9.0/24 overlaps 10.244.8.0/23 of node h' },
  ]);
  expect([...d.routes.keys()].sort()).toEqual(['b|10.244.1.0/24', 'b|fd00:244:0:1::/64', 'c|10.244.2.0/24']);
});

test('a podCIDR change replaces the route; a removed node loses its routes; a node being deleted is skipped', () => {
  const before = desiredNodeRoutes(cluster, opts('host-gw'));
  const moved = [cluster[0]!, node('b', ['10.244.11.0/24'], ['192.168.1.11']), cluster[2]!];
  const after = desiredNodeRoutes(moved, opts('host-gw'));
  expect(before.routes.has('b|10.244.1.0/24')).toBe(true);
  expect(after.routes.has('b|10.244.1.0/24')).toBe(false);
  expect(after.routes.get('b|10.244.11.0/24')!.via).toBe('192.168.1.11');
  const gone = desiredNodeRoutes([cluster[0]!, cluster[2]!], opts('host-gw'));
  expect([...gone.routes.keys()]).toEqual(['c|10.244.2.0/24']);
  const deleting = parseKube(nodeSchema, 'Node', { ...cluster[2]!, metadata: { ...cluster[2]!.metadata, deletionTimestamp: '2026-01-01T00:00:00Z' } });
  if (!deleting.ok) throw new Error(deleting.error);
  expect(desiredNodeRoutes([cluster[0]!, deleting.value], opts('host-gw')).routes.size).toBe(0);
});

test('IPv6-only cluster over an IPv6 underlay (vxlan)', () => {
  const v6 = [node('a', ['fd00:244::/64'], ['fd00:1::10']), node('b', ['fd00:244:0:1::/64'], ['fd00:1::11'])];
  const d = desiredNodeRoutes(v6, opts('vxlan'));
  expect(d.routes.get('b|fd00:244:0:1::/64')!.vxlan).toEqual({ vtepMac: vtepMacFor('fd00:1::11'), underlay: 'fd00:1::11' });
  // A remote node with only an IPv4 InternalIP cannot be reached over an IPv6 underlay.
  const mixed = desiredNodeRoutes([...v6, node('c', ['fd00:244:0:2::/64'], ['192.168.1.12'])], opts('vxlan'));
  expect(mixed.skipped).toEqual([{ node: 'c', reason: "no InternalIP of this node's underlay family (IPv6) for vxlan" }]);
});

test('500 nodes', () => {
  const nodes = [node('a', ['10.0.0.0/24'], ['192.168.0.1'])];
  for (let i = 1; i <= 500; i++) nodes.push(node(`n${i}`, [`10.${1 + (i >> 8)}.${i & 255}.0/24`], [`192.168.${(i >> 8) + 1}.${i & 255}`]));
  const d = desiredNodeRoutes(nodes, opts('host-gw'));
  expect(d.routes.size).toBe(500);
  expect(d.skipped).toEqual([]);
});
