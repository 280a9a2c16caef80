/**
 * Typed link operations: each builds one iproute2 command (an argument array) so that a driver composes
 * the commands of one pod into one batch, one child process; and typed, zod-checked readers of
 * `ip -j link show`. Drivers never write iproute2 argv or read its JSON themselves.
 */
import { z } from 'zod';
import { isLinkGone, type NetnsOps } from './netns.js';

/** One iproute2 command, without the leading `ip`. */
export type IpCommand = readonly string[];

export interface VethPair {
  /** The end that stays in the netns the batch runs in. */
  name: string;
  /** The other end, moved into `peerNetns` under `peerName`. */
  peerName: string;
  peerNetns: string;
  peerMac: string;
  mtu: number;
  /** Queues on each end. */
  rxQueues: number;
  txQueues: number;
}

export function addVethPair(p: VethPair): IpCommand {
  const mtu = String(p.mtu);
  const queues = ['numtxqueues', String(p.txQueues), 'numrxqueues', String(p.rxQueues)];
  return ['link', 'add', p.name, 'mtu', mtu, ...queues, 'type', 'veth', 'peer', 'name', p.peerName, 'mtu', mtu, ...queues, 'address', p.peerMac, 'netns', p.peerNetns];
}

/** A link that only holds addresses and routes. */
export function addLink(name: string, type: 'dummy' | 'bridge'): IpCommand {
  return ['link', 'add', name, 'type', type];
}

export function setAlias(dev: string, alias: string): IpCommand {
  return ['link', 'set', 'dev', dev, 'alias', alias];
}

/** No IPv6 link-local address (no router solicitations or DAD from the stack on this link). */
export function disableAddrGen(dev: string): IpCommand {
  return ['link', 'set', 'dev', dev, 'addrgenmode', 'none'];
}

export function setUp(dev: string): IpCommand {
  return ['link', 'set', 'dev', dev, 'up'];
}

export function deleteLink(dev: string): IpCommand {
  return ['link', 'del', 'dev', dev];
}

const linksSchema = z.array(z.object({ ifname: z.string(), ifalias: z.string().optional(), flags: z.array(z.string()).optional() }).passthrough());

export interface HostLink {
  name: string;
  /** The ifalias ('' when none). */
  alias: string;
  up: boolean;
}

function toLinks(raw: unknown): HostLink[] {
  // Entries that are not links (iproute2 of another shape) are skipped rather than trusted.
  const arr = Array.isArray(raw) ? raw : [];
  const out: HostLink[] = [];
  for (const item of arr) {
    const r = linksSchema.element.safeParse(item);
    if (r.success) out.push({ name: r.data.ifname, alias: r.data.ifalias ?? '', up: (r.data.flags ?? []).includes('UP') });
  }
  return out;
}

/** Every link of the host netns (the agent's own), with alias and state: one `ip -j link show`. */
export async function hostLinks(ns: Pick<NetnsOps, 'hostIpJson'>): Promise<HostLink[]> {
  return toLinks(await ns.hostIpJson(['link', 'show']));
}

/** One link of the host netns, undefined when there is none of that name. */
export async function hostLink(ns: Pick<NetnsOps, 'hostIpJson'>, name: string): Promise<HostLink | undefined> {
  try {
    return toLinks(await ns.hostIpJson(['link', 'show', 'dev', name]))[0];
  } catch (e) {
    if (isLinkGone(e)) return undefined;
    throw e;
  }
}
