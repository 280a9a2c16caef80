/**
 * `npm run bench:cni -- [--pods N] [--burst N] [--concurrency C]`
 * End-to-end CNI latency as a runtime sees it (exec of dist/vpp-cni to its exit, host-local IPAM
 * included) against the agent and the simulator (separate processes, real kernel taps, real netns):
 * ADD and DEL p50/p99 for a tun pod and a tun + PBL memif pod, the plugin's start-up alone (VERSION),
 * a burst of pods at a given concurrency (pods/s), and Debian's ptp + host-local doing a comparable
 * ADD/DEL in the same run, reported as a ratio. Needs root, `npm run build:plugin` and
 * containernetworking-plugins.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchArgs, positiveInt } from './args.js';

const opts = benchArgs('bench:cni', process.argv.slice(2), { pods: '40', burst: '100', concurrency: '10' });
const PODS = positiveInt('bench:cni', 'pods', opts.pods);
const BURST = positiveInt('bench:cni', 'burst', opts.burst);
const CONC = positiveInt('bench:cni', 'concurrency', opts.concurrency);
const ROOT = process.cwd();
const PLUGIN = join(ROOT, 'dist', 'vpp-cni');
const CNI_PATH = '/usr/lib/cni';

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
}

function exec(bin: string, env: Record<string, string>, stdin: string): Promise<{ code: number; out: string; ms: number }> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve) => {
    const p = execFile(bin, [], { env, timeout: 60_000 }, (err, out) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: String(out), ms: Number(process.hrtime.bigint() - t0) / 1e6 });
    });
    p.stdin!.end(stdin);
  });
}

async function waitFor(path: string, proc: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!existsSync(path)) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`${what} did not start`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)');
  if (!existsSync(PLUGIN)) throw new Error(`${PLUGIN} missing: run npm run build:plugin`);
  if (!existsSync(join(CNI_PATH, 'host-local'))) throw new Error('host-local missing: apt-get install containernetworking-plugins');
  const dir = mkdtempSync(join(tmpdir(), 'vcni-bench-cni-'));
  const procs: ChildProcess[] = [];
  const namespaces: string[] = [];
  try {
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
    const agent = spawn(
      process.execPath,
      [...node, join(ROOT, 'agent/main.ts'), '--vpp-socket', api, '--cni-socket', cniSock, '--pods-file', podsFile, '--state-dir', join(dir, 'state'), '--metrics-port', '0', '--health-port', '0', '--log-level', 'warn'],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    procs.push(agent);
    await waitFor(cniSock, agent, 'agent');
    const ipamDir = join(dir, 'ipam');
    mkdirSync(ipamDir);
    const conf = (version = '1.1.0'): string =>
      JSON.stringify({ cniVersion: version, name: 'bench', type: 'vpp-cni', agentSocket: cniSock, ipam: { type: 'host-local', ranges: [[{ subnet: '10.96.0.0/16' }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: ipamDir } });
    const ptpConf = JSON.stringify({ cniVersion: '1.0.0', name: 'ptpbench', type: 'ptp', ipam: { type: 'host-local', ranges: [[{ subnet: '10.97.0.0/16' }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: ipamDir } });
    const total = PODS * 3 + BURST + 1; // + the warm-up pod
    for (let i = 0; i < total; i++) {
      const name = `vcbc-${process.pid}-${i}`;
      execFileSync('ip', ['netns', 'add', name]);
      namespaces.push(name);
    }
    let next = 0;
    const env = (cmd: string, pod: string, i: number): Record<string, string> => ({
      CNI_COMMAND: cmd,
      CNI_CONTAINERID: `bench${process.pid}n${String(i).padStart(6, '0')}`,
      CNI_NETNS: `/var/run/netns/${namespaces[i]}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH,
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=${pod}`,
      PATH: process.env.PATH ?? '/usr/bin:/bin',
    });

    // Warm-up: the agent's first ADD creates node objects.
    const w = next++;
    await exec(PLUGIN, env('ADD', 'tun', w), conf());
    await exec(PLUGIN, env('DEL', 'tun', w), conf());

    const startup: number[] = [];
    for (let i = 0; i < 30; i++) startup.push((await exec(PLUGIN, { CNI_COMMAND: 'VERSION', PATH: '/usr/bin' }, '{"cniVersion":"1.1.0"}')).ms);

    const rows: [string, number[], number[]][] = [];
    for (const [label, pod, bin, c] of [
      ['vpp-cni tun', 'tun', PLUGIN, conf()],
      ['vpp-cni tun + PBL memif', 'memif', PLUGIN, conf()],
      ['ptp + host-local (Debian)', 'ptp', join(CNI_PATH, 'ptp'), ptpConf],
    ] as const) {
      const add: number[] = [];
      const del: number[] = [];
      for (let k = 0; k < PODS; k++) {
        const i = next++;
        const a = await exec(bin, env('ADD', pod, i), c);
        if (a.code !== 0) throw new Error(`${label} ADD failed: ${a.out}`);
        add.push(a.ms);
        const d = await exec(bin, env('DEL', pod, i), c);
        if (d.code !== 0) throw new Error(`${label} DEL failed: ${d.out}`);
        del.push(d.ms);
      }
      rows.push([label, add, del]);
    }

    // Burst: BURST tun pods, CONC at a time.
    const burstIdx = Array.from({ length: BURST }, () => next++);
    const t0 = process.hrtime.bigint();
    let failed = 0;
    const failures: string[] = [];
    const queue = [...burstIdx];
    await Promise.all(
      Array.from({ length: CONC }, async () => {
        for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
          const r = await exec(PLUGIN, env('ADD', 'tun', i), conf());
          if (r.code !== 0) {
            failed++;
            failures.push(r.out.trim());
          }
        }
      }),
    );
    const burstS = Number(process.hrtime.bigint() - t0) / 1e9;
    for (const i of burstIdx) await exec(PLUGIN, env('DEL', 'tun', i), conf());

    const f = (x: number): string => `${x.toFixed(1)} ms`.padStart(10);
    console.log(`bench:cni — ${PODS} ADD+DEL per kind, exec of the binary to its exit (host-local IPAM included); node ${process.version}, ${new Date().toISOString()}`);
    console.log(`plugin start-up alone (VERSION): p50 ${pct(startup, 0.5).toFixed(1)} ms, p99 ${pct(startup, 0.99).toFixed(1)} ms`);
    console.log('                             ADD p50    ADD p99    DEL p50    DEL p99');
    for (const [label, add, del] of rows) console.log(`${label.padEnd(26)}${f(pct(add, 0.5))} ${f(pct(add, 0.99))} ${f(pct(del, 0.5))} ${f(pct(del, 0.99))}`);
    const ptp = rows[2]!;
    console.log(`ratio vpp-cni tun / ptp: ADD p50 ${(pct(rows[0]![1], 0.5) / pct(ptp[1], 0.5)).toFixed(1)}x, DEL p50 ${(pct(rows[0]![2], 0.5) / pct(ptp[2], 0.5)).toFixed(1)}x`);
    console.log(`burst: ${BURST} tun pods at concurrency ${CONC}: ${(BURST / burstS).toFixed(1)} pods/s (${burstS.toFixed(2)} s, ${failed} failed)`);
    for (const f of failures.slice(0, 3)) console.log(`  failed: ${f}`);
  } finally {
    for (const p of procs.reverse()) {
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
