/**
 * `npm run bench:runtime -- [--pods N]`
 * RunPodSandbox as kubelet sees it: containerd 1.6 + runc (Debian) through CRI, the sandbox started with its
 * network (loopback + the CNI ADD) until the call returns, then StopPodSandbox + RemovePodSandbox (CNI DEL
 * twice). vpp-cni (plugin and conflist from our install step, agent on the simulator with kernel taps)
 * beside Debian's bridge + host-local on the same containerd in the same run (a second runtime handler
 * with its own conflist), alternating pod by pod so load changes hit both alike; the difference is the
 * cost of our plugin. Needs root and the packages the real-runtime test needs (.ci/run installs them).
 */
import { sandboxConfig } from '../test/runtime/cri-client.js';
import { BRIDGE_HANDLER, runtimeMissing, startRuntimeEnv } from '../test/runtime/setup.js';

const args = process.argv.slice(2);
const arg = (name: string, d: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const PODS = arg('--pods', 30);
const ROOT = process.cwd();

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
}

function ms(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function main(): Promise<number> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    console.error('bench:runtime: containerd needs root');
    return 1;
  }
  const missing = runtimeMissing(ROOT);
  if (missing) {
    console.error(`bench:runtime: ${missing}`);
    return 1;
  }
  const env = await startRuntimeEnv(ROOT);
  const rows = new Map<string, { run: number[]; stop: number[]; remove: number[] }>();
  const flavours: [string, string][] = [
    ['vpp-cni (tun eth0)', ''],
    ['bridge + host-local (Debian)', BRIDGE_HANDLER],
  ];
  for (const [label] of flavours) rows.set(label, { run: [], stop: [], remove: [] });
  let failed = 0;
  try {
    const v = await env.containerd.cri.version();
    console.log(`${v.runtime_name} ${v.runtime_version} (CRI ${v.runtime_api_version}), runc, ${PODS} pods per network, alternating; warm-up pod first`);
    for (let i = -1; i < PODS; i++) {
      for (const [label, handler] of flavours) {
        const n = `b${i + 1}-${handler ? 'br' : 'vpp'}`;
        const config = sandboxConfig({ name: n, namespace: 'bench', uid: `uid-${process.pid}-${n}` });
        try {
          let t0 = process.hrtime.bigint();
          const id = await env.containerd.cri.runPodSandbox(config, handler);
          const run = ms(t0);
          t0 = process.hrtime.bigint();
          await env.containerd.cri.stopPodSandbox(id);
          const stop = ms(t0);
          t0 = process.hrtime.bigint();
          await env.containerd.cri.removePodSandbox(id);
          const remove = ms(t0);
          if (i >= 0) {
            const r = rows.get(label)!;
            r.run.push(run);
            r.stop.push(stop);
            r.remove.push(remove);
          }
        } catch (e) {
          failed++;
          console.error(`${label} pod ${n}: ${(e as Error).message}`);
        }
      }
    }
  } finally {
    const problems = await env.stop();
    if (problems.length) console.error(`cleanup: ${problems.join('; ')}`);
  }
  const f = (x: number): string => `${x.toFixed(1)} ms`;
  console.log('\n| network | RunPodSandbox p50 | p90 | StopPodSandbox p50 | RemovePodSandbox p50 |');
  console.log('|---|---|---|---|---|');
  for (const [label, r] of rows) console.log(`| ${label} | ${f(pct(r.run, 0.5))} | ${f(pct(r.run, 0.9))} | ${f(pct(r.stop, 0.5))} | ${f(pct(r.remove, 0.5))} |`);
  const vpp = rows.get(flavours[0]![0])!;
  const br = rows.get(flavours[1]![0])!;
  console.log(`\nvpp-cni minus bridge, RunPodSandbox p50: ${f(pct(vpp.run, 0.5) - pct(br.run, 0.5))}; StopPodSandbox p50: ${f(pct(vpp.stop, 0.5) - pct(br.stop, 0.5))}`);
  console.log(`failed: ${failed}`);
  return failed ? 1 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    console.error(`bench:runtime: ${(e as Error).stack ?? String(e)}`);
    process.exitCode = 1;
  },
);
