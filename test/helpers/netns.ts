/**
 * Real network namespaces for tests: unique names per run (`vct-<pid>-<n>`), removed in cleanup even
 * when a test fails. `ipj` reads state with `ip -j -n`.
 */
import { execFileSync } from 'node:child_process';

let counter = 0;
const created = new Set<string>();

export interface TestNetns {
  name: string;
  path: string;
}

export function haveRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export function createNetns(tag = 't'): TestNetns {
  const name = `vct-${process.pid}-${tag}${++counter}`;
  execFileSync('ip', ['netns', 'add', name], { timeout: 10_000 });
  created.add(name);
  return { name, path: `/var/run/netns/${name}` };
}

export function deleteNetns(ns: TestNetns | string): void {
  const name = typeof ns === 'string' ? ns : ns.name;
  try {
    execFileSync('ip', ['netns', 'del', name], { timeout: 10_000, stdio: 'ignore' });
  } catch {
    // already gone
  }
  created.delete(name);
}

/** Removes every namespace this process created (call from afterAll). */
export function deleteAllNetns(): void {
  for (const n of [...created]) deleteNetns(n);
}

export function ipj(ns: TestNetns, args: string[]): unknown {
  const out = execFileSync('ip', ['-j', '-n', ns.name, ...args], { timeout: 10_000, encoding: 'utf8' });
  return out.trim() ? (JSON.parse(out) as unknown) : [];
}

/**
 * `ip -j` commands run in one process (`ip -batch`): one compact JSON array per command, one per line.
 * Options such as `-6` are not taken per line of a batch; arguments are split on spaces.
 */
export function ipjBatch(ns: TestNetns, commands: readonly string[]): unknown[] {
  const out = execFileSync('ip', ['-j', '-n', ns.name, '-batch', '-'], { input: commands.join('\n') + '\n', timeout: 10_000, encoding: 'utf8' });
  const lines = out.split('\n').filter((l) => l.trim() !== '');
  // An ip that prints nothing for an empty list: one process per command instead.
  if (lines.length !== commands.length) return commands.map((c) => ipj(ns, c.split(' ')));
  return lines.map((l) => JSON.parse(l) as unknown);
}

/** A summary of the Linux state of a netns: links (name, up, mtu), addresses, routes (two processes). */
export function linuxState(ns: TestNetns): { links: string[]; addrs: string[]; routes: string[] } {
  const [linkList, addrList, route4] = ipjBatch(ns, ['link show', 'address show', 'route show']);
  const links = (linkList as { ifname: string; flags: string[]; mtu: number; link_type: string }[]).map(
    (l) => `${l.ifname} ${l.link_type} mtu ${l.mtu}${l.flags.includes('UP') ? ' UP' : ''}`,
  );
  const addrs = (addrList as { ifname: string; addr_info: { local: string; prefixlen: number; scope: string }[] }[]).flatMap((l) =>
    l.addr_info.filter((a) => a.scope !== 'link' && l.ifname !== 'lo').map((a) => `${l.ifname} ${a.local}/${a.prefixlen}`),
  );
  const routes = [
    ...(route4 as { dst: string; dev: string; gateway?: string }[]),
    ...(ipj(ns, ['-6', 'route', 'show']) as { dst: string; dev: string; gateway?: string }[]).filter((r) => !r.dst.startsWith('fe80') && r.dst !== 'multicast'),
  ].map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}`);
  return { links: links.sort(), addrs: addrs.sort(), routes: routes.sort() };
}
