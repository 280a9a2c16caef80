/**
 * Pod annotations from the container runtime (runtimeConfig "io.kubernetes.cri.pod-annotations"), through
 * the plugin binary, the agent, the simulator and real network namespaces: with them, ADD makes what they
 * ask for without asking the pod source (which here never answers, like an unreachable apiserver); without
 * them, the pod source's annotations are used. The ADD log line says which source won.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { VppSimulator } from '../../vpp-api/sim/index.js';
import { kernelTun } from '../../vpp-api/sim/kernel-host.js';
import { Agent } from '../../agent/agent.js';
import { loadConfig } from '../../agent/config.js';
import { createLogger } from '../../agent/log.js';
import type { PodInfo, PodSource } from '../../agent/pod-info/source.js';
import { createNetns, deleteAllNetns, deleteNetns, haveRoot } from '../helpers/netns.js';

const PLUGIN = join(process.cwd(), 'dist', 'vpp-cni');
const CNI_PATH = '/usr/lib/cni';
const ready = haveRoot() && existsSync(PLUGIN) && existsSync(join(CNI_PATH, 'host-local'));
const d = ready ? describe : describe.skip;
if (!ready) console.warn(`runtime-annotations skipped: needs root, ${PLUGIN} (npm run build:plugin) and ${CNI_PATH}/host-local`);

const PORTS = 'cni.projectcalico.org/vppExtraMemifPorts';
const dir = mkdtempSync(join(tmpdir(), 'vcni-rtann-'));
const cniSocket = join(dir, 'cni', 'agent.sock');

/** A pod source that knows one annotated pod, and never answers for `unreachable/*` (an apiserver that is down). */
class StubPods implements PodSource {
  readonly asked: string[] = [];
  private readonly hung: (() => void)[] = [];
  getPod(namespace: string, name: string): Promise<PodInfo | undefined> {
    this.asked.push(`${namespace}/${name}`);
    if (namespace === 'unreachable') return new Promise((resolve) => this.hung.push(() => resolve(undefined)));
    if (name === 'from-source') return Promise.resolve({ namespace, name, annotations: { [PORTS]: 'tcp:5000' } });
    return Promise.resolve(undefined);
  }
  close(): Promise<void> {
    for (const h of this.hung.splice(0)) h();
    return Promise.resolve();
  }
}

const logLines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, cb) {
    for (const l of chunk.toString().split('\n')) if (l.trim()) logLines.push(JSON.parse(l) as Record<string, unknown>);
    cb();
  },
});

let sim: VppSimulator;
let agent: Agent;
let pods: StubPods;

beforeAll(async () => {
  if (!ready) return;
  sim = await VppSimulator.start({ socketPath: join(dir, 'api.sock'), host: kernelTun() });
  const cfg = loadConfig({ NODE_NAME: 'node-rt' }, [
    '--vpp-socket', sim.socketPath,
    '--cni-socket', cniSocket,
    '--metrics-port', '0',
    '--health-port', '0',
    '--feature-gates', '{"memifEnabled":true,"vclEnabled":false,"multinetEnabled":false}',
    '--state-dir', join(dir, 'state'),
  ]);
  pods = new StubPods();
  agent = new Agent(cfg, createLogger('info', 'rtann', sink), { pods });
  await agent.start();
  await agent.ready();
}, 30_000);

afterAll(async () => {
  deleteAllNetns();
  await agent?.stop();
  await pods?.close();
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function netconf(runtimeConfig?: Record<string, unknown>): Record<string, unknown> {
  return {
    cniVersion: '1.1.0',
    name: 'vppnet',
    type: 'vpp-cni',
    agentSocket: cniSocket,
    timeoutSeconds: 20,
    ipam: { type: 'host-local', ranges: [[{ subnet: '10.251.0.0/24' }]], dataDir: join(dir, 'ipam') },
    ...(runtimeConfig ? { runtimeConfig } : {}),
  };
}

function plugin(cmd: string, env: Record<string, string>, conf: Record<string, unknown>): Promise<{ code: number; json: Record<string, unknown> }> {
  return new Promise((resolve) => {
    const p = execFile(PLUGIN, [], { env: { CNI_COMMAND: cmd, CNI_PATH, ...env }, timeout: 60_000 }, (err, stdout) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, json: String(stdout).trim() ? (JSON.parse(String(stdout)) as Record<string, unknown>) : {} });
    });
    p.stdin!.end(JSON.stringify(conf));
  });
}

let n = 0;
function podEnv(netns: string, namespace: string, name: string): Record<string, string> & { CNI_CONTAINERID: string } {
  n++;
  return {
    CNI_CONTAINERID: `rt${process.pid}x${n}${'b'.repeat(40)}`,
    CNI_NETNS: netns,
    CNI_IFNAME: 'eth0',
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${namespace};K8S_POD_NAME=${name};K8S_POD_UID=uid-${name}`,
  };
}

const addLine = (containerId: string): Record<string, unknown> | undefined => logLines.find((l) => l['containerID'] === containerId && l['msg'] === 'pod network added');

d('annotations from the runtime', () => {
  test('only in runtimeConfig, pod source unreachable: a PBL memif pod, the pod source not asked', async () => {
    const ns = createNetns('ra');
    try {
      const env = podEnv(ns.path, 'unreachable', 'fast');
      const add = await plugin('ADD', env, netconf({ 'io.kubernetes.cri.pod-annotations': { [PORTS]: 'tcp:4444-20000', 'kubernetes.io/config.source': 'api' } }));
      expect(add).toMatchObject({ code: 0 });
      expect((add.json['interfaces'] as unknown[])[1]).toEqual({ name: 'memif-eth0', sandbox: ns.path, socketPath: '@vpp/memif-eth0' });
      expect(pods.asked).not.toContain('unreachable/fast');
      expect(addLine(env.CNI_CONTAINERID)).toMatchObject({ annotationSource: 'runtime', memif: expect.any(String) as string });
      expect(await plugin('DEL', env, netconf())).toMatchObject({ code: 0 });
    } finally {
      deleteNetns(ns);
    }
  });

  test('none passed: the pod source is asked and its annotations are used', async () => {
    const ns = createNetns('rb');
    try {
      const env = podEnv(ns.path, 'default', 'from-source');
      const add = await plugin('ADD', env, netconf());
      expect(add).toMatchObject({ code: 0 });
      expect((add.json['interfaces'] as { name: string }[]).map((i) => i.name)).toEqual(['eth0', 'memif-eth0']);
      expect(pods.asked).toContain('default/from-source');
      expect(addLine(env.CNI_CONTAINERID)).toMatchObject({ annotationSource: 'pod source' });
      expect(await plugin('DEL', env, netconf())).toMatchObject({ code: 0 });
    } finally {
      deleteNetns(ns);
    }
  });

  test('an empty map from the runtime wins over the pod source: a plain pod', async () => {
    const ns = createNetns('rc');
    try {
      const env = podEnv(ns.path, 'default', 'from-source');
      const asked = pods.asked.length;
      const add = await plugin('ADD', env, netconf({ 'io.kubernetes.cri.pod-annotations': {} }));
      expect(add).toMatchObject({ code: 0 });
      expect((add.json['interfaces'] as { name: string }[]).map((i) => i.name)).toEqual(['eth0']);
      expect(pods.asked).toHaveLength(asked);
      expect(addLine(env.CNI_CONTAINERID)).toMatchObject({ annotationSource: 'runtime' });
      expect(await plugin('DEL', env, netconf())).toMatchObject({ code: 0 });
    } finally {
      deleteNetns(ns);
    }
  });

  test('an invalid annotation from the runtime is 7 naming it', async () => {
    const ns = createNetns('rd');
    try {
      const add = await plugin('ADD', podEnv(ns.path, 'unreachable', 'bad'), netconf({ 'io.kubernetes.cri.pod-annotations': { [PORTS]: 'tcp:70000' } }));
      expect(add.json).toMatchObject({ code: 7 });
      expect(String(add.json['msg'])).toContain('vppExtraMemifPorts "tcp:70000": port 70000 is outside 1-65535');
    } finally {
      deleteNetns(ns);
    }
  });
});
