/**
 * The install step the DaemonSet's init container runs: puts the vpp-cni plugin binary into the host's
 * CNI bin directory and our network configuration list into its configuration directory, both replaced
 * atomically and only when they differ, touching no other file. One output line per action; warnings
 * (a configuration the runtime would pick before ours, a missing portmap) on stderr.
 *
 * Options come from flags, else environment variables, else defaults (an empty value counts as unset).
 * Bad input is one error line and exit status 2; a filesystem failure is one line naming the operation
 * and the path, exit status 1.
 */
import { NodeLookupError, readNodePodCidrs } from './node-pod-cidrs.js';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import {
  EXIT_FAILURE,
  InstallError,
  UsageError,
  digestFile,
  ensureDir,
  fixMode,
  fsError,
  hasContent,
  lstatOrUndefined,
  replaceFileWith,
  replaceFileWithCopy,
} from './atomic-file.js';
import {
  CNI_1_1_RUNTIMES,
  CNI_VERSIONS,
  DEFAULT_AGENT_SOCKET,
  DEFAULT_CNI_VERSION,
  DEFAULT_TIMEOUT_SECONDS,
  PLUGIN_TYPE,
  agentSocketSchema,
  buildConflist,
  configsBefore,
  ipamSchema,
  mtuSchema,
  networkNameSchema,
  parsePodCidrs,
  renderConflist,
  type CniVersion,
  type ConflistOptions,
  type IpamConfig,
} from './conflist.js';

/** What the conflist needs (an explicit IPAM block wins over pod CIDRs), and where things go. */
export interface InstallOptions extends ConflistOptions {
  binSrc: string;
  cniBinDir: string;
  cniConfDir: string;
  conflistName: string;
}

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

export interface InstallReport {
  createdDirs: string[];
  binary: { path: string; size: number; sha256: string; changed: boolean };
  conflist: { path: string; changed: boolean; content: string };
  warnings: string[];
}

export const BINARY_MODE = 0o755;
export const CONFLIST_MODE = 0o644;
/** How long the portmap VERSION query may take. */
const PROBE_TIMEOUT_MS = 5000;

type Key = Exclude<keyof InstallOptions, 'timeoutSeconds'>;
interface Setting {
  key: Key;
  flag: string;
  env?: string;
  default?: string;
  /** A flag without a value. */
  boolean?: true;
  doc: string;
}

/** One row per option (the usage text is made from it). */
export const SETTINGS: readonly Setting[] = [
  { key: 'binSrc', flag: '--bin-src', env: 'VPPCNI_INSTALL_BIN_SRC', default: '/opt/vpp-cni/bin/vpp-cni', doc: 'the plugin binary to install' },
  { key: 'cniBinDir', flag: '--cni-bin-dir', env: 'VPPCNI_CNI_BIN_DIR', default: '/host/opt/cni/bin', doc: "the host's CNI plugin directory" },
  { key: 'cniConfDir', flag: '--cni-conf-dir', env: 'VPPCNI_CNI_CONF_DIR', default: '/host/etc/cni/net.d', doc: "the host's CNI configuration directory" },
  { key: 'conflistName', flag: '--conflist-name', env: 'VPPCNI_CONFLIST_NAME', default: '10-vpp-cni.conflist', doc: 'our file in it' },
  { key: 'networkName', flag: '--network-name', env: 'VPPCNI_NETWORK_NAME', default: 'vpp-cni', doc: 'the network name in the conflist' },
  { key: 'agentSocket', flag: '--agent-socket', env: 'VPPCNI_CNI_SOCKET', default: DEFAULT_AGENT_SOCKET, doc: "the agent's socket as the plugin sees it on the host" },
  { key: 'mtu', flag: '--mtu', env: 'VPPCNI_POD_MTU', doc: 'pod interface MTU written to the conflist (optional)' },
  { key: 'ipam', flag: '--ipam-json', env: 'VPPCNI_IPAM', doc: 'the IPAM block as JSON (overrides --pod-cidrs)' },
  { key: 'podCidrs', flag: '--pod-cidrs', env: 'VPPCNI_POD_CIDRS', doc: 'comma-separated pod CIDRs (one IPv4, one IPv6) for host-local' },
  { key: 'cniVersion', flag: '--cni-version', env: 'VPPCNI_CNI_VERSION', default: DEFAULT_CNI_VERSION, doc: `${CNI_VERSIONS.join(' | ')}; 1.1.0 only for ${CNI_1_1_RUNTIMES}` },
  { key: 'alsoPortmap', flag: '--also-portmap', boolean: true, doc: 'append the standard portmap plugin (capabilities portMappings)' },
];

export const USAGE = `usage: install-cni [options]   (flags win over environment variables)
${SETTINGS.map((s) => `  ${`${s.flag}${s.boolean ? '' : ' VALUE'}`.padEnd(24)} ${s.env ? `$${s.env}`.padEnd(26) : ''.padEnd(26)} ${s.doc}${s.default ? ` (default ${s.default})` : ''}`).join('\n')}`;

const pathSchema = z
  .string()
  .min(1, { error: 'must not be empty' })
  .refine((p) => !p.includes('\0'), { error: 'must not contain a NUL byte' });

const conflistNameSchema = z
  .string()
  .refine((n) => !n.includes('/') && !n.includes('\0') && !n.startsWith('.') && n.endsWith('.conflist') && n.length > '.conflist'.length, {
    error: 'must be a file name ending in ".conflist" (no "/", not starting with ".")',
  });

const jsonText = z.string().transform((text, ctx) => {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: `not valid JSON (${(e as Error).message})` });
    return z.NEVER;
  }
});

/** How each option's text becomes its value. */
const PARSERS: Record<Exclude<Key, 'alsoPortmap' | 'podCidrs'>, z.ZodType<unknown, string>> = {
  binSrc: pathSchema,
  cniBinDir: pathSchema,
  cniConfDir: pathSchema,
  conflistName: conflistNameSchema,
  networkName: networkNameSchema,
  agentSocket: agentSocketSchema,
  mtu: z.string().regex(/^\d+$/, { error: 'must be a whole number' }).transform(Number).pipe(mtuSchema),
  ipam: jsonText.pipe(ipamSchema),
  cniVersion: z.enum(CNI_VERSIONS, { error: `must be one of ${CNI_VERSIONS.join(', ')}` }),
};

function shown(v: string): string {
  return JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}...` : v);
}

function issueText(e: z.ZodError): string {
  const i = e.issues[0];
  if (!i) return 'invalid';
  const field = i.path.length ? `field "${i.path.join('.')}": ` : '';
  return `${field}${i.message}`;
}

/**
 * Reads `--flag value`, `--flag=value` and boolean flags with node:util parseArgs (its tokens, so every
 * error names the flag in our words). Unknown or repeated flags, stray arguments and a value that is
 * another flag are errors.
 */
export function parseFlags(argv: readonly string[]): Map<string, string> {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const s of SETTINGS) options[s.flag.slice(2)] = { type: s.boolean ? 'boolean' : 'string' };
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const out = new Map<string, string>();
  for (const t of tokens) {
    if (t.kind === 'positional') throw new UsageError(`unexpected argument ${shown(t.value)} (see --help)`);
    if (t.kind === 'option-terminator') throw new UsageError('unexpected argument "--" (see --help)');
    const s = SETTINGS.find((x) => x.flag === t.rawName);
    if (!s) throw new UsageError(`unknown flag ${t.rawName} (see --help)`);
    if (out.has(s.flag)) throw new UsageError(`${s.flag} given twice`);
    let v = t.value;
    if (v === undefined && s.boolean) v = 'true';
    if (v === undefined || (!t.inlineValue && v.startsWith('--'))) throw new UsageError(`${s.flag} needs a value`);
    out.set(s.flag, v);
  }
  return out;
}

/** The options from argv and the environment, validated. Throws UsageError naming the flag or variable. */
export function parseInstallOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): InstallOptions {
  const flags = parseFlags(argv);
  /** The text for an option and the name to blame: the flag, else the variable, else the default. */
  const get = (key: Key): { name: string; value: string | undefined } => {
    const s = SETTINGS.find((x) => x.key === key)!;
    const f = flags.get(s.flag);
    if (f !== undefined && f !== '') return { name: s.flag, value: f };
    const e = s.env ? env[s.env] : undefined;
    if (e !== undefined && e !== '') return { name: s.env!, value: e };
    return { name: s.flag, value: s.default };
  };
  const parse = <K extends keyof typeof PARSERS>(key: K): unknown => {
    const { name, value } = get(key);
    if (value === undefined) return undefined;
    const r = PARSERS[key].safeParse(value);
    if (!r.success) throw new UsageError(`${name}: ${issueText(r.error)} (value ${shown(value)})`);
    return r.data;
  };

  const portmap = get('alsoPortmap');
  let alsoPortmap = false;
  if (portmap.value !== undefined) {
    if (portmap.value !== 'true' && portmap.value !== 'false') throw new UsageError(`${portmap.name}: expected no value, "true" or "false" (value ${shown(portmap.value)})`);
    alsoPortmap = portmap.value === 'true';
  }

  const cidrsIn = get('podCidrs');
  let podCidrs: string[] | undefined;
  if (cidrsIn.value !== undefined) {
    podCidrs = cidrsIn.value
      .split(',')
      .map((c) => c.trim())
      .filter((c) => c !== '');
    try {
      parsePodCidrs(podCidrs);
    } catch (e) {
      throw new UsageError(`${cidrsIn.name}: ${(e as Error).message}`);
    }
  }

  return {
    binSrc: parse('binSrc') as string,
    cniBinDir: parse('cniBinDir') as string,
    cniConfDir: parse('cniConfDir') as string,
    conflistName: parse('conflistName') as string,
    networkName: parse('networkName') as string,
    agentSocket: parse('agentSocket') as string,
    timeoutSeconds: DEFAULT_TIMEOUT_SECONDS,
    mtu: parse('mtu') as number | undefined,
    ipam: parse('ipam') as IpamConfig | undefined,
    podCidrs,
    cniVersion: parse('cniVersion') as CniVersion,
    alsoPortmap,
  };
}

/** The defaults, with `over` on top (for callers that do not start from argv). */
export function defaultOptions(over: Partial<InstallOptions> = {}): InstallOptions {
  return { ...parseInstallOptions([], {}), ...over };
}

/**
 * With --also-portmap: asks the portmap in the bin directory which CNI versions it speaks (CNI_COMMAND=VERSION).
 * One that does not speak ours would fail every pod, so that stops the install (exit 2) before anything is
 * written; a missing or unanswering portmap is a warning.
 */
export function checkPortmap(binDir: string, cniVersion: CniVersion): string | undefined {
  const path = join(binDir, 'portmap');
  let st;
  try {
    st = statSync(path);
  } catch {
    return `warning: --also-portmap: there is no ${path}; pods will fail to start until it is installed`;
  }
  if (!st.isFile()) return `warning: --also-portmap: ${path} is not a file`;
  let versions: string[];
  try {
    const r = spawnSync(path, [], {
      env: { CNI_COMMAND: 'VERSION' },
      input: JSON.stringify({ cniVersion }),
      timeout: PROBE_TIMEOUT_MS,
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024,
    });
    // A plugin may answer VERSION without reading its input: EPIPE on stdin is no failure.
    if (r.error && (r.error as NodeJS.ErrnoException).code !== 'EPIPE') throw r.error;
    if (r.status !== 0) throw new Error(r.signal ? `killed by ${r.signal}` : `exit status ${r.status}: ${r.stderr.toString('utf8').trim()}`);
    const stdout = r.stdout;
    const info = z.looseObject({ supportedVersions: z.array(z.string()) }).parse(JSON.parse(stdout.toString('utf8')));
    versions = info.supportedVersions;
  } catch (e) {
    return `warning: --also-portmap: could not ask ${path} for its CNI versions (${(e as Error).message.split('\n')[0]})`;
  }
  if (versions.includes(cniVersion)) return undefined;
  const usable = CNI_VERSIONS.filter((v) => versions.includes(v));
  const hint = usable.length ? `; use --cni-version ${usable[usable.length - 1]}` : '';
  throw new UsageError(`--also-portmap: ${path} speaks CNI ${versions.join(', ')}, not ${cniVersion}${hint}`);
}

function sourceDigest(path: string): { size: number; sha256: string } {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw fsError('read source binary', path, e);
  }
  if (!st.isFile()) throw new InstallError(`read source binary ${path}: not a regular file`);
  if (st.size === 0) throw new InstallError(`read source binary ${path}: the file is empty`);
  return digestFile(path, 'read source binary');
}

function readIfFile(path: string): Buffer | undefined {
  const st = lstatOrUndefined(path);
  if (!st?.isFile()) return undefined;
  try {
    return readFileSync(path);
  } catch (e) {
    throw fsError('read', path, e);
  }
}

function otherConfigs(dir: string, ours: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((d) => !d.isDirectory())
      .map((d) => d.name);
  } catch (e) {
    throw fsError('list', dir, e);
  }
  return configsBefore(names, ours);
}

/**
 * Installs the binary, then the conflist (in that order: once the runtime sees the configuration, the
 * plugin must already be there). Everything that can be checked without writing is checked first.
 * `podCidrs`: see resolveIpam (the seam for the node's podCIDRs from the Kubernetes API).
 */
export function installCni(opts: InstallOptions, io: Io, podCidrs?: readonly string[]): InstallReport {
  const warnings: string[] = [];
  const warn = (line: string): void => {
    warnings.push(line);
    io.err(line);
  };

  // 1. Everything that needs no writing: the conflist, the source binary, portmap's versions.
  const conflist = buildConflist(opts, podCidrs);
  const content = renderConflist(conflist);
  const src = sourceDigest(opts.binSrc);
  if (opts.cniVersion === '1.1.0') {
    warn(`warning: cniVersion 1.1.0: only ${CNI_1_1_RUNTIMES} take it; containerd 1.6/1.7 and CRI-O with libcni 1.1 fail every pod (unsupported CNI result version "1.1.0"): use 1.0.0 there`);
  }
  if (opts.alsoPortmap) {
    const w = checkPortmap(opts.cniBinDir, opts.cniVersion);
    if (w) warn(w);
  }

  // 2. Directories.
  const createdDirs: string[] = [];
  for (const dir of [opts.cniBinDir, opts.cniConfDir]) {
    if (ensureDir(dir)) {
      createdDirs.push(dir);
      io.out(`created ${dir}`);
    }
  }

  // 3. The binary.
  const binPath = join(opts.cniBinDir, PLUGIN_TYPE);
  let binChanged = false;
  if (hasContent(binPath, src)) {
    const fixed = fixMode(binPath, BINARY_MODE);
    io.out(`unchanged ${binPath} (sha256 ${src.sha256})${fixed ? ', mode set to 0755' : ''}`);
  } else {
    replaceFileWithCopy(opts.cniBinDir, PLUGIN_TYPE, BINARY_MODE, opts.binSrc, src);
    binChanged = true;
    io.out(`installed ${binPath} (sha256 ${src.sha256})`);
  }

  // 4. The conflist.
  const confPath = join(opts.cniConfDir, opts.conflistName);
  let confChanged = false;
  const existing = readIfFile(confPath);
  if (existing?.equals(content)) {
    const fixed = fixMode(confPath, CONFLIST_MODE);
    io.out(`unchanged ${confPath}${fixed ? ' (mode set to 0644)' : ''}`);
  } else {
    replaceFileWith(opts.cniConfDir, opts.conflistName, CONFLIST_MODE, content);
    confChanged = true;
    io.out(`wrote ${confPath}`);
  }

  // 5. A configuration the runtime would use instead of ours.
  const before = otherConfigs(opts.cniConfDir, opts.conflistName);
  if (before.length > 0) {
    const paths = before.map((n) => join(opts.cniConfDir, n)).join(', ');
    const one = before.length === 1;
    warn(
      `warning: ${paths} sort${one ? 's' : ''} before ${opts.conflistName}: the container runtime uses the first configuration in name order, ` +
        `so pods will not get ${opts.networkName} until ${one ? 'it is' : 'they are'} removed or renamed`,
    );
  }

  return {
    createdDirs,
    binary: { path: binPath, size: src.size, sha256: src.sha256, changed: binChanged },
    conflist: { path: confPath, changed: confChanged, content: content.toString('utf8') },
    warnings,
  };
}

/** argv and environment in, exit status out: 0 done, 2 bad input, 1 anything else. */
export async function runInstall(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: Io): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(USAGE);
    return 0;
  }
  try {
    const opts = parseInstallOptions(argv, env);
    let podCidrs: string[] | undefined;
    // Neither explicit CIDRs nor an IPAM block: the node's own pod CIDRs, from the Kubernetes API.
    if (!opts.podCidrs && !opts.ipam && env.NODE_NAME) {
      try {
        podCidrs = await readNodePodCidrs({ nodeName: env.NODE_NAME, env });
      } catch (e) {
        throw new InstallError(e instanceof NodeLookupError ? e.message : String(e), EXIT_FAILURE);
      }
      io.out(`node ${env.NODE_NAME}: pod CIDRs ${podCidrs.join(', ')} (from the Kubernetes API)`);
    }
    installCni(opts, io, podCidrs);
    return 0;
  } catch (e) {
    if (e instanceof InstallError) {
      io.err(`install-cni: ${e.message}`);
      return e.exitCode;
    }
    io.err(`install-cni: ${(e as Error).stack ?? String(e)}`);
    return EXIT_FAILURE;
  }
}
