/**
 * Commands of the node dataplane's host side (routes, VXLAN, iptables), run in the agent's own netns or in a
 * named one (tests: each "node" is a netns). Argument arrays only, LC_ALL=C so outputs and errors parse the
 * same everywhere, and a bounded wait. iproute2 tools take the netns with `-n`; others run through
 * `ip netns exec`.
 */
import { run } from './exec.js';

export interface HostCmdOptions {
  /** A named netns (under /var/run/netns); undefined: the agent's own. */
  readonly netns?: string | undefined;
  readonly timeoutMs?: number;
}

const IPROUTE = new Set(['ip', 'bridge']);
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export class HostCmd {
  readonly netns: string | undefined;
  private readonly timeoutMs: number;

  constructor(opts: HostCmdOptions = {}) {
    if (opts.netns !== undefined && !NAME.test(opts.netns)) throw new Error(`invalid netns name ${JSON.stringify(opts.netns)}`);
    this.netns = opts.netns;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** The argv that runs `cmd args` in this netns. */
  argv(cmd: string, args: readonly string[]): string[] {
    if (this.netns === undefined) return [cmd, ...args];
    if (IPROUTE.has(cmd)) return [cmd, '-n', this.netns, ...args];
    return ['ip', 'netns', 'exec', this.netns, cmd, ...args];
  }

  /** Runs a command in this netns; resolves with stdout; rejects with exec.ts's CommandError (LC_ALL=C, bounded wait). */
  run(cmd: string, args: readonly string[], input?: string): Promise<string> {
    const [file, ...rest] = this.argv(cmd, args);
    return run(file!, rest, { timeoutMs: this.timeoutMs, ...(input === undefined ? {} : { input }) });
  }

  /** `cmd -j args` parsed as JSON (an empty output is an empty list). */
  async json(cmd: 'ip' | 'bridge', args: readonly string[]): Promise<unknown> {
    const out = await this.run(cmd, ['-j', ...args]);
    return out.trim() === '' ? [] : (JSON.parse(out) as unknown);
  }
}
