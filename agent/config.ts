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
import { CROSS_NODE_MODES, type CrossNodeMode } from './node/node-routes.js';
import { overlaps, parseCidr, type Cidr } from './node/cidr.js';
import { VXLAN_OVERHEAD } from './linux/vxlan.js';

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
  node: NodeDataplaneConfig;
}

/** One end pair of the host link in one family. */
export interface HostLinkAddresses {
  vpp: string;
  host: string;
  len: number;
}

/** The node dataplane's settings (agent/node/dataplane.ts). */
export interface NodeDataplaneConfig {
  /** auto: on with Kubernetes; with a pods file, on when the file lists cluster objects. */
  enabled: 'on' | 'off' | 'auto';
  crossNode: CrossNodeMode;
  /** undefined: derived from every Node's podCIDRs. */
  clusterCidrs: string[] | undefined;
  serviceCidrs: string[];
  natOutgoing: boolean;
  services: boolean;
  hostLink: { ip4: HostLinkAddresses | undefined; ip6: HostLinkAddresses | undefined; mtu: number };
  vxlan: { vni: number; port: number };
  /** Named netns of the host side; undefined: the agent's own. */
  netns: string | undefined;
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
  {
    env: 'VPPCNI_NODE_DATAPLANE',
    flag: '--node-dataplane',
    default: 'auto',
    doc: 'on, off, auto: the host link, routes to other nodes, egress NAT and Services in VPP; auto: on with Kubernetes, and with a pods file when the file lists nodes, services or endpointSlices',
  },
  { env: 'VPPCNI_CROSS_NODE', flag: '--cross-node', default: 'vxlan', doc: 'routes to other nodes\' pod CIDRs: host-gw (via their InternalIP, one L2 segment), vxlan (kernel VXLAN device), none (the underlay routes them)' },
  {
    env: 'VPPCNI_CLUSTER_CIDRS',
    flag: '--cluster-cidrs',
    default: '',
    doc: 'comma list of the cluster\'s pod CIDRs (FORWARD accept, masquerade sources, no SNAT toward them); empty: every podCIDR of every Node, followed as Nodes change',
  },
  { env: 'VPPCNI_SERVICE_CIDRS', flag: '--service-cidrs', default: '10.96.0.0/12', doc: 'comma list of the Service CIDRs (never masqueraded, no SNAT toward them)' },
  { env: 'VPPCNI_NAT_OUTGOING', flag: '--nat-outgoing', default: 'true', doc: 'true: the host masquerades pod traffic to destinations outside the cluster and service CIDRs (chain VPPCNI-POSTROUTING)' },
  { env: 'VPPCNI_SERVICES', flag: '--services', default: 'true', doc: 'true: ClusterIPs and externalIPs of Services are translated in VPP (cnat) for pod-originated traffic' },
  {
    env: 'VPPCNI_HOST_LINK_IP4',
    flag: '--host-link-ip4',
    default: '169.254.100.1/30,169.254.100.2/30',
    doc: 'VPP\'s and the host\'s address of the host link, one prefix (link-local by default); none: no IPv4 on the link',
  },
  {
    env: 'VPPCNI_HOST_LINK_IP6',
    flag: '--host-link-ip6',
    default: 'fd56:6370:636e::1/126,fd56:6370:636e::2/126',
    doc: 'VPP\'s and the host\'s IPv6 address of the host link, one prefix (a fixed ULA by default); none: no IPv6 on the link',
  },
  { env: 'VPPCNI_HOST_LINK_MTU', flag: '--host-link-mtu', default: '1500', doc: 'MTU of the node\'s link and of the host link; pods need VPPCNI_POD_MTU ≤ this − 50 with vxlan (≤ this otherwise)' },
  { env: 'VPPCNI_VXLAN_VNI', flag: '--vxlan-vni', default: '4097', doc: 'VNI of the VXLAN device (cross-node vxlan), 1-16777215' },
  { env: 'VPPCNI_VXLAN_PORT', flag: '--vxlan-port', default: '4789', doc: 'UDP port of the VXLAN device' },
  {
    env: 'VPPCNI_NODE_NETNS',
    flag: '--node-netns',
    default: '',
    doc: "named network namespace holding the node's host side (host link, routes, VXLAN, iptables); empty: the agent's own (tests and the demo use a named one)",
  },
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
  const nodeName = get('NODE_NAME');
  if (nodeName.value === '' && podsFile === '') {
    throw new ConfigError(`${nodeName.name}: required when pods come from Kubernetes (no --pods-file); set it from the downward API (fieldRef spec.nodeName)`);
  }
  if (nodeName.value !== '' && (nodeName.value.length > 253 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(nodeName.value))) {
    throw new ConfigError(`${nodeName.name}: "${nodeName.value}" is not a node name (lower-case DNS subdomain, at most 253 characters)`);
  }
  const kubeconfig = str('KUBECONFIG');
  const sweepIn = get('VPPCNI_SWEEP_INTERVAL');
  const sweepIntervalSeconds = Number(sweepIn.value);
  if (!/^\d+$/.test(sweepIn.value) || sweepIntervalSeconds > 86_400) throw new ConfigError(`${sweepIn.name}: "${sweepIn.value}" is not a number of seconds between 0 and 86400`);
  const node = nodeDataplaneConfig(get, mtu, mtuIn.name);
  if (node.enabled === 'on' && nodeName.value === '') throw new ConfigError(`${nodeName.name}: required with ${get('VPPCNI_NODE_DATAPLANE').name} on (which Node in the cluster lists is this one)`);
  return {
    vppApiSocket,
    cniSocket,
    nodeName: nodeName.value,
    logLevel: lvl.value as AgentConfig['logLevel'],
    metricsPort: num('VPPCNI_METRICS_PORT'),
    healthPort: num('VPPCNI_HEALTH_PORT'),
    stateDir: str('VPPCNI_STATE_DIR'),
    sweepIntervalSeconds,
    podsFile: podsFile === '' ? undefined : podsFile,
    kubeconfig: kubeconfig === '' ? undefined : kubeconfig,
    ctlSocket,
    pod: { gates: { ...DEFAULT_FEATURE_GATES, ...gates.data }, defaults, limits, mtu, interfaceMode },
    node,
  };
}

type Getter = (envName: string) => { name: string; value: string };

function cidrList(name: string, value: string): Cidr[] {
  const out: Cidr[] = [];
  for (const t of value.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    const c = parseCidr(t);
    if (!c) throw new ConfigError(`${name}: "${t}" is not a prefix (address/length)`);
    out.push(c);
  }
  return out;
}

function boolOf(get: Getter, envName: string): boolean {
  const { name, value } = get(envName);
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new ConfigError(`${name}: "${value}" is not true or false`);
}

/** `VPP/len,HOST/len` in one prefix, or `none`. */
function hostLinkPair(get: Getter, envName: string, family: 4 | 6): HostLinkAddresses | undefined {
  const { name, value } = get(envName);
  if (value === 'none') return undefined;
  const parts = value.split(',').map((x) => x.trim());
  const cidrs = parts.map((p) => parseCidr(p));
  if (parts.length !== 2 || cidrs.some((c) => c === undefined)) throw new ConfigError(`${name}: "${value}" is not two addresses with their prefix length (VPP,host: 169.254.100.1/30,169.254.100.2/30) or none`);
  const [a, b] = cidrs as [Cidr, Cidr];
  const [va, vb] = parts.map((p) => p.slice(0, p.indexOf('/'))) as [string, string];
  if (a.family !== family) throw new ConfigError(`${name}: "${value}" is not IPv${family}`);
  if (a.text !== b.text) throw new ConfigError(`${name}: "${value}": both addresses must be in one prefix of one length`);
  if (va === vb) throw new ConfigError(`${name}: "${value}": VPP and the host need two different addresses`);
  const maxLen = family === 4 ? 30 : 126;
  if (a.len > maxLen) throw new ConfigError(`${name}: "${value}": the prefix must be /${maxLen} or shorter`);
  if (family === 4 && (va === a.network || vb === a.network)) throw new ConfigError(`${name}: "${value}": the network address of ${a.text} cannot be an end of the link`);
  return { vpp: va, host: vb, len: a.len };
}

/** The node dataplane's settings, checked together (overlaps, MTU). */
function nodeDataplaneConfig(get: Getter, podMtu: number, podMtuName: string): NodeDataplaneConfig {
  const en = get('VPPCNI_NODE_DATAPLANE');
  if (!['on', 'off', 'auto'].includes(en.value)) throw new ConfigError(`${en.name}: "${en.value}" is not one of on, off, auto`);
  const cn = get('VPPCNI_CROSS_NODE');
  if (!(CROSS_NODE_MODES as readonly string[]).includes(cn.value)) throw new ConfigError(`${cn.name}: "${cn.value}" is not one of ${CROSS_NODE_MODES.join(', ')}`);
  const crossNode = cn.value as CrossNodeMode;
  const cc = get('VPPCNI_CLUSTER_CIDRS');
  const cluster = cidrList(cc.name, cc.value);
  const sc = get('VPPCNI_SERVICE_CIDRS');
  const service = cidrList(sc.name, sc.value);
  for (const a of cluster) for (const b of service) if (overlaps(a, b)) throw new ConfigError(`${sc.name}: ${b.text} overlaps the cluster CIDR ${a.text} of ${cc.name}`);
  const ip4 = hostLinkPair(get, 'VPPCNI_HOST_LINK_IP4', 4);
  const ip6 = hostLinkPair(get, 'VPPCNI_HOST_LINK_IP6', 6);
  if (!ip4 && !ip6) throw new ConfigError(`${get('VPPCNI_HOST_LINK_IP4').name}: the host link needs an address in at least one family (both are none)`);
  for (const [envName, pair] of [['VPPCNI_HOST_LINK_IP4', ip4], ['VPPCNI_HOST_LINK_IP6', ip6]] as const) {
    if (!pair) continue;
    const link = parseCidr(`${pair.vpp}/${pair.len}`)!;
    for (const [otherName, list] of [[cc.name, cluster], [sc.name, service]] as const) {
      const hit = list.find((c) => overlaps(c, link));
      if (hit) throw new ConfigError(`${get(envName).name}: ${link.text} overlaps ${hit.text} of ${otherName}`);
    }
  }
  const mtuIn = get('VPPCNI_HOST_LINK_MTU');
  const mtu = Number(mtuIn.value);
  if (!/^\d+$/.test(mtuIn.value) || mtu < 1280 || mtu > 9216) throw new ConfigError(`${mtuIn.name}: "${mtuIn.value}" is not an MTU between 1280 and 9216`);
  const vniIn = get('VPPCNI_VXLAN_VNI');
  const vni = Number(vniIn.value);
  if (!/^\d+$/.test(vniIn.value) || vni < 1 || vni > 16_777_215) throw new ConfigError(`${vniIn.name}: "${vniIn.value}" is not a VNI (1-16777215)`);
  const portIn = get('VPPCNI_VXLAN_PORT');
  const vxPort = Number(portIn.value);
  if (!/^\d+$/.test(portIn.value) || vxPort < 1 || vxPort > 65535) throw new ConfigError(`${portIn.name}: "${portIn.value}" is not a UDP port (1-65535)`);
  const nsIn = get('VPPCNI_NODE_NETNS');
  if (nsIn.value !== '' && !/^[A-Za-z0-9_.-]{1,64}$/.test(nsIn.value)) throw new ConfigError(`${nsIn.name}: "${nsIn.value}" is not a netns name (letters, digits, _ . -; at most 64)`);
  const enabled = en.value as NodeDataplaneConfig['enabled'];
  if (enabled !== 'off') {
    const overhead = crossNode === 'vxlan' ? VXLAN_OVERHEAD : 0;
    if (podMtu > mtu - overhead) {
      throw new ConfigError(`${podMtuName}: ${podMtu} does not fit ${mtuIn.name} ${mtu}${overhead ? ` − ${overhead} (vxlan encapsulation)` : ''}: at most ${mtu - overhead}`);
    }
  }
  return {
    enabled,
    crossNode,
    clusterCidrs: cc.value.trim() === '' ? undefined : cluster.map((c) => c.text),
    serviceCidrs: service.map((c) => c.text),
    natOutgoing: boolOf(get, 'VPPCNI_NAT_OUTGOING'),
    services: boolOf(get, 'VPPCNI_SERVICES'),
    hostLink: { ip4, ip6, mtu },
    vxlan: { vni, port: vxPort },
    netns: nsIn.value === '' ? undefined : nsIn.value,
  };
}
