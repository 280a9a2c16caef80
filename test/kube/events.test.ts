/**
 * Warning Events on pods: written to the (fake) apiserver off the caller's path, at most one write per
 * pod and reason per window (repeats become a count patch), a full queue drops, an unreachable or slow
 * apiserver never blocks or throws into the caller.
 */
import { KubeClient, parseKubeconfig } from '../../agent/kube/client.js';
import { KubeEventRecorder, type EventOutcome } from '../../agent/kube/events.js';
import { classifyPodError } from '../../agent/observability/pod-errors.js';
import { InvalidAnnotationError } from '../../agent/pod/annotations.js';
import { PodRequestError } from '../../agent/pod/pod-network.js';
import { StepError } from '../../agent/pod/transaction.js';
import { VppApiError } from '../../vpp-api/client/index.js';
import { FakeApiServer, type FakeEvent } from '../helpers/fake-apiserver.js';
import { until } from '../helpers/until.js';

const quiet = { debug() {}, warn() {} };
let api: FakeApiServer;
const recorders: KubeEventRecorder[] = [];

function recorder(opts: { windowMs?: number; maxQueue?: number; timeoutMs?: number } = {}): { rec: KubeEventRecorder; outcomes: string[] } {
  const kc = new KubeClient(parseKubeconfig(api.kubeconfigFile(), '/'));
  const outcomes: string[] = [];
  const rec = new KubeEventRecorder({ kc, nodeName: 'node-a', log: quiet, onOutcome: (r, o: EventOutcome) => outcomes.push(`${r}:${o}`), ...opts });
  recorders.push(rec);
  return { rec, outcomes };
}

function events(): FakeEvent[] {
  return [...api.events.values()];
}

beforeEach(async () => {
  api = await FakeApiServer.start();
});

afterEach(async () => {
  for (const r of recorders.splice(0)) await r.close();
  await api.stop();
});

const pod = { namespace: 'default', name: 'web-1', uid: 'uid-web-1' };

test('a Warning Event on the pod, then repeats within the window coalesced into one count patch', async () => {
  const { rec, outcomes } = recorder({ windowMs: 1500 });
  rec.warn(pod, 'InvalidVppAnnotation', 'invalid pod annotations: vppExtraMemifPorts "tcp:70000": port 70000 is outside 1-65535');
  await until('event', () => events().length === 1);
  const ev = events()[0]!;
  expect(ev).toMatchObject({
    involvedObject: { kind: 'Pod', apiVersion: 'v1', namespace: 'default', name: 'web-1', uid: 'uid-web-1' },
    reason: 'InvalidVppAnnotation',
    type: 'Warning',
    count: 1,
    message: 'invalid pod annotations: vppExtraMemifPorts "tcp:70000": port 70000 is outside 1-65535',
    source: { component: 'vpp-cni-agent', host: 'node-a' },
    reportingComponent: 'vpp-cni-agent',
    reportingInstance: 'node-a',
  });
  expect(ev.metadata.name).toMatch(/^web-1\.[0-9a-f]+$/);
  expect(ev.firstTimestamp).toEqual(ev.lastTimestamp);

  for (let i = 0; i < 4; i++) rec.warn(pod, 'InvalidVppAnnotation', ev.message!);
  await new Promise((r) => setTimeout(r, 100));
  expect(api.requests.filter((r) => r.method === 'PATCH')).toHaveLength(0);
  await until('count patch', () => events()[0]!.count === 5, 4000);
  expect(events()).toHaveLength(1);
  const patch = api.requests.find((r) => r.method === 'PATCH')!;
  expect(patch.contentType).toMatch(/^application\/json-patch\+json/);
  expect(events()[0]!.lastTimestamp).not.toEqual(ev.firstTimestamp);
  expect(outcomes.filter((o) => o.endsWith(':sent'))).toHaveLength(1);
  // The outcome is reported once the PATCH answer is back, which can be after the fake apiserver applied it.
  await until('patched outcome', () => outcomes.some((o) => o.endsWith(':patched')));
  expect(outcomes.filter((o) => o.endsWith(':patched'))).toHaveLength(1);

  // Another reason is its own stream; another message for the same reason is a new Event after the window.
  rec.warn(pod, 'PodNetworkSetupFailed', 'step "memif create" failed');
  rec.warn(pod, 'InvalidVppAnnotation', 'another problem');
  await until('two more events', () => events().length === 3, 4000);
  expect(events().map((e) => `${e.reason}: ${e.message}`).sort()).toEqual([
    'InvalidVppAnnotation: another problem',
    'InvalidVppAnnotation: invalid pod annotations: vppExtraMemifPorts "tcp:70000": port 70000 is outside 1-65535',
    'PodNetworkSetupFailed: step "memif create" failed',
  ]);
});

test('warn never blocks nor throws: apiserver down or slow, full queue', async () => {
  const { rec, outcomes } = recorder({ windowMs: 10, maxQueue: 3, timeoutMs: 200 });
  await api.stop();
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) rec.warn({ namespace: 'default', name: `p${i}` }, 'PodNetworkSetupFailed', 'boom');
  expect(performance.now() - t0).toBeLessThan(50);
  await rec.flush();
  expect(outcomes.filter((o) => o.endsWith(':dropped')).length).toBeGreaterThan(0);
  expect(outcomes.filter((o) => o.endsWith(':failed')).length).toBeGreaterThan(0);
  await api.restart();
  rec.warn({ namespace: 'default', name: 'later' }, 'PodNetworkSetupFailed', 'works again');
  await until('written after the apiserver is back', () => events().some((e) => e.involvedObject?.name === 'later'));
});

test('classification of the agent errors into reasons', () => {
  const bad = new InvalidAnnotationError([{ key: 'vppExtraMemifPorts', value: 'tcp:0', message: 'vppExtraMemifPorts "tcp:0": port 0 is outside 1-65535' }]);
  expect(classifyPodError(bad)).toMatchObject({ reason: 'InvalidVppAnnotation' });
  const gated = new InvalidAnnotationError([{ key: 'vppVcl', value: 'enable', message: 'vppVcl "enable": VCL is disabled on this node (feature gate vclEnabled is false)' }]);
  expect(classifyPodError(gated)).toMatchObject({ reason: 'FeatureGated' });
  expect(classifyPodError(new PodRequestError('interface memif1 is a multinet memif, which is disabled on this node (feature gate multinetEnabled is false)'))).toMatchObject({ reason: 'FeatureGated' });
  const vppErr = new VppApiError('memif_create_v2', -2, { retval: -2 });
  const step = new StepError('pod default/x (container 123, eth0)', 'memif create', vppErr);
  expect(classifyPodError(step)).toMatchObject({ reason: 'PodNetworkSetupFailed', step: 'memif create', vppMessage: 'memif_create_v2', retvalName: vppErr.retvalName });
});
