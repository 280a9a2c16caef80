/**
 * The node dataplane's settings: defaults, and one line naming the variable (or flag) for every invalid value
 * or combination (overlapping ranges, a pod MTU that does not fit the link minus the encapsulation).
 */
import { ConfigError, loadConfig } from '../../agent/config.js';

const NODE = { NODE_NAME: 'node-a' };

test('defaults: auto, vxlan, derived cluster CIDRs, 10.96.0.0/12, NAT and Services on, link-local/ULA host link, MTU 1500, VNI 4097', () => {
  const c = loadConfig(NODE, []);
  expect(c.node).toEqual({
    enabled: 'auto',
    crossNode: 'vxlan',
    clusterCidrs: undefined,
    serviceCidrs: ['10.96.0.0/12'],
    natOutgoing: true,
    services: true,
    hostLink: { ip4: { vpp: '169.254.100.1', host: '169.254.100.2', len: 30 }, ip6: { vpp: 'fd56:6370:636e::1', host: 'fd56:6370:636e::2', len: 126 }, mtu: 1500 },
    vxlan: { vni: 4097, port: 4789 },
    netns: undefined,
  });
});

test('values are read and canonicalised', () => {
  const c = loadConfig({ ...NODE, VPPCNI_CLUSTER_CIDRS: '10.244.0.0/16, fd00:244::/56', VPPCNI_SERVICE_CIDRS: '10.96.0.0/16,fd00:96::/112', VPPCNI_HOST_LINK_IP6: 'none' }, [
    '--cross-node', 'host-gw', '--node-netns', 'node-a', '--nat-outgoing', 'false', '--services', 'false', '--host-link-mtu', '9000', '--pod-mtu', '9000',
  ]);
  expect(c.node).toMatchObject({ crossNode: 'host-gw', clusterCidrs: ['10.244.0.0/16', 'fd00:244::/56'], serviceCidrs: ['10.96.0.0/16', 'fd00:96::/112'], natOutgoing: false, services: false, netns: 'node-a' });
  expect(c.node.hostLink).toEqual({ ip4: { vpp: '169.254.100.1', host: '169.254.100.2', len: 30 }, ip6: undefined, mtu: 9000 });
});

test.each([
  [{ VPPCNI_NODE_DATAPLANE: 'yes' }, [], 'VPPCNI_NODE_DATAPLANE: "yes" is not one of on, off, auto'],
  [{ NODE_NAME: '', VPPCNI_PODS_FILE: '/x.yaml', VPPCNI_NODE_DATAPLANE: 'on' }, [], 'NODE_NAME: required with VPPCNI_NODE_DATAPLANE on (which Node in the cluster lists is this one)'],
  [{}, ['--cross-node', 'ipip'], '--cross-node: "ipip" is not one of host-gw, vxlan, none'],
  [{ VPPCNI_CLUSTER_CIDRS: '10.244.0.0' }, [], 'VPPCNI_CLUSTER_CIDRS: "10.244.0.0" is not a prefix (address/length)'],
  [{ VPPCNI_CLUSTER_CIDRS: '10.0.0.0/8' }, [], 'VPPCNI_SERVICE_CIDRS: 10.96.0.0/12 overlaps the cluster CIDR 10.0.0.0/8 of VPPCNI_CLUSTER_CIDRS'],
  [{ VPPCNI_NAT_OUTGOING: 'yes' }, [], 'VPPCNI_NAT_OUTGOING: "yes" is not true or false'],
  [{ VPPCNI_SERVICES: '1' }, [], 'VPPCNI_SERVICES: "1" is not true or false'],
  [{ VPPCNI_HOST_LINK_IP4: '169.254.100.1/30' }, [], 'VPPCNI_HOST_LINK_IP4: "169.254.100.1/30" is not two addresses with their prefix length (VPP,host: 169.254.100.1/30,169.254.100.2/30) or none'],
  [{ VPPCNI_HOST_LINK_IP4: '169.254.100.1/30,169.254.101.2/30' }, [], 'VPPCNI_HOST_LINK_IP4: "169.254.100.1/30,169.254.101.2/30": both addresses must be in one prefix of one length'],
  [{ VPPCNI_HOST_LINK_IP4: '169.254.100.1/30,169.254.100.1/30' }, [], 'VPPCNI_HOST_LINK_IP4: "169.254.100.1/30,169.254.100.1/30": VPP and the host need two different addresses'],
  [{ VPPCNI_HOST_LINK_IP4: '169.254.100.0/30,169.254.100.1/30' }, [], 'VPPCNI_HOST_LINK_IP4: "169.254.100.0/30,169.254.100.1/30": the network address of 169.254.100.0/30 cannot be an end of the link'],
  [{ VPPCNI_HOST_LINK_IP4: '169.254.100.1/32,169.254.100.1/32' }, [], 'VPPCNI_HOST_LINK_IP4: "169.254.100.1/32,169.254.100.1/32": VPP and the host need two different addresses'],
  [{ VPPCNI_HOST_LINK_IP6: 'fd00::1/126,fd00::2/126' }, ['--host-link-ip4', 'fd00::1/126,fd00::2/126'], '--host-link-ip4: "fd00::1/126,fd00::2/126" is not IPv4'],
  [{ VPPCNI_HOST_LINK_IP4: 'none', VPPCNI_HOST_LINK_IP6: 'none' }, [], 'VPPCNI_HOST_LINK_IP4: the host link needs an address in at least one family (both are none)'],
  [{ VPPCNI_HOST_LINK_IP4: '10.96.0.1/30,10.96.0.2/30' }, [], 'VPPCNI_HOST_LINK_IP4: 10.96.0.0/30 overlaps 10.96.0.0/12 of VPPCNI_SERVICE_CIDRS'],
  [{ VPPCNI_CLUSTER_CIDRS: '169.254.0.0/16' }, [], 'VPPCNI_HOST_LINK_IP4: 169.254.100.0/30 overlaps 169.254.0.0/16 of VPPCNI_CLUSTER_CIDRS'],
  [{ VPPCNI_HOST_LINK_MTU: '1000' }, [], 'VPPCNI_HOST_LINK_MTU: "1000" is not an MTU between 1280 and 9216'],
  [{ VPPCNI_VXLAN_VNI: '0' }, [], 'VPPCNI_VXLAN_VNI: "0" is not a VNI (1-16777215)'],
  [{ VPPCNI_VXLAN_PORT: '70000' }, [], 'VPPCNI_VXLAN_PORT: "70000" is not a UDP port (1-65535)'],
  [{ VPPCNI_NODE_NETNS: '../x' }, [], 'VPPCNI_NODE_NETNS: "../x" is not a netns name (letters, digits, _ . -; at most 64)'],
  // Pod MTU = link MTU − encapsulation.
  [{ VPPCNI_POD_MTU: '1500' }, [], 'VPPCNI_POD_MTU: 1500 does not fit VPPCNI_HOST_LINK_MTU 1500 − 50 (vxlan encapsulation): at most 1450'],
  [{ VPPCNI_POD_MTU: '1500', VPPCNI_HOST_LINK_MTU: '1400' }, ['--cross-node', 'host-gw'], 'VPPCNI_POD_MTU: 1500 does not fit VPPCNI_HOST_LINK_MTU 1400: at most 1400'],
] as [Record<string, string>, string[], string][])('%j %j → %s', (env, argv, message) => {
  let err: unknown;
  try {
    loadConfig({ ...NODE, ...env }, argv);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as Error).message).toBe(message);
});

test('the MTU check is off with the node dataplane off; fits exactly at the limit', () => {
  expect(loadConfig({ ...NODE, VPPCNI_POD_MTU: '1500', VPPCNI_NODE_DATAPLANE: 'off' }, []).pod.mtu).toBe(1500);
  expect(loadConfig({ ...NODE, VPPCNI_POD_MTU: '1450' }, []).pod.mtu).toBe(1450);
  expect(loadConfig({ ...NODE, VPPCNI_POD_MTU: '1500' }, ['--cross-node', 'host-gw']).pod.mtu).toBe(1500);
});
