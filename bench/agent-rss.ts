/**
 * `tsx bench/agent-rss.ts [-- --flags "--max-semi-space-size=1" ...]`: resident memory of an idle agent
 * (bundled JS split at dynamic imports as the image's tsc output loads it; simulator in another process)
 * for each set of node flags given, in both pod-source modes: a pods file, and Kubernetes (list + watch
 * against the test suite's fake apiserver, through a kubeconfig) with the given number of pods on the node.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { FakeApiServer } from '../test/helpers/fake-apiserver.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flagSets: string[][] = [[]];
let pods = 250;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--flags') flagSets.push(args[++i]!.split(' ').filter(Boolean));
  if (args[i] === '--pods') pods = Number(args[++i]);
}

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const dir = mkdtempSync(join(tmpdir(), 'vcni-agent-rss-'));
// split at dynamic imports, as the tsc output the image runs is: the Kubernetes client is loaded only in kube mode
const outDir = join(ROOT, 'node_modules', '.cache', 'vpp-cni-bench', 'agent-rss');
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
await build({ entryPoints: { main: join(ROOT, 'agent', 'main.ts') }, bundle: true, splitting: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outdir: outDir, outExtension: { '.js': '.mjs' }, logLevel: 'silent' });
const agentJs = join(outDir, 'main.mjs');
const api = join(dir, 'api.sock');
const sim = spawn(process.execPath, [...process.execArgv, join(ROOT, 'vpp-api/sim/main.ts'), '--socket', api], { stdio: ['ignore', 'ignore', 'inherit'] });
const apiserver = await FakeApiServer.start();
try {
  for (let i = 0; i < pods; i++) {
    apiserver.addPod({ metadata: { name: `p${i}`, namespace: 'bench', annotations: { 'cni.projectcalico.org/vppExtraMemifPorts': 'tcp:4444-20000' } }, spec: { nodeName: 'n', containers: [{ name: 'c', image: 'busybox' }] } });
  }
  writeFileSync(join(dir, 'kubeconfig'), apiserver.kubeconfigFile());
  await until(() => existsSync(api), 30_000, 'simulator');
  writeFileSync(join(dir, 'pods.json'), JSON.stringify({ items: [] }));
  for (const flags of flagSets) {
    for (const kube of [false, true]) {
      const cni = join(dir, `cni-${Math.random().toString(36).slice(2)}`, 'agent.sock');
      const source = kube ? ['--kubeconfig', join(dir, 'kubeconfig')] : ['--pods-file', join(dir, 'pods.json')];
      const a = spawn(
        process.execPath,
        [...flags, agentJs, '--vpp-socket', api, '--cni-socket', cni, ...source, '--state-dir', join(dir, `state-${Date.now()}`), '--metrics-port', '0', '--health-port', '0', '--node-name', 'n'],
        { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
      );
      try {
        await until(() => existsSync(cni) || a.exitCode !== null, 60_000, 'agent');
        await new Promise((r) => setTimeout(r, 3000));
        if (kube && !apiserver.requests.some((r) => r.path === '/api/v1/pods' && r.query.watch === 'true')) throw new Error('the agent did not list and watch its pods');
        console.log(`flags [${flags.join(' ')}], ${kube ? `Kubernetes (${pods} pods on the node)` : 'pods file'}: idle RSS ${rss(a.pid!).toFixed(0)} MiB`);
      } finally {
        a.kill('SIGTERM');
        await new Promise((r) => (a.exitCode !== null ? r(undefined) : a.once('exit', r)));
      }
    }
  }
} finally {
  await apiserver.stop();
  sim.kill('SIGTERM');
  await new Promise((r) => (sim.exitCode !== null ? r(undefined) : sim.once('exit', r)));
  rmSync(dir, { recursive: true, force: true });
}
