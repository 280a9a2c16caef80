/**
 * The agent with its Kubernetes pod source and Events, against the fake apiserver, the VPP simulator
 * (real kernel taps) and real network namespaces: annotations read at ADD from the informer's cache and
 * by GET, a live PBL port update, changes that need a new pod, Events for bad annotations and gated
 * features, /metrics after ADDs, /readyz through its transitions, and `vpp-cnictl pods` / `pod`.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { KubeClient, parseKubeconfig } from '../../agent/kube/client.js';
import { VppSimulator } from '../../vpp-api/sim/index.js';
import { kernelTun } from '../../vpp-api/sim/kernel-host.js';
import { noVhostNet, type SimHost } from '../../vpp-api/sim/host.js';
import * as iface from '../../vpp-api/generated/interface.js';
import * as pbl from '../../vpp-api/generated/pbl.js';
import { Agent } from '../../agent/agent.js';
import { loadConfig } from '../../agent/config.js';
import { createLogger } from '../../agent/log.js';
import { KubePodSource } from '../../agent/kube/pod-source.js';
import { KubeEventRecorder } from '../../agent/kube/events.js';
import { AgentMetrics } from '../../agent/observability/metrics.js';
import { Registry } from 'prom-client';
import type { AttachmentRecord } from '../../agent/pod/record.js';
import type { CtlPodDetail, CtlPodList } from '../../contract/ctl-api.js';
import { FakeApiServer, type FakeEvent } from '../helpers/fake-apiserver.js';
import { createNetns, deleteAllNetns, haveRoot, type TestNetns } from '../helpers/netns.js';
import { retvalName } from '../../vpp-api/codec/retvals.js';
import { Writable } from 'node:stream';
import { until } from '../helpers/until.js';
import { pblCloneIds } from '../../agent/vpp/pbl.js';

const root = haveRoot();
const d = root ? describe : describe.skip;
if (!root) console.warn('agent-kube skipped: needs root (network namespaces, kernel taps)');

const NODE = 'node-a';
const PORTS = 'cni.projectcalico.org/vppExtraMemifPorts';
const IFSPEC = 'cni.projectcalico.org/vppInterfacesSpec';
const VCL = 'cni.projectcalico.org/vppVcl';
const dir = mkdtempSync(join(tmpdir(), 'vcni-kube-'));
// Whatever ran (a -t filter may skip describes and their hooks), the namespaces and the directory go.
afterAll(() => {
  deleteAllNetns();
  rmSync(dir, { recursive: true, force: true });
});
const log = createLogger('silent', NODE);
/** Log lines of the main agent (JSON). */
const logLines: Record<string, unknown>[] = [];
const logSink = new Writable({
  write(chunk: Buffer, _enc, cb) {
    for (const l of chunk.toString().split('\n')) if (l.trim()) logLines.push(JSON.parse(l) as Record<string, unknown>);
    cb();
  },
});

interface Running {
  api: FakeApiServer;
  sim?: VppSimulator;
  agent: Agent;
  kube: KubePodSource;
  events: KubeEventRecorder;
  metricsPort: number;
  ctlSocket: string;
  simSocket: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function startAgent(name: string, opts: { sim: boolean; failLists?: number; capture?: boolean; host?: SimHost }): Promise<Running> {
  const api = await FakeApiServer.start();
  if (opts.failLists) api.failLists = { n: opts.failLists, status: 503 };
  const simSocket = join(dir, name, 'api.sock');
  const sim = opts.sim ? await VppSimulator.start({ socketPath: simSocket, host: opts.host ?? kernelTun() }) : undefined;
  const metricsPort = await freePort();
  const ctlSocket = join(dir, name, 'ctl', 'ctl.sock');
  const cfg = loadConfig({ NODE_NAME: NODE }, [
    '--vpp-socket', simSocket,
    '--cni-socket', join(dir, name, 'cni', 'agent.sock'),
    '--ctl-socket', ctlSocket,
    '--state-dir', join(dir, name, 'state'),
    '--metrics-port', String(metricsPort),
    '--health-port', String(metricsPort),
    '--feature-gates', '{"memifEnabled":true,"vclEnabled":false,"multinetEnabled":false}',
    '--max-pod-if-spec', '{"rx":4,"tx":4,"rxqsz":4096,"txqsz":4096}',
  ]);
  const kc = new KubeClient(parseKubeconfig(api.kubeconfigFile(), '/'));
  const metrics = new AgentMetrics(new Registry());
  const kube = new KubePodSource({ kc, nodeName: NODE, log, backoff: { initialMs: 50, maxMs: 300 }, onWatchRestart: (reason) => metrics.watchRestarts.inc({ reason }) });
  const events = new KubeEventRecorder({ kc, nodeName: NODE, log, windowMs: 400, onOutcome: (reason, outcome) => metrics.events.inc({ reason, outcome }) });
  const agentLog = opts.capture ? createLogger('info', NODE, logSink) : log;
  const agent = new Agent(cfg, agentLog, { pods: kube, events, podWatch: kube, podsNotReady: () => kube.notReady(), metrics });
  kube.start();
  await agent.start();
  const r: Running = { api, agent, kube, events, metricsPort, ctlSocket, simSocket };
  if (sim) r.sim = sim;
  return r;
}

async function stopAgent(r: Running | undefined): Promise<void> {
  if (!r) return;
  await r.agent.stop();
  await r.kube.close();
  await r.events.close();
  await r.sim?.stop();
  await r.api.stop();
}

async function http(port: number, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, text: await res.text() };
}

let n = 0;
function addInput(ns: TestNetns, pod: { name: string; uid?: string }): Parameters<Agent['manager']['add']>[0] {
  n++;
  return {
    // Unique in its first 12 characters, as runtimes' ids are: tags and veth host ends are keyed on them.
    containerId: `k${String(n).padStart(4, '0')}x${process.pid}x${'b'.repeat(40)}`,
    ifName: 'eth0',
    netns: ns.path,
    pod: { namespace: 'default', name: pod.name, ...(pod.uid ? { uid: pod.uid } : {}) },
    ips: [{ address: `10.251.0.${10 + n}/24` }],
    routes: [{ dst: '0.0.0.0/0' }],
  };
}

function ctl(args: string[], socket: string, as: { uid?: number; gid?: number } = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(process.cwd(), 'ctl/main.ts'), ...args],
      { cwd: process.cwd(), timeout: 30_000, env: { ...process.env, VPPCNI_CTL_SOCKET: socket }, ...as },
      (err, out, errOut) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: String(out), err: String(errOut) }),
    );
  });
}

function eventsOf(api: FakeApiServer, pod: string): FakeEvent[] {
  return [...api.events.values()].filter((e) => e.involvedObject?.name === pod);
}

d('readiness', () => {
  let r: Running | undefined;
  afterAll(() => stopAgent(r));

  test('/readyz: VPP, then the informer, then ready; VPP lost and back (a reconnect counted)', async () => {
    r = await startAgent('ready', { sim: false, failLists: 3 });
    const port = r.metricsPort;
    expect(await http(port, '/healthz')).toEqual({ status: 200, text: 'ok\n' });
    const first = await http(port, '/readyz');
    expect(first.status).toBe(503);
    expect(first.text).toMatch(/^not ready: VPP API .*\/ready\/api\.sock not connected \((connecting|idle)\)\n$/);

    // Lists keep failing for a while: once VPP is up, the informer is what is missing.
    r.sim = await VppSimulator.start({ socketPath: r.simSocket, host: kernelTun() });
    await r.agent.ready();
    const informer = await http(port, '/readyz');
    if (informer.status === 503) expect(informer.text).toMatch(/^not ready: pod informer for node node-a not synced yet/);
    await until('ready', async () => (await http(port, '/readyz')).status === 200);
    expect((await http(port, '/readyz')).text).toBe('ok\n');

    await r.sim.stop();
    await until('not ready after VPP is gone', async () => (await http(port, '/readyz')).status === 503);
    expect((await http(port, '/readyz')).text).toMatch(/^not ready: VPP API .* not connected \(reconnecting\)\n$/);
    r.sim = await VppSimulator.start({ socketPath: r.simSocket, host: kernelTun() });
    await until('ready again', async () => (await http(port, '/readyz')).status === 200, 15_000);
    const m = await http(port, '/metrics');
    expect(m.text).toMatch(/^vppcni_vpp_reconnects_total 1$/m);
    expect(m.text).toMatch(/^vppcni_vpp_connected 1$/m);
    expect(m.text).toMatch(/^vppcni_pod_watch_restarts_total\{reason="error"\} [1-9]/m);
  }, 60_000);
});

d('the agent process (main) with KUBECONFIG', () => {
  test('watches its node, becomes ready, serves metrics, stops on SIGTERM', async () => {
    const api = await FakeApiServer.start();
    const base = join(dir, 'proc');
    mkdirSync(base, { recursive: true });
    const sim = await VppSimulator.start({ socketPath: join(base, 'api.sock'), host: kernelTun() });
    const kubeconfig = join(base, 'kubeconfig');
    writeFileSync(kubeconfig, api.kubeconfigFile());
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', join(process.cwd(), 'agent/main.ts')], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        KUBECONFIG: kubeconfig,
        NODE_NAME: NODE,
        VPPCNI_VPP_API_SOCKET: join(base, 'api.sock'),
        VPPCNI_CNI_SOCKET: join(base, 'cni', 'agent.sock'),
        VPPCNI_STATE_DIR: join(base, 'state'),
        VPPCNI_METRICS_PORT: String(port),
        VPPCNI_HEALTH_PORT: String(port),
        // The pod watch is under test here: no host link, routes or chains in this machine's own netns.
        VPPCNI_NODE_DATAPLANE: 'off',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await until('ready', async () => (await http(port, '/readyz').catch(() => ({ status: 0 }))).status === 200, 20_000);
      const watch = api.requests.find((q) => q.query.watch === 'true');
      expect(watch?.query.fieldSelector).toBe(`spec.nodeName=${NODE}`);
      const m = (await http(port, '/metrics')).text;
      expect(m).toMatch(/^vppcni_vpp_connected 1$/m);
      expect(m).toMatch(/^process_cpu_user_seconds_total /m);
      expect(out).toMatch(/"msg":"pod informer synced"/);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
      await sim.stop();
      await api.stop();
    }
  }, 40_000);
});

d('the agent on a node without /dev/vhost-net (auto mode)', () => {
  let r: Running | undefined;
  afterAll(async () => {
    for (const rec of r?.agent.manager.records ?? []) await r!.agent.manager.del(rec).catch(() => undefined);
    await stopAgent(r);
  });

  test('the first pod falls back to veth with a PodInterfaceFallback Event; the next gets a veth and no Event; /metrics says so', async () => {
    r = await startAgent('novhost', { sim: true, host: noVhostNet() });
    await r.agent.ready();
    expect(await r.kube.waitForSync(5000)).toBe(true);
    const a = r.api.addPod({ metadata: { name: 'first' }, spec: { nodeName: NODE } });
    const b = r.api.addPod({ metadata: { name: 'second' }, spec: { nodeName: NODE } });
    await until('pods in the cache', () => r!.kube.list().filter((p) => p.name === 'first' || p.name === 'second').length === 2);
    await r.agent.manager.add(addInput(createNetns('n'), { name: 'first', uid: a.metadata.uid! }));
    await r.agent.manager.add(addInput(createNetns('n'), { name: 'second', uid: b.metadata.uid! }));
    expect(r.agent.manager.records.map((x) => [x.pod.name, x.kind])).toEqual(expect.arrayContaining([['first', 'veth'], ['second', 'veth']]));
    await until('PodInterfaceFallback', () => eventsOf(r!.api, 'first').some((e) => e.reason === 'PodInterfaceFallback'));
    const ev = eventsOf(r.api, 'first').find((e) => e.reason === 'PodInterfaceFallback')!;
    expect(ev).toMatchObject({ type: 'Warning', involvedObject: { kind: 'Pod', name: 'first', uid: a.metadata.uid }, source: { component: 'vpp-cni-agent', host: NODE } });
    expect(ev.message).toContain('VPP on this node cannot make taps (it cannot open /dev/vhost-net; tap_create answered -11, setting auto)');
    expect(eventsOf(r.api, 'second')).toEqual([]);
    const m = (await http(r.metricsPort, '/metrics')).text;
    expect(m).toContain('vppcni_pod_interface_mode{setting="auto",mode="veth"} 1');
    expect(m).toContain('vppcni_pods{interface_kind="veth"} 2');
    expect(m).not.toContain('mode="tun"');
  }, 30_000);
});

d('the agent with Kubernetes', () => {
  let r: Running;
  const recs = (name: string): AttachmentRecord[] => r.agent.manager.records.filter((x) => x.pod.name === name);

  beforeAll(async () => {
    r = await startAgent('main', { sim: true, capture: true });
    await r.agent.ready();
    expect(await r.kube.waitForSync(5000)).toBe(true);
  }, 30_000);

  afterAll(async () => {
    for (const rec of r?.agent.manager.records ?? []) await r.agent.manager.del(rec).catch(() => undefined);
    await stopAgent(r);
  });

  test('annotations at ADD: from the cache, and by GET when the cache has not seen the pod', async () => {
    const cached = r.api.addPod({ metadata: { name: 'cached', annotations: { [PORTS]: 'tcp:8080' } }, spec: { nodeName: NODE } });
    await until('pod in the cache', () => r.kube.list().some((p) => p.name === 'cached'));
    const before = r.api.requests.length;
    await r.agent.manager.add(addInput(createNetns('k'), { name: 'cached', uid: cached.metadata.uid! }));
    expect(recs('cached')[0]!.objects.memif?.ports).toEqual([{ proto: 'tcp', start: 8080, end: 8080 }]);
    expect(r.api.requests.slice(before).filter((q) => q.path.endsWith('/pods/cached'))).toHaveLength(0);

    // Not bound to this node yet as far as the watch knows: read with GET.
    const fresh = r.api.addPod({ metadata: { name: 'fresh', annotations: { [PORTS]: 'udp:5000-5010' } }, spec: {} });
    await r.agent.manager.add(addInput(createNetns('k'), { name: 'fresh', uid: fresh.metadata.uid! }));
    expect(recs('fresh')[0]!.objects.memif?.ports).toEqual([{ proto: 'udp', start: 5000, end: 5010 }]);
    expect(r.api.requests.filter((q) => q.method === 'GET' && q.path === '/api/v1/namespaces/default/pods/fresh')).toHaveLength(1);
  });

  test('a changed vppExtraMemifPorts is applied live: new PBL clients, old ones gone, same memif', async () => {
    const p = r.api.addPod({ metadata: { name: 'live', annotations: { [PORTS]: 'tcp:8080' } }, spec: { nodeName: NODE } });
    await until('pod in the cache', () => r.kube.list().some((x) => x.name === 'live'));
    await r.agent.manager.add(addInput(createNetns('k'), { name: 'live', uid: p.metadata.uid! }));
    const rec0 = recs('live')[0]!;
    const memifIdx = rec0.objects.memif!.swIfIndex;
    const oldIds = rec0.objects.pbl.map((x) => x.id);
    const ifsBefore = (await r.agent.vpp.dumpAll(iface.sw_interface_dump, {})).map((i) => `${i.sw_if_index} ${i.interface_name}`);

    r.api.setAnnotation('default', 'live', PORTS, 'tcp:9000-9100,udp:53');
    await until('new ports in the record', () => recs('live')[0]!.objects.memif?.ports?.length === 2);
    const rec1 = recs('live')[0]!;
    expect(rec1.objects.memif!.swIfIndex).toBe(memifIdx);
    expect(rec1.objects.memif!.ports).toEqual([
      { proto: 'tcp', start: 9000, end: 9100 },
      { proto: 'udp', start: 53, end: 53 },
    ]);
    const newIds = rec1.objects.pbl.map((x) => x.id);
    expect(newIds).toHaveLength(1);
    const inVpp = (await r.agent.vpp.dumpAll(pbl.pbl_client_dump, {})).map((c) => c.client.id);
    for (const id of newIds) expect(inVpp).toContain(id);
    for (const id of oldIds) expect(inVpp).not.toContain(id);
    const show = await r.agent.vpp.cli('show pbl client');
    // The pod address is routed: the client is one line naming its FIB clone, which carries the ports (docs/pbl.md).
    const cloneId = new RegExp(`^\\[${newIds[0]}\\] pbl-client: 10\\.251\\.0\\.${10 + n} clone:(\\d+)$`, 'm').exec(show)?.[1];
    expect(show).toContain(`[${cloneId}] pbl-client: 10.251.0.${10 + n}\n  TCP ports: 9000-9100\n  UDP ports: 53\n`);
    expect((await r.agent.vpp.dumpAll(iface.sw_interface_dump, {})).map((i) => `${i.sw_if_index} ${i.interface_name}`)).toEqual(ifsBefore);
    expect(eventsOf(r.api, 'live')).toEqual([]);

    // A change that needs new interfaces: not applied, a Warning Event says so.
    r.api.setAnnotation('default', 'live', IFSPEC, '{"eth0":{"rx":2,"tx":2}}');
    await until('PodRecreateRequired', () => eventsOf(r.api, 'live').some((e) => e.reason === 'PodRecreateRequired'));
    const ev = eventsOf(r.api, 'live').find((e) => e.reason === 'PodRecreateRequired')!;
    expect(ev.type).toBe('Warning');
    expect(ev.involvedObject).toMatchObject({ kind: 'Pod', name: 'live', namespace: 'default', uid: p.metadata.uid });
    expect(ev.message).toMatch(/annotation change not applied, it needs new interfaces; delete and recreate the pod \(vppInterfacesSpec: eth0: rx 1 → 2, tx 1 → 2\)$/);
    expect(recs('live')[0]!.objects.tun!.spec.rx).toBe(1);

    // Invalid ports: nothing changes, an Event names the problem.
    r.api.setAnnotation('default', 'live', PORTS, 'tcp:0');
    await until('InvalidVppAnnotation', () => eventsOf(r.api, 'live').some((e) => e.reason === 'InvalidVppAnnotation'));
    expect(eventsOf(r.api, 'live').find((e) => e.reason === 'InvalidVppAnnotation')!.message).toContain('vppExtraMemifPorts "tcp:0": port 0 is outside 1-65535');
    expect(recs('live')[0]!.objects.pbl.map((x) => x.id)).toEqual(newIds);
  });

  test('Events for a bad annotation and a gated feature at ADD; repeats counted, not re-sent', async () => {
    const bad = r.api.addPod({ metadata: { name: 'bad', annotations: { [PORTS]: 'tcp:70000' } }, spec: { nodeName: NODE } });
    await until('pod in the cache', () => r.kube.list().some((x) => x.name === 'bad'));
    const ns = createNetns('k');
    await expect(r.agent.manager.add(addInput(ns, { name: 'bad', uid: bad.metadata.uid! }))).rejects.toThrow(/port 70000 is outside 1-65535/);
    await until('event', () => eventsOf(r.api, 'bad').length === 1);
    const ev = eventsOf(r.api, 'bad')[0]!;
    expect(ev).toMatchObject({
      reason: 'InvalidVppAnnotation',
      type: 'Warning',
      count: 1,
      involvedObject: { kind: 'Pod', namespace: 'default', name: 'bad', uid: bad.metadata.uid },
      source: { component: 'vpp-cni-agent', host: NODE },
    });
    expect(ev.message).toBe('invalid pod annotations: vppExtraMemifPorts "tcp:70000": port 70000 is outside 1-65535; expected proto:port[-port][,proto:port[-port]...]');
    // The kubelet retries: the same Event's count goes up after the window, no new Event.
    await expect(r.agent.manager.add(addInput(ns, { name: 'bad', uid: bad.metadata.uid! }))).rejects.toThrow();
    await expect(r.agent.manager.add(addInput(ns, { name: 'bad', uid: bad.metadata.uid! }))).rejects.toThrow();
    await until('count 3', () => eventsOf(r.api, 'bad')[0]?.count === 3, 3000);
    expect(eventsOf(r.api, 'bad')).toHaveLength(1);

    const gated = r.api.addPod({ metadata: { name: 'wants-vcl', annotations: { [VCL]: 'enable' } }, spec: { nodeName: NODE } });
    await expect(r.agent.manager.add(addInput(createNetns('k'), { name: 'wants-vcl', uid: gated.metadata.uid! }))).rejects.toThrow(/feature gate vclEnabled is false/);
    await until('FeatureGated', () => eventsOf(r.api, 'wants-vcl').some((e) => e.reason === 'FeatureGated'));
  });

  test('a VPP failure at ADD: the log line, a PodNetworkSetupFailed Event, the error counter', async () => {
    const p = r.api.addPod({ metadata: { name: 'broken', annotations: { [PORTS]: 'tcp:80' } }, spec: { nodeName: NODE } });
    await until('pod in the cache', () => r.kube.list().some((x) => x.name === 'broken'));
    r.sim!.faults.failWith('memif_create_v2', -2, 1);
    const input = addInput(createNetns('k'), { name: 'broken', uid: p.metadata.uid! });
    await expect(r.agent.manager.add(input)).rejects.toThrow(/step "memif create" failed/);
    const line = logLines.find((l) => l.msg === 'pod network setup failed' && l.pod === 'broken')!;
    expect(line).toMatchObject({
      level: 50,
      component: 'vpp-cni-agent',
      node: NODE,
      subsystem: 'cni',
      namespace: 'default',
      pod: 'broken',
      containerID: input.containerId,
      ifname: 'eth0',
      step: 'add',
      failedStep: 'memif create',
      vppMessage: 'memif_create_v2',
      retval: -2,
      retvalName: retvalName(-2),
    });
    expect(typeof line.durationMs).toBe('number');
    const ok = logLines.find((l) => l.msg === 'pod network added' && l.pod === 'live')!;
    expect(ok).toMatchObject({ namespace: 'default', ifname: 'eth0', step: 'add', kind: 'tun', memif: '@vpp/memif-eth0' });
    expect(typeof ok.containerID).toBe('string');
    expect(typeof ok.durationMs).toBe('number');
    const upd = logLines.find((l) => l.msg === 'PBL ports updated live')!;
    expect(upd).toMatchObject({ pod: 'live', step: 'pbl update', ports: ['tcp:9000-9100', 'udp:53'] });

    await until('PodNetworkSetupFailed', () => eventsOf(r.api, 'broken').some((e) => e.reason === 'PodNetworkSetupFailed'));
    expect(eventsOf(r.api, 'broken')[0]!.message).toMatch(/^pod default\/broken \(container k\d{4}x\d+x?b*, eth0\): step "memif create" failed: memif_create_v2: VPP returned -2/);
    expect(recs('broken')).toEqual([]);
    const m = (await http(r.metricsPort, '/metrics')).text;
    expect(m).toContain(`vppcni_vpp_api_errors_total{message="memif_create_v2",error="${retvalName(-2)}"} 1`);
  });

  test('/metrics after a few ADDs', async () => {
    r.api.endWatches(); // one watch restart (stream ended)
    await until('watch again', () => r.api.openWatches === 1);
    const m = (await http(r.metricsPort, '/metrics')).text;
    const value = (re: RegExp): number => Number(re.exec(m)?.[1] ?? NaN);
    expect(value(/^vppcni_cni_operation_duration_seconds_count\{command="ADD",result="ok"\} (\d+)$/m)).toBe(3);
    expect(value(/^vppcni_cni_operation_duration_seconds_count\{command="ADD",result="error"\} (\d+)$/m)).toBe(5);
    expect(m).toMatch(/^vppcni_cni_operation_duration_seconds_bucket\{le="0.5",command="ADD",result="ok"\} \d+$/m);
    expect(value(/^vppcni_vpp_api_request_duration_seconds_count\{message="memif_create_v2"\} (\d+)$/m)).toBe(4);
    expect(value(/^vppcni_vpp_api_request_duration_seconds_count\{message="pbl_client_update"\} (\d+)$/m)).toBe(4);
    expect(value(/^vppcni_pods\{interface_kind="tun"\} (\d+)$/m)).toBe(3);
    expect(value(/^vppcni_pods\{interface_kind="memif-pbl"\} (\d+)$/m)).toBe(3);
    expect(value(/^vppcni_pods\{interface_kind="vcl"\} (\d+)$/m)).toBe(0);
    expect(value(/^vppcni_pods\{interface_kind="veth"\} (\d+)$/m)).toBe(0);
    expect(m).toMatch(/^vppcni_pod_interface_mode\{setting="auto",mode="tun"\} 1$/m);
    expect(m).not.toMatch(/^vppcni_pod_interface_mode\{setting="auto",mode="veth"\}/m);
    expect(value(/^vppcni_memif_interfaces (\d+)$/m)).toBe(3);
    expect(value(/^vppcni_pbl_live_updates_total\{result="ok"\} (\d+)$/m)).toBe(1);
    expect(value(/^vppcni_pod_watch_restarts_total\{reason="closed"\} (\d+)$/m)).toBe(1);
    expect(value(/^vppcni_pod_events_total\{reason="InvalidVppAnnotation",outcome="sent"\} (\d+)$/m)).toBe(2);
    expect(value(/^vppcni_vpp_connected (\d+)$/m)).toBe(1);
    expect(m).toMatch(/^# TYPE vppcni_vpp_api_errors_total counter$/m);
  });

  test('vpp-cnictl pods and pod', async () => {
    const list = await ctl(['pods'], r.ctlSocket);
    expect(list.err).toBe('');
    expect(list.code).toBe(0);
    const lines = list.out.split('\n');
    expect(lines[0]).toBe('node node-a: VPP connected, ready, 6 pod(s)');
    expect(lines[1]).toBe('interface mode: tun (setting auto)');
    expect(lines[3]).toMatch(/^POD\s+CONTAINER\s+IF\s+KIND\s+VPP INTERFACES\s+MEMIF SOCKET\s+PBL PORTS\s+VCL\s+LAST ERROR$/);
    const live = lines.find((l) => l.startsWith('default/live'))!;
    expect(live).toMatch(/default\/live\s+k\d{4}x\d+x?b*\s+eth0\s+tun\s+tun:\d+ memif:\d+\s+@vpp\/memif-eth0\s+tcp:9000-9100,udp:53\s+-\s+InvalidVppAnnotation: /);
    expect(lines.find((l) => l.startsWith('default/bad'))).toMatch(/^default\/bad(\s+-){7}\s+InvalidVppAnnotation: invalid pod annotations: vppExtraMemifPorts "tcp:70000"/);

    const json = await ctl(['pods', '-o', 'json'], r.ctlSocket);
    const pl = JSON.parse(json.out) as CtlPodList;
    expect(pl.pods.map((p) => p.name)).toEqual(['bad', 'broken', 'cached', 'fresh', 'live', 'wants-vcl']);
    expect(pl.interfaceMode).toEqual({ setting: 'auto', mode: 'tun' });
    expect(pl.pods.find((p) => p.name === 'live')!.attachments[0]).toMatchObject({ pblPorts: ['tcp:9000-9100', 'udp:53'], memif: { socket: '@vpp/memif-eth0', mode: 'pbl' } });

    const one = await ctl(['pod', 'default/live'], r.ctlSocket);
    expect(one.code).toBe(0);
    const rec = recs('live')[0]!;
    const ip = rec.ips[0]!.address.split('/')[0]!;
    expect(one.out).toContain(`Pod default/live (uid ${rec.pod.uid})`);
    expect(one.out).toContain('      socket as the pod sees it: @vpp/memif-eth0');
    expect(one.out).toContain('    PBL ports: tcp:9000-9100, udp:53');
    expect(one.out).toContain(`      client ${rec.objects.pbl[0]!.id} on ${ip}: present in VPP`);
    expect(one.out).toMatch(new RegExp(`  memif\\d+/0 sw_if_index ${rec.objects.memif!.swIfIndex} \\(eth0: memif \\(pbl\\)\\): admin up, link down`));
    expect(one.out).toContain('    memif server, ethernet, socket id');
    expect(one.out).toMatch(/ {4}\| +Name +Idx +State/);
    expect(one.out).toContain('  Counters: VPP keeps interface counters in its stats segment');
    expect(one.out).toContain(`Linux side (netns ${rec.netns})`);
    expect(one.out).toMatch(new RegExp(`  \\$ ip -br addr\\n(.*\\n)*    eth0 +\\S+ +${ip.replace(/\./g, '\\.')}/32`));
    expect(one.out).toContain('  $ ip route\n    default dev eth0');
    expect(one.out).toContain('  $ ss -xl');
    expect(one.out).toMatch(/Last errors \(2\)\n {2}\S+ UPDATE InvalidVppAnnotation: pod default\/live .*tcp:0/);

    const detail = JSON.parse((await ctl(['pod', 'default/live', '-o', 'json'], r.ctlSocket)).out) as CtlPodDetail;
    expect(detail.vpp.map((v) => v.role)).toEqual(['eth0: tun', 'eth0: memif (pbl)']);
    expect(detail.vpp.every((v) => v.present && v.adminUp)).toBe(true);
    expect(detail.linux[0]!.commands.map((c) => c.command.join(' '))).toEqual(['ip -br addr', 'ip route', 'ip -6 route', 'ss -xl']);
    expect(detail.errors.map((e) => e.reason)).toEqual(['PodRecreateRequired', 'InvalidVppAnnotation']);

    const badOne = await ctl(['pod', 'default/bad'], r.ctlSocket);
    expect(badOne.out).toContain('  no attachment on this node');
    expect(badOne.out).toMatch(/Last errors \(3\)\n(  \S+ ADD InvalidVppAnnotation: invalid pod annotations: vppExtraMemifPorts "tcp:70000".*\n){3}/);

    expect(await ctl(['pod', 'default/nope'], r.ctlSocket)).toMatchObject({ code: 1, err: 'vpp-cnictl: pod default/nope: no attachment and no recent error on this node\n' });
    expect(await ctl(['pods'], join(dir, 'missing.sock'))).toMatchObject({ code: 3, err: `vpp-cnictl: cannot reach the agent at ${join(dir, 'missing.sock')}: no such socket (is the agent running on this node? --agent-socket / VPPCNI_CTL_SOCKET)\n` });
    expect((await ctl(['pod', 'nope'], r.ctlSocket)).code).toBe(2);
    const broken = JSON.parse((await ctl(['pod', 'default/broken', '-o', 'json'], r.ctlSocket)).out) as CtlPodDetail;
    expect(broken.errors).toEqual([
      expect.objectContaining({ op: 'ADD', reason: 'PodNetworkSetupFailed', step: 'memif create', vppMessage: 'memif_create_v2', retvalName: retvalName(-2), ifName: 'eth0' }),
    ]);
    expect(statSync(r.ctlSocket).mode & 0o777).toBe(0o600);
    const nobody = await ctl(['pods'], r.ctlSocket, { uid: 65534, gid: 65534 });
    expect(nobody).toMatchObject({ code: 3, err: `vpp-cnictl: cannot reach the agent at ${r.ctlSocket}: permission denied (the socket is root only)\n` });
    expect(statSync(dirname(r.ctlSocket)).mode & 0o777).toBe(0o700);
  }, 60_000);

  test('an annotation change during ADD is applied once the ADD is done', async () => {
    const p = r.api.addPod({ metadata: { name: 'racy', annotations: { [PORTS]: 'tcp:1000' } }, spec: { nodeName: NODE } });
    await until('pod in the cache', () => r.kube.list().some((x) => x.name === 'racy'));
    r.sim!.faults.delay('tap_create_v3', 400);
    const adding = r.agent.manager.add(addInput(createNetns('k'), { name: 'racy', uid: p.metadata.uid! }));
    await new Promise((res) => setTimeout(res, 100));
    r.api.setAnnotation('default', 'racy', PORTS, 'tcp:2000');
    await adding;
    r.sim!.faults.clear();
    await until('ports of the change', () => recs('racy')[0]?.objects.memif?.ports?.[0]?.start === 2000);
    // Made with the ports read at ADD, then updated (not made with the new ones by luck).
    expect(logLines.find((l) => l.msg === 'pod network added' && l.pod === 'racy')).toBeDefined();
    expect(logLines.find((l) => l.msg === 'PBL ports updated live' && l.pod === 'racy')).toMatchObject({ ports: ['tcp:2000'] });
    const ids = recs('racy')[0]!.objects.pbl.map((x) => x.id);
    const clones = await pblCloneIds(r.agent.vpp); // PBL's FIB clones of routed clients are listed too (docs/pbl.md)
    expect((await r.agent.vpp.dumpAll(pbl.pbl_client_dump, {})).filter((c) => c.client.addr === recs('racy')[0]!.ips[0]!.address.split('/')[0] && !clones.has(c.client.id)).map((c) => c.client.id)).toEqual(ids);
  });
});
