/**
 * The demo's cluster document (ctl/demo/pods.ts) read back as the agent reads it: the pods file's documents
 * parsed by the agent's parser, each cluster object through the Kubernetes schemas (StaticCluster), none
 * left out. The EndpointSlice exists only once the demo has the pods' addresses, and names the Service.
 */
import { StaticCluster } from '../../agent/node/static-cluster.js';
import { parsePodsFileContents } from '../../agent/pod-info/pods-file.js';
import { clusterDocument, DEMO_CLUSTER_CIDRS, DEMO_NODE, DEMO_PODS, DEMO_SERVICE, PRIMARY_NET, podsYaml, SECOND_NODE } from '../../ctl/demo/pods.js';

const uid = (p: { name: string }): string => `uid-${p.name}`;

function read(text: string): { cluster: StaticCluster; warn: jest.Mock; pods: string[] } {
  const c = parsePodsFileContents(text);
  const warn = jest.fn();
  return { cluster: new StaticCluster({ warn }, c.cluster), warn, pods: c.pods.map((p) => `${p.namespace}/${p.name}`) };
}

test('without a cluster document the pods file is the pods alone (the agent keeps its node dataplane off)', () => {
  const c = parsePodsFileContents(podsYaml(DEMO_PODS, uid));
  expect(c.cluster).toBeUndefined();
  expect(c.pods).toHaveLength(DEMO_PODS.length);
});

test('first version: the pods, two Nodes and the Service, no EndpointSlice; every object valid', () => {
  const r = read(podsYaml(DEMO_PODS, uid, clusterDocument()));
  expect(r.pods).toEqual(DEMO_PODS.map((p) => `default/${p.name}`));
  expect(r.warn).not.toHaveBeenCalled();
  expect(r.cluster.nodes().map((n) => [n.metadata.name, n.spec?.podCIDR, n.status?.addresses?.[0]?.address])).toEqual([
    ['demo-node', PRIMARY_NET.subnet, '192.0.2.1'],
    ['demo-node-2', '10.253.0.0/24', '192.0.2.2'],
  ]);
  const [svc] = r.cluster.services();
  expect(svc?.metadata).toMatchObject({ namespace: 'default', name: 'demo-web' });
  expect(svc?.spec).toMatchObject({ clusterIP: '10.96.0.80', ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] });
  expect(r.cluster.slices()).toEqual([]);
});

test('second version: the EndpointSlice of demo-web with the given addresses as ready endpoints on demo-node', () => {
  const r = read(podsYaml(DEMO_PODS, uid, clusterDocument(['10.251.0.2', '10.251.0.3'])));
  expect(r.warn).not.toHaveBeenCalled();
  const slices = r.cluster.slices();
  expect(slices).toHaveLength(1);
  expect(slices[0]!.metadata.labels).toEqual({ 'kubernetes.io/service-name': DEMO_SERVICE.name });
  expect(slices[0]!.ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
  expect(slices[0]!.endpoints).toEqual([
    { addresses: ['10.251.0.2'], conditions: { ready: true }, nodeName: 'demo-node' },
    { addresses: ['10.251.0.3'], conditions: { ready: true }, nodeName: 'demo-node' },
  ]);
});

test("the agent's CIDRs cover both nodes' podCIDRs; the second node is on this node's uplink subnet", () => {
  expect(DEMO_CLUSTER_CIDRS).toContain(DEMO_NODE.podCidr);
  expect(DEMO_CLUSTER_CIDRS).toContain(SECOND_NODE.podCidr);
  expect(DEMO_NODE.uplinkPrefix).toBe(`${DEMO_NODE.internalIp}/24`);
  expect(SECOND_NODE.internalIp.split('.').slice(0, 3)).toEqual(DEMO_NODE.internalIp.split('.').slice(0, 3));
});
