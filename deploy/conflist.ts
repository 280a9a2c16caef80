/**
 * The network configuration list the install step writes for the container runtime: vpp-cni first (its
 * agent socket, timeout, optional MTU, an IPAM block and the runtime capabilities it honours), then
 * optionally the standard portmap plugin.
 * The IPAM block is either given whole or made from the node's pod CIDRs (host-local, one range set per
 * CIDR). Validated with zod before anything is written. Also: which other configurations in the directory
 * a runtime would pick before ours.
 *
 * Depends on node and zod only (it runs in the DaemonSet's init container, not in the plugin or agent),
 * so the few values it shares with cni-plugin/netconf.ts are repeated here; a test checks they agree.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { UsageError } from './atomic-file.js';

export const CNI_VERSIONS = ['0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof CNI_VERSIONS)[number];
/**
 * The conflist's default version: the newest that containerd 1.6/1.7 (libcni 1.1: results up to 1.0.0) and
 * CRI-O take. A 1.1.0 conflist makes those runtimes refuse every result ("unsupported CNI result version");
 * only runtimes built with libcni 1.2 or later (containerd 2.x) accept it.
 */
export const DEFAULT_CNI_VERSION: CniVersion = '1.0.0';
/** Runtimes known to take a 1.1.0 conflist (for messages and docs). */
export const CNI_1_1_RUNTIMES = 'containerd 2.0 or later (libcni 1.2+)';
/**
 * Runtime capabilities vpp-cni declares: containerd and CRI-O then put the pod's annotations into the
 * netconf's runtimeConfig. Not declared: portMappings (vpp-cni does not do host ports; chain portmap with
 * --also-portmap) and bandwidth (not supported).
 */
export const VPP_CAPABILITIES = { 'io.kubernetes.cri.pod-annotations': true } as const;
export const PLUGIN_TYPE = 'vpp-cni';
export const DEFAULT_AGENT_SOCKET = '/var/run/vpp-cni/agent.sock';
export const DEFAULT_TIMEOUT_SECONDS = 60;
export const MAX_TIMEOUT_SECONDS = 3600;
/** sun_path is 108 bytes with its terminating NUL. */
export const MAX_UNIX_SOCKET_PATH = 107;
/** The agent's bounds for VPPCNI_POD_MTU (agent/config.ts); the same variable feeds both. */
export const MIN_MTU = 576;
export const MAX_MTU = 9216;
/** host-local's own default, written out so the node's lease directory is visible in the file. */
export const HOST_LOCAL_DATA_DIR = '/var/lib/cni/networks';
/** Extensions libcni (containerd, CRI-O) reads from the configuration directory. */
export const RUNTIME_CONF_EXTENSIONS = ['.conf', '.conflist', '.json'] as const;

/** A CNI network name (the spec's pattern). */
export const networkNameSchema = z
  .string()
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, { error: 'must start with a letter or digit and hold only letters, digits, "_", "." and "-"' });

/** A plugin's executable name: looked up in CNI_PATH, so never a path. */
export const pluginTypeSchema = z
  .string({ error: 'expected a string' })
  .min(1, { error: 'must not be empty' })
  .refine((t) => !t.includes('/') && t !== '.' && t !== '..' && !/\s/.test(t), { error: 'must be a plain executable name (no "/", not "." or "..", no whitespace)' });

export const agentSocketSchema = z
  .string()
  .refine((p) => p.startsWith('/'), { error: 'must be an absolute path' })
  .refine((p) => Buffer.byteLength(p) <= MAX_UNIX_SOCKET_PATH, { error: `longer than ${MAX_UNIX_SOCKET_PATH} bytes (the unix socket path limit)` });

export const mtuSchema = z
  .number()
  .int({ error: `must be a whole number between ${MIN_MTU} and ${MAX_MTU}` })
  .min(MIN_MTU, { error: `must be at least ${MIN_MTU}` })
  .max(MAX_MTU, { error: `must be at most ${MAX_MTU}` });

/** Any IPAM block: an object whose "type" names the IPAM plugin; every other field is the plugin's business. */
export const ipamSchema = z.looseObject({ type: pluginTypeSchema }, { error: 'expected a JSON object with a "type"' });
export type IpamConfig = z.infer<typeof ipamSchema>;

const vppPluginSchema = z.strictObject({
  type: z.literal(PLUGIN_TYPE),
  agentSocket: agentSocketSchema,
  timeoutSeconds: z.number().positive().max(MAX_TIMEOUT_SECONDS),
  mtu: mtuSchema.optional(),
  capabilities: z.strictObject({ 'io.kubernetes.cri.pod-annotations': z.literal(true) }),
  ipam: ipamSchema,
});

export const conflistSchema = z.strictObject({
  cniVersion: z.enum(CNI_VERSIONS),
  name: networkNameSchema,
  plugins: z.tuple([vppPluginSchema], z.looseObject({ type: pluginTypeSchema })),
});
export type Conflist = z.infer<typeof conflistSchema>;

// ---- pod CIDRs ----------------------------------------------------------------------------------------

export interface Cidr {
  family: 4 | 6;
  /** As given (trimmed). */
  text: string;
  bytes: number[];
  prefix: number;
}

function ipv4Bytes(s: string): number[] | undefined {
  return isIPv4(s) ? s.split('.').map(Number) : undefined;
}

function ipv6Bytes(s: string): number[] | undefined {
  if (!isIPv6(s) || s.includes('%')) return undefined;
  let head = s;
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    const v4 = ipv4Bytes(s.slice(lastColon + 1));
    if (!v4) return undefined;
    tail = v4;
    head = s.endsWith('::', lastColon + 1) ? s.slice(0, lastColon + 1) : s.slice(0, lastColon);
  }
  const halves = head.split('::');
  const groups = (p: string | undefined): number[] => (p ? p.split(':').map((h) => Number.parseInt(h, 16)) : []);
  const left = groups(halves[0]);
  const right = groups(halves[1]);
  const want = 8 - tail.length / 2;
  const zeros = halves.length === 2 ? want - left.length - right.length : 0;
  const all = [...left, ...new Array<number>(Math.max(zeros, 0)).fill(0), ...right];
  if (all.length !== want) return undefined;
  return [...all.flatMap((g) => [g >> 8, g & 0xff]), ...tail];
}

function formatAddress(family: 4 | 6, bytes: number[]): string {
  if (family === 4) return bytes.join('.');
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952: the longest run of two or more zero groups becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  return best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** Parses "a.b.c.d/n" or "x::/n": a network address (no host bits) with room for host-local to allocate from. */
export function parseCidr(text: string): Cidr {
  const t = text.trim();
  const slash = t.indexOf('/');
  const addr = slash < 0 ? t : t.slice(0, slash);
  const len = slash < 0 ? '' : t.slice(slash + 1);
  const v4 = ipv4Bytes(addr);
  const bytes = v4 ?? ipv6Bytes(addr);
  if (!bytes) throw new UsageError(`"${t}" is not a CIDR (address/prefix length, e.g. 10.244.1.0/24 or fd00:10:244:1::/64)`);
  const family = v4 ? 4 : 6;
  const bits = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(len) || Number(len) > bits) throw new UsageError(`"${t}" is not a CIDR: the prefix length must be 0 to ${bits}`);
  const prefix = Number(len);
  // host-local refuses a network smaller than 4 addresses.
  if (prefix > bits - 2) throw new UsageError(`"${t}": /${prefix} is too small to allocate pod addresses from (at most /${bits - 2})`);
  const masked = bytes.map((b, i) => {
    const keep = Math.min(Math.max(prefix - i * 8, 0), 8);
    return b & ((0xff << (8 - keep)) & 0xff);
  });
  if (masked.some((b, i) => b !== bytes[i])) {
    throw new UsageError(`"${t}" has host bits set (the network is ${formatAddress(family, masked)}/${prefix})`);
  }
  return { family, text: t, bytes, prefix };
}

/**
 * A node's pod CIDRs: at most one IPv4 and one IPv6 (as Kubernetes allows in a node's podCIDRs),
 * in the order given (the first is the primary family).
 */
export function parsePodCidrs(list: readonly string[]): Cidr[] {
  const out: Cidr[] = [];
  for (const item of list) {
    const c = parseCidr(item);
    const same = out.find((o) => o.family === c.family);
    if (same) throw new UsageError(`"${same.text}" and "${c.text}": at most one IPv${c.family} CIDR (one IPv4 and one IPv6, as a node's podCIDRs)`);
    out.push(c);
  }
  if (out.length === 0) throw new UsageError('no CIDR given');
  return out;
}

/** The host-local block for pod CIDRs: one range set per CIDR, a default route per family present. */
export function hostLocalIpam(cidrs: readonly Cidr[]): IpamConfig {
  return {
    type: 'host-local',
    ranges: cidrs.map((c) => [{ subnet: c.text }]),
    routes: cidrs.map((c) => ({ dst: c.family === 4 ? '0.0.0.0/0' : '::/0' })),
    dataDir: HOST_LOCAL_DATA_DIR,
  };
}

// ---- the conflist -------------------------------------------------------------------------------------

export interface ConflistOptions {
  cniVersion: CniVersion;
  networkName: string;
  agentSocket: string;
  timeoutSeconds: number;
  mtu?: number | undefined;
  /** An explicit IPAM block: used as is, whatever the pod CIDRs. */
  ipam?: IpamConfig | undefined;
  podCidrs?: string[] | undefined;
  alsoPortmap: boolean;
}

/**
 * The IPAM block: the explicit one when given, else host-local over `podCidrs`.
 *
 * The seam for reading the node's spec.podCIDRs from the Kubernetes API (a later issue): the caller passes
 * the list it found as `podCidrs`; without one, the list from the options (--pod-cidrs, VPPCNI_POD_CIDRS)
 * is used. An explicit IPAM block always wins.
 */
export function resolveIpam(opts: Pick<ConflistOptions, 'ipam' | 'podCidrs'>, podCidrs: readonly string[] | undefined = opts.podCidrs): IpamConfig {
  if (opts.ipam) return opts.ipam;
  if (!podCidrs || podCidrs.length === 0) {
    throw new UsageError('no IPAM configuration: give --ipam-json (VPPCNI_IPAM) or --pod-cidrs (VPPCNI_POD_CIDRS)');
  }
  let cidrs: Cidr[];
  try {
    cidrs = parsePodCidrs(podCidrs);
  } catch (e) {
    throw new UsageError(`pod CIDRs: ${(e as Error).message}`);
  }
  return hostLocalIpam(cidrs);
}

function issueLine(e: z.ZodError): string {
  const i = e.issues[0];
  if (!i) return 'invalid';
  let path = '';
  for (const p of i.path) path += typeof p === 'number' ? `[${p}]` : `${path ? '.' : ''}${String(p)}`;
  return `${path || '(root)'}: ${i.message}`;
}

/** The conflist object, validated. Throws UsageError naming the offending field. */
export function buildConflist(opts: ConflistOptions, podCidrs?: readonly string[]): Conflist {
  const plugin: Record<string, unknown> = { type: PLUGIN_TYPE, agentSocket: opts.agentSocket, timeoutSeconds: opts.timeoutSeconds };
  if (opts.mtu !== undefined) plugin['mtu'] = opts.mtu;
  plugin['capabilities'] = { ...VPP_CAPABILITIES };
  plugin['ipam'] = resolveIpam(opts, podCidrs ?? opts.podCidrs);
  const plugins: Record<string, unknown>[] = [plugin];
  if (opts.alsoPortmap) plugins.push({ type: 'portmap', capabilities: { portMappings: true } });
  const r = conflistSchema.safeParse({ cniVersion: opts.cniVersion, name: opts.networkName, plugins });
  if (!r.success) throw new UsageError(`invalid conflist: ${issueLine(r.error)}`);
  return r.data;
}

/** The file's bytes: two-space JSON and a final newline. */
export function renderConflist(c: Conflist): Buffer {
  return Buffer.from(`${JSON.stringify(c, null, 2)}\n`);
}

/** Byte order, as the runtimes sort the directory (Go's sort.Strings). */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * The configuration files a runtime would consider before `ours`: names with a runtime extension that sort
 * before it (directories excluded by the caller).
 */
export function configsBefore(names: readonly string[], ours: string): string[] {
  return names
    .filter((n) => n !== ours && RUNTIME_CONF_EXTENSIONS.some((x) => n.endsWith(x)) && compareNames(n, ours) < 0)
    .sort(compareNames);
}
