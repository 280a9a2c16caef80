/**
 * `npm run bench:restart -- [--pods 50,250]`: what restarts cost, with the agent as it runs on a node — its
 * own process (agent/main.ts bundled to plain JavaScript, no TypeScript loader), pods from a pods file,
 * ADD and DEL over its CNI socket — and the simulator in another process (real kernel taps in real
 * network namespaces):
 *  - agent restart: SIGTERM, then a new agent on the same state dir; the time from its spawn until STATUS
 *    answers ready (process start, VPP connect, reconcile of the checkpoint, start-up sweep), the reconcile
 *    alone as the agent logged it, the attachments it made again, and its VPP calls that are not reads;
 *  - VPP restart: from `sim restart` until STATUS answers ready again (the agent's reconnect backoff and the
 *    simulator's removal of the old taps included), and the recovery alone as the agent logged it;
 *  - the agent process's resident memory just started with no pod, and with all pods up after the recovery.
 * Pods rotate through tun, tun + PBL memif, multinet memif and tun + VCL. Needs root.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { allModules } from '../vpp-api/generated/index.js';
import { VppClient } from '../vpp-api/client/index.js';
import { ANN } from '../agent/pod/annotations.js';
import { AgentClient } from '../cni-plugin/agent-client.js';
import type { AttachmentMsg } from '../contract/types.js';
import { benchArgs, positiveInts } from './args.js';

const SIZES = positiveInts('bench:restart', 'pods', benchArgs('bench:restart', process.argv.slice(2), { pods: '50,250' }).pods);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const KINDS: [Record<string, string>, string][] = [
  [{}, 'eth0'],
  [{ [ANN.extraMemifPorts]: 'tcp:4444-20000,udp:4444-20000' }, 'eth0'],
  [{}, 'memif1'],
  [{ [ANN.vcl]: 'enable' }, 'eth0'],
];
const READ_ONLY = /_dump$|_get$|^control_ping$|^sockclnt_|^memclnt_|^show_version$|^cli_inband$/;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface RunningAgent {
  proc: ChildProcess;
  logs: Record<string, unknown>[];
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)');
  const dir = mkdtempSync(join(tmpdir(), 'vcni-bench-restart-'));
  // Inside the repository, so that the bundle's imports of dependencies resolve from node_modules.
  const agentJs = join(ROOT, 'node_modules', '.cache', 'vpp-cni-bench', 'agent-main.mjs');
  mkdirSync(dirname(agentJs), { recursive: true });
  await build({ entryPoints: [join(ROOT, 'agent', 'main.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: agentJs, logLevel: 'silent' });
  const socket = join(dir, 'api.sock');
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const simMain = new URL(`../vpp-api/sim/main${ext}`, import.meta.url).pathname;
  const sim = spawn(process.execPath, [...process.execArgv, simMain, '--socket', socket, '--host', 'kernel-tun'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const namespaces: string[] = [];
  let agent: RunningAgent | undefined;
  try {
    await waitFor(() => existsSync(socket) || sim.exitCode !== null, 15_000, 'the simulator');
    if (sim.exitCode !== null) throw new Error('simulator did not start');
    const ctl = new VppClient({ socketPath: socket, modules: allModules, healthCheck: false, backoff: { initialDelayMs: 20, maxDelayMs: 100 } });
    await ctl.connect();
    console.log(`bench:restart — agent in its own process (bundled JS, node ${process.version}), simulator in another with kernel taps`);
    console.log('(ready: from the spawn of the agent process until STATUS answers ready; a start with no pod takes the first column)');
    console.log('pods | start, no pod | agent restart: ready  reconcile  re-created  non-read calls | VPP restart: ready  recovery  re-created  failed | RSS idle  RSS with pods');
    let n = 0;
    for (const size of SIZES) {
      const stateDir = join(dir, `state-${size}`);
      const cniSocket = join(dir, `cni-${size}`, 'agent.sock');
      const podsFile = join(dir, `pods-${size}.json`);
      const metricsPort = await freePort();
      const cni = await AgentClient.connect({ socketPath: cniSocket, timeoutSeconds: 30 });
      const ready = async (): Promise<boolean> => {
        try {
          return (await cni.status()).error === null;
        } catch {
          return false;
        }
      };
      const startAgent = async (): Promise<{ agent: RunningAgent; ms: number }> => {
        const t = performance.now();
        const proc = spawn(
          process.execPath,
          [agentJs, '--vpp-socket', socket, '--cni-socket', cniSocket, '--pods-file', podsFile, '--state-dir', stateDir, '--metrics-port', String(metricsPort), '--health-port', '0', '--node-name', 'bench', '--sweep-interval', '0', '--feature-gates', '{"memifEnabled":true,"vclEnabled":true,"multinetEnabled":true}'],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        );
        const a: RunningAgent = { proc, logs: [] };
        let buf = '';
        proc.stdout!.on('data', (d: Buffer) => {
          buf += d.toString();
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            try {
              a.logs.push(JSON.parse(line) as Record<string, unknown>);
            } catch {
              // not a log line
            }
          }
        });
        await waitFor(async () => proc.exitCode !== null || (await ready()), 60_000, 'the agent to be ready');
        if (proc.exitCode !== null) throw new Error(`agent exited with ${proc.exitCode}`);
        return { agent: a, ms: performance.now() - t };
      };
      const stopAgent = async (a: RunningAgent): Promise<void> => {
        if (a.proc.exitCode !== null) return;
        a.proc.kill('SIGTERM');
        await new Promise((r) => a.proc.once('exit', r));
      };
      const logged = (a: RunningAgent, msg: string): Record<string, unknown> => [...a.logs].reverse().find((l) => l.msg === msg) ?? {};

      const pods: unknown[] = [];
      const attachments: { att: AttachmentMsg; ip: string }[] = [];
      for (let i = 0; i < size; i++) {
        n++;
        const ns = `vcr-${process.pid}-${n}`;
        execFileSync('ip', ['netns', 'add', ns]);
        namespaces.push(ns);
        const [annotations, ifName] = KINDS[i % KINDS.length]!;
        pods.push({ metadata: { namespace: 'bench', name: `p${n}`, uid: `u${n}`, annotations } });
        attachments.push({
          att: { container_id: `b${String(n).padStart(11, '0')}${'e'.repeat(52)}`, if_name: ifName, netns: `/var/run/netns/${ns}`, pod: { namespace: 'bench', name: `p${n}`, uid: `u${n}` } },
          ip: `10.${100 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}/16`,
        });
      }
      writeFileSync(podsFile, JSON.stringify({ items: pods }));
      const cold = await startAgent();
      agent = cold.agent;
      const idleRss = rssMiB(agent.proc.pid!);
      for (const a of attachments) {
        const r = await cni.add({ attachment: a.att, ips: [{ address: a.ip }], routes: [{ dst: '0.0.0.0/0' }], network_name: 'bench', annotations: null });
        if (r.error) throw new Error(`ADD failed: ${r.error.msg}`);
      }

      // Agent restart.
      await stopAgent(agent);
      const restarted = await startAgent();
      agent = restarted.agent;
      const rec = logged(agent, 'checkpoint reconciled with VPP');
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      let calls = 0;
      for (const m of metrics.matchAll(/^vppcni_vpp_api_request_duration_seconds_count\{message="([^"]+)"\} (\d+)$/gm)) if (!READ_ONLY.test(m[1]!)) calls += Number(m[2]);

      // VPP restart.
      const t = performance.now();
      await ctl.cli('sim restart').catch(() => undefined);
      await waitFor(async () => !(await ready()), 10_000, 'the agent to notice the VPP restart');
      await waitFor(ready, 120_000, 'the agent to recover');
      const recoveredMs = performance.now() - t;
      const rcv = logged(agent, 'pod interfaces made again after the VPP restart');
      const rss = rssMiB(agent.proc.pid!);

      const s = (ms: unknown): string => (typeof ms === 'number' ? `${(ms / 1000).toFixed(3)} s` : '?');
      console.log(
        `${String(size).padStart(4)} | ${s(cold.ms).padStart(13)} | ${s(restarted.ms).padStart(20)}  ${s(rec.ms).padStart(9)}  ${String(rec.recreated ?? '?').padStart(10)}  ${String(calls).padStart(14)} | ${s(recoveredMs).padStart(18)}  ${s(rcv.ms).padStart(8)}  ${String(rcv.recreated ?? '?').padStart(10)}  ${String(rcv.failed ?? '?').padStart(6)} | ${idleRss.toFixed(0).padStart(4)} MiB  ${rss.toFixed(0).padStart(8)} MiB`,
      );
      if (rec.adopted !== size) console.log(`  note: the reconcile adopted ${String(rec.adopted)} of ${size}`);
      for (const a of attachments) {
        const r = await cni.del({ attachment: a.att });
        if (r.error) throw new Error(`DEL failed: ${r.error.msg}`);
      }
      await stopAgent(agent);
      agent = undefined;
    }
    await ctl.close();
  } finally {
    if (agent && agent.proc.exitCode === null) agent.proc.kill('SIGKILL');
    for (const ns of namespaces) execFileSync('ip', ['netns', 'del', ns]);
    sim.kill('SIGTERM');
    await new Promise((r) => (sim.exitCode !== null ? r(undefined) : sim.once('exit', r)));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`bench:restart: ${(e as Error).stack ?? String(e)}`);
  process.exitCode = 1;
});
