/**
 * A pod attachment request: one (container, interface name) pair the runtime asked for, and the result
 * the CNI layer reports. What the agent made for it is the attachment's record (record.ts).
 */

export interface PodRef {
  namespace: string;
  name: string;
  uid?: string;
}

/** An address from IPAM: "10.1.0.5/24" with an optional gateway. */
export interface IpConfig {
  address: string;
  gateway?: string;
}

export interface RouteConfig {
  dst: string;
  gw?: string;
}

export interface AttachRequest {
  containerId: string;
  ifName: string;
  /** Path of the pod's network namespace (/var/run/netns/..., /proc/PID/ns/net). */
  netns: string;
  pod: PodRef;
  ips: IpConfig[];
  routes: RouteConfig[];
  annotations: Readonly<Record<string, string>>;
  /** The CNI network (netconf `name`) the runtime asked for: GC of one network leaves the others alone. */
  network?: string;
}

/** `tun` and `veth` are a pod's main interface (PBL memif and VCL may hang off them); `memif-multinet` a secondary one. */
export const ATTACHMENT_KINDS = ['tun', 'veth', 'memif-multinet'] as const;
export type AttachmentKind = (typeof ATTACHMENT_KINDS)[number];

/** What the CNI layer reports (CNI result shape, version independent). */
export interface AttachResult {
  interfaces: { name: string; mac?: string; mtu?: number; sandbox: string; socketPath?: string }[];
  ips: { address: string; gateway?: string; interface: number }[];
  routes: RouteConfig[];
}

export function attachmentKey(containerId: string, ifName: string): string {
  return `${containerId}/${ifName}`;
}

/** `pod default/web (container 1a2b3c4d5e6f, eth0)`: how errors and logs name an attachment. */
export function describeAttachment(r: { pod: PodRef; containerId: string; ifName: string }): string {
  return `pod ${r.pod.namespace}/${r.pod.name} (container ${r.containerId.slice(0, 12)}, ${r.ifName})`;
}

/** The address part of "10.1.0.5/24". */
export function ipOf(cidr: string): string {
  return cidr.split('/')[0]!;
}

export function isV6(ip: string): boolean {
  return ip.includes(':');
}

/** Host prefix of an address: "10.1.0.5/32", "fd00::5/128". */
export function hostPrefix(ip: string): string {
  return `${ip}/${isV6(ip) ? 128 : 32}`;
}
