/**
 * `npm run bench:restart -- [--pods 50,250]`: what restarts cost, against the simulator in its own process
 * (real kernel taps in real network namespaces) and the real Agent in this one:
 *  - agent restart: a new agent on the same state dir until it serves ADDs again (VPP connect, reconcile of
 *    the checkpoint against VPP, start-up sweep), and how many VPP calls that made that are not reads;
 *  - VPP restart: from `sim restart` until every pod's VPP side is made again (the reconnect, with the
 *    client's backoff, included), and the recovery alone as the agent measured it;
 *  - the agent process's RSS with all pods up, after the VPP-restart recovery.
 * Pods rotate through tun, tun + PBL memif, multinet memif and tun + VCL. Needs root.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { allModules } from '../vpp-api/generated/index.js';
import { VppClient } from '../vpp-api/client/index.js';
import { Agent } from '../agent/agent.js';
import { loadConfig } from '../agent/config.js';
import { createLogger } from '../agent/log.js';
import { ANN } from '../agent/pod/annotations.js';
import { AgentMetrics } from '../agent/observability/metrics.js';
import type { PodInfo, PodSource } from '../agent/pods/pod-source.js';
import type { AddInput } from '../agent/cni/attachment-manager.js';

const args = process.argv.slice(2);
const podsArg = args.indexOf('--pods');
const SIZES = (podsArg >= 0 ? args[podsArg + 1]! : '50,250').split(',').map(Number);

const KINDS: [Record<string, string>, string][] = [
  [{}, 'eth0'],
  [{ [ANN.extraMemifPorts]: 'tcp:4444-20000,udp:4444-20000' }, 'eth0'],
  [{}, 'memif1'],
  [{ [ANN.vcl]: 'enable' }, 'eth0'],
];

const READ_ONLY = /_dump$|_get$|^control_ping$|^sockclnt_|^memclnt_|^show_version$|^cli_inband$/;

class Pods implements PodSource {
  readonly map = new Map<string, PodInfo>();
  getPod(namespace: string, name: string): Promise<PodInfo | undefined> {
    return Promise.resolve(this.map.get(`${namespace}/${name}`));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const silent = new Writable({ write: (_c, _e, cb) => cb() });

async function mutatingCalls(m: AgentMetrics): Promise<number> {
  const h = await m.vppLatency.get();
  return h.values.filter((v) => v.metricName?.endsWith('_count') && !READ_ONLY.test(String(v.labels.message))).reduce((s, v) => s + v.value, 0);
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)');
  const dir = mkdtempSync(join(tmpdir(), 'vcni-bench-restart-'));
  const socket = join(dir, 'api.sock');
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const simMain = new URL(`../vpp-api/sim/main${ext}`, import.meta.url).pathname;
  const sim = spawn(process.execPath, [...process.execArgv, simMain, '--socket', socket, '--host', 'kernel-tun'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const namespaces: string[] = [];
  let agent: Agent | undefined;
  try {
    const deadline = Date.now() + 15_000;
    while (!existsSync(socket)) {
      if (Date.now() > deadline || sim.exitCode !== null) throw new Error('simulator did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
    const ctl = new VppClient({ socketPath: socket, modules: allModules, healthCheck: false, backoff: { initialDelayMs: 20, maxDelayMs: 100 } });
    await ctl.connect();
    console.log(`bench:restart — simulator in its own process with kernel taps, agent in this one, node ${process.version}`);
    console.log('pods   agent restart  reconcile  re-created  non-read VPP calls   VPP restart→recovered  recovery  failed   RSS');
    let n = 0;
    for (const size of SIZES) {
      const stateDir = join(dir, `state-${size}`);
      const pods = new Pods();
      const cfg = loadConfig({}, [
        '--vpp-socket', socket,
        '--cni-socket', join(dir, `cni-${size}`, 'agent.sock'),
        '--metrics-port', '0',
        '--health-port', '0',
        '--node-name', 'bench',
        '--state-dir', stateDir,
        '--sweep-interval', '0',
        '--feature-gates', '{"memifEnabled":true,"vclEnabled":true,"multinetEnabled":true}',
      ]);
      const newAgent = (metrics = new AgentMetrics(new Registry())): Agent => new Agent(cfg, createLogger('info', 'bench', silent), { pods, metrics });
      agent = newAgent();
      await agent.start();
      await agent.ready();
      const inputs: AddInput[] = [];
      for (let i = 0; i < size; i++) {
        n++;
        const ns = `vcr-${process.pid}-${n}`;
        execFileSync('ip', ['netns', 'add', ns]);
        namespaces.push(ns);
        const [annotations, ifName] = KINDS[i % KINDS.length]!;
        pods.map.set(`bench/p${n}`, { namespace: 'bench', name: `p${n}`, annotations });
        const input: AddInput = {
          containerId: `b${String(n).padStart(11, '0')}${'e'.repeat(52)}`,
          ifName,
          netns: `/var/run/netns/${ns}`,
          pod: { namespace: 'bench', name: `p${n}` },
          ips: [{ address: `10.${100 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}/16` }],
          routes: [{ dst: '0.0.0.0/0' }],
        };
        inputs.push(input);
        await agent.manager.add(input);
      }

      // Agent restart.
      await agent.stop();
      const metrics = new AgentMetrics(new Registry());
      let t = performance.now();
      agent = newAgent(metrics);
      await agent.start();
      await agent.ready();
      const resyncMs = performance.now() - t;
      const rec = agent.state.stats.reconcile!;
      const calls = await mutatingCalls(metrics);

      // VPP restart.
      const pid = agent.vpp.pid;
      t = performance.now();
      await ctl.cli('sim restart').catch(() => undefined);
      const a = agent;
      await waitFor(() => a.state.recoveredPid !== undefined && a.state.recoveredPid !== pid, 120_000, 'the recovery');
      await a.state.settled();
      const recoveredMs = performance.now() - t;
      const rep = a.state.stats.recovery!;
      const rss = process.memoryUsage().rss / 2 ** 20;
      const f = (ms: number): string => `${(ms / 1000).toFixed(3)} s`;
      console.log(
        `${String(size).padStart(4)}   ${f(resyncMs).padStart(13)}  ${f(rec.ms).padStart(9)}  ${String(rec.recreated).padStart(10)}  ${String(calls).padStart(18)}   ${f(recoveredMs).padStart(21)}  ${f(rep.ms).padStart(8)}  ${String(rep.failed.length).padStart(6)}  ${rss.toFixed(0).padStart(4)} MiB`,
      );
      if (rec.adopted !== size) console.log(`  note: adopted ${rec.adopted} of ${size}`);
      if (rep.recreated !== size) console.log(`  note: re-created ${rep.recreated} of ${size} after the VPP restart`);
      for (const i of inputs) await agent.manager.del(i);
      await agent.stop();
      agent = undefined;
    }
    await ctl.close();
  } finally {
    await agent?.stop().catch(() => undefined);
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
