/**
 * The node dataplane end to end on one "node": the fake apiserver serves Nodes, Services and EndpointSlices,
 * the informers feed the reconciler, which programs the simulator's cnat translations and real kernel routes
 * in a network namespace standing for the node's host (host-gw). Churn, agent restart (adopted, zero changes),
 * VPP restart (re-created), the sweep of a stale translation and route, never a translation without paths,
 * and uninstall (nothing of ours left).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient, parseKubeconfig } from '../../agent/kube/client.js';
import { VppClient } from '../../vpp-api/client/index.js';
import { allModules, cnat } from '../../vpp-api/generated/index.js';
import { VppSimulator, noVhostNet } from '../../vpp-api/sim/index.js';
import { NodeDataplaneSource } from '../../agent/kube/node-dataplane-source.js';
import { HostCmd } from '../../agent/linux/host-cmd.js';
import { HostRoutes } from '../../agent/linux/host-routes.js';
import { NodeReconciler } from '../../agent/node/reconciler.js';
import type { NodeCtx } from '../../agent/node/context.js';
import { FakeApiServer } from '../helpers/fake-apiserver.js';
import { createNetns, deleteAllNetns, haveRoot, ipj, type TestNetns } from '../helpers/netns.js';
import { until } from '../helpers/until.js';

const d = haveRoot() ? describe : describe.skip;
if (!haveRoot()) process.stderr.write('node reconciler: not root; network namespace test skipped\n');

const log = { debug: () => undefined, info: () => undefined, warn: jest.fn() };
let dir = '';
let api: FakeApiServer;
let sim: VppSimulator;
let vpp: VppClient;
let ns: TestNetns;
const stops: (() => Promise<void> | void)[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vcni-node-rec-'));
});
afterAll(async () => {
  for (const s of stops.reverse()) await s();
  deleteAllNetns();
  rmSync(dir, { recursive: true, force: true });
});

function sh(argv: string[]): void {
  execFileSync('ip', ['netns', 'exec', ns.name, ...argv], { timeout: 10_000, env: { ...process.env, LC_ALL: 'C' } });
}

const nodeObj = (name: string, cidrs: string[], ip: string) => ({ metadata: { name }, spec: { podCIDR: cidrs[0], podCIDRs: cidrs }, status: { addresses: [{ type: 'InternalIP', address: ip }] } });
const sliceObj = (svc: string, name: string, port: number, ips: { ip: string; ready?: boolean }[]) => ({
  metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': svc } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port, protocol: 'TCP' }],
  endpoints: ips.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready ?? true } })),
});

async function vppTranslations(): Promise<string[]> {
  const all = await vpp.dumpAll(cnat.cnat_translation_dump, {});
  return all.map((t) => `${t.translation.id} ${t.translation.vip.addr}:${t.translation.vip.port} -> ${t.translation.paths.map((p) => `${p.dst_ep.addr}:${p.dst_ep.port}`).join(',')}`).sort();
}

function ourRoutes(): string[] {
  return (ipj(ns, ['-4', 'route', 'show', 'proto', '199']) as { dst: string; gateway?: string }[]).map((r) => `${r.dst} via ${r.gateway ?? '-'}`).sort();
}

d('node reconciler (host-gw) against the simulator, a netns and the fake apiserver', () => {
  let ctx: NodeCtx;
  let src: NodeDataplaneSource;
  let rec: NodeReconciler;
  const warnings: string[] = [];

  function startAgent(): NodeReconciler {
    const r = new NodeReconciler(ctx, { nodes: () => src.nodes.list(), services: () => src.services!.list(), slices: () => src.slices!.list() }, {
      nodeName: 'a',
      mode: 'host-gw',
      servicesEnabled: true,
      hostLinkPrefixes: ['169.254.100.0/30'],
      onWarning: (s, reason) => warnings.push(`${s}: ${reason}`),
    });
    return r;
  }

  beforeAll(async () => {
    api = await FakeApiServer.start();
    stops.push(() => api.stop());
    sim = await VppSimulator.start({ socketPath: join(dir, 'api.sock'), host: noVhostNet() });
    stops.push(() => sim.stop());
    vpp = new VppClient({ socketPath: sim.socketPath, modules: allModules, healthCheck: false, requestTimeoutMs: 5000, backoff: { initialDelayMs: 20, maxDelayMs: 200 } });
    await vpp.connect();
    stops.push(() => vpp.close());
    ns = createNetns('rec');
    sh(['ip', 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1']);
    sh(['ip', 'link', 'set', 'up0', 'up']);
    sh(['ip', 'link', 'set', 'up1', 'up']);
    sh(['ip', 'addr', 'add', '192.168.60.1/24', 'dev', 'up0']);
    ctx = { vpp, routes: new HostRoutes(new HostCmd({ netns: ns.name })), log };
    const kc = new KubeClient(parseKubeconfig(api.kubeconfigFile(), '/'));
    api.addObject('nodes', nodeObj('a', ['10.244.0.0/24'], '192.168.60.1'));
    api.addObject('nodes', nodeObj('b', ['10.244.1.0/24'], '192.168.60.2'));
    api.addObject('nodes', nodeObj('c', [], '192.168.60.3'));
    api.addObject('services', { metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: '10.96.0.20', sessionAffinity: 'ClientIP', ports: [{ name: 'http', port: 80, targetPort: 'http' }] } });
    api.addObject('endpointslices', sliceObj('web', 'web-1', 8080, [{ ip: '10.244.0.5' }, { ip: '10.244.1.7' }]));
    src = new NodeDataplaneSource({ kc, log, services: true, backoff: { initialMs: 20, maxMs: 200 } });
    stops.push(() => src.close());
    src.start();
    expect(await src.waitForSync(5000)).toBe(true);
    rec = startAgent();
    stops.push(() => rec.close());
    src.onChange((c) => rec.trigger(undefined, c));
    rec.trigger();
    await rec.idle();
  });

  test('initial sync: a translation with the ready endpoints, a route to node b, node c skipped with its reason, one affinity warning', async () => {
    expect(await vppTranslations()).toEqual(['0 10.96.0.20:80 -> 10.244.0.5:8080,10.244.1.7:8080']);
    expect(ourRoutes()).toEqual(['10.244.1.0/24 via 192.168.60.2']);
    expect(log.warn).toHaveBeenCalledWith({ subject: 'node c', reason: 'no podCIDRs in its spec' }, 'node c not programmed: no podCIDRs in its spec');
    expect(warnings).toEqual([expect.stringMatching(/^default\/web: sessionAffinity ClientIP is not supported/)]);
  });

  test('churn: endpoints change (same id), podCIDR change, node add/remove, a Service without ready endpoints loses its translation — never 0 paths', async () => {
    api.updateObject('endpointslices', 'default', 'web-1', (s) => Object.assign(s, sliceObj('web', 'web-1', 8080, [{ ip: '10.244.1.7' }, { ip: '10.244.1.8' }])));
    await until('endpoints updated', async () => (await vppTranslations()).join() === '0 10.96.0.20:80 -> 10.244.1.7:8080,10.244.1.8:8080');
    api.updateObject('nodes', undefined, 'b', (n) => Object.assign(n, nodeObj('b', ['10.244.11.0/24'], '192.168.60.2')));
    api.addObject('nodes', nodeObj('d', ['10.244.3.0/24'], '192.168.60.4'));
    await until('routes follow', () => ourRoutes().join() === '10.244.11.0/24 via 192.168.60.2,10.244.3.0/24 via 192.168.60.4');
    api.deleteObject('nodes', undefined, 'd');
    await until('node d route removed', () => ourRoutes().join() === '10.244.11.0/24 via 192.168.60.2');
    api.updateObject('endpointslices', 'default', 'web-1', (s) => Object.assign(s, sliceObj('web', 'web-1', 8080, [{ ip: '10.244.1.7', ready: false }])));
    await until('translation removed', async () => (await vppTranslations()).length === 0);
    expect(sim.aborts).toEqual([]);
    api.updateObject('endpointslices', 'default', 'web-1', (s) => Object.assign(s, sliceObj('web', 'web-1', 8080, [{ ip: '10.244.1.9' }])));
    await until('translation back', async () => (await vppTranslations()).length === 1);
    expect(warnings).toHaveLength(1);
  });

  test('agent restart: a new reconciler adopts what VPP and the host hold and changes nothing', async () => {
    await rec.idle();
    rec.close();
    const before = { updates: sim.requestCounts.get('cnat_translation_update') ?? 0, dels: sim.requestCounts.get('cnat_translation_del') ?? 0, routes: ourRoutes() };
    rec = startAgent();
    stops.push(() => rec.close());
    src.onChange((c) => rec.trigger(undefined, c));
    expect(await rec.adopt()).toEqual({ translations: 1, routes: 1 });
    rec.trigger();
    await rec.idle();
    expect(rec.stats).toMatchObject({ translationUpdates: 0, translationDeletes: 0, routeChanges: 0 });
    expect(sim.requestCounts.get('cnat_translation_update') ?? 0).toBe(before.updates);
    expect(sim.requestCounts.get('cnat_translation_del') ?? 0).toBe(before.dels);
    expect(ourRoutes()).toEqual(before.routes);
  });

  test('sweep: a stale translation in VPP and a stale route of ours are removed; a foreign route stays', async () => {
    await vpp.request(cnat.cnat_translation_update, {
      translation: { vip: { addr: '10.96.9.9', port: 99, sw_if_index: 0xffffffff }, ip_proto: 6, paths: [{ dst_ep: { addr: '10.244.9.9', port: 99, sw_if_index: 0xffffffff }, src_ep: { addr: '0.0.0.0', sw_if_index: 0xffffffff } }] },
    });
    sh(['ip', 'route', 'add', '10.244.99.0/24', 'via', '192.168.60.99', 'proto', '199']);
    sh(['ip', 'route', 'add', '10.244.98.0/24', 'via', '192.168.60.98', 'proto', 'static']);
    rec.close();
    rec = startAgent();
    stops.push(() => rec.close());
    src.onChange((c) => rec.trigger(undefined, c));
    await rec.adopt();
    rec.trigger();
    await rec.idle();
    expect((await vppTranslations()).map((t) => t.split(' ')[1])).toEqual(['10.96.0.20:80']);
    expect(ourRoutes()).toEqual(['10.244.11.0/24 via 192.168.60.2']);
    expect((ipj(ns, ['-4', 'route', 'show', 'proto', 'static']) as { dst: string }[]).map((r) => r.dst)).toEqual(['10.244.98.0/24']);
  });

  test('periodic resync: a route of ours deleted by hand comes back without any cluster change', async () => {
    const stop = rec.startResync(100);
    try {
      sh(['ip', 'route', 'del', '10.244.11.0/24', 'proto', '199']);
      expect(ourRoutes()).toEqual([]);
      await until('route repaired', () => ourRoutes().join() === '10.244.11.0/24 via 192.168.60.2');
    } finally {
      stop();
    }
  });

  test('VPP restart: the translations are re-created', async () => {
    const off = vpp.onRestart(() => rec.vppRestarted());
    stops.push(off);
    sim.restart();
    await until('translation re-created', async () => {
      try {
        return (await vppTranslations()).length === 1;
      } catch {
        return false;
      }
    }, 10_000);
    expect(ourRoutes()).toEqual(['10.244.11.0/24 via 192.168.60.2']);
  });

  test('uninstall: nothing of ours is left', async () => {
    rec.close();
    await src.close();
    await rec.idle();
    for (const t of await vpp.dumpAll(cnat.cnat_translation_dump, {})) await vpp.request(cnat.cnat_translation_del, { id: t.translation.id });
    await ctx.routes.removeAll();
    expect(await vppTranslations()).toEqual([]);
    expect(ourRoutes()).toEqual([]);
    expect((ipj(ns, ['-4', 'route', 'show', 'proto', 'static']) as { dst: string }[]).map((r) => r.dst)).toEqual(['10.244.98.0/24']);
  });
});
