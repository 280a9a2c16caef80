/**
 * Our iptables chains (IPv4 and IPv6), next to kube-proxy's and anyone else's:
 *  - filter VPPCNI-FORWARD (jumped to first from FORWARD): accept traffic from and to the pod CIDRs, so a
 *    FORWARD policy of DROP (Docker, some distributions) does not cut pods off;
 *  - nat VPPCNI-POSTROUTING (jumped to first from POSTROUTING), with natOutgoing: destinations inside the
 *    cluster ranges return untouched, everything else from a pod CIDR is masqueraded.
 * Each chain is rewritten as a whole with `iptables-restore --noflush` (declaring a chain flushes only it);
 * the jumps carry the comment `vpp-cni` and are found by it; nothing else is read or changed.
 */
import type { HostCmd } from './host-cmd.js';

export const FORWARD_CHAIN = 'VPPCNI-FORWARD';
export const NAT_CHAIN = 'VPPCNI-POSTROUTING';
export const JUMP_COMMENT = 'vpp-cni';
const XTABLES_WAIT_SECONDS = '5';

export interface ChainSpec {
  /** Pod CIDRs of the cluster (accepted in FORWARD; sources that are masqueraded). */
  readonly podCidrs: readonly string[];
  /** Destinations that are never masqueraded (cluster and service CIDRs). */
  readonly noMasqueradeCidrs: readonly string[];
  readonly natOutgoing: boolean;
}

type Fam = 4 | 6;
const tool = (f: Fam, what: '' | '-save' | '-restore'): string => `${f === 4 ? 'iptables' : 'ip6tables'}${what}`;
const ofFamily = (cidrs: readonly string[], f: Fam): string[] => cidrs.filter((c) => c.includes(':') === (f === 6));

/** The rule lines (as iptables-save prints them) of our chains for one family. */
export function chainRules(spec: ChainSpec, f: Fam): { filter: string[]; nat: string[] } {
  const pods = ofFamily(spec.podCidrs, f);
  const filter = pods.flatMap((c) => [`-A ${FORWARD_CHAIN} -s ${c} -j ACCEPT`, `-A ${FORWARD_CHAIN} -d ${c} -j ACCEPT`]);
  const nat: string[] = [];
  if (spec.natOutgoing && pods.length > 0) {
    for (const c of ofFamily(spec.noMasqueradeCidrs, f)) nat.push(`-A ${NAT_CHAIN} -d ${c} -j RETURN`);
    for (const c of pods) nat.push(`-A ${NAT_CHAIN} -s ${c} -j MASQUERADE`);
  }
  return { filter, nat };
}

export interface ChainState {
  /** Rule lines of our chains (undefined: the chain does not exist). */
  readonly filter: string[] | undefined;
  readonly nat: string[] | undefined;
  readonly forwardJumps: number;
  readonly postroutingJumps: number;
}

function jumpRule(parent: string, chain: string): string {
  return `-A ${parent} -m comment --comment ${JUMP_COMMENT} -j ${chain}`;
}

export class IptablesChains {
  constructor(private readonly cmd: HostCmd) {}

  /** What the kernel has of ours, for one family. */
  async read(f: Fam): Promise<ChainState> {
    const tables = await Promise.all(['filter', 'nat'].map((t) => this.cmd.run(tool(f, '-save'), ['-t', t])));
    const lines = tables.map((t) => t.split('\n'));
    const rulesOf = (ls: string[], chain: string): string[] | undefined => (ls.some((l) => l.startsWith(`:${chain} `)) ? ls.filter((l) => l.startsWith(`-A ${chain} `)) : undefined);
    return {
      filter: rulesOf(lines[0]!, FORWARD_CHAIN),
      nat: rulesOf(lines[1]!, NAT_CHAIN),
      forwardJumps: lines[0]!.filter((l) => l === jumpRule('FORWARD', FORWARD_CHAIN)).length,
      postroutingJumps: lines[1]!.filter((l) => l === jumpRule('POSTROUTING', NAT_CHAIN)).length,
    };
  }

  /** True when the kernel has exactly `spec` for that family. */
  async matches(spec: ChainSpec, f: Fam): Promise<boolean> {
    const want = chainRules(spec, f);
    const s = await this.read(f);
    return s.forwardJumps === 1 && s.postroutingJumps === 1 && JSON.stringify(s.filter) === JSON.stringify(want.filter) && JSON.stringify(s.nat) === JSON.stringify(want.nat);
  }

  /** Writes our chains for both families and makes sure each is jumped to exactly once, first. */
  async sync(spec: ChainSpec): Promise<{ changed: boolean }> {
    let changed = false;
    for (const f of [4, 6] as const) {
      if (await this.matches(spec, f)) continue;
      changed = true;
      const want = chainRules(spec, f);
      const input = ['*filter', `:${FORWARD_CHAIN} - [0:0]`, ...want.filter, 'COMMIT', '*nat', `:${NAT_CHAIN} - [0:0]`, ...want.nat, 'COMMIT', ''].join('\n');
      await this.cmd.run(tool(f, '-restore'), ['--noflush', '-w', XTABLES_WAIT_SECONDS], input);
      await this.ensureSingleJump(f, 'filter', 'FORWARD', FORWARD_CHAIN);
      await this.ensureSingleJump(f, 'nat', 'POSTROUTING', NAT_CHAIN);
    }
    return { changed };
  }

  private jumpArgs(table: string, op: '-C' | '-D' | '-I', parent: string, chain: string): string[] {
    return ['-w', XTABLES_WAIT_SECONDS, '-t', table, op, parent, ...(op === '-I' ? ['1'] : []), '-m', 'comment', '--comment', JUMP_COMMENT, '-j', chain];
  }

  private async ensureSingleJump(f: Fam, table: string, parent: string, chain: string): Promise<void> {
    const s = await this.read(f);
    let n = table === 'filter' ? s.forwardJumps : s.postroutingJumps;
    while (n > 1) {
      await this.cmd.run(tool(f, ''), this.jumpArgs(table, '-D', parent, chain));
      n--;
    }
    if (n === 0) await this.cmd.run(tool(f, ''), this.jumpArgs(table, '-I', parent, chain));
  }

  /** Removes our jumps and chains (uninstall); nothing else. */
  async removeAll(): Promise<void> {
    for (const f of [4, 6] as const) {
      const s = await this.read(f);
      for (let i = 0; i < s.forwardJumps; i++) await this.cmd.run(tool(f, ''), this.jumpArgs('filter', '-D', 'FORWARD', FORWARD_CHAIN));
      for (let i = 0; i < s.postroutingJumps; i++) await this.cmd.run(tool(f, ''), this.jumpArgs('nat', '-D', 'POSTROUTING', NAT_CHAIN));
      if (s.filter !== undefined) {
        await this.cmd.run(tool(f, ''), ['-w', XTABLES_WAIT_SECONDS, '-t', 'filter', '-F', FORWARD_CHAIN]);
        await this.cmd.run(tool(f, ''), ['-w', XTABLES_WAIT_SECONDS, '-t', 'filter', '-X', FORWARD_CHAIN]);
      }
      if (s.nat !== undefined) {
        await this.cmd.run(tool(f, ''), ['-w', XTABLES_WAIT_SECONDS, '-t', 'nat', '-F', NAT_CHAIN]);
        await this.cmd.run(tool(f, ''), ['-w', XTABLES_WAIT_SECONDS, '-t', 'nat', '-X', NAT_CHAIN]);
      }
    }
  }
}
