/**
 * The real thing, for a few steps: an agent process killed with SIGKILL in the middle of an ADD made by the
 * plugin binary (with Debian's host-local as IPAM). The plugin releases the address it allocated; the
 * next agent undoes what the dead one made; the runtime's retried ADD succeeds; after DEL, host-local's
 * data dir holds no address and VPP and the pod netns are as before.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ANN } from '../../agent/pod/annotations.js';
import { CHECKPOINT_FILE } from '../../agent/state/checkpoint.js';
import { createNetns, deleteAllNetns, deleteNetns, haveRoot } from '../helpers/netns.js';
import { Harness } from './harness.js';

const PLUGIN = join(process.cwd(), 'dist', 'vpp-cni');
const CNI_PATH = '/usr/lib/cni';
const ready = haveRoot() && existsSync(PLUGIN) && existsSync(join(CNI_PATH, 'host-local'));
const d = ready ? describe : describe.skip;
if (!ready) console.warn(`sigkill test skipped: needs root, ${PLUGIN} (npm run build:plugin) and ${CNI_PATH}/host-local`);

const h = new Harness();
const ANNOTATIONS = { [ANN.extraMemifPorts]: 'tcp:8080', [ANN.vcl]: 'enable' };

function plugin(cmd: string, env: Record<string, string>, conf: object): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = execFile(PLUGIN, [], { env: { CNI_COMMAND: cmd, CNI_PATH, ...env }, timeout: 60_000 }, (err, stdout) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: String(stdout) }),
    );
    p.stdin!.end(JSON.stringify(conf));
  });
}

beforeAll(async () => {
  if (!ready) return;
  await h.start();
  h.pods.set({ namespace: 'default', name: 'killed', uid: 'uid-killed', annotations: ANNOTATIONS });
  writeFileSync(join(h.dir, 'pods.yaml'), `apiVersion: v1\nkind: Pod\nmetadata:\n  namespace: default\n  name: killed\n  uid: uid-killed\n  annotations:\n${Object.entries(ANNOTATIONS).map(([k, v]) => `    ${k}: "${v}"`).join('\n')}\n`);
}, 30_000);

afterAll(async () => {
  deleteAllNetns();
  if (ready) await h.close();
});

d('agent killed with SIGKILL during an ADD from the plugin', () => {
  test.each(['tap create', 'memif create', 'app namespace', 'result'])('at step "%s"', async (step) => {
    const ns = createNetns('k');
    const ipamDir = join(h.dir, `ipam-${step.replace(/\W/g, '')}`);
    const conf = { cniVersion: '1.1.0', name: 'killnet', type: 'vpp-cni', agentSocket: join(h.dir, 'cni', 'agent.sock'), timeoutSeconds: 10, ipam: { type: 'host-local', ranges: [[{ subnet: '10.251.0.0/24' }]], dataDir: ipamDir } };
    const env = { CNI_CONTAINERID: `k${process.pid}x${step.replace(/\W/g, '')}`.padEnd(64, '0'), CNI_NETNS: ns.path, CNI_IFNAME: 'eth0', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=killed;K8S_POD_UID=uid-killed' };
    const allocated = (): string[] => (existsSync(join(ipamDir, 'killnet')) ? readdirSync(join(ipamDir, 'killnet')).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : []);
    try {
      // Node objects first, so that the states compare pod objects only.
      await h.startAgent();
      await h.agent!.node.unnumberedLoopback();
      await h.agent!.node.sessionEnabled();
      await h.stopAgent();
      const baseline = await h.state([ns]);

      const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'crash-agent.ts'),
        '--vpp-socket', h.sim.socketPath, '--cni-socket', join(h.dir, 'cni', 'agent.sock'), '--metrics-port', '0', '--health-port', '0',
        '--node-name', 'test-node', '--state-dir', h.stateDir, '--sweep-interval', '0', '--pods-file', join(h.dir, 'pods.yaml'),
        '--feature-gates', '{"memifEnabled":true,"vclEnabled":true,"multinetEnabled":true}'], { env: { ...process.env, VCNI_CRASH_AT: step, VCNI_ID_PREFIX: `k${process.pid}x` }, stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, sig) => r(sig)));
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (b: Buffer) => b.toString().includes('ready') && resolve());
        child.once('exit', () => reject(new Error('crash agent exited before it was ready')));
      });
      const add = await plugin('ADD', env, conf);
      expect(await exited).toBe('SIGKILL');
      expect(add.code).not.toBe(0);
      expect(allocated()).toEqual([]); // the plugin released what it allocated
      expect(JSON.parse(readFileSync(join(h.stateDir, CHECKPOINT_FILE), 'utf8')).intents.map((i: { op: string }) => i.op)).toEqual(['add']);

      await h.startAgent({ sweepAtStart: false });
      expect(h.agent!.state.stats.reconcile?.rolledBack).toBe(1);
      expect(await h.state([ns])).toEqual(baseline);

      const retry = await plugin('ADD', env, conf);
      expect(retry.code).toBe(0);
      expect(allocated()).toHaveLength(1);
      expect(await plugin('DEL', env, conf)).toMatchObject({ code: 0 });
      expect(allocated()).toEqual([]);
      expect(await h.state([ns])).toEqual(baseline);
    } finally {
      await h.stopAgent();
      deleteNetns(ns);
    }
  }, 90_000);
});
