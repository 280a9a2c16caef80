/**
 * The Linux side of the demo: network namespaces standing in for pods (`ip netns add`, named
 * `vcni-demo-<pid>-<n>`), what a pod sees inside its namespace (`ip -br addr`, `ip route`, `ss -xl`
 * through `ip netns exec`), and the list of namespaces left at the end. Argument arrays and timeouts only.
 */
import { execFileSync } from 'node:child_process';
import { failureOf, runCommand } from './exec.js';

const TIMEOUT_MS = 10_000;
export const NETNS_DIR = '/var/run/netns';
export const NETNS_PREFIX = 'vcni-demo-';

export interface Netns {
  name: string;
  /** What the runtime passes as CNI_NETNS. */
  path: string;
}

export class NetnsSet {
  private n = 0;
  private readonly live = new Set<string>();

  constructor(private readonly runId: number = process.pid) {}

  get prefix(): string {
    return `${NETNS_PREFIX}${this.runId}-`;
  }

  get names(): string[] {
    return [...this.live];
  }

  /** A new namespace `<prefix><n>`, or `<prefix><suffix>` when given (the node's host: `...-node`). */
  async create(suffix?: string): Promise<Netns> {
    const name = `${this.prefix}${suffix ?? ++this.n}`;
    const r = await runCommand('ip', ['netns', 'add', name], { timeoutMs: TIMEOUT_MS });
    if (r.code !== 0) throw new Error(`ip netns add ${name}: ${failureOf(r, TIMEOUT_MS)}`);
    this.live.add(name);
    return { name, path: `${NETNS_DIR}/${name}` };
  }

  /** Deletes one namespace; returns an error line, or undefined when it is gone. */
  async delete(name: string): Promise<string | undefined> {
    const r = await runCommand('ip', ['netns', 'del', name], { timeoutMs: TIMEOUT_MS });
    if (r.code === 0 || !(await listNetns()).includes(name)) {
      this.live.delete(name);
      return undefined;
    }
    return `ip netns del ${name}: ${failureOf(r, TIMEOUT_MS)}`;
  }

  /** Second Ctrl-C / process exit: delete what is left, synchronously, ignoring errors. */
  deleteAllNow(): void {
    for (const name of this.live) {
      try {
        execFileSync('ip', ['netns', 'del', name], { timeout: TIMEOUT_MS, stdio: 'ignore' });
      } catch {
        // gone already, or nothing more we can do
      }
    }
    this.live.clear();
  }
}

/**
 * The node's host side in `ns`: `lo` up and an uplink with `prefix` (its subnet is the node network, so other
 * nodes' InternalIPs are on-link). The uplink is one end of a veth pair whose other end (`peer`, standing for
 * the switch) stays in the namespace too: the uplink has carrier and needs no kernel module beyond veth.
 * Returns the commands as run; throws with the failing one.
 */
export async function setupNodeHost(ns: Netns, uplink: string, peer: string, prefix: string): Promise<string[][]> {
  const cmds = [
    ['ip', '-n', ns.name, 'link', 'set', 'dev', 'lo', 'up'],
    ['ip', '-n', ns.name, 'link', 'add', uplink, 'type', 'veth', 'peer', 'name', peer],
    ['ip', '-n', ns.name, 'address', 'add', prefix, 'dev', uplink],
    ['ip', '-n', ns.name, 'link', 'set', 'dev', uplink, 'up'],
    ['ip', '-n', ns.name, 'link', 'set', 'dev', peer, 'up'],
  ];
  for (const c of cmds) {
    const r = await runCommand(c[0]!, c.slice(1), { timeoutMs: TIMEOUT_MS, env: { ...process.env, LC_ALL: 'C' } });
    if (r.code !== 0) throw new Error(`${c.join(' ')}: ${failureOf(r, TIMEOUT_MS)}`);
  }
  return cmds;
}

/** Names in `ip netns list` (its lines look like `name` or `name (id: 3)`). */
export async function listNetns(): Promise<string[]> {
  const r = await runCommand('ip', ['netns', 'list'], { timeoutMs: TIMEOUT_MS });
  if (r.code !== 0) throw new Error(`ip netns list: ${failureOf(r, TIMEOUT_MS)}`);
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

/**
 * veth host ends the agent made for these containers (name `vcni` + 11 hex digits, ifalias starting with
 * the owner tag `vcni:<cid12>:`), as `name alias` lines. The naming rule is agent/pod/kinds/veth.ts's,
 * restated here because ctl may not import the agent (the demo checks the agent from outside).
 */
export async function vethHostEnds(containerIds: readonly string[]): Promise<string[]> {
  const r = await runCommand('ip', ['-j', 'link', 'show'], { timeoutMs: TIMEOUT_MS });
  if (r.code !== 0) throw new Error(`ip -j link show: ${failureOf(r, TIMEOUT_MS)}`);
  const prefixes = containerIds.map((c) => `vcni:${c.slice(0, 12)}:`);
  return (JSON.parse(r.stdout || '[]') as { ifname: string; ifalias?: string }[])
    .filter((l) => /^vcni[0-9a-f]{11}$/.test(l.ifname) && prefixes.some((p) => (l.ifalias ?? '').startsWith(p)))
    .map((l) => `${l.ifname} ${l.ifalias ?? ''}`);
}

export interface InsideCommand {
  /** As printed: `ip netns exec <name> ip -br addr`. */
  argv: string[];
  output: string;
  ok: boolean;
}

/** What the pod sees: addresses, routes and listening unix sockets (memif, VCL) in its namespace. */
export async function podLinuxState(ns: Netns): Promise<InsideCommand[]> {
  const cmds = [
    ['ip', '-br', 'addr'],
    ['ip', 'route'],
    ['ss', '-xl'],
  ];
  const out: InsideCommand[] = [];
  for (const c of cmds) {
    const argv = ['ip', 'netns', 'exec', ns.name, ...c];
    const r = await runCommand(argv[0]!, argv.slice(1), { timeoutMs: TIMEOUT_MS });
    out.push({ argv, ok: r.code === 0, output: r.code === 0 ? r.stdout : failureOf(r, TIMEOUT_MS) });
  }
  return out;
}

/** True when `command` can be run (found in PATH). */
export async function haveCommand(command: string, args: readonly string[] = ['-V']): Promise<boolean> {
  const r = await runCommand(command, args, { timeoutMs: TIMEOUT_MS });
  return r.spawnError === undefined;
}
