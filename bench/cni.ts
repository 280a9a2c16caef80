/**
 * `npm run bench:cni -- [--pods N] [--burst N] [--concurrency 10,30] [--starts N]`
 * The plugin as a runtime sees it, in one run on one machine, with its anchors beside it:
 *  - start-up alone (CNI_COMMAND=VERSION), wall and CPU per exec, of the shipped dist/vpp-cni, of
 *    `node -e 0`, and of Debian's host-local (Go);
 *  - ADD and DEL p50/p99, exec to exit (host-local IPAM included), of vpp-cni (tun; tun + PBL memif) against
 *    the agent and the simulator (separate processes, real kernel taps, real netns), and of Debian's
 *    ptp + host-local; CPU per ADD+DEL pair (the plugin and the processes it starts);
 *  - where a vpp-cni ADD's time goes: the plugin's phases (VPPCNI_PLUGIN_TIMING), the agent's own ADD
 *    (its metrics), its VPP API time, and the CPU of the processes the agent and the simulator start;
 *  - bursts of pods at each concurrency (pods/s, failures);
 *  - the ratios against the targets.
 * Needs root, `npm run build:plugin` and containernetworking-plugins.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchArgs, positiveInt, positiveInts } from './args.js';
import { childrenCpuMs, execOnce, pct, startCost, type StartCost } from './exec-cost.js';

const opts = benchArgs('bench:cni', process.argv.slice(2), { pods: '40', burst: '100', concurrency: '10,30', starts: '60' });
const PODS = positiveInt('bench:cni', 'pods', opts.pods);
const BURST = positiveInt('bench:cni', 'burst', opts.burst);
const CONCS = positiveInts('bench:cni', 'concurrency', opts.concurrency);
const STARTS = positiveInt('bench:cni', 'starts', opts.starts);
const ROOT = process.cwd();
const PLUGIN = join(ROOT, 'dist', 'vpp-cni');
const CNI_PATH = '/usr/lib/cni';

/** Targets of the issue (ratios against the anchors of the same run, and an absolute burst rate). */
const TARGET_CPU_RATIO = 2.5;
const TARGET_ADD_RATIO = 2;
const TARGET_BURST = 20;

async function waitFor(path: string, proc: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!existsSync(path)) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`${what} did not start`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

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

/** CPU of a process's reaped children (utime+stime of the processes it started), ms. */
function procChildrenCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[13]) + Number(f[14])) * 1000) / 100;
}

/** The process's own CPU (utime+stime), ms. */
function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

interface Metrics {
  addCount: number;
  addSum: number;
  vppCount: number;
  vppSum: number;
}

async function scrape(port: number): Promise<Metrics> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m: Metrics = { addCount: 0, addSum: 0, vppCount: 0, vppSum: 0 };
  for (const x of text.matchAll(/^vppcni_cni_operation_duration_seconds_(sum|count)\{command="ADD",result="ok"\} ([\d.e+-]+)$/gm)) {
    if (x[1] === 'sum') m.addSum += Number(x[2]);
    else m.addCount += Number(x[2]);
  }
  for (const x of text.matchAll(/^vppcni_vpp_api_request_duration_seconds_(sum|count)\{message="[^"]+"\} ([\d.e+-]+)$/gm)) {
    if (x[1] === 'sum') m.vppSum += Number(x[2]);
    else m.vppCount += Number(x[2]);
  }
  return m;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)');
  if (!existsSync(PLUGIN)) throw new Error(`${PLUGIN} missing: run npm run build:plugin`);
  if (!existsSync(join(CNI_PATH, 'host-local'))) throw new Error('host-local missing: apt-get install containernetworking-plugins');
  const dir = mkdtempSync(join(tmpdir(), 'vcni-bench-cni-'));
  const procs: ChildProcess[] = [];
  const namespaces: string[] = [];
  const load0 = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  try {
    // 1. start-up alone, before anything else runs
    const verEnv = { CNI_COMMAND: 'VERSION', PATH: '/usr/bin:/bin' };
    const starts: StartCost[] = [];
    starts.push(await startCost('vpp-cni (shipped dist/vpp-cni)', PLUGIN, [], verEnv, '{"cniVersion":"1.1.0"}', STARTS));
    starts.push(await startCost('node -e 0', process.execPath, ['-e', '0'], verEnv, '', STARTS));
    starts.push(await startCost('host-local (Debian, Go)', join(CNI_PATH, 'host-local'), [], verEnv, '{"cniVersion":"1.0.0"}', STARTS));

    const api = join(dir, 'api.sock');
    const cniSock = join(dir, 'cni', 'agent.sock');
    const podsFile = join(dir, 'pods.yaml');
    writeFileSync(
      podsFile,
      'apiVersion: v1\nkind: Pod\nmetadata: {namespace: bench, name: tun}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  namespace: bench\n  name: memif\n  annotations: {cni.projectcalico.org/vppExtraMemifPorts: "tcp:4444-20000,udp:4444-20000"}\n',
    );
    const node = [...process.execArgv];
    const sim = spawn(process.execPath, [...node, join(ROOT, 'vpp-api/sim/main.ts'), '--socket', api, '--host', 'kernel-tun'], { stdio: ['ignore', 'ignore', 'inherit'] });
    procs.push(sim);
    await waitFor(api, sim, 'simulator');
    const metricsPort = await freePort();
    const agent = spawn(
      process.execPath,
      [...node, join(ROOT, 'agent/main.ts'), '--vpp-socket', api, '--cni-socket', cniSock, '--pods-file', podsFile, '--state-dir', join(dir, 'state'), '--metrics-port', String(metricsPort), '--health-port', '0', '--log-level', 'warn'],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    procs.push(agent);
    await waitFor(cniSock, agent, 'agent');
    const ipamDir = join(dir, 'ipam');
    mkdirSync(ipamDir);
    const conf = (version = '1.1.0'): string =>
      JSON.stringify({ cniVersion: version, name: 'bench', type: 'vpp-cni', agentSocket: cniSock, ipam: { type: 'host-local', ranges: [[{ subnet: '10.96.0.0/16' }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: ipamDir } });
    const ptpConf = JSON.stringify({ cniVersion: '1.0.0', name: 'ptpbench', type: 'ptp', ipam: { type: 'host-local', ranges: [[{ subnet: '10.97.0.0/16' }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: ipamDir } });
    const TIMED = 10;
    const total = PODS * 3 + TIMED + BURST * CONCS.length + 1; // + the warm-up pod
    for (let i = 0; i < total; i++) {
      const name = `vcbc-${process.pid}-${i}`;
      execFileSync('ip', ['netns', 'add', name]);
      namespaces.push(name);
    }
    let next = 0;
    const env = (cmd: string, pod: string, i: number, extra: Record<string, string> = {}): Record<string, string> => ({
      CNI_COMMAND: cmd,
      CNI_CONTAINERID: `bench${process.pid}n${String(i).padStart(6, '0')}`,
      CNI_NETNS: `/var/run/netns/${namespaces[i]}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH,
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=${pod}`,
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      VPPCNI_IPAM_CACHE_DIR: join(dir, 'ipam-versions'),
      ...extra,
    });

    // Warm-up: the agent's first ADD creates node objects; the plugin's first learns host-local's versions.
    const w = next++;
    await execOnce(PLUGIN, [], env('ADD', 'tun', w), conf());
    await execOnce(PLUGIN, [], env('DEL', 'tun', w), conf());

    // 2. sequential ADD/DEL, with the CPU of each kind
    const rows: { label: string; add: number[]; del: number[]; cpu: number; agent?: { add: number; vpp: number; vppCalls: number; agentChildren: number; agentCpu: number; simChildren: number; simCpu: number } }[] = [];
    for (const [label, pod, bin, c] of [
      ['vpp-cni tun', 'tun', PLUGIN, conf()],
      ['vpp-cni tun + PBL memif', 'memif', PLUGIN, conf()],
      ['ptp + host-local (Debian)', 'ptp', join(CNI_PATH, 'ptp'), ptpConf],
    ] as const) {
      const add: number[] = [];
      const del: number[] = [];
      const m0 = await scrape(metricsPort);
      const [ac0, a0, sc0, s0] = [procChildrenCpuMs(agent.pid!), procCpuMs(agent.pid!), procChildrenCpuMs(sim.pid!), procCpuMs(sim.pid!)];
      const cpu0 = childrenCpuMs();
      for (let k = 0; k < PODS; k++) {
        const i = next++;
        const a = await execOnce(bin, [], env('ADD', pod, i), c);
        if (a.code !== 0) throw new Error(`${label} ADD failed: ${a.out}`);
        add.push(a.ms);
        const d = await execOnce(bin, [], env('DEL', pod, i), c);
        if (d.code !== 0) throw new Error(`${label} DEL failed: ${d.out}`);
        del.push(d.ms);
      }
      const cpu = (childrenCpuMs() - cpu0) / PODS;
      if (bin === PLUGIN) {
        const m1 = await scrape(metricsPort);
        const n = m1.addCount - m0.addCount || 1;
        rows.push({
          label,
          add,
          del,
          cpu,
          agent: {
            add: ((m1.addSum - m0.addSum) * 1000) / n,
            // VPP time and process CPU cover the ADD and the DEL of each pod
            vpp: ((m1.vppSum - m0.vppSum) * 1000) / PODS,
            vppCalls: (m1.vppCount - m0.vppCount) / PODS,
            agentChildren: (procChildrenCpuMs(agent.pid!) - ac0) / PODS,
            agentCpu: (procCpuMs(agent.pid!) - a0) / PODS,
            simChildren: (procChildrenCpuMs(sim.pid!) - sc0) / PODS,
            simCpu: (procCpuMs(sim.pid!) - s0) / PODS,
          },
        });
      } else rows.push({ label, add, del, cpu });
    }

    // 3. the plugin's phases in a few tun ADDs
    const phases = new Map<string, number[]>();
    /** The plugin's own CPU (user + system, its children excluded) when it reached each phase. */
    const cpuAt = new Map<string, number[]>();
    for (let k = 0; k < TIMED; k++) {
      const i = next++;
      const t0 = process.hrtime.bigint();
      const p = spawn(PLUGIN, [], { env: env('ADD', 'tun', i, { VPPCNI_PLUGIN_TIMING: '1' }), stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.stdin.end(conf());
      await new Promise((r) => p.once('close', r));
      const total = Number(process.hrtime.bigint() - t0) / 1e6;
      for (const m of err.matchAll(/^vpp-cni timing: (.+) at ([\d.]+) ms cpu ([\d.]+) ms$/gm)) {
        phases.set(m[1]!, [...(phases.get(m[1]!) ?? []), Number(m[2])]);
        cpuAt.set(m[1]!, [...(cpuAt.get(m[1]!) ?? []), Number(m[3])]);
      }
      phases.set('exit seen by the runtime', [...(phases.get('exit seen by the runtime') ?? []), total]);
      await execOnce(PLUGIN, [], env('DEL', 'tun', i), conf());
    }

    // 4. bursts
    const bursts: { conc: number; rate: number; s: number; failed: number; failures: string[] }[] = [];
    for (const conc of CONCS) {
      const idx = Array.from({ length: BURST }, () => next++);
      const queue = [...idx];
      const failures: string[] = [];
      const t0 = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: conc }, async () => {
          for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
            const r = await execOnce(PLUGIN, [], env('ADD', 'tun', i), conf());
            if (r.code !== 0) failures.push(r.out.trim());
          }
        }),
      );
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      bursts.push({ conc, rate: BURST / s, s, failed: failures.length, failures });
      const dq = [...idx];
      await Promise.all(Array.from({ length: 10 }, async () => {
        for (let i = dq.shift(); i !== undefined; i = dq.shift()) await execOnce(PLUGIN, [], env('DEL', 'tun', i), conf());
      }));
    }

    // report
    const load1 = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    const f = (x: number): string => `${x.toFixed(1)} ms`.padStart(10);
    console.log(`bench:cni — ${new Date().toISOString()}, node ${process.version}, ${readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.+)/)?.[1] ?? '?'} ×${readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm)?.length ?? '?'}, load average ${load0} at start, ${load1} at end`);
    console.log(`\nstart-up alone (CNI_COMMAND=VERSION), ${STARTS} sequential execs each:`);
    console.log('                                  wall p50   wall p99   CPU/exec');
    for (const c of starts) console.log(`${c.label.padEnd(32)}${f(c.wallP50)} ${f(c.wallP99)} ${f(c.cpu)}`);
    const [vpp, nodeStart, hl] = starts as [StartCost, StartCost, StartCost];
    console.log(`\nADD and DEL, ${PODS} pods per kind, exec to exit (IPAM included); CPU per ADD+DEL pair of the plugin and what it starts:`);
    console.log('                             ADD p50    ADD p99    DEL p50    DEL p99  CPU/pod');
    for (const r of rows) console.log(`${r.label.padEnd(26)}${f(pct(r.add, 0.5))} ${f(pct(r.add, 0.99))} ${f(pct(r.del, 0.5))} ${f(pct(r.del, 0.99))} ${f(r.cpu)}`);
    console.log('\nthe agent side per pod (ADD + DEL unless said): agent ADD (its metric, mean) | VPP API time | VPP calls | agent CPU | CPU of processes the agent starts | simulator CPU | CPU of processes the simulator starts');
    for (const r of rows) {
      const a = r.agent;
      if (a) console.log(`${r.label.padEnd(26)}${f(a.add)} ${f(a.vpp)} ${a.vppCalls.toFixed(0).padStart(6)} ${f(a.agentCpu)} ${f(a.agentChildren)} ${f(a.simCpu)} ${f(a.simChildren)}`);
    }
    console.log(`\nthe plugin's phases in ${TIMED} tun ADDs (p50 since its process started: wall | its own CPU, children excluded):`);
    for (const [name, xs] of phases) console.log(`  ${name.padEnd(28)}${f(pct(xs, 0.5))} ${cpuAt.has(name) ? f(pct(cpuAt.get(name)!, 0.5)) : ''}`);
    console.log('');
    for (const b of bursts) {
      console.log(`burst: ${BURST} tun pods at concurrency ${b.conc}: ${b.rate.toFixed(1)} pods/s (${b.s.toFixed(2)} s, ${b.failed} failed)`);
      for (const x of b.failures.slice(0, 3)) console.log(`  failed: ${x}`);
    }
    const ptp = rows[2]!;
    const cpuRatio = vpp.cpu / hl.cpu;
    const addRatio = pct(rows[0]!.add, 0.5) / pct(ptp.add, 0.5);
    const ok = (b: boolean): string => (b ? 'met' : 'NOT met');
    console.log(`\nratios (same run):`);
    console.log(`  start-up CPU vpp-cni / host-local: ${cpuRatio.toFixed(2)}x (target <= ${TARGET_CPU_RATIO}x: ${ok(cpuRatio <= TARGET_CPU_RATIO)}); vpp-cni / node -e 0: ${(vpp.cpu / nodeStart.cpu).toFixed(2)}x`);
    console.log(`  ADD p50 vpp-cni tun / ptp + host-local: ${addRatio.toFixed(2)}x (target <= ${TARGET_ADD_RATIO}x: ${ok(addRatio <= TARGET_ADD_RATIO)}); DEL p50 ${(pct(rows[0]!.del, 0.5) / pct(ptp.del, 0.5)).toFixed(2)}x`);
    const b10 = bursts.find((b) => b.conc === 10);
    if (b10) console.log(`  burst at concurrency 10: ${b10.rate.toFixed(1)} pods/s (target >= ${TARGET_BURST}: ${ok(b10.rate >= TARGET_BURST && b10.failed === 0)})`);
  } finally {
    for (const p of procs.reverse()) {
      if (p.exitCode !== null) continue;
      p.kill('SIGTERM');
      await new Promise((r) => (p.exitCode !== null ? r(undefined) : p.once('exit', r)));
    }
    for (const ns of namespaces) execFileSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`bench:cni: ${(e as Error).message}`);
  process.exitCode = 1;
});
