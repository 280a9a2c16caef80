/**
 * `npm run bench:node -- [--services N] [--endpoints N] [--changes N] [--nodes N]`: the node dataplane's
 * figures against the simulator (a separate process):
 *  1. cold start: N Services × M ready endpoints (default 1,000 × 10) from nothing to every translation in
 *     VPP — desired state + cnat_translation_update for each — wall time and VPP calls per second, next to
 *     the rate of the same N updates sent straight through the client (the API's own sync rate, same run);
 *  2. change → VPP: K EndpointSlice changes (default 1,000), one at a time, through the fake apiserver, the
 *     informers and the reconciler: latency at the agent (watch event received → VPP's reply) and end to
 *     end (apiserver write → VPP's reply), p50 / p99;
 *  3. routes for P nodes (default 500): desired state, and (as root) the kernel routes in a scratch netns.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient, parseKubeconfig } from '../agent/kube/client.js';
import { allModules, cnat } from '../vpp-api/generated/index.js';
import { VppClient } from '../vpp-api/client/index.js';
import { NodeDataplaneSource } from '../agent/kube/node-dataplane-source.js';
import { HostCmd } from '../agent/linux/host-cmd.js';
import { HostRoutes } from '../agent/linux/host-routes.js';
import { endpointSliceSchema, nodeSchema, serviceSchema, type KubeEndpointSlice, type KubeNode, type KubeService } from '../agent/node/kube-objects.js';
import { desiredNodeRoutes } from '../agent/node/node-routes.js';
import { NodeReconciler } from '../agent/node/reconciler.js';
import { FakeApiServer } from '../test/helpers/fake-apiserver.js';

const args = process.argv.slice(2);
const num = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const SERVICES = num('services', 1000);
const ENDPOINTS = num('endpoints', 10);
const CHANGES = num('changes', 1000);
const NODES = num('nodes', 500);

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined };

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
}

const svcIp = (i: number): string => `10.96.${(i >> 8) & 255}.${i & 255}`;
const epIp = (i: number, j: number): string => `10.${128 + ((i * ENDPOINTS + j) >> 16)}.${((i * ENDPOINTS + j) >> 8) & 255}.${(i * ENDPOINTS + j) & 255}`;

function serviceRaw(i: number): object {
  return { metadata: { name: `s${i}`, namespace: 'bench' }, spec: { clusterIP: svcIp(i), clusterIPs: [svcIp(i)], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] } };
}
function sliceRaw(i: number, gen = 0): object {
  return {
    metadata: { name: `s${i}-1`, namespace: 'bench', labels: { 'kubernetes.io/service-name': `s${i}` } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080 + (gen % 2), protocol: 'TCP' }],
    endpoints: Array.from({ length: ENDPOINTS }, (_, j) => ({ addresses: [epIp(i, j)], conditions: { ready: true }, nodeName: `n${j % 3}` })),
  };
}

async function startSim(socket: string): Promise<() => Promise<void>> {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const simMain = new URL(`../vpp-api/sim/main${ext}`, import.meta.url).pathname;
  const sim = spawn(process.execPath, [...process.execArgv, simMain, '--socket', socket], { stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 10_000;
  while (!existsSync(socket)) {
    if (Date.now() > deadline) throw new Error('simulator did not start within 10 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  return async () => {
    sim.kill('SIGTERM');
    await new Promise((r) => sim.once('exit', r));
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vcni-bench-node-'));
  const socket = join(dir, 'api.sock');
  const stopSim = await startSim(socket);
  const vpp = new VppClient({ socketPath: socket, modules: allModules, healthCheck: false, requestTimeoutMs: 10_000 });
  await vpp.connect();
  const log = quiet;
  try {
    // ---- 1. the API's own rate, then the agent's cold start ----
    const services: KubeService[] = Array.from({ length: SERVICES }, (_, i) => serviceSchema.parse(serviceRaw(i)));
    const slices: KubeEndpointSlice[] = Array.from({ length: SERVICES }, (_, i) => endpointSliceSchema.parse(sliceRaw(i)));
    const paths = (i: number) => Array.from({ length: ENDPOINTS }, (_, j) => ({ dst_ep: { addr: epIp(i, j), port: 8080, sw_if_index: 0xffffffff }, src_ep: { addr: '0.0.0.0', sw_if_index: 0xffffffff } }));
    let t0 = performance.now();
    const ids = await Promise.all(services.map((_, i) => vpp.request(cnat.cnat_translation_update, { translation: { vip: { addr: svcIp(i), port: 80, sw_if_index: 0xffffffff }, ip_proto: 6, flags: 9, paths: paths(i) } })));
    const rawMs = performance.now() - t0;
    await Promise.all(ids.map((r) => vpp.request(cnat.cnat_translation_del, { id: r.id })));

    const routes = new HostRoutes(new HostCmd({ netns: undefined }));
    const ctx = { vpp, routes, log };
    const noRoutes = { ...ctx, routes: { list: async () => [], sync: async () => ({ added: [], changed: [], removed: [], refused: [] }), remove: async () => false, removeAll: async () => [] } as unknown as HostRoutes };
    const view = { nodes: (): KubeNode[] => [], services: () => services, slices: () => slices };
    const cold = new NodeReconciler(noRoutes, view, { nodeName: 'n0', mode: 'none', servicesEnabled: true, hostLinkPrefixes: [] });
    t0 = performance.now();
    await cold.runOnce();
    const coldMs = performance.now() - t0;
    const inVpp = (await vpp.dumpAll(cnat.cnat_translation_dump, {})).length;
    if (inVpp !== SERVICES) throw new Error(`cold start left ${inVpp} translations in VPP, expected ${SERVICES}`);
    for (const m of cold.translations()) await vpp.request(cnat.cnat_translation_del, { id: m.id });

    // ---- 2. EndpointSlice change → VPP through the fake apiserver and the informers ----
    const api = await FakeApiServer.start();
    const n = Math.min(SERVICES, 200);
    for (let i = 0; i < n; i++) {
      api.addObject('services', serviceRaw(i) as never);
      api.addObject('endpointslices', sliceRaw(i) as never);
    }
    const kc = new KubeClient(parseKubeconfig(api.kubeconfigFile(), '/'));
    const src = new NodeDataplaneSource({ kc, log, services: true });
    src.start();
    if (!(await src.waitForSync(30_000))) throw new Error('informers did not sync');
    const rec = new NodeReconciler(noRoutes, { nodes: () => src.nodes.list(), services: () => src.services!.list(), slices: () => src.slices!.list() }, { nodeName: 'n0', mode: 'none', servicesEnabled: true, hostLinkPrefixes: [] });
    src.onChange((c) => rec.trigger(undefined, c));
    rec.trigger();
    await rec.idle();
    while (api.openWatches < 3) await new Promise((r) => setTimeout(r, 10));
    rec.stats.latencies.length = 0;
    const e2e: number[] = [];
    for (let k = 0; k < CHANGES; k++) {
      const i = k % n;
      const before = rec.stats.translationUpdates;
      const w0 = performance.now();
      // Each round over the Services flips their target port: every change is a real change of backends.
      api.updateObject('endpointslices', 'bench', `s${i}-1`, (s) => Object.assign(s, sliceRaw(i, Math.floor(k / n) + 1)));
      const give = performance.now() + 5000;
      while (rec.stats.translationUpdates === before) {
        if (performance.now() > give) throw new Error(`change ${k} did not reach VPP within 5 s (last error: ${rec.stats.lastError ?? 'none'}; runs ${rec.stats.runs})`);
        await new Promise((r) => setImmediate(r));
      }
      await rec.idle();
      e2e.push(performance.now() - w0);
    }
    const agent = rec.stats.latencies.slice();
    rec.close();
    await src.close();
    await api.stop();

    // ---- 3. routes for NODES nodes ----
    const nodes: KubeNode[] = Array.from({ length: NODES + 1 }, (_, i) =>
      nodeSchema.parse({ metadata: { name: `n${i}` }, spec: { podCIDRs: [`10.${64 + (i >> 8)}.${i & 255}.0/24`] }, status: { addresses: [{ type: 'InternalIP', address: `192.168.${100 + (i >> 8)}.${i & 255}` }] } }),
    );
    t0 = performance.now();
    const d = desiredNodeRoutes(nodes, { selfName: 'n0', mode: 'host-gw', hostLinkPrefixes: ['169.254.100.0/30'] });
    const desiredMs = performance.now() - t0;
    let kernelMs: number | undefined;
    if (process.getuid?.() === 0) {
      const ns = `vcni-bench-node-${process.pid}`;
      execFileSync('ip', ['netns', 'add', ns]);
      try {
        const run = (a: string[]) => execFileSync('ip', ['-n', ns, ...a]);
        run(['link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1']);
        run(['link', 'set', 'up0', 'up']);
        run(['link', 'set', 'up1', 'up']);
        run(['addr', 'add', '192.168.96.1/20', 'dev', 'up0']);
        const hr = new HostRoutes(new HostCmd({ netns: ns }));
        t0 = performance.now();
        const r = await hr.sync([...d.routes.values()].map((x) => ({ dst: x.podCidr, via: x.via })));
        kernelMs = performance.now() - t0;
        if (r.added.length !== NODES) throw new Error(`routes: ${r.added.length} added, ${r.refused.length} refused (${r.refused[0]?.reason ?? ''})`);
      } finally {
        execFileSync('ip', ['netns', 'del', ns]);
      }
    }

    const f = (x: number): string => x.toFixed(1);
    console.log(`bench:node  (simulator in its own process; ${SERVICES} Services × ${ENDPOINTS} endpoints; ${CHANGES} changes; ${NODES} nodes)`);
    console.log(`cold start: ${f(coldMs)} ms for ${SERVICES} translations = ${Math.round((SERVICES / coldMs) * 1000)} VPP calls/s (desired state + updates)`);
    console.log(`  API's own rate, same run: ${f(rawMs)} ms = ${Math.round((SERVICES / rawMs) * 1000)} cnat_translation_update/s (pipelined, no agent)`);
    console.log(`EndpointSlice change → VPP (${CHANGES}, one at a time over ${n} Services): at the agent p50 ${f(pct(agent, 0.5))} ms, p99 ${f(pct(agent, 0.99))} ms; end to end (apiserver write → VPP reply) p50 ${f(pct(e2e, 0.5))} ms, p99 ${f(pct(e2e, 0.99))} ms`);
    console.log(`routes for ${NODES} nodes: desired state ${f(desiredMs)} ms${kernelMs !== undefined ? `; kernel routes (one ip -batch) ${f(kernelMs)} ms` : '; kernel routes skipped (not root)'}`);
  } finally {
    await vpp.close();
    await stopSim();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error((e as Error).stack ?? String(e));
  process.exit(1);
});
