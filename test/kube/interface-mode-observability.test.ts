/**
 * What operators see of the node's eth0 mode (tun, veth, auto's fallback) and of veth attachments:
 * the /metrics gauges, the ctl view (PodView behind the agent's ctl socket) and `vpp-cnictl pods` / `pod`
 * output, with fake attachment records, a fake VPP and a PodInterfaceModeState. The ctl client validates
 * the agent's answers: a malformed one is one line and exit 4.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { CtlPodDetail, CtlPodList } from '../../contract/ctl-api.js';
import { AgentMetrics, podsByKind } from '../../agent/observability/metrics.js';
import { CtlServer } from '../../agent/observability/ctl-server.js';
import { PodErrorLog } from '../../agent/observability/pod-errors.js';
import { PodView, type PodViewDeps } from '../../agent/observability/pod-view.js';
import type { AttachmentRecord } from '../../agent/pod/record.js';
import type { InterfaceSpec } from '../../agent/pod/interface-spec.js';
import { PodInterfaceModeState } from '../../agent/pod/interface-mode.js';
import { formatPodDetail, formatPodList, interfaceModeLine, PODS_EXIT, runPodsCommand } from '../../ctl/pods-command.js';

const SPEC: InterfaceSpec = { rx: 2, tx: 1, rxqsz: 2048, txqsz: 1024, isl3: true, rxMode: 'interrupt' };
const CID_TUN = `a1${'0'.repeat(62)}`;
const CID_VETH = `b2${'1'.repeat(62)}`;
const REASON = 'tap_create_v3: VPP returned -11 (VNET_API_ERROR_SYSCALL_ERROR_1): VPP could not open /dev/vhost-net, which a tap needs';

function tunRecord(): AttachmentRecord {
  return {
    containerId: CID_TUN,
    ifName: 'eth0',
    netns: '/var/run/netns/tun-pod',
    pod: { namespace: 'default', name: 'old-tun', uid: 'uid-tun' },
    kind: 'tun',
    ips: [{ address: '10.251.0.2/24' }],
    routes: [],
    objects: { tun: { swIfIndex: 3, tag: `vcni:${CID_TUN.slice(0, 12)}:eth0:tun`, hostIfName: 'eth0', l2: false, spec: SPEC }, pbl: [], routes: [], neighbors: [] },
    result: { interfaces: [], ips: [], routes: [] },
    createdAt: '2025-01-01T00:00:00.000Z',
  };
}

function vethRecord(): AttachmentRecord {
  return {
    containerId: CID_VETH,
    ifName: 'eth0',
    netns: '/var/run/netns/veth-pod',
    pod: { namespace: 'default', name: 'web', uid: 'uid-web' },
    kind: 'veth',
    ips: [{ address: '10.251.0.3/24' }],
    routes: [],
    objects: {
      veth: {
        swIfIndex: 7,
        tag: `vcni:${CID_VETH.slice(0, 12)}:eth0:veth:default/web`,
        hostIfName: 'vcni0123456789a',
        podIfName: 'eth0',
        podMac: '02:00:00:00:00:0a',
        vppMac: '02:fe:00:00:00:07',
        l2: false,
        spec: SPEC,
      },
      memif: {
        mode: 'pbl',
        socketId: 1,
        socketName: '@vpp/memif-eth0',
        socketFilename: 'abstract:vpp/memif-eth0,netns_name=/var/run/netns/veth-pod',
        swIfIndex: 8,
        tag: `vcni:${CID_VETH.slice(0, 12)}:eth0:memif`,
        l2: true,
        spec: { ...SPEC, isl3: false },
        ports: [{ proto: 'tcp', start: 8080, end: 8080 }],
      },
      pbl: [{ ip: '10.251.0.3', id: 4 }],
      routes: [],
      neighbors: [],
    },
    result: { interfaces: [], ips: [], routes: [] },
    createdAt: '2025-01-01T00:01:00.000Z',
  };
}

const warnings: { obj: object; msg?: string }[] = [];
const modeLog = { warn: (obj: object, msg?: string): void => void warnings.push({ obj, msg }) };

/** A VPP that knows the two attachments' interfaces. */
function fakeVpp(state = 'connected'): PodViewDeps['vpp'] {
  const ifs = [
    { sw_if_index: 3, interface_name: 'tun0', tag: 'vcni:a10000000000:eth0:tun', flags: 3, mtu: [1450, 0, 0, 0], l2_address: '00:00:00:00:00:00' },
    { sw_if_index: 7, interface_name: 'host-vcni0123456789a', tag: 'vcni:b21111111111:eth0:veth:default/web', flags: 3, mtu: [1450, 0, 0, 0], l2_address: '02:fe:00:00:00:07' },
    { sw_if_index: 8, interface_name: 'memif1/0', tag: 'vcni:b21111111111:eth0:memif', flags: 1, mtu: [1450, 0, 0, 0], l2_address: '02:fe:00:00:00:08' },
  ];
  const dumps: Record<string, (msg: { sw_if_index?: number }) => unknown[]> = {
    sw_interface_dump: (m) => ifs.filter((i) => m.sw_if_index === undefined || i.sw_if_index === m.sw_if_index),
    memif_dump: () => [{ sw_if_index: 8, role: 0, mode: 0, socket_id: 1, ring_size: 2048, buffer_size: 2048, flags: 0 }],
    af_packet_dump: () => [{ sw_if_index: 7, host_if_name: 'vcni0123456789a' }],
    pbl_client_dump: () => [{ client: { id: 4 } }],
  };
  return {
    state,
    dumpAll: (def: { name: string }, msg: { sw_if_index?: number }) => Promise.resolve((dumps[def.name] ?? (() => []))(msg)),
    cli: (cmd: string) => Promise.resolve(`${cmd}\n              Name               Idx    State  MTU`),
  } as unknown as PodViewDeps['vpp'];
}

function view(mode: PodInterfaceModeState, records: AttachmentRecord[], vpp = fakeVpp()): PodView {
  return new PodView({
    nodeName: 'node-a',
    records: () => records,
    errors: new PodErrorLog(),
    vpp,
    notReady: () => undefined,
    interfaceMode: () => mode.status(),
    isNetns: () => Promise.resolve(false),
  });
}

describe('/metrics', () => {
  test('vppcni_pod_interface_mode: only the current (setting, mode) pair, switched by the fallback', async () => {
    const mode = new PodInterfaceModeState('auto', modeLog);
    const m = new AgentMetrics(new Registry());
    m.bind(() => [tunRecord()], () => true, () => mode.status());
    const before = await m.registry.metrics();
    expect(before).toContain('# TYPE vppcni_pod_interface_mode gauge');
    expect(before).toMatch(/^vppcni_pod_interface_mode\{setting="auto",mode="tun"\} 1$/m);
    expect(before).not.toMatch(/^vppcni_pod_interface_mode\{.*mode="veth"/m);

    expect(mode.fallBack(REASON, 'pod default/web (container b21111111111, eth0)')).toBe(true);
    const after = await m.registry.metrics();
    expect(after).toContain('vppcni_pod_interface_mode{setting="auto",mode="veth"} 1');
    expect(after.match(/^vppcni_pod_interface_mode\{/gm)).toHaveLength(1);

    const fixed = new AgentMetrics(new Registry());
    fixed.bind(() => [], () => true, () => new PodInterfaceModeState('veth', modeLog).status());
    expect(await fixed.registry.metrics()).toMatch(/^vppcni_pod_interface_mode\{setting="veth",mode="veth"\} 1$/m);
    const tun = new AgentMetrics(new Registry());
    tun.bind(() => [], () => true, () => new PodInterfaceModeState('tun', modeLog).status());
    expect(await tun.registry.metrics()).toMatch(/^vppcni_pod_interface_mode\{setting="tun",mode="tun"\} 1$/m);
  });

  test('vppcni_pods counts veth attachments per pod', async () => {
    const recs = [tunRecord(), vethRecord(), { ...vethRecord(), ifName: 'eth1', containerId: CID_VETH }];
    expect(podsByKind(recs)).toEqual({ tun: 1, veth: 1, 'memif-pbl': 1, 'memif-multinet': 0, vcl: 0 });
    const m = new AgentMetrics(new Registry());
    m.bind(() => recs, () => true, () => new PodInterfaceModeState('auto', modeLog).status());
    const text = await m.registry.metrics();
    expect(text).toMatch(/^vppcni_pods\{interface_kind="veth"\} 1$/m);
    expect(text).toMatch(/^vppcni_pods\{interface_kind="tun"\} 1$/m);
    expect(text).toMatch(/^vppcni_memif_interfaces 2$/m);
  });

  test('without a mode bound (not wired yet): the metric is declared, with no series', async () => {
    const text = await new AgentMetrics(new Registry()).registry.metrics();
    expect(text).toContain('# HELP vppcni_pod_interface_mode ');
    expect(text).not.toMatch(/^vppcni_pod_interface_mode\{/m);
  });
});

describe('ctl view', () => {
  test('the pod list carries the mode and, after a fallback, its reason, pod and time', () => {
    const mode = new PodInterfaceModeState('auto', modeLog);
    const v = view(mode, [tunRecord(), vethRecord()]);
    expect(v.list().interfaceMode).toEqual({ setting: 'auto', mode: 'tun' });
    mode.fallBack(REASON, 'pod default/web (container b21111111111, eth0)');
    const l = v.list();
    expect(l.interfaceMode).toEqual({ setting: 'auto', mode: 'veth', fallback: { reason: REASON, pod: 'pod default/web (container b21111111111, eth0)', at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) } });
    const web = l.pods.find((p) => p.name === 'web')!;
    expect(web.attachments[0]!.kind).toBe('veth');
    expect(web.attachments[0]!.veth).toEqual({
      swIfIndex: 7,
      vppIfName: 'host-vcni0123456789a',
      hostIfName: 'vcni0123456789a',
      podIfName: 'eth0',
      podMac: '02:00:00:00:00:0a',
      vppMac: '02:fe:00:00:00:07',
      l2: false,
      rx: 2,
      tx: 1,
      rxqsz: 2048,
      txqsz: 1024,
    });
    expect(web.attachments[0]!.tun).toBeUndefined();
  });

  test('a veth pod in detail: the af_packet cross-checked in VPP (sw_interface_dump, af_packet_dump)', async () => {
    const d = (await view(new PodInterfaceModeState('veth', modeLog), [vethRecord()]).detail('default', 'web'))!;
    expect(d.vpp.map((x) => x.role)).toEqual(['eth0: veth', 'eth0: memif (pbl)']);
    expect(d.vpp[0]).toMatchObject({ swIfIndex: 7, present: true, name: 'host-vcni0123456789a', mac: '02:fe:00:00:00:07', adminUp: true, linkUp: true, afPacket: { hostIfName: 'vcni0123456789a' } });
    expect(d.vpp[1]!.afPacket).toBeUndefined();
    expect(d.pblClients).toEqual([{ id: 4, ip: '10.251.0.3', present: true }]);

    // VPP away: the af_packet is still listed as wanted.
    const away = (await view(new PodInterfaceModeState('veth', modeLog), [vethRecord()], fakeVpp('reconnecting')).detail('default', 'web'))!;
    expect(away.vpp).toEqual([
      { swIfIndex: 7, role: 'eth0: veth', present: false, error: 'VPP not connected' },
      { swIfIndex: 8, role: 'eth0: memif (pbl)', present: false, error: 'VPP not connected' },
    ]);
  });

  test('vpp-cnictl text: the mode line, veth:<sw_if_index>, the veth details', async () => {
    expect(interfaceModeLine({ setting: 'auto', mode: 'tun' })).toBe('interface mode: tun (setting auto)');
    expect(interfaceModeLine({ setting: 'veth', mode: 'veth' })).toBe('interface mode: veth (setting veth)');
    expect(interfaceModeLine({ setting: 'auto', mode: 'veth', fallback: { reason: REASON, pod: 'pod default/web (container b21111111111, eth0)', at: '2025-01-01T00:01:00.000Z' } })).toBe(
      `interface mode: veth (setting auto; fell back at 2025-01-01T00:01:00.000Z for pod default/web (container b21111111111, eth0): ${REASON})`,
    );

    const mode = new PodInterfaceModeState('auto', modeLog);
    mode.fallBack(REASON, 'pod default/web (container b21111111111, eth0)');
    const v = view(mode, [tunRecord(), vethRecord()]);
    const lines = formatPodList(v.list());
    expect(lines[0]).toBe('node node-a: VPP connected, ready, 2 pod(s)');
    expect(lines[1]).toMatch(/^interface mode: veth \(setting auto; fell back at \S+ for pod default\/web \(container b21111111111, eth0\): tap_create_v3: VPP returned -11 \(VNET_API_ERROR_SYSCALL_ERROR_1\): VPP could not open \/dev\/vhost-net/);
    expect(lines[2]).toBe('');
    expect(lines[3]).toMatch(/^POD\s+CONTAINER\s+IF\s+KIND\s+VPP INTERFACES\s+MEMIF SOCKET/);
    expect(lines.find((l) => l.startsWith('default/web'))).toMatch(/^default\/web\s+b21111111111\s+eth0\s+veth\s+veth:7 memif:8\s+@vpp\/memif-eth0\s+tcp:8080\s+-\s+-$/);
    expect(lines.find((l) => l.startsWith('default/old-tun'))).toMatch(/^default\/old-tun\s+a10000000000\s+eth0\s+tun\s+tun:3\s+-/);

    // An agent that predates the mode: no mode line.
    const { interfaceMode: _drop, ...old } = v.list();
    expect(formatPodList(old)[1]).toBe('');

    const d = formatPodDetail((await v.detail('default', 'web'))!).join('\n');
    expect(d).toContain('  eth0: container b21111111111, kind veth, netns /var/run/netns/veth-pod');
    expect(d).toContain('    veth: af_packet host-vcni0123456789a sw_if_index 7, queues rx 2 tx 1, rings 2048/1024');
    expect(d).toContain('      host end vcni0123456789a, pod end eth0 mac 02:00:00:00:00:0a (pinned), VPP mac 02:fe:00:00:00:07');
    expect(d).toContain('  host-vcni0123456789a sw_if_index 7 (eth0: veth): admin up, link up, mtu 1450/0/0/0, mac 02:fe:00:00:00:07');
    expect(d).toContain('    af_packet on host interface vcni0123456789a');
  });
});

describe("the node's pods without an attachment", () => {
  test('listed from the pod source: host-network pods marked, others with none (yet); a pod with records is listed once', async () => {
    const mode = new PodInterfaceModeState('auto', modeLog);
    const records = [vethRecord()];
    const v = new PodView({
      nodeName: 'node-a',
      records: () => records,
      errors: new PodErrorLog(),
      vpp: fakeVpp(),
      notReady: () => undefined,
      interfaceMode: () => mode.status(),
      isNetns: () => Promise.resolve(false),
      nodePods: () => [
        { namespace: records[0]!.pod.namespace, name: records[0]!.pod.name, annotations: {} },
        { namespace: 'kube-system', name: 'kube-proxy-x', uid: 'u-kp', annotations: {}, hostNetwork: true },
        { namespace: 'default', name: 'pending', annotations: {} },
      ],
    });
    const l = v.list();
    expect(l.pods.map((p) => `${p.namespace}/${p.name} ${p.attachments.length}${p.hostNetwork ? ' host' : ''}`)).toEqual([
      'default/pending 0',
      `${records[0]!.pod.namespace}/${records[0]!.pod.name} 1`,
      'kube-system/kube-proxy-x 0 host',
    ].sort((a, b) => a.localeCompare(b)));
    const lines = formatPodList(l);
    expect(lines.find((x) => x.startsWith('kube-system/kube-proxy-x'))).toMatch(/^kube-system\/kube-proxy-x\s+-\s+-\s+host-network(\s+-){4}\s+-$/);
    expect(lines.find((x) => x.startsWith('default/pending'))).toMatch(/^default\/pending(\s+-){8}$/);
    const d = (await v.detail('kube-system', 'kube-proxy-x'))!;
    expect(d.uid).toBe('u-kp');
    expect(formatPodDetail(d)).toContain('  on the node network (hostNetwork): no CNI attachment');
    expect(await v.detail('default', 'not-on-this-node')).toBeUndefined();
  });
});

describe('vpp-cnictl pods / pod against a ctl socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vcni-ctl-mode-'));
  const silent = { info: (): void => undefined, warn: (): void => undefined };
  let server: CtlServer;
  let bogus: Server;
  const ctlSocket = join(dir, 'ctl', 'ctl.sock');
  const bogusSocket = join(dir, 'bogus.sock');
  const mode = new PodInterfaceModeState('auto', modeLog);

  beforeAll(async () => {
    mode.fallBack(REASON, 'pod default/web (container b21111111111, eth0)');
    server = new CtlServer(ctlSocket, view(mode, [tunRecord(), vethRecord()]), silent);
    await server.start();
    // An agent of another release: the sw_if_index as a string, no mode.
    bogus = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ node: 'n', vpp: 'connected', ready: true, pods: [{ namespace: 'default', name: 'web', attachments: [{ ...vethAttachment(), veth: { ...vethAttachment().veth, swIfIndex: '7' } }], errorCount: 0 }] }));
    });
    await new Promise<void>((r) => bogus.listen(bogusSocket, r));
  });
  afterAll(async () => {
    await server.stop();
    await new Promise<void>((r) => bogus.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  function vethAttachment(): CtlPodList['pods'][number]['attachments'][number] {
    return { containerId: CID_VETH, ifName: 'eth0', kind: 'veth', netns: '/x', ips: [], createdAt: 'now', pbl: [], pblPorts: [], veth: { swIfIndex: 7, vppIfName: 'host-v', hostIfName: 'v', podIfName: 'eth0', podMac: 'm', vppMac: 'n', l2: false, rx: 1, tx: 1, rxqsz: 1, txqsz: 1 } };
  }

  async function run(cmd: 'pods' | 'pod', args: string[], socket = ctlSocket): Promise<{ code: number; out: string[]; err: string[] }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runPodsCommand(cmd, args, { agentSocket: socket, timeoutMs: 5000 }, { out: (l) => void out.push(l), err: (l) => void err.push(l) });
    return { code, out, err };
  }

  test('pods: text and validated JSON', async () => {
    const t = await run('pods', []);
    expect(t).toMatchObject({ code: PODS_EXIT.ok, err: [] });
    expect(t.out[1]).toMatch(/^interface mode: veth \(setting auto; fell back at \S+ for pod default\/web/);
    expect(t.out.some((l) => /^default\/web\s+b21111111111\s+eth0\s+veth\s+veth:7 memif:8/.test(l))).toBe(true);
    const j = JSON.parse((await run('pods', ['-o', 'json'])).out.join('\n')) as CtlPodList;
    expect(j.interfaceMode).toMatchObject({ setting: 'auto', mode: 'veth', fallback: { reason: REASON } });
    expect(j.pods.find((p) => p.name === 'web')!.attachments[0]!.veth).toMatchObject({ swIfIndex: 7, vppIfName: 'host-vcni0123456789a' });
  });

  test('pod: the veth details, text and JSON', async () => {
    const t = await run('pod', ['default/web']);
    expect(t.code).toBe(PODS_EXIT.ok);
    expect(t.out).toContain('    veth: af_packet host-vcni0123456789a sw_if_index 7, queues rx 2 tx 1, rings 2048/1024');
    expect(t.out).toContain('    af_packet on host interface vcni0123456789a');
    const j = JSON.parse((await run('pod', ['default/web', '-o', 'json'])).out.join('\n')) as CtlPodDetail;
    expect(j.vpp[0]).toMatchObject({ role: 'eth0: veth', afPacket: { hostIfName: 'vcni0123456789a' } });
  });

  test('an answer that does not fit the contract: one line naming the field, exit 4', async () => {
    const r = await run('pods', [], bogusSocket);
    expect(r.code).toBe(PODS_EXIT.malformed);
    expect(r.out).toEqual([]);
    expect(r.err).toEqual([
      'vpp-cnictl: the agent answered GET /v1/pods with something this vpp-cnictl does not understand (agent of another release?): pods.0.attachments.0.veth.swIfIndex: Invalid input: expected number, received string',
    ]);
  });
});
