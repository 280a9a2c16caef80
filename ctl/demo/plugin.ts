/**
 * The CNI plugin as a container runtime runs it: the binary `dist/vpp-cni` (built when missing or older
 * than its sources), environment (CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_PATH,
 * CNI_ARGS) and the network configuration on stdin in, a result or error object on stdout and the exit
 * status out. host-local from containernetworking-plugins is the IPAM delegate.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand, type CommandResult } from './exec.js';

export const CNI_PATH = '/usr/lib/cni';
export const PLUGIN_TIMEOUT_MS = 60_000;
const BUILD_TIMEOUT_MS = 300_000;

export function pluginBinary(root: string): string {
  return join(root, 'dist', 'vpp-cni');
}

/** host-local's path, or undefined when containernetworking-plugins is not installed. */
export function findHostLocal(): string | undefined {
  const p = join(CNI_PATH, 'host-local');
  return existsSync(p) ? p : undefined;
}

function newestSource(dir: string): { file: string; mtimeMs: number } | undefined {
  let best: { file: string; mtimeMs: number } | undefined;
  if (!existsSync(dir)) return undefined;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const b = newestSource(p);
      if (b && (!best || b.mtimeMs > best.mtimeMs)) best = b;
    } else if (/\.(ts|proto)$/.test(e.name)) {
      const m = statSync(p).mtimeMs;
      if (!best || m > best.mtimeMs) best = { file: p, mtimeMs: m };
    }
  }
  return best;
}

/** Why the plugin binary must be (re)built, or undefined when it is up to date. */
export function pluginStale(root: string): string | undefined {
  const bin = pluginBinary(root);
  if (!existsSync(bin)) return `${bin} is missing`;
  const built = statSync(bin).mtimeMs;
  // the plugin bundles cni-plugin/ and the contract it shares with the agent
  for (const dir of ['cni-plugin', 'contract']) {
    const s = newestSource(join(root, dir));
    if (s && s.mtimeMs > built) return `${bin} is older than ${s.file.slice(root.length + 1)}`;
  }
  return undefined;
}

/** `npm run build:plugin` (through the npm running us, when there is one). */
export function buildPlugin(root: string): Promise<CommandResult> {
  const npmCli = process.env.npm_execpath;
  const [cmd, args] = npmCli && /npm-cli\.js$/.test(npmCli) ? [process.execPath, [npmCli, 'run', 'build:plugin']] : ['npm', ['run', 'build:plugin']];
  return runCommand(cmd, args, { timeoutMs: BUILD_TIMEOUT_MS, cwd: root });
}

export interface NetworkDef {
  name: string;
  subnet: string;
  routes: { dst: string }[];
}

/** The network configuration a runtime would read from /etc/cni/net.d and write to the plugin's stdin. */
export function netconf(net: NetworkDef, agentSocket: string, ipamDir: string): Record<string, unknown> {
  return {
    cniVersion: '1.1.0',
    name: net.name,
    type: 'vpp-cni',
    agentSocket,
    timeoutSeconds: 20,
    ipam: { type: 'host-local', ranges: [[{ subnet: net.subnet }]], ...(net.routes.length ? { routes: net.routes } : {}), dataDir: ipamDir },
  };
}

export interface PluginCall {
  command: 'ADD' | 'DEL' | 'CHECK' | 'STATUS';
  containerId: string;
  netns: string;
  ifName: string;
  cniArgs: string;
}

export function pluginEnv(c: PluginCall): Record<string, string> {
  return {
    CNI_COMMAND: c.command,
    CNI_CONTAINERID: c.containerId,
    CNI_NETNS: c.netns,
    CNI_IFNAME: c.ifName,
    CNI_PATH,
    CNI_ARGS: c.cniArgs,
  };
}

export interface PluginOutput {
  code: number | null;
  /** stdout parsed (result or error object); undefined when empty. */
  json: Record<string, unknown> | undefined;
  raw: string;
  stderr: string;
  problem?: string;
}

/** Runs the plugin with a runtime's environment (only the CNI variables and PATH) and `conf` on stdin. */
export async function runPlugin(binary: string, call: PluginCall, conf: Record<string, unknown>): Promise<PluginOutput> {
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...pluginEnv(call) };
  const r = await runCommand(binary, [], { timeoutMs: PLUGIN_TIMEOUT_MS, env, input: JSON.stringify(conf), detached: true });
  const out: PluginOutput = { code: r.code, json: undefined, raw: r.stdout, stderr: r.stderr };
  if (r.spawnError) out.problem = `cannot run ${binary} (${r.spawnError})`;
  else if (r.timedOut) out.problem = `no answer within ${PLUGIN_TIMEOUT_MS / 1000} s (killed)`;
  if (r.stdout.trim()) {
    try {
      const v: unknown = JSON.parse(r.stdout);
      if (v && typeof v === 'object' && !Array.isArray(v)) out.json = v as Record<string, unknown>;
      else out.problem ??= 'stdout is not a JSON object';
    } catch {
      out.problem ??= 'stdout is not JSON';
    }
  }
  return out;
}

/** Addresses host-local still holds in `dataDir` (one file per address, per network directory). */
export function allocatedAddresses(dataDir: string): string[] {
  if (!existsSync(dataDir)) return [];
  const out: string[] = [];
  for (const net of readdirSync(dataDir, { withFileTypes: true })) {
    if (!net.isDirectory()) continue;
    for (const f of readdirSync(join(dataDir, net.name))) {
      if (/^[0-9.]+$|:/.test(f) && !f.startsWith('last_reserved_ip')) out.push(`${net.name}/${f}`);
    }
  }
  return out.sort();
}
