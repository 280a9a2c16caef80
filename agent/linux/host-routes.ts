/**
 * Host routes of the node dataplane (routes to other nodes' pod CIDRs, this node's pod CIDRs via the host
 * link), marked as ours by a route protocol number. Reconciling lists only routes of that protocol, deletes
 * only with that protocol (the kernel matches it), and never replaces a route that is not ours: a destination
 * already routed by someone else is refused with a reason instead (`ip route replace` would overwrite it).
 */
import { z } from 'zod';
import type { HostCmd } from './host-cmd.js';

/** What an argument of an `ip -batch` line may contain (nothing that could start another argument or line). */
const SAFE_ARG = /^[A-Za-z0-9_.:/@%+=,-]+$/;

/** Default route protocol number of our routes (1..255; iproute2 shows it as a number). */
export const DEFAULT_ROUTE_PROTOCOL = 199;

export interface HostRoute {
  /** Canonical prefix text (`10.244.1.0/24`, `fd00:244:1::/64`). */
  readonly dst: string;
  /** Next hop (omitted: a device route). */
  readonly via?: string | undefined;
  readonly dev?: string | undefined;
  readonly onlink?: boolean | undefined;
  readonly mtu?: number | undefined;
}

const routeJson = z.array(
  z.looseObject({
    dst: z.string(),
    gateway: z.string().optional(),
    dev: z.string().optional(),
    protocol: z.union([z.string(), z.number()]).optional(),
    flags: z.array(z.string()).optional(),
    metrics: z.array(z.looseObject({ mtu: z.number().optional() })).optional(),
    type: z.string().optional(),
  }),
);
type RouteRow = z.infer<typeof routeJson>[number];

export interface RouteSyncResult {
  readonly added: string[];
  readonly changed: string[];
  readonly removed: string[];
  /** Destinations not programmed, with the reason (a foreign route holds them, or the kernel refused). */
  readonly refused: { dst: string; reason: string }[];
}

function familyFlag(dst: string): '-4' | '-6' {
  return dst.includes(':') ? '-6' : '-4';
}

/** `ip -j` prints a host route without its length and `default` for a zero-length one. */
function normalDst(dst: string, family: '-4' | '-6'): string {
  if (dst === 'default') return family === '-4' ? '0.0.0.0/0' : '::/0';
  return dst.includes('/') ? dst : `${dst}/${family === '-4' ? 32 : 128}`;
}

function rowToRoute(r: RouteRow, family: '-4' | '-6'): HostRoute {
  const mtu = r.metrics?.find((m) => m.mtu !== undefined)?.mtu;
  return { dst: normalDst(r.dst, family), via: r.gateway, dev: r.dev, onlink: r.flags?.includes('onlink') ?? false, mtu };
}

export function sameRoute(a: HostRoute, b: HostRoute): boolean {
  return a.dst === b.dst && (a.via ?? '') === (b.via ?? '') && (a.dev === undefined || b.dev === undefined || a.dev === b.dev) && !!a.onlink === !!b.onlink && (a.mtu ?? 0) === (b.mtu ?? 0);
}

export class HostRoutes {
  constructor(
    private readonly cmd: HostCmd,
    readonly protocol: number = DEFAULT_ROUTE_PROTOCOL,
  ) {
    if (!Number.isInteger(protocol) || protocol < 5 || protocol > 255) throw new RangeError(`route protocol ${protocol}: must be 5..255 (0-4 are the kernel's)`);
  }

  private async rows(family: '-4' | '-6', ours: boolean): Promise<RouteRow[]> {
    const args = [family, 'route', 'show', 'table', 'main', ...(ours ? ['proto', String(this.protocol)] : [])];
    const parsed = routeJson.safeParse(await this.cmd.json('ip', args));
    if (!parsed.success) throw new Error(`ip ${args.join(' ')}: unexpected JSON: ${parsed.error.issues[0]?.message ?? ''}`);
    return parsed.data;
  }

  /** Our routes (both families) in the main table. */
  async list(): Promise<HostRoute[]> {
    const out: HostRoute[] = [];
    for (const f of ['-4', '-6'] as const) for (const r of await this.rows(f, true)) out.push(rowToRoute(r, f));
    return out;
  }

  private routeArgs(r: HostRoute): string[] {
    const a = [familyFlag(r.dst), 'route', 'replace', r.dst];
    if (r.via) a.push('via', r.via);
    if (r.dev) a.push('dev', r.dev);
    if (r.onlink) a.push('onlink');
    a.push('proto', String(this.protocol));
    if (r.mtu) a.push('mtu', String(r.mtu));
    return a;
  }

  /** Deletes one of our routes (a foreign route to the same destination is left alone by the kernel). */
  async remove(dst: string): Promise<boolean> {
    try {
      await this.cmd.run('ip', [familyFlag(dst), 'route', 'del', dst, 'table', 'main', 'proto', String(this.protocol)]);
      return true;
    } catch (e) {
      if (/No such process|not found/i.test((e as Error).message)) return false;
      throw e;
    }
  }

  /**
   * Makes our routes exactly `desired`: adds the missing, changes the different, removes ours that are not
   * desired; refuses a destination that a route of another protocol holds. All changes go in one
   * `ip -batch -force` (one process for 500 routes); the result is read back, so a change the kernel refused
   * is reported with the batch's error, not assumed done.
   */
  async sync(desired: readonly HostRoute[]): Promise<RouteSyncResult> {
    const result: RouteSyncResult = { added: [], changed: [], removed: [], refused: [] };
    const want = new Map(desired.map((r) => [r.dst, r]));
    const ours = new Map<string, HostRoute>();
    const foreign = new Map<string, string>();
    for (const f of ['-4', '-6'] as const) {
      for (const row of await this.rows(f, false)) {
        const r = rowToRoute(row, f);
        if (String(row.protocol) === String(this.protocol)) ours.set(r.dst, r);
        else if (row.type === undefined || row.type === 'unicast') foreign.set(r.dst, String(row.protocol ?? 'boot'));
      }
    }
    const lines: string[][] = [];
    const removing: string[] = [];
    const writing: { r: HostRoute; changed: boolean }[] = [];
    for (const dst of ours.keys()) {
      if (want.has(dst)) continue;
      lines.push([familyFlag(dst), 'route', 'del', dst, 'table', 'main', 'proto', String(this.protocol)]);
      removing.push(dst);
    }
    for (const r of desired) {
      const cur = ours.get(r.dst);
      if (cur && sameRoute(cur, r)) continue;
      const other = foreign.get(r.dst);
      if (!cur && other !== undefined) {
        result.refused.push({ dst: r.dst, reason: `a route to ${r.dst} exists that is not ours (proto ${other})` });
        continue;
      }
      lines.push(this.routeArgs(r));
      writing.push({ r, changed: cur !== undefined });
    }
    if (lines.length === 0) return result;
    for (const l of lines) for (const a of l) if (!SAFE_ARG.test(a)) throw new Error(`refusing ip argument ${JSON.stringify(a)}`);
    let batchError = '';
    try {
      // Batch lines take no global options: the family comes from each prefix.
      await this.cmd.run('ip', ['-force', '-batch', '-'], `${lines.map((l) => l.filter((a) => a !== '-4' && a !== '-6').join(' ')).join('\n')}\n`);
    } catch (e) {
      batchError = (e as Error).message;
    }
    const after = batchError ? new Map((await this.list()).map((r) => [r.dst, r])) : undefined;
    for (const dst of removing) if (!after || !after.has(dst)) result.removed.push(dst);
    for (const { r, changed } of writing) {
      const live = after?.get(r.dst);
      if (after && !(live && sameRoute(live, r))) result.refused.push({ dst: r.dst, reason: batchError });
      else (changed ? result.changed : result.added).push(r.dst);
    }
    return result;
  }

  /** Removes every route of ours (uninstall). */
  async removeAll(): Promise<string[]> {
    const removed: string[] = [];
    for (const r of await this.list()) if (await this.remove(r.dst)) removed.push(r.dst);
    return removed;
  }
}
