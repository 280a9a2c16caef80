/**
 * `vpp-cnictl node`, `node cleanup` and `service <ns>/<name>` against the agent's real ctl server (its unix
 * socket in a temp directory) serving a fake NodeDataplaneView: text and JSON output, exit codes, the
 * server's methods and input checks (404 while the node dataplane is off, 400 on a bad name, 405 on a wrong
 * method, 409 on a second cleanup meanwhile), and one run of the vpp-cnictl process.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CtlNodeCleanupReport, CtlNodeStatus, CtlServiceStatus, NodeDataplaneView } from '../../contract/ctl-api.js';
import { CtlServer } from '../../agent/observability/ctl-server.js';
import { PodErrorLog } from '../../agent/observability/pod-errors.js';
import { PodView, type PodViewDeps } from '../../agent/observability/pod-view.js';
import { EXIT } from '../../ctl/exit-codes.js';
import { until } from '../helpers/until.js';
import { formatCleanupReport, formatNodeStatus, formatServiceStatus, runNodeCommand, vipPort } from '../../ctl/node-command.js';

const silent = { info: () => undefined, warn: () => undefined };

function status(): CtlNodeStatus {
  return {
    nodeName: 'node-a',
    mode: 'vxlan',
    servicesEnabled: true,
    natOutgoing: true,
    clusterCidrs: ['10.244.0.0/16', 'fd00:10:244::/56'],
    serviceCidrs: ['10.96.0.0/12'],
    hostLink: {
      vppIf: 'host-vcni-hl0',
      hostIf: 'vcni-hl1',
      swIfIndex: 5,
      mtu: 1500,
      vpp: { name: 'host-vcni-hl0', addresses: ['169.254.100.1/30', 'fd00:vcni::1/126'], mtu: 1500, state: 'admin up, link up', mac: '02:fe:aa:00:00:01' },
      host: { name: 'vcni-hl1', addresses: ['169.254.100.2/30'], mtu: 1400, state: 'UP' },
    },
    routes: [
      { node: 'node-c', podCidr: '10.244.3.0/24', via: '10.244.3.0', dev: 'vcni-vxlan', present: false },
      { node: 'node-b', podCidr: '10.244.2.0/24', via: '10.244.2.0', dev: 'vcni-vxlan', present: true },
    ],
    skipped: [
      { subject: 'node/node-d', reason: 'no InternalIP' },
      { subject: 'service/default/headless', reason: 'headless Service (no ClusterIP)' },
    ],
    translations: 42,
    lastSyncLatencyMs: 9.54,
  };
}

const WEB: CtlServiceStatus = {
  service: 'default/web',
  translations: [
    { vip: '10.96.0.10', port: 80, protocol: 'TCP', id: 4, backends: ['10.244.1.5:8080', '10.244.2.7:8080'] },
    { vip: 'fd00:96::10', port: 80, protocol: 'TCP', backends: [] },
  ],
  warnings: ['sessionAffinity ClientIP is programmed without affinity'],
};

class FakeNodeView implements NodeDataplaneView {
  current: unknown = status();
  services = new Map<string, CtlServiceStatus>([['default/web', WEB]]);
  report: CtlNodeCleanupReport = { removed: ['host link host-vcni-hl0/vcni-hl1', 'route 10.244.2.0/24 (node-b)', 'cnat translation 4 (default/web 10.96.0.10:80/TCP)'], errors: [] };
  cleanups = 0;
  /** When set, cleanup() waits for it. */
  gate: Promise<void> | undefined;
  failStatus: Error | undefined;

  status(): Promise<CtlNodeStatus> {
    return this.failStatus ? Promise.reject(this.failStatus) : Promise.resolve(this.current as CtlNodeStatus);
  }
  service(namespace: string, name: string): Promise<CtlServiceStatus | undefined> {
    return Promise.resolve(this.services.get(`${namespace}/${name}`));
  }
  counts(): { nodesRouted: number; translations: number } {
    return { nodesRouted: 1, translations: 42 };
  }
  async cleanup(): Promise<CtlNodeCleanupReport> {
    this.cleanups++;
    if (this.gate) await this.gate;
    return this.report;
  }
}

function podView(): PodView {
  const deps: PodViewDeps = {
    nodeName: 'node-a',
    records: () => [],
    errors: new PodErrorLog(),
    // No attachment: the pod view never calls VPP.
    vpp: { state: 'connected' } as unknown as PodViewDeps['vpp'],
    notReady: () => undefined,
    interfaceMode: () => ({ setting: 'tun', mode: 'tun' }),
    isNetns: () => Promise.resolve(false),
  };
  return new PodView(deps);
}

function raw(socketPath: string, method: string, path: string, body?: string): Promise<{ status: number; body: string; allow?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, allow: res.headers.allow }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('no answer in 5 s')));
    req.end(body);
  });
}

describe('vpp-cnictl node / service against the ctl server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vcni-ctl-node-'));
  const socket = join(dir, 'ctl', 'ctl.sock');
  let server: CtlServer;
  let fake: FakeNodeView;

  beforeAll(async () => {
    server = new CtlServer(socket, podView(), silent);
    await server.start();
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    fake = new FakeNodeView();
    server.bindNode(fake);
  });

  async function run(cmd: 'node' | 'service', args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runNodeCommand(cmd, args, { agentSocket: socket, timeoutMs: 5000 }, { out: (l) => void out.push(l), err: (l) => void err.push(l) });
    return { code, out, err };
  }

  test('node dataplane off: every node route is 404 with the reason; vpp-cnictl exits 1', async () => {
    server.bindNode(undefined);
    for (const [method, path] of [
      ['GET', '/v1/node'],
      ['GET', '/v1/services/default/web'],
      ['POST', '/v1/node/cleanup'],
    ] as const) {
      const r = await raw(socket, method, path);
      expect(r.status).toBe(404);
      expect(JSON.parse(r.body)).toEqual({ error: expect.stringMatching(/^the node dataplane is off on this node/) });
    }
    for (const [cmd, args] of [
      ['node', []],
      ['node', ['cleanup']],
      ['service', ['default/web']],
    ] as const) {
      const r = await run(cmd, [...args]);
      expect(r).toMatchObject({ code: EXIT.refused, out: [] });
      expect(r.err).toEqual([expect.stringMatching(/^vpp-cnictl: the node dataplane is off on this node/)]);
    }
    // The pod routes still answer.
    expect((await raw(socket, 'GET', '/v1/pods')).status).toBe(200);
  });

  test('vpp-cnictl node: host link both ends, routes with the missing one flagged, translations, skipped, last sync', async () => {
    const r = await run('node', []);
    expect(r.code).toBe(EXIT.ok);
    expect(r.err).toEqual([]);
    const lines = r.out;
    expect(lines[0]).toBe('node node-a: cross-node vxlan, Services on, egress NAT on');
    expect(lines[1]).toBe('  cluster CIDRs 10.244.0.0/16, fd00:10:244::/56; service CIDRs 10.96.0.0/12');
    expect(lines).toContain('Host link: VPP host-vcni-hl0 (sw_if_index 5) <-> host vcni-hl1, MTU 1500');
    expect(lines.find((l) => l.startsWith('  VPP '))).toMatch(/^ {2}VPP\s+host-vcni-hl0\s+admin up, link up\s+1500\s+169\.254\.100\.1\/30, fd00:vcni::1\/126\s+02:fe:aa:00:00:01$/);
    // The host end's MTU differs from the one it was made with: both shown.
    expect(lines.find((l) => l.startsWith('  host '))).toMatch(/^ {2}host\s+vcni-hl1\s+UP\s+1400 \(made with 1500\)\s+169\.254\.100\.2\/30\s+-$/);
    expect(lines).toContain('Routes to other nodes: 2, 1 MISSING from the host\'s table');
    const b = lines.findIndex((l) => l.startsWith('  node-b'));
    const c = lines.findIndex((l) => l.startsWith('  node-c'));
    expect(b).toBeGreaterThan(0);
    expect(c).toBe(b + 1);
    expect(lines[b]).toMatch(/^ {2}node-b\s+10\.244\.2\.0\/24\s+10\.244\.2\.0\s+vcni-vxlan\s+present$/);
    expect(lines[c]).toMatch(/^ {2}node-c\s+10\.244\.3\.0\/24\s+10\.244\.3\.0\s+vcni-vxlan\s+MISSING$/);
    expect(lines).toContain('Service translations in VPP: 42');
    expect(lines).toContain('Skipped: 2');
    expect(lines).toContain('  node/node-d: no InternalIP');
    expect(lines).toContain('  service/default/headless: headless Service (no ClusterIP)');
    expect(lines.at(-1)).toBe('Last sync: 9.5 ms from the Kubernetes change to VPP; no error');
  });

  test('vpp-cnictl node --json (and -o json) prints the answer as the agent sent it', async () => {
    for (const flag of [['--json'], ['-o', 'json']]) {
      const r = await run('node', flag);
      expect(r.code).toBe(EXIT.ok);
      expect(JSON.parse(r.out.join('\n'))).toEqual(status());
    }
    expect((await run('node', ['--json', '-o', 'text'])).code).toBe(EXIT.usage);
  });

  test('a host link missing on one side, none made, no routes (cross-node none), a sync error', () => {
    const s = status();
    s.mode = 'none';
    s.routes = [];
    s.servicesEnabled = false;
    s.hostLink = { ...s.hostLink!, host: undefined };
    s.lastSyncLatencyMs = undefined;
    s.lastSyncError = 'cnat_translation_update: VPP returned -7 (VNET_API_ERROR_INVALID_VALUE)';
    const lines = formatNodeStatus(s);
    expect(lines).toContain('Host link: VPP host-vcni-hl0 (sw_if_index 5) <-> host vcni-hl1, MTU 1500 — MISSING on the host side');
    expect(lines.find((l) => l.startsWith('  host '))).toMatch(/^ {2}host\s+vcni-hl1\s+MISSING\s+-\s+-\s+-$/);
    expect(lines).toContain('Routes to other nodes: none made (cross-node none: the underlay routes pod CIDRs)');
    expect(lines).toContain('Service translations in VPP: 42 (Services off)');
    expect(lines.at(-1)).toBe('Last sync: latency not known; last error: cnat_translation_update: VPP returned -7 (VNET_API_ERROR_INVALID_VALUE)');
    expect(formatNodeStatus({ ...s, hostLink: undefined })).toContain('Host link: none made (or not yet)');
  });

  test('a missing end survives the JSON round trip as undefined (the validated answer keeps the contract shape)', async () => {
    const s = status();
    s.hostLink = { ...s.hostLink!, vpp: undefined };
    fake.current = s;
    const r = await run('node', []);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('Host link: VPP host-vcni-hl0 (sw_if_index 5) <-> host vcni-hl1, MTU 1500 — MISSING on the VPP side');
  });

  test('vpp-cnictl service: each VIP:port/protocol with its backends; not in VPP flagged; warnings', async () => {
    const r = await run('service', ['default/web']);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toEqual([
      'Service default/web: 2 translation(s)',
      '  10.96.0.10:80/TCP  VPP translation 4, 2 backend(s)',
      '    -> 10.244.1.5:8080',
      '    -> 10.244.2.7:8080',
      '  [fd00:96::10]:80/TCP  NOT IN VPP (desired), 0 backend(s)',
      '  warning: sessionAffinity ClientIP is programmed without affinity',
    ]);
    expect(JSON.parse((await run('service', ['default/web', '--json'])).out.join('\n'))).toEqual(WEB);
    expect(formatServiceStatus({ service: 'default/empty', translations: [], skipped: 'no ready endpoint', warnings: [] })).toEqual([
      'Service default/empty: 0 translation(s)',
      '  skipped: no ready endpoint',
    ]);
    expect(vipPort('10.0.0.1', 53)).toBe('10.0.0.1:53');
  });

  test('service: unknown → 1; a name the API cannot hold → 400 from the agent, exit 2; bad usage → 2', async () => {
    const unknown = await run('service', ['default/nope']);
    expect(unknown.code).toBe(EXIT.refused);
    expect(unknown.err).toEqual(['vpp-cnictl: service default/nope: not known to this node\'s agent (no such Service, or not yet seen)']);
    const bad = await run('service', ['Default/web']);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.err).toEqual(['vpp-cnictl: not a Service namespace/name: "Default/web"']);
    // A Service name is an RFC 1035 label: no leading digit, no dots.
    expect((await raw(socket, 'GET', '/v1/services/default/1web')).status).toBe(400);
    expect((await raw(socket, 'GET', '/v1/services/default/web.x')).status).toBe(400);
    expect((await raw(socket, 'GET', `/v1/services/default/${'a'.repeat(64)}`)).status).toBe(400);
    expect((await raw(socket, 'GET', '/v1/services/default/%E0%A4%A')).status).toBe(400);
    for (const args of [[], ['web'], ['a/b', 'c/d'], ['a/b/c']]) expect((await run('service', args)).code).toBe(EXIT.usage);
    expect((await run('node', ['clean'])).code).toBe(EXIT.usage);
    expect((await run('node', ['-o', 'yaml'])).code).toBe(EXIT.usage);
  });

  test('node cleanup: POST, the report printed, exit 0; with errors exit 1 and the first error on stderr', async () => {
    const ok = await run('node', ['cleanup']);
    expect(ok.code).toBe(EXIT.ok);
    expect(ok.out).toEqual([
      'node cleanup: 3 object(s) removed, 0 error(s)',
      '  removed host link host-vcni-hl0/vcni-hl1',
      '  removed route 10.244.2.0/24 (node-b)',
      '  removed cnat translation 4 (default/web 10.96.0.10:80/TCP)',
      'The agent programs nothing more on this node until it restarts.',
    ]);
    expect(fake.cleanups).toBe(1);

    fake.report = { removed: ['route 10.244.2.0/24 (node-b)'], errors: ['iptables chain VPPCNI-POSTROUTING: iptables-restore exited 4: Another app is currently holding the xtables lock'] };
    const partial = await run('node', ['cleanup', '--json']);
    expect(partial.code).toBe(EXIT.refused);
    expect(JSON.parse(partial.out.join('\n'))).toEqual(fake.report);
    expect(partial.err).toEqual(['vpp-cnictl: node cleanup: 1 error(s); the first: iptables chain VPPCNI-POSTROUTING: iptables-restore exited 4: Another app is currently holding the xtables lock']);
    expect(formatCleanupReport(fake.report).at(-1)).toBe('Not everything was removed: fix the errors above and run it again (it removes only what is left).');
  });

  test('methods: cleanup is POST only, everything else GET only; a body is refused; a second cleanup meanwhile gets 409', async () => {
    const get = await raw(socket, 'GET', '/v1/node/cleanup');
    expect(get).toMatchObject({ status: 405, allow: 'POST' });
    expect(JSON.parse(get.body)).toEqual({ error: 'GET not allowed here (POST only)' });
    expect(await raw(socket, 'POST', '/v1/node')).toMatchObject({ status: 405, allow: 'GET' });
    expect(await raw(socket, 'DELETE', '/v1/pods')).toMatchObject({ status: 405, allow: 'GET' });
    expect(await raw(socket, 'POST', '/v1/node/cleanup', '{"all":true}')).toMatchObject({ status: 400 });
    // An unknown path is echoed escaped (no forged line), with the paths there are.
    const unknown = await raw(socket, 'GET', '/v1/nope%0Aforged');
    expect(unknown.status).toBe(404);
    expect((JSON.parse(unknown.body) as { error: string }).error).toBe(
      'unknown path "/v1/nope\\nforged"; try /v1/pods, /v1/pods/<namespace>/<name>, /v1/node, /v1/services/<namespace>/<name> (GET) or /v1/node/cleanup (POST)',
    );
    expect(fake.cleanups).toBe(0);

    let open!: () => void;
    fake.gate = new Promise((r) => (open = r));
    const first = raw(socket, 'POST', '/v1/node/cleanup');
    await until('the first cleanup to start', () => fake.cleanups === 1);
    const second = await raw(socket, 'POST', '/v1/node/cleanup');
    expect(second.status).toBe(409);
    open();
    expect((await first).status).toBe(200);
    expect(fake.cleanups).toBe(1);
    // Done: a new one runs again.
    fake.gate = undefined;
    expect((await raw(socket, 'POST', '/v1/node/cleanup')).status).toBe(200);
    expect(fake.cleanups).toBe(2);
  });

  test('an answer of another release: exit 6 naming the field; the view failing: 500, exit 1 with its message', async () => {
    fake.current = { ...status(), mode: 'bgp' };
    const r = await run('node', []);
    expect(r.code).toBe(EXIT.badAnswer);
    expect(r.err[0]).toMatch(/^vpp-cnictl: the agent answered GET \/v1\/node with something this vpp-cnictl does not understand \(agent of another release\?\): mode: /);
    fake.failStatus = new Error('host link: ip -j link show vcni-hl1 timed out after 5000 ms');
    const f = await run('node', []);
    expect(f).toMatchObject({ code: EXIT.refused, err: ['vpp-cnictl: host link: ip -j link show vcni-hl1 timed out after 5000 ms'] });
  });

  test('the vpp-cnictl process: node through VPPCNI_CTL_SOCKET; unreachable agent → 3; help lists the commands', async () => {
    const cli = (args: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> =>
      new Promise((resolve) => {
        execFile(process.execPath, ['--import', 'tsx', join(process.cwd(), 'ctl/main.ts'), ...args], { timeout: 30_000, env: { ...process.env, ...env } }, (e, out, err) =>
          resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out: String(out), err: String(err) }),
        );
      });
    const r = await cli(['node'], { VPPCNI_CTL_SOCKET: socket });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe('node node-a: cross-node vxlan, Services on, egress NAT on');
    const missing = join(dir, 'missing.sock');
    expect(await cli(['service', 'default/web'], { VPPCNI_CTL_SOCKET: missing })).toMatchObject({
      code: EXIT.connect,
      err: `vpp-cnictl: cannot reach the agent at ${missing}: no such socket (is the agent running on this node? --agent-socket / VPPCNI_CTL_SOCKET)\n`,
    });
    const help = await cli(['help'], {});
    expect(help.out).toMatch(/^ {2}node cleanup {5}/m);
    expect(help.out).toMatch(/^ {2}service <ns>\/<name>/m);
  }, 60_000);
});
