/**
 * The agent's configuration: environment variables (fed by a ConfigMap in a cluster), overridden by
 * command-line flags. Parsed once at start through zod; an invalid value stops the agent with one line
 * naming the variable and the problem. The result is passed to whoever needs it (no global config).
 */
import { z } from 'zod';
import {
  DEFAULT_FEATURE_GATES,
  DEFAULT_LIMITS,
  DEFAULT_QUEUES,
  featureGatesSchema,
  interfaceSpecSchema,
  isPowerOfTwo,
  specProblems,
  POD_INTERFACE_MODES,
  type PodInterfaceConfig,
  type PodInterfaceModeSetting,
} from './pod/interface-spec.js';

export interface AgentConfig {
  vppApiSocket: string;
  cniSocket: string;
  nodeName: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  metricsPort: number;
  healthPort: number;
  stateDir: string;
  /** Period of the orphan sweep in seconds (0: only the sweep at start). */
  sweepIntervalSeconds: number;
  /** Pods file for running without Kubernetes (undefined: use the Kubernetes API). */
  podsFile: string | undefined;
  /** kubeconfig file (undefined: in-cluster config). */
  kubeconfig: string | undefined;
  /** vpp-cnictl's socket (HTTP/JSON, root only). */
  ctlSocket: string;
  pod: PodInterfaceConfig;
}

/** One row per setting: variable, flag, default, description (the README table is made from it). */
export const SETTINGS = [
  { env: 'VPPCNI_VPP_API_SOCKET', flag: '--vpp-socket', default: '/run/vpp/api.sock', doc: "VPP's binary API socket" },
  { env: 'VPPCNI_CNI_SOCKET', flag: '--cni-socket', default: '/var/run/vpp-cni/agent.sock', doc: 'where the agent serves the CNI plugin (0600, in a 0700 directory)' },
  { env: 'NODE_NAME', flag: '--node-name', default: '', doc: 'this node (required with Kubernetes; from the downward API)' },
  { env: 'VPPCNI_LOG_LEVEL', flag: '--log-level', default: 'info', doc: 'trace, debug, info, warn, error' },
  { env: 'VPPCNI_METRICS_PORT', flag: '--metrics-port', default: '9464', doc: 'Prometheus /metrics port (0 disables)' },
  { env: 'VPPCNI_HEALTH_PORT', flag: '--health-port', default: '9465', doc: '/healthz and /readyz port (0 disables)' },
  { env: 'VPPCNI_STATE_DIR', flag: '--state-dir', default: '/var/lib/vpp-cni', doc: 'checkpoint of attachments' },
  { env: 'VPPCNI_SWEEP_INTERVAL', flag: '--sweep-interval', default: '300', doc: 'seconds between sweeps of orphaned VPP objects (our tags, no owner); 0: only at start' },
  { env: 'VPPCNI_PODS_FILE', flag: '--pods-file', default: '', doc: 'pods YAML standing in for the Kubernetes API (local runs)' },
  { env: 'VPPCNI_FEATURE_GATES', flag: '--feature-gates', default: '{"memifEnabled":true,"vclEnabled":false,"multinetEnabled":false}', doc: 'JSON feature gates' },
  { env: 'VPPCNI_DEFAULT_POD_IF_SPEC', flag: '--default-pod-if-spec', default: '{"rx":1,"tx":1,"rxqsz":1024,"txqsz":1024}', doc: 'JSON queues and ring sizes when a pod says nothing' },
  { env: 'VPPCNI_MAX_POD_IF_SPEC', flag: '--max-pod-if-spec', default: '{"rx":16,"tx":16,"rxqsz":16384,"txqsz":16384}', doc: 'JSON limits of pod queues and rings (0: no limit)' },
  { env: 'VPPCNI_POD_MTU', flag: '--pod-mtu', default: '1450', doc: 'MTU of pod interfaces' },
  {
    env: 'VPPCNI_POD_INTERFACE_MODE',
    flag: '--pod-interface-mode',
    default: 'auto',
    doc: 'how pod eth0 is made: tun (VPP tap, needs /dev/vhost-net), veth (veth pair + VPP af_packet), auto (tun until VPP cannot make taps, then veth)',
  },
  { env: 'VPPCNI_CTL_SOCKET', flag: '--ctl-socket', default: '', doc: "vpp-cnictl's socket (0600, in a 0700 directory); empty: ctl.sock next to the CNI socket (/var/run/vpp-cni/ctl.sock)" },
  { env: 'KUBECONFIG', flag: '--kubeconfig', default: '', doc: 'kubeconfig file; empty: the in-cluster service account (not used with a pods file)' },
] as const;

/** The README's configuration table, made from SETTINGS (a test keeps the README in sync). */
export function settingsMarkdown(): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|');
  const rows = SETTINGS.map((s) => `| \`${s.env}\` | \`${s.flag}\` | ${s.default === '' ? '—' : `\`${cell(s.default)}\``} | ${cell(s.doc)} |`);
  return ['| variable | flag | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const port = z.coerce.number().int().min(0).max(65535);
const queuesSchema = interfaceSpecSchema.pick({ rx: true, tx: true, rxqsz: true, txqsz: true }).strict();

function jsonOf(name: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ConfigError(`${name}: not valid JSON (${(e as Error).message}): ${text}`);
  }
}

function zodLine(name: string, e: z.ZodError, value: string): ConfigError {
  const i = e.issues[0]!;
  const field = i.path.length ? ` field "${i.path.join('.')}"` : '';
  const what = i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.join(', ')}` : i.message;
  return new ConfigError(`${name}${field}: ${what} (value ${JSON.stringify(value)})`);
}

/** Reads `--flag value` / `--flag=value` pairs. Unknown flags are an error. */
export function parseFlags(argv: readonly string[]): Map<string, string> {
  const known = new Set<string>(SETTINGS.map((s) => s.flag));
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const flag = eq > 0 ? a.slice(0, eq) : a;
    if (!known.has(flag)) throw new ConfigError(`unknown flag ${flag} (known: ${[...known].join(' ')})`);
    const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (v === undefined) throw new ConfigError(`${flag} needs a value`);
    out.set(flag, v);
  }
  return out;
}

export function loadConfig(env: Readonly<Record<string, string | undefined>>, argv: readonly string[]): AgentConfig {
  const flags = parseFlags(argv);
  const get = (envName: string): { name: string; value: string } => {
    const s = SETTINGS.find((x) => x.env === envName)!;
    const f = flags.get(s.flag);
    if (f !== undefined) return { name: s.flag, value: f };
    const e = env[envName];
    return { name: envName, value: e !== undefined && e !== '' ? e : s.default };
  };
  const str = (envName: string): string => get(envName).value;
  const num = (envName: string): number => {
    const { name, value } = get(envName);
    const r = port.safeParse(value);
    if (!r.success) throw new ConfigError(`${name}: "${value}" is not a port number (0-65535)`);
    return r.data;
  };

  const lvl = get('VPPCNI_LOG_LEVEL');
  const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
  if (!(levels as readonly string[]).includes(lvl.value)) throw new ConfigError(`${lvl.name}: "${lvl.value}" is not one of ${levels.join(', ')}`);

  const gatesIn = get('VPPCNI_FEATURE_GATES');
  const gates = featureGatesSchema.safeParse(jsonOf(gatesIn.name, gatesIn.value));
  if (!gates.success) throw zodLine(gatesIn.name, gates.error, gatesIn.value);

  const defIn = get('VPPCNI_DEFAULT_POD_IF_SPEC');
  const def = queuesSchema.safeParse(jsonOf(defIn.name, defIn.value));
  if (!def.success) throw zodLine(defIn.name, def.error, defIn.value);
  const maxIn = get('VPPCNI_MAX_POD_IF_SPEC');
  const max = queuesSchema.safeParse(jsonOf(maxIn.name, maxIn.value));
  if (!max.success) throw zodLine(maxIn.name, max.error, maxIn.value);

  const defaults = { ...DEFAULT_QUEUES, ...def.data };
  const limits = { ...DEFAULT_LIMITS, ...max.data };
  for (const k of ['rx', 'tx', 'rxqsz', 'txqsz'] as const) {
    if (defaults[k] < 1) throw new ConfigError(`${defIn.name} field "${k}": ${defaults[k]} must be at least 1`);
    if (limits[k] < 0) throw new ConfigError(`${maxIn.name} field "${k}": ${limits[k]} must not be negative`);
    if (limits[k] > 0 && defaults[k] > limits[k]) throw new ConfigError(`${defIn.name} field "${k}": ${defaults[k]} is above ${maxIn.name} ${k} ${limits[k]}`);
  }
  for (const k of ['rxqsz', 'txqsz'] as const) {
    if (!isPowerOfTwo(defaults[k])) throw new ConfigError(`${defIn.name} field "${k}": ${defaults[k]} is not a power of two`);
  }
  // The defaults go on the wire for every pod that says nothing: they must fit the narrowest VPP field.
  for (const target of ['main', 'memif'] as const) {
    const wire = specProblems(defaults, { rx: 0, tx: 0, rxqsz: 0, txqsz: 0 }, target)[0];
    if (wire) throw new ConfigError(`${defIn.name}: ${wire}`);
  }
  const mtuIn = get('VPPCNI_POD_MTU');
  const mtu = Number(mtuIn.value);
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 9216) throw new ConfigError(`${mtuIn.name}: "${mtuIn.value}" is not an MTU between 576 and 9216`);

  const modeIn = get('VPPCNI_POD_INTERFACE_MODE');
  if (!(POD_INTERFACE_MODES as readonly string[]).includes(modeIn.value)) throw new ConfigError(`${modeIn.name}: "${modeIn.value}" is not one of ${POD_INTERFACE_MODES.join(', ')}`);
  const interfaceMode = modeIn.value as PodInterfaceModeSetting;

  const socketPath = (envName: string, value?: string): string => {
    const { name, value: v } = value === undefined ? get(envName) : { name: get(envName).name, value };
    if (!v.startsWith('/')) throw new ConfigError(`${name}: "${v}" is not an absolute path`);
    if (Buffer.byteLength(v) > 107) throw new ConfigError(`${name}: "${v}" is longer than a unix socket path may be (107 bytes)`);
    return v;
  };
  const cniSocket = socketPath('VPPCNI_CNI_SOCKET');
  const vppApiSocket = socketPath('VPPCNI_VPP_API_SOCKET');
  const ctlIn = str('VPPCNI_CTL_SOCKET');
  const ctlSocket = socketPath('VPPCNI_CTL_SOCKET', ctlIn === '' ? `${cniSocket.slice(0, cniSocket.lastIndexOf('/'))}/ctl.sock` : ctlIn);
  if (ctlSocket === cniSocket) throw new ConfigError(`${get('VPPCNI_CTL_SOCKET').name}: "${ctlSocket}" is the CNI socket too`);

  const podsFile = str('VPPCNI_PODS_FILE');
  const node = get('NODE_NAME');
  if (node.value === '' && podsFile === '') {
    throw new ConfigError(`${node.name}: required when pods come from Kubernetes (no --pods-file); set it from the downward API (fieldRef spec.nodeName)`);
  }
  if (node.value !== '' && (node.value.length > 253 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(node.value))) {
    throw new ConfigError(`${node.name}: "${node.value}" is not a node name (lower-case DNS subdomain, at most 253 characters)`);
  }
  const kubeconfig = str('KUBECONFIG');
  const sweepIn = get('VPPCNI_SWEEP_INTERVAL');
  const sweepIntervalSeconds = Number(sweepIn.value);
  if (!/^\d+$/.test(sweepIn.value) || sweepIntervalSeconds > 86_400) throw new ConfigError(`${sweepIn.name}: "${sweepIn.value}" is not a number of seconds between 0 and 86400`);
  return {
    vppApiSocket,
    cniSocket,
    nodeName: node.value,
    logLevel: lvl.value as AgentConfig['logLevel'],
    metricsPort: num('VPPCNI_METRICS_PORT'),
    healthPort: num('VPPCNI_HEALTH_PORT'),
    stateDir: str('VPPCNI_STATE_DIR'),
    sweepIntervalSeconds,
    podsFile: podsFile === '' ? undefined : podsFile,
    kubeconfig: kubeconfig === '' ? undefined : kubeconfig,
    ctlSocket,
    pod: { gates: { ...DEFAULT_FEATURE_GATES, ...gates.data }, defaults, limits, mtu, interfaceMode },
  };
}
