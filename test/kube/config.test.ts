/**
 * The agent's configuration: one clear line per invalid value (naming the variable or flag and the
 * problem), the agent process exiting 2 with it, and the README's configuration table and metrics
 * reference kept in sync with SETTINGS and METRICS.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { ConfigError, SETTINGS, loadConfig, settingsMarkdown } from '../../agent/config.js';
import { AgentMetrics, METRICS, metricsMarkdown } from '../../agent/observability/metrics.js';
import { loadKubeConfig } from '../../agent/kube/client.js';

const NODE = { NODE_NAME: 'node-a' };

test.each([
  [{ VPPCNI_METRICS_PORT: 'http' }, [], 'VPPCNI_METRICS_PORT: "http" is not a port number (0-65535)'],
  [{}, ['--health-port', '70000'], '--health-port: "70000" is not a port number (0-65535)'],
  [{ VPPCNI_LOG_LEVEL: 'loud' }, [], 'VPPCNI_LOG_LEVEL: "loud" is not one of trace, debug, info, warn, error, fatal'],
  [{ VPPCNI_FEATURE_GATES: '{"memif":true}' }, [], 'VPPCNI_FEATURE_GATES: unknown field(s) memif (value "{\\"memif\\":true}")'],
  [{ VPPCNI_FEATURE_GATES: 'nope' }, [], /^VPPCNI_FEATURE_GATES: not valid JSON \(.*\): nope$/],
  [{ VPPCNI_FEATURE_GATES: '{"memifEnabled":"yes"}' }, [], /^VPPCNI_FEATURE_GATES field "memifEnabled": .*expected boolean.* \(value "\{\\"memifEnabled\\":\\"yes\\"\}"\)$/],
  [{ VPPCNI_DEFAULT_POD_IF_SPEC: '{"rx":0}' }, [], 'VPPCNI_DEFAULT_POD_IF_SPEC field "rx": 0 must be at least 1'],
  [{ VPPCNI_DEFAULT_POD_IF_SPEC: '{"rxqsz":1000}' }, [], 'VPPCNI_DEFAULT_POD_IF_SPEC field "rxqsz": 1000 is not a power of two'],
  [{ VPPCNI_DEFAULT_POD_IF_SPEC: '{"rx":32}' }, [], 'VPPCNI_DEFAULT_POD_IF_SPEC field "rx": 32 is above VPPCNI_MAX_POD_IF_SPEC rx 16'],
  [{ VPPCNI_MAX_POD_IF_SPEC: '{"rx":-1}' }, [], 'VPPCNI_MAX_POD_IF_SPEC field "rx": -1 must not be negative'],
  [{ VPPCNI_MAX_POD_IF_SPEC: '{"isl3":true}' }, [], 'VPPCNI_MAX_POD_IF_SPEC: unknown field(s) isl3 (value "{\\"isl3\\":true}")'],
  [{ VPPCNI_VPP_API_SOCKET: 'api.sock' }, [], 'VPPCNI_VPP_API_SOCKET: "api.sock" is not an absolute path'],
  [{ VPPCNI_CNI_SOCKET: `/${'x'.repeat(120)}` }, [], `VPPCNI_CNI_SOCKET: "/${'x'.repeat(120)}" is longer than a unix socket path may be (107 bytes)`],
  [{ VPPCNI_CTL_SOCKET: '/var/run/vpp-cni/agent.sock' }, [], 'VPPCNI_CTL_SOCKET: "/var/run/vpp-cni/agent.sock" is the CNI socket too'],
  [{ NODE_NAME: '' }, [], 'NODE_NAME: required when pods come from Kubernetes (no --pods-file); set it from the downward API (fieldRef spec.nodeName)'],
  [{ NODE_NAME: 'Node_A' }, [], 'NODE_NAME: "Node_A" is not a node name (lower-case DNS subdomain, at most 253 characters)'],
  [{}, ['--node-name', 'x_y'], '--node-name: "x_y" is not a node name (lower-case DNS subdomain, at most 253 characters)'],
  [{ VPPCNI_POD_MTU: '100' }, [], 'VPPCNI_POD_MTU: "100" is not an MTU between 576 and 9216'],
  [{ VPPCNI_POD_INTERFACE_MODE: 'x' }, [], 'VPPCNI_POD_INTERFACE_MODE: "x" is not one of tun, veth, auto'],
  [{}, ['--pod-interface-mode', 'tap'], '--pod-interface-mode: "tap" is not one of tun, veth, auto'],
  [{}, ['--nope', '1'], /^unknown flag --nope \(known: --vpp-socket .* --ctl-socket --kubeconfig --node-dataplane .* --node-netns\)$/],
  [{}, ['--metrics-port'], '--metrics-port needs a value'],
] as [Record<string, string>, string[], string | RegExp][])('%j %j → %s', (env, argv, message) => {
  let err: unknown;
  try {
    loadConfig({ ...NODE, ...env }, argv);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  if (typeof message === 'string') expect((err as Error).message).toBe(message);
  else expect((err as Error).message).toMatch(message);
  expect((err as Error).message).not.toContain('\n');
});

test('defaults, flags over the environment, and the values the issue lists', () => {
  const c = loadConfig({ ...NODE, VPPCNI_METRICS_PORT: '1', VPPCNI_LOG_LEVEL: 'debug' }, ['--metrics-port', '2']);
  expect(c).toMatchObject({
    vppApiSocket: '/run/vpp/api.sock',
    cniSocket: '/var/run/vpp-cni/agent.sock',
    ctlSocket: '/var/run/vpp-cni/ctl.sock',
    nodeName: 'node-a',
    logLevel: 'debug',
    metricsPort: 2,
    healthPort: 9465,
    podsFile: undefined,
    kubeconfig: undefined,
    pod: { gates: { memifEnabled: true, vclEnabled: false, multinetEnabled: false }, defaults: { rx: 1, tx: 1, rxqsz: 1024, txqsz: 1024 }, mtu: 1450, interfaceMode: 'auto' },
  });
  // The pod interface mode: auto by default, tun or veth by variable or flag (the flag wins).
  expect(loadConfig(NODE, ['--pod-interface-mode', 'veth']).pod.interfaceMode).toBe('veth');
  expect(loadConfig({ ...NODE, VPPCNI_POD_INTERFACE_MODE: 'tun' }, []).pod.interfaceMode).toBe('tun');
  expect(loadConfig({ ...NODE, VPPCNI_POD_INTERFACE_MODE: 'tun' }, ['--pod-interface-mode', 'auto']).pod.interfaceMode).toBe('auto');
  // The CTL socket follows the CNI socket's directory unless set.
  expect(loadConfig(NODE, ['--cni-socket', '/run/x/cni.sock']).ctlSocket).toBe('/run/x/ctl.sock');
  // Without Kubernetes the node name is optional.
  expect(loadConfig({}, ['--pods-file', '/tmp/pods.yaml']).nodeName).toBe('');
  const envs = SETTINGS.map((s) => s.env);
  for (const v of ['VPPCNI_FEATURE_GATES', 'VPPCNI_DEFAULT_POD_IF_SPEC', 'VPPCNI_MAX_POD_IF_SPEC', 'VPPCNI_VPP_API_SOCKET', 'VPPCNI_CNI_SOCKET', 'NODE_NAME', 'VPPCNI_LOG_LEVEL', 'VPPCNI_METRICS_PORT', 'VPPCNI_HEALTH_PORT', 'VPPCNI_CTL_SOCKET', 'VPPCNI_POD_INTERFACE_MODE', 'KUBECONFIG']) {
    expect(envs).toContain(v);
  }
});

test('Kubernetes config: a missing kubeconfig, and no cluster at all, are one clear line', () => {
  expect(() => loadKubeConfig('/nonexistent/kubeconfig', {})).toThrow(/^KUBECONFIG \/nonexistent\/kubeconfig: .*ENOENT/);
  expect(() => loadKubeConfig(undefined, {})).toThrow(
    'no Kubernetes API: not in a cluster (KUBERNETES_SERVICE_HOST unset) and no KUBECONFIG; give KUBECONFIG, or --pods-file to run without Kubernetes',
  );
});

function agent(env: Record<string, string>, args: string[] = []): Promise<{ code: number; err: string }> {
  return new Promise((resolve) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VPPCNI_') && k !== 'NODE_NAME' && k !== 'KUBECONFIG' && k !== 'KUBERNETES_SERVICE_HOST'));
    execFile(process.execPath, ['--import', 'tsx', join(process.cwd(), 'agent/main.ts'), ...args], { env: { ...clean, ...env }, timeout: 30_000 }, (e, _out, err) =>
      resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, err: String(err) }),
    );
  });
}

test('the agent process exits 2 with one line', async () => {
  expect(await agent({ VPPCNI_METRICS_PORT: 'http', NODE_NAME: 'n' })).toEqual({ code: 2, err: 'vpp-cni-agent: invalid configuration: VPPCNI_METRICS_PORT: "http" is not a port number (0-65535)\n' });
  expect(await agent({})).toEqual({
    code: 2,
    err: 'vpp-cni-agent: invalid configuration: NODE_NAME: required when pods come from Kubernetes (no --pods-file); set it from the downward API (fieldRef spec.nodeName)\n',
  });
  expect(await agent({ NODE_NAME: 'n' })).toEqual({
    code: 2,
    err: 'vpp-cni-agent: invalid configuration: no Kubernetes API: not in a cluster (KUBERNETES_SERVICE_HOST unset) and no KUBECONFIG; give KUBECONFIG, or --pods-file to run without Kubernetes\n',
  });
}, 60_000);

function between(text: string, name: string): string {
  const m = new RegExp(`<!-- ${name}:begin -->\\n([\\s\\S]*?)\\n<!-- ${name}:end -->`).exec(text);
  if (!m) throw new Error(`README has no <!-- ${name}:begin --> ... <!-- ${name}:end --> block`);
  return m[1]!;
}

test('README: the configuration table is SETTINGS, the metrics reference is METRICS', async () => {
  const readme = readFileSync(join(process.cwd(), 'README.md'), 'utf8');
  expect(between(readme, 'settings')).toBe(settingsMarkdown());
  expect(between(readme, 'metrics')).toBe(metricsMarkdown());
  // And METRICS is what the registry exposes.
  const m = new AgentMetrics(new Registry());
  const exposed = (await m.registry.getMetricsAsJSON()).map((x) => x.name).sort();
  expect(exposed).toEqual(Object.values(METRICS).map((x) => x.name).sort());
});
