/**
 * The demo's node dataplane section (ctl/demo/node.ts) against the agent's real ctl server with a fake
 * NodeDataplaneView: printed only when GET /v1/node answers 200, with vpp-cnictl's own text, each
 * Service after it; a node dataplane that is off is one line and no step.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CtlNodeStatus, CtlServiceStatus, NodeDataplaneView } from '../../contract/ctl-api.js';
import { CtlServer } from '../../agent/observability/ctl-server.js';
import { PodErrorLog } from '../../agent/observability/pod-errors.js';
import { PodView, type PodViewDeps } from '../../agent/observability/pod-view.js';
import { cleanupNodeDataplane, renderNodeStatus, renderServiceStatus, showNodeDataplane, waitAgentReady, waitForServiceBackends } from '../../ctl/demo/node.js';
import { Printer, Steps } from '../../ctl/demo/print.js';

const STATUS: CtlNodeStatus = {
  nodeName: 'demo-node',
  mode: 'host-gw',
  servicesEnabled: true,
  natOutgoing: false,
  clusterCidrs: ['10.251.0.0/16'],
  serviceCidrs: ['10.96.0.0/12'],
  hostLink: {
    vppIf: 'host-vcni-hl0',
    hostIf: 'vcni-hl1',
    swIfIndex: 2,
    mtu: 1500,
    vpp: { name: 'host-vcni-hl0', addresses: ['169.254.100.1/30'], mtu: 1500, state: 'admin up, link up' },
    host: undefined,
  },
  routes: [{ node: 'node-b', podCidr: '10.251.2.0/24', via: '192.0.2.2', present: false }],
  skipped: [],
  translations: 1,
};
const SVC: CtlServiceStatus = { service: 'default/web', translations: [{ vip: '10.96.0.10', port: 80, protocol: 'TCP', id: 0, backends: ['10.251.0.5:8080'] }], warnings: [] };

function capture(): { p: Printer; steps: Steps; lines: string[] } {
  const lines: string[] = [];
  const p = new Printer({ line: (t = '') => void lines.push(t) });
  return { p, steps: new Steps(p), lines };
}

describe('demo: node dataplane section', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vcni-demo-node-'));
  const socket = join(dir, 'ctl', 'ctl.sock');
  let notReady: string | undefined;
  let webAnswers: CtlServiceStatus[] = [];
  let cleanups = 0;
  const deps: PodViewDeps = {
    nodeName: 'demo-node',
    records: () => [],
    errors: new PodErrorLog(),
    vpp: { state: 'connected' } as unknown as PodViewDeps['vpp'],
    notReady: () => notReady,
    interfaceMode: () => ({ setting: 'tun', mode: 'tun' }),
    isNetns: () => Promise.resolve(false),
  };
  const server = new CtlServer(socket, new PodView(deps), { info: () => undefined, warn: () => undefined });
  const view: NodeDataplaneView = {
    status: () => Promise.resolve(STATUS),
    service: (ns, name) => Promise.resolve(ns === 'default' && name === 'web' ? (webAnswers.length > 1 ? webAnswers.shift()! : (webAnswers[0] ?? SVC)) : undefined),
    counts: () => ({ nodesRouted: 0, translations: 1 }),
    cleanup: () => Promise.resolve(++cleanups === 1 ? { removed: ['host link host-vcni-hl0 (sw_if_index 2, vcni:node:hostlink)'], errors: [] } : { removed: [], errors: ['cnat translation 0: VPP said NO_SUCH_ENTRY'] }),
  };

  beforeAll(() => server.start());
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('off (404): one line, no header, no step; returns false', async () => {
    server.bindNode(undefined);
    const c = capture();
    expect(await showNodeDataplane(c.p, c.steps, socket, ['default/web'])).toBe(false);
    expect(c.lines).toEqual([expect.stringMatching(/^ {3}\(node dataplane: the node dataplane is off on this node .*; not shown\)$/)]);
    expect(c.steps.all).toEqual([]);
  });

  test('on: header, `vpp-cnictl node` with its text and notes, each Service; a Service unknown is a failed step', async () => {
    server.bindNode(view);
    const c = capture();
    expect(await showNodeDataplane(c.p, c.steps, socket, ['default/web', 'default/gone'])).toBe(true);
    const text = c.lines.join('\n');
    expect(text).toMatch(/^== 1\. node dataplane: host link, routes to other nodes, Services =+$/m);
    expect(c.lines).toContain('   $ vpp-cnictl node');
    expect(c.lines).toContain('     node demo-node: cross-node host-gw, Services on, egress NAT off');
    expect(text).toMatch(/^ {5}Host link: VPP host-vcni-hl0 \(sw_if_index 2\) <-> host vcni-hl1, MTU 1500 — MISSING on the host side$/m);
    expect(text).toMatch(/^ {7}node-b\s+10\.251\.2\.0\/24\s+192\.0\.2\.2\s+-\s+MISSING$/m);
    expect(c.lines).toContain("   note: 1 route(s) to other nodes are wanted but not in the host's table (MISSING above)");
    expect(c.lines).toContain('   note: the host link is not complete: pods cannot reach the host or other nodes');
    expect(c.lines).toContain('   $ vpp-cnictl service default/web');
    expect(c.lines).toContain('       10.96.0.10:80/TCP  VPP translation 0, 1 backend(s)');
    expect(c.steps.all.map((s) => [s.name, s.ok])).toEqual([
      ['vpp-cnictl node', true],
      ['vpp-cnictl service default/web', true],
      ['vpp-cnictl service default/gone', false],
    ]);
    expect(c.steps.all[2]!.detail).toBe("service default/gone: not known to this node's agent (no such Service, or not yet seen)");
  });

  test('renderers alone print what vpp-cnictl prints, indented under the command', () => {
    const c = capture();
    renderServiceStatus(c.p, SVC);
    expect(c.lines).toEqual(['   $ vpp-cnictl service default/web', '     Service default/web: 1 translation(s)', '       10.96.0.10:80/TCP  VPP translation 0, 1 backend(s)', '         -> 10.251.0.5:8080']);
    const d = capture();
    renderNodeStatus(d.p, { ...STATUS, routes: [], hostLink: { ...STATUS.hostLink!, host: { name: 'vcni-hl1', addresses: [], mtu: 1500, state: 'UP' } } });
    expect(d.lines.filter((l) => l.startsWith('   note:'))).toEqual([]);
  });

  test('an agent that cannot be reached is a failed step, not a silent skip', async () => {
    const c = capture();
    expect(await showNodeDataplane(c.p, c.steps, join(dir, 'missing.sock'), [])).toBe(false);
    expect(c.steps.all).toEqual([{ name: 'vpp-cnictl node', ok: false, detail: expect.stringContaining('cannot reach the agent') }]);
  });

  test('waitForServiceBackends: polls until VPP holds a translation with exactly those backends (order aside)', async () => {
    server.bindNode(view);
    const skipped: CtlServiceStatus = { service: 'default/web', translations: [], skipped: '10.96.0.10:80/TCP: no ready endpoint', warnings: [] };
    const desired: CtlServiceStatus = { ...SVC, translations: [{ ...SVC.translations[0]!, id: undefined, backends: ['10.251.0.6:8080', '10.251.0.5:8080'] }] };
    const done: CtlServiceStatus = { ...SVC, translations: [{ ...SVC.translations[0]!, backends: ['10.251.0.6:8080', '10.251.0.5:8080'] }] };
    webAnswers = [skipped, desired, done];
    const s = await waitForServiceBackends(socket, 'default/web', ['10.251.0.5:8080', '10.251.0.6:8080'], 10_000);
    expect(s).toEqual(done);
    expect(webAnswers).toEqual([done]);
  });

  test('waitForServiceBackends: bounded; the error names the Service, the backends wanted and what was last seen', async () => {
    server.bindNode(view);
    webAnswers = [SVC];
    await expect(waitForServiceBackends(socket, 'default/web', ['10.251.0.9:8080'], 300)).rejects.toThrow(
      'service default/web: VPP has no translation to 10.251.0.9:8080 after 0.3 s (last seen: 10.96.0.10:80 -> 10.251.0.5:8080)',
    );
    await expect(waitForServiceBackends(socket, 'default/gone', ['10.251.0.9:8080'], 300)).rejects.toThrow(/last seen: service default\/gone: not known/);
    webAnswers = [];
  });

  test('waitAgentReady: undefined once GET /v1/pods says ready; the last reason when it never does', async () => {
    notReady = 'recovering: reconciling the checkpoint with VPP';
    expect(await waitAgentReady(socket, 300)).toMatch(/recovering: reconciling the checkpoint with VPP/);
    setTimeout(() => (notReady = undefined), 100);
    expect(await waitAgentReady(socket, 10_000)).toBeUndefined();
    expect(await waitAgentReady(join(dir, 'missing.sock'), 200)).toContain('cannot reach the agent');
  });

  test('cleanupNodeDataplane: `vpp-cnictl node cleanup` as typed, the report as vpp-cnictl prints it, returned', async () => {
    server.bindNode(view);
    const c = capture();
    const r = await cleanupNodeDataplane(c.p, socket);
    expect(r).toEqual({ removed: ['host link host-vcni-hl0 (sw_if_index 2, vcni:node:hostlink)'], errors: [] });
    expect(c.lines).toEqual([
      '   $ vpp-cnictl node cleanup',
      '     node cleanup: 1 object(s) removed, 0 error(s)',
      '       removed host link host-vcni-hl0 (sw_if_index 2, vcni:node:hostlink)',
      '     The agent programs nothing more on this node until it restarts.',
    ]);
    const d = capture();
    expect((await cleanupNodeDataplane(d.p, socket)).errors).toEqual(['cnat translation 0: VPP said NO_SUCH_ENTRY']);
    expect(d.lines).toContain('       ERROR cnat translation 0: VPP said NO_SUCH_ENTRY');
  });
});
