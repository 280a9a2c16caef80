/**
 * Nodes, Services and EndpointSlices from the fake apiserver through the node dataplane's informers: list,
 * watch (add, update, delete), zod validation of every object, relist after 410 Gone, restart after the
 * apiserver goes away.
 */
import { KubeClient, parseKubeconfig } from '../../agent/kube/client.js';
import { NodeDataplaneSource } from '../../agent/kube/node-dataplane-source.js';
import { FakeApiServer } from '../helpers/fake-apiserver.js';
import { until } from '../helpers/until.js';

const log = { debug: () => undefined, info: () => undefined, warn: jest.fn() };

let api: FakeApiServer;
let src: NodeDataplaneSource;

beforeEach(async () => {
  api = await FakeApiServer.start();
  log.warn.mockClear();
});
afterEach(async () => {
  await src?.close();
  for (const c of clients.splice(0)) c.close();
  await api.stop();
});

const clients: KubeClient[] = [];
function kc(): KubeClient {
  const k = new KubeClient(parseKubeconfig(api.kubeconfigFile(), '/'));
  clients.push(k);
  return k;
}

const node = (name: string, cidr: string) => ({ metadata: { name }, spec: { podCIDR: cidr, podCIDRs: [cidr] }, status: { addresses: [{ type: 'InternalIP', address: '192.168.1.1' }] } });

test('list then watch: add, update and delete of every kind reach the caches and the change signal', async () => {
  api.addObject('nodes', node('a', '10.244.0.0/24'));
  api.addObject('services', { metadata: { name: 'dns', namespace: 'kube-system' }, spec: { clusterIP: '10.96.0.10', ports: [{ port: 53, protocol: 'UDP' }] } });
  src = new NodeDataplaneSource({ kc: kc(), log, services: true, backoff: { initialMs: 20, maxMs: 100 } });
  const changes: string[] = [];
  src.onChange((c) => c.kind !== 'relist' && changes.push(`${c.what} ${c.kind} ${c.key}`));
  src.start();
  expect(await src.waitForSync(5000)).toBe(true);
  expect(src.nodes.list().map((n) => n.metadata.name)).toEqual(['a']);
  expect(src.services!.get('kube-system/dns')!.spec!.clusterIP).toBe('10.96.0.10');
  await until('watches open', () => api.openWatches === 3);

  api.addObject('endpointslices', {
    metadata: { name: 'dns-1', namespace: 'kube-system', labels: { 'kubernetes.io/service-name': 'dns' } },
    addressType: 'IPv4',
    ports: [{ port: 53, protocol: 'UDP' }],
    endpoints: [{ addresses: ['10.244.1.5'], conditions: { ready: true } }],
  });
  api.updateObject('nodes', undefined, 'a', (n) => ((n.spec as { podCIDRs: string[] }).podCIDRs = ['10.244.9.0/24']));
  api.addObject('nodes', node('b', '10.244.1.0/24'));
  api.deleteObject('services', 'kube-system', 'dns');
  await until('all changes seen', () => changes.length >= 4);
  expect(changes.sort()).toEqual(['endpointslice add kube-system/dns-1', 'node add b', 'node update a', 'service delete kube-system/dns']);
  expect(src.nodes.get('a')!.spec!.podCIDRs).toEqual(['10.244.9.0/24']);
  expect(src.slices!.get('kube-system/dns-1')!.endpoints![0]!.addresses).toEqual(['10.244.1.5']);
  expect(src.services!.list()).toEqual([]);
});

test('an invalid object is refused by zod, logged once, and a previously valid version leaves the cache', async () => {
  api.addObject('services', { metadata: { name: 'ok', namespace: 'd' }, spec: { clusterIP: '10.96.0.1', ports: [{ port: 80 }] } });
  src = new NodeDataplaneSource({ kc: kc(), log, services: true });
  src.start();
  expect(await src.waitForSync(5000)).toBe(true);
  await until('watches open', () => api.openWatches === 3);
  api.updateObject('services', 'd', 'ok', (s) => ((s.spec as { ports: unknown[] }).ports = [{ port: 'http' }]));
  await until('service dropped', () => src.services!.get('d/ok') === undefined);
  expect(src.services!.invalidCount).toBe(1);
  expect(log.warn).toHaveBeenCalledWith(expect.objectContaining({ kind: 'Service', object: 'd/ok' }), 'Service d/ok is invalid: ignored');
});

test('410 Gone relists; an apiserver restart is survived; changes made meanwhile arrive', async () => {
  api.addObject('nodes', node('a', '10.244.0.0/24'));
  src = new NodeDataplaneSource({ kc: kc(), log, services: false, backoff: { initialMs: 20, maxMs: 100 } });
  src.start();
  expect(await src.waitForSync(5000)).toBe(true);
  await until('watch open', () => api.openWatches === 1);
  api.addObject('nodes', node('b', '10.244.1.0/24'));
  api.expireWatches('event');
  api.deleteObject('nodes', undefined, 'a');
  await until('relisted', () => src.nodes.list().map((n) => n.metadata.name).join() === 'b');
  await api.stop();
  api.addObject('nodes', node('c', '10.244.2.0/24'));
  await api.restart();
  await until('node c seen after the restart', () => src.nodes.get('c') !== undefined, 15_000);
});
