/**
 * The pod-side Linux configuration of an interface VPP (or we) put in the pod netns: addresses as host
 * prefixes, routes through the device (no gateway: the peer is VPP), the IPv6 sysctls the pod needs,
 * and link up — one iproute2 batch per interface. For an L2 (TAP) interface a fixed link-local gateway
 * with a permanent neighbor entry gives the pod a next hop it never has to resolve.
 */
import { z } from 'zod';
import { NetnsGoneError, type NetnsOps } from '../linux/netns.js';
import type { CheckProblem } from './kinds/context.js';
import { hostPrefix, ipOf, isV6, type IpConfig, type RouteConfig } from './attachment.js';

export const L2_GATEWAY_V4 = '169.254.1.1';
export const L2_GATEWAY_V6 = 'fe80::1';

export interface LinuxIfConfig {
  ifName: string;
  ips: IpConfig[];
  routes: RouteConfig[];
  /** L2 (TAP/ethernet): routes go through a fixed gateway resolved by a permanent neighbor entry. */
  l2?: { peerMac: string };
  mtu?: number;
}

/** sysctls for a pod with IPv6 addresses (runtimes often start netns with IPv6 disabled). */
export function sysctlsFor(c: LinuxIfConfig): [string, string][] {
  if (!c.ips.some((i) => isV6(i.address))) return [];
  return [
    ['net.ipv6.conf.all.disable_ipv6', '0'],
    ['net.ipv6.conf.default.disable_ipv6', '0'],
    ['net.ipv6.conf.lo.disable_ipv6', '0'],
  ];
}

/** The iproute2 commands that configure one interface. */
export function ipCommandsFor(c: LinuxIfConfig): string[][] {
  const cmds: string[][] = [];
  const dev = c.ifName;
  if (c.mtu) cmds.push(['link', 'set', 'dev', dev, 'mtu', String(c.mtu)]);
  cmds.push(['link', 'set', 'dev', dev, 'up']);
  for (const a of c.ips) {
    const addr = ipOf(a.address);
    const cmd = ['address', 'add', hostPrefix(addr), 'dev', dev];
    if (isV6(addr)) cmd.push('nodad');
    cmds.push(cmd);
  }
  const hasV4 = c.ips.some((i) => !isV6(i.address));
  const hasV6 = c.ips.some((i) => isV6(i.address));
  if (c.l2) {
    if (hasV4) cmds.push(['route', 'add', `${L2_GATEWAY_V4}/32`, 'dev', dev, 'scope', 'link'], ['neighbor', 'replace', L2_GATEWAY_V4, 'lladdr', c.l2.peerMac, 'dev', dev, 'nud', 'permanent']);
    if (hasV6) cmds.push(['neighbor', 'replace', L2_GATEWAY_V6, 'lladdr', c.l2.peerMac, 'dev', dev, 'nud', 'permanent']);
  }
  for (const r of c.routes) {
    const v6 = isV6(r.dst);
    if ((v6 && !hasV6) || (!v6 && !hasV4)) continue; // a route of a family the pod has no address in
    const cmd = ['route', 'add', r.dst];
    if (c.l2) cmd.push('via', v6 ? L2_GATEWAY_V6 : L2_GATEWAY_V4);
    cmd.push('dev', dev);
    cmds.push(cmd);
  }
  return cmds;
}

export async function configureInterface(ns: NetnsOps, netns: string, c: LinuxIfConfig): Promise<void> {
  await ns.sysctl(netns, sysctlsFor(c));
  await ns.ipBatch(netns, ipCommandsFor(c));
}

const linkSchema = z.array(
  z.object({ ifname: z.string(), address: z.string().optional(), mtu: z.number().optional(), flags: z.array(z.string()).optional() }).passthrough(),
);
const addrSchema = z.array(
  z
    .object({
      ifname: z.string(),
      addr_info: z.array(z.object({ family: z.string(), local: z.string(), prefixlen: z.number() }).passthrough()).optional(),
    })
    .passthrough(),
);

export interface LinuxLinkState {
  ifName: string;
  mac?: string;
  mtu?: number;
  up: boolean;
  addresses: string[];
}

/** The state of one link in the netns (undefined when it does not exist). */
export async function readLink(ns: NetnsOps, netns: string, ifName: string): Promise<LinuxLinkState | undefined> {
  const links = linkSchema.parse(await ns.ipJson(netns, ['link', 'show']));
  const l = links.find((x) => x.ifname === ifName);
  if (!l) return undefined;
  const addrs = addrSchema.parse(await ns.ipJson(netns, ['address', 'show', 'dev', ifName]));
  const addresses = (addrs[0]?.addr_info ?? []).filter((a) => !a.local.startsWith('fe80:')).map((a) => `${a.local}/${a.prefixlen}`);
  const state: LinuxLinkState = { ifName, up: (l.flags ?? []).includes('UP'), addresses };
  if (l.address && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(l.address)) state.mac = l.address;
  if (l.mtu !== undefined) state.mtu = l.mtu;
  return state;
}

/**
 * CHECK of one link the layer made in the pod netns: present, up, with the pod's addresses (host prefixes)
 * and, when given, the MAC it was made with. A netns that is gone is one problem, not an error.
 */
export async function checkPodLink(ns: NetnsOps, netns: string, ifName: string, ips: readonly string[], mac?: string): Promise<CheckProblem[]> {
  const object = `${ifName} in ${netns}`;
  let link: LinuxLinkState | undefined;
  try {
    link = await readLink(ns, netns, ifName);
  } catch (e) {
    if (e instanceof NetnsGoneError) return [{ object: netns, problem: 'network namespace is gone' }];
    throw e;
  }
  if (!link) return [{ object, problem: 'missing' }];
  const out: CheckProblem[] = [];
  if (!link.up) out.push({ object, problem: 'link down' });
  if (mac && link.mac && link.mac !== mac) out.push({ object, problem: `MAC is ${link.mac}, expected ${mac}` });
  for (const ip of ips) if (!link.addresses.includes(hostPrefix(ip))) out.push({ object, problem: `address ${hostPrefix(ip)} missing` });
  return out;
}
