/**
 * A pod attachment: one (container, interface name) pair the runtime asked for, what the agent made for
 * it in VPP and Linux, and the result the CNI layer reports. Records are plain JSON so they can be
 * checkpointed and read back (through zod) after a restart.
 */
import type { InterfaceSpec } from './interface-spec.js';
import type { PortRange } from './annotations.js';

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
export type AttachmentKind = 'tun' | 'veth' | 'memif-multinet';

export interface MadeRoute {
  prefix: string;
  tableId: number;
  swIfIndex: number;
  /** Next hop on ethernet interfaces (TAP, veth, L2 memif): the pod address, pinned by a static neighbor. */
  nh?: string;
}

export interface MadeNeighbor {
  swIfIndex: number;
  ip: string;
  mac: string;
}

export interface MadeTun {
  swIfIndex: number;
  tag: string;
  hostIfName: string;
  /** MAC of the pod-side device (TAP only; a TUN has none). */
  hostMac?: string;
  l2: boolean;
  spec: InterfaceSpec;
}

/**
 * eth0 as a veth pair: one end in the pod netns (`podIfName`, MAC `podMac`), the other on the host
 * (`hostIfName`, derived from the attachment) where VPP reads and writes it through an af_packet
 * interface (`host-<hostIfName>`, MAC `vppMac`, the pod's next hop).
 */
export interface MadeVeth {
  swIfIndex: number;
  tag: string;
  hostIfName: string;
  podIfName: string;
  podMac: string;
  vppMac: string;
  /** What the spec asked (`isl3: false`). Shown, and nothing else: the pod end is ethernet and the pod's addresses are pinned to `podMac` either way. */
  l2: boolean;
  spec: InterfaceSpec;
}

export interface MadeMemif {
  mode: 'pbl' | 'multinet';
  socketId: number;
  /** As given to VPP: `abstract:vpp/memif-eth0,netns_name=/var/run/netns/x`. */
  socketFilename: string;
  /** As the pod sees it: `@vpp/memif-eth0`. */
  socketName: string;
  swIfIndex: number;
  tag: string;
  l2: boolean;
  spec: InterfaceSpec;
  ports?: PortRange[];
}

export interface MadeVcl {
  namespaceId: string;
  /** u64 secret as a decimal string (JSON-safe). */
  secret: string;
  sockName: string;
  socketName: string;
  /** The per-pod loopback the namespace is bound to. */
  loopSwIfIndex: number;
}

export interface MadeObjects {
  tun?: MadeTun;
  veth?: MadeVeth;
  memif?: MadeMemif;
  pbl: { ip: string; id: number }[];
  routes: MadeRoute[];
  neighbors: MadeNeighbor[];
  vcl?: MadeVcl;
  /** Linux dummy interface made in the pod netns (multinet memif). */
  dummy?: string;
}

export interface AttachmentRecord {
  containerId: string;
  ifName: string;
  netns: string;
  pod: PodRef;
  kind: AttachmentKind;
  /** The CNI network the attachment belongs to (absent in records written before it was kept). */
  network?: string;
  ips: IpConfig[];
  routes: RouteConfig[];
  objects: MadeObjects;
  result: AttachResult;
  /** The pod's annotations at ADD (kept so a VPP restart can make the attachment again). */
  annotations?: Record<string, string>;
  /**
   * Rebuilt from VPP's tagged objects after the checkpoint was lost: `containerId` holds the 12-character
   * prefix the tags carry, and the store resolves the runtime's full id to it.
   */
  rebuilt?: boolean;
  createdAt: string;
}

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
