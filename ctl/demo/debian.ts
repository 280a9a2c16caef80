/**
 * What the demo needs from the machine and which Debian package brings it: on a fresh Debian 12 the demo
 * installs the missing packages itself (as root, with apt-get, saying so), unless told not to. The probes
 * and the command runner are passed in, so the plan is testable without touching the machine.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandResult } from './exec.js';

/** One thing the demo needs, how to see it is there, and the package that brings it. */
export interface Need {
  what: string;
  pkg: string;
  /** A command to run (`[cmd, ...args]`) that succeeds when present, or a file that must exist. */
  probe: { command: readonly string[] } | { file: string };
}

export const CNI_PATH = '/usr/lib/cni';

export const DEMO_NEEDS: readonly Need[] = [
  { what: 'ip (network namespaces, links, addresses)', pkg: 'iproute2', probe: { command: ['ip', '-V'] } },
  { what: 'ss (sockets in a pod namespace)', pkg: 'iproute2', probe: { command: ['ss', '-V'] } },
  { what: 'nsenter', pkg: 'util-linux', probe: { command: ['nsenter', '--version'] } },
  { what: `host-local, the IPAM plugin (${CNI_PATH}/host-local)`, pkg: 'containernetworking-plugins', probe: { file: join(CNI_PATH, 'host-local') } },
  // the agent's node dataplane, in the demo's node namespace: its chains and its sysctls
  { what: 'iptables-restore (the node dataplane\'s chains)', pkg: 'iptables', probe: { command: ['iptables-restore', '--version'] } },
  { what: 'sysctl (the node dataplane\'s forwarding settings)', pkg: 'procps', probe: { command: ['sysctl', '--version'] } },
];

export type Runner = (cmd: string, args: readonly string[], opts: { timeoutMs: number; env?: NodeJS.ProcessEnv }) => Promise<CommandResult>;

/** The needs that are missing on this machine. */
export async function missingNeeds(needs: readonly Need[], run: Runner, fileExists: (p: string) => boolean = existsSync): Promise<Need[]> {
  const out: Need[] = [];
  for (const n of needs) {
    if ('file' in n.probe) {
      if (!fileExists(n.probe.file)) out.push(n);
    } else {
      const [cmd, ...args] = n.probe.command;
      const r = await run(cmd!, args, { timeoutMs: 10_000 });
      if (r.spawnError !== undefined) out.push(n);
    }
  }
  return out;
}

/** The packages for these needs, each once, in a stable order. */
export function packagesFor(needs: readonly Need[]): string[] {
  return [...new Set(needs.map((n) => n.pkg))].sort();
}

const APT_TIMEOUT_MS = 600_000;

export interface AptOutcome {
  ok: boolean;
  /** The commands run, as a user would type them. */
  commands: string[];
  /** Why it failed (the last lines of apt-get's output). */
  error?: string;
}

/**
 * `apt-get update` then `apt-get install --no-install-recommends` of `pkgs` (non-interactive, bounded).
 * Needs root and apt-get; the caller checks both.
 */
export async function aptInstall(pkgs: readonly string[], run: Runner): Promise<AptOutcome> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' };
  const steps: [string, string[]][] = [
    ['apt-get', ['update', '-qq']],
    ['apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs]],
  ];
  const commands: string[] = [];
  for (const [cmd, args] of steps) {
    commands.push([cmd, ...args].join(' '));
    const r = await run(cmd, args, { timeoutMs: APT_TIMEOUT_MS, env });
    if (r.code !== 0) {
      const why = r.spawnError ?? (r.timedOut ? `no end after ${APT_TIMEOUT_MS / 1000} s` : `${`${r.stderr}\n${r.stdout}`.trim().split('\n').slice(-3).join(' | ')}`);
      return { ok: false, commands, error: `${[cmd, ...args].join(' ')} failed: ${why}` };
    }
  }
  return { ok: true, commands };
}
