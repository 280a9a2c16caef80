/**
 * The Kubernetes pod source against the in-process fake apiserver: list + watch restricted to this
 * node, annotation changes with their previous values, recovery from 410 Gone (status and ERROR event),
 * ended streams, cut connections, an apiserver restart and failing lists, the idle watchdog, and pods
 * read at ADD from the cache or by a GET bounded by a timeout.
 */
import { KubeClient, parseKubeconfig } from '../../agent/kube/client.js';
import { KubePodSource, type WatchRestartReason } from '../../agent/kube/pod-source.js';
import { toCniError } from '../../agent/cni/cni-error.js';
import { PodSourceUnavailableError } from '../../agent/pod-info/source.js';
import type { PodInfo } from '../../agent/pod-info/source.js';
import { FakeApiServer, type FakePod } from '../helpers/fake-apiserver.js';
import { until } from '../helpers/until.js';

const NODE = 'node-a';
const ANN = 'cni.projectcalico.org/vppExtraMemifPorts';
const quiet = { debug() {}, info() {}, warn() {} };

let api: FakeApiServer;
const sources: KubePodSource[] = [];

function kubeConfig(): KubeClient {
  const kc = new KubeClient(parseKubeconfig(api.kubeconfigFile(), '/'));
  return kc;
}

interface Harness {
  src: KubePodSource;
  changes: { pod: PodInfo; previous: Record<string, string> | undefined }[];
  restarts: WatchRestartReason[];
}

function source(opts: { watchIdleMs?: number } = {}): Harness {
  const h: Harness = { changes: [], restarts: [] } as unknown as Harness;
  h.src = new KubePodSource({
    kc: kubeConfig(),
    nodeName: NODE,
    log: quiet,
    backoff: { initialMs: 50, maxMs: 400 },
    onWatchRestart: (r) => h.restarts.push(r),
    ...(opts.watchIdleMs ? { watchIdleMs: opts.watchIdleMs } : {}),
  });
  h.src.onAnnotationsChanged((pod, previous) => h.changes.push({ pod, previous: previous ? { ...previous } : undefined }));
  sources.push(h.src);
  return h;
}

function pod(name: string, node: string | undefined, annotations: Record<string, string> = {}): FakePod {
  return { metadata: { name, namespace: 'default', annotations }, spec: node ? { nodeName: node } : {} };
}

const lists = (): number => api.requests.filter((r) => r.path === '/api/v1/pods' && r.query.watch !== 'true').length;
const watches = (): number => api.requests.filter((r) => r.path === '/api/v1/pods' && r.query.watch === 'true').length;
const gets = (): number => api.requests.filter((r) => /\/pods\/[^/]+$/.test(r.path)).length;

beforeEach(async () => {
  api = await FakeApiServer.start();
});

afterEach(async () => {
  for (const s of sources.splice(0)) await s.close();
  await api.stop();
});

test('lists and watches only this node, and reports annotation changes with the previous values', async () => {
  api.addPod(pod('mine', NODE, { [ANN]: 'tcp:80' }));
  api.addPod(pod('other', 'node-b', { [ANN]: 'tcp:81' }));
  const h = source();
  expect(h.src.notReady()).toMatch(/pod informer for node node-a not synced yet/);
  h.src.start();
  expect(await h.src.waitForSync(5000)).toBe(true);
  expect(h.src.notReady()).toBeUndefined();
  expect(h.src.list().map((p) => p.name)).toEqual(['mine']);
  const l = api.requests.find((r) => r.path === '/api/v1/pods' && r.query.watch !== 'true')!;
  expect(l.query.fieldSelector).toBe('spec.nodeName=node-a');
  await until('watch', () => api.openWatches === 1);
  const w = api.requests.find((r) => r.query.watch === 'true')!;
  expect(w.query).toMatchObject({ fieldSelector: 'spec.nodeName=node-a', allowWatchBookmarks: 'true', resourceVersion: String(api.resourceVersion) });

  // First sight: no previous values.
  expect(h.changes).toEqual([{ pod: expect.objectContaining({ name: 'mine', annotations: { [ANN]: 'tcp:80' } }), previous: undefined }]);

  api.setAnnotation('default', 'mine', ANN, 'tcp:80,udp:53');
  await until('change', () => h.changes.length === 2);
  expect(h.changes[1]).toEqual({ pod: expect.objectContaining({ name: 'mine', annotations: { [ANN]: 'tcp:80,udp:53' } }), previous: { [ANN]: 'tcp:80' } });

  // Other annotations, status changes and other nodes' pods are not reported.
  api.setAnnotation('default', 'mine', 'example.com/unrelated', 'x');
  api.updatePod('default', 'mine', (p) => (p.status = { phase: 'Running' }));
  api.setAnnotation('default', 'other', ANN, 'tcp:82');
  api.addPod(pod('late', NODE));
  await until('late pod', () => h.src.list().some((p) => p.name === 'late'));
  expect(h.changes.map((c) => c.pod.name)).toEqual(['mine', 'mine', 'late']);

  api.deletePod('default', 'late');
  await until('delete', () => !h.src.list().some((p) => p.name === 'late'));
  expect(h.restarts).toEqual([]);
});

test.each(['status', 'event'] as const)('410 Gone as %s: relists and catches up on what changed', async (as) => {
  api.addPod(pod('a', NODE, { [ANN]: 'tcp:1' }));
  const h = source();
  h.src.start();
  await h.src.waitForSync(5000);
  await until('watch', () => api.openWatches === 1);
  expect(lists()).toBe(1);

  api.goneAs = as;
  // Changes happen, then history is compacted and the watch is cut: the informer must relist to see them.
  api.endWatches();
  api.setAnnotation('default', 'a', ANN, 'tcp:2');
  api.addPod(pod('b', NODE));
  api.compact();
  await until('relist', () => lists() === 2 && api.openWatches === 1);
  await until('b', () => h.src.list().some((p) => p.name === 'b'));
  expect(h.changes.at(-2)).toEqual({ pod: expect.objectContaining({ name: 'a' }), previous: { [ANN]: 'tcp:1' } });
  expect(h.restarts).toContain('expired');

  // An ERROR 410 event on an open watch.
  api.expireWatches('event');
  api.deletePod('default', 'b');
  await until('relist after ERROR event', () => lists() === 3 && api.openWatches === 1);
  await until('b gone', () => !h.src.list().some((p) => p.name === 'b'));
});

test('bookmarks move the resourceVersion; an ended stream is watched again from it', async () => {
  api.addPod(pod('a', NODE));
  const h = source();
  h.src.start();
  await h.src.waitForSync(5000);
  await until('watch', () => api.openWatches === 1);
  api.addPod(pod('elsewhere', 'node-b')); // moves the resourceVersion without an event for us
  api.bookmark();
  const rv = String(api.resourceVersion);
  await new Promise((r) => setTimeout(r, 100));
  api.endWatches();
  await until('rewatch', () => watches() === 2 && api.openWatches === 1);
  expect(api.requests.filter((r) => r.query.watch === 'true')[1]!.query.resourceVersion).toBe(rv);
  expect(lists()).toBe(1);
  expect(h.restarts).toEqual(['closed']);
});

test('apiserver restart and cut connections: backoff, then the watch resumes with what changed meanwhile', async () => {
  api.addPod(pod('a', NODE, { [ANN]: 'tcp:1' }));
  const h = source();
  h.src.start();
  await h.src.waitForSync(5000);
  await until('watch', () => api.openWatches === 1);

  await api.stop();
  await until('a failure noticed', () => h.restarts.includes('error'));
  api.setAnnotation('default', 'a', ANN, 'tcp:9');
  await api.restart();
  await until('resumed', () => h.changes.some((c) => c.previous?.[ANN] === 'tcp:1'), 10_000);
  await until('watch open', () => api.openWatches === 1);

  api.dropConnections();
  api.addPod(pod('b', NODE));
  await until('b after a cut', () => h.src.list().some((p) => p.name === 'b'), 10_000);
  expect(h.src.notReady()).toBeUndefined();
});

test('a failing list is retried with backoff; readiness says why it is not synced', async () => {
  api.failLists = { n: 2, status: 503 };
  const h = source();
  h.src.start();
  await until('first failure', () => h.restarts.length >= 1);
  expect(h.src.notReady()).toMatch(/not synced yet \(last error: listing pods of node node-a: HTTP 503/);
  expect(await h.src.waitForSync(5000)).toBe(true);
  expect(lists()).toBe(3);
  expect(h.restarts.filter((r) => r === 'error')).toHaveLength(2);
});

test('a silent watch is replaced by the idle watchdog', async () => {
  const h = source({ watchIdleMs: 300 });
  h.src.start();
  await h.src.waitForSync(5000);
  await until('idle restart', () => h.restarts.includes('idle'), 5000);
  await until('a new watch', () => lists() >= 2 && api.openWatches >= 1);
});

test('getPod: from the cache, else a GET; 404 is unknown; a slow apiserver is a retryable failure', async () => {
  api.addPod(pod('cached', NODE, { [ANN]: 'tcp:1' }));
  api.addPod(pod('unbound', undefined, { [ANN]: 'udp:2' })); // not on this node (yet): not in the cache
  const h = source();
  h.src.start();
  await h.src.waitForSync(5000);

  const before = gets();
  expect(await h.src.getPod('default', 'cached', 1000)).toMatchObject({ name: 'cached', annotations: { [ANN]: 'tcp:1' } });
  expect(gets()).toBe(before);

  expect(await h.src.getPod('default', 'unbound', 1000)).toMatchObject({ name: 'unbound', annotations: { [ANN]: 'udp:2' } });
  expect(gets()).toBe(before + 1);

  // A cached pod of the same name but another uid (recreated): read again.
  const uid = api.pod('default', 'cached')!.metadata.uid!;
  expect(await h.src.getPod('default', 'cached', 1000, uid)).toMatchObject({ uid });
  expect(gets()).toBe(before + 1);
  await h.src.getPod('default', 'cached', 1000, 'another-uid');
  expect(gets()).toBe(before + 2);

  expect(await h.src.getPod('default', 'nope', 1000)).toBeUndefined();

  api.getDelayMs = 1000;
  const t0 = Date.now();
  const err = await h.src.getPod('default', 'unbound', 200).catch((e: unknown) => e);
  expect(Date.now() - t0).toBeLessThan(900);
  // The pod source reports its own error; the CNI layer makes it "try again later" (11).
  expect(err).toBeInstanceOf(PodSourceUnavailableError);
  expect(toCniError(err).code).toBe(11);
  expect((err as Error).message).toBe(
    'pod default/unbound: not in the pod cache and reading it from the Kubernetes API failed (no answer within 200 ms); try again later',
  );
});
