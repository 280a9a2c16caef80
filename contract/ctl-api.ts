/**
 * The agent's troubleshooting API, served as JSON over HTTP on a root-only unix socket
 * (VPPCNI_CTL_SOCKET) and read by `vpp-cnictl pods` / `vpp-cnictl pod <ns>/<name>`.
 *   GET /v1/pods               → CtlPodList
 *   GET /v1/pods/<ns>/<name>   → CtlPodDetail (404 CtlErrorBody when the agent knows nothing of the pod)
 * Plain data only: both sides import these types, neither imports the other.
 */

export const CTL_API_PREFIX = '/v1';
export const DEFAULT_CTL_SOCKET = '/var/run/vpp-cni/ctl.sock';

/** One failure the agent saw for a pod (the agent keeps the last few per pod). */
export interface CtlPodError {
  /** ISO time. */
  at: string;
  /** ADD, DEL, CHECK, or UPDATE (a live annotation change). */
  op: string;
  /** Event reason: InvalidVppAnnotation, FeatureGated, PodNetworkSetupFailed, PodRecreateRequired. */
  reason: string;
  message: string;
  containerId?: string;
  ifName?: string;
  step?: string;
  vppMessage?: string;
  retvalName?: string;
}

export interface CtlAttachment {
  containerId: string;
  ifName: string;
  kind: string;
  netns: string;
  ips: string[];
  createdAt: string;
  /** `podMac`: a TAP's pod-side MAC, the one VPP pins the pod's addresses to (a TUN has none). */
  tun?: { swIfIndex: number; hostIfName: string; l2: boolean; podMac?: string; rx: number; tx: number; rxqsz: number; txqsz: number };
  /** eth0 as a veth pair, VPP on its host end through an af_packet interface. */
  veth?: {
    /** The af_packet interface. */
    swIfIndex: number;
    /** Its name in VPP: `host-<hostIfName>`. */
    vppIfName: string;
    /** The veth end in the host netns (`vcni` + 11 hex digits). */
    hostIfName: string;
    /** The veth end in the pod netns. */
    podIfName: string;
    podMac: string;
    /** The af_packet interface's MAC: the pod's next hop. */
    vppMac: string;
    l2: boolean;
    rx: number;
    tx: number;
    rxqsz: number;
    txqsz: number;
  };
  memif?: {
    swIfIndex: number;
    mode: string;
    /** The socket as the pod's application sees it (`@vpp/memif-eth0`). */
    socket: string;
    /** As given to VPP (`abstract:...,netns_name=...`). */
    socketFilename: string;
    l2: boolean;
    rx: number;
    tx: number;
    rxqsz: number;
    txqsz: number;
  };
  /** PBL clients: one per pod IP. */
  pbl: { ip: string; id: number }[];
  /** The port ranges steered to the memif: `tcp:4444-20000`. */
  pblPorts: string[];
  vcl?: { namespaceId: string; socket: string; loopSwIfIndex: number };
  dummy?: string;
}

export interface CtlPodSummary {
  namespace: string;
  name: string;
  uid?: string;
  attachments: CtlAttachment[];
  errorCount: number;
  lastError?: CtlPodError;
  /** A pod on the node's network: the runtime never asks a CNI plugin for it, so it has no attachment. */
  hostNetwork?: boolean;
}

/** How the node makes pod eth0 interfaces (VPPCNI_POD_INTERFACE_MODE) and what new pods get now. */
export interface CtlInterfaceMode {
  /** tun, veth or auto. */
  setting: string;
  /** tun or veth. */
  mode: string;
  /** Set once `auto` moved to veth: VPP's refusal, the pod that met it, when (ISO time). */
  fallback?: { reason: string; pod: string; at: string };
}

export interface CtlPodList {
  node: string;
  vpp: string;
  ready: boolean;
  notReadyReason?: string;
  /** Absent from agents that predate the veth mode. */
  interfaceMode?: CtlInterfaceMode;
  pods: CtlPodSummary[];
}

/** An interface as VPP reports it now (sw_interface_dump, plus memif_dump for memifs, af_packet_dump for af_packets). */
export interface CtlVppInterface {
  swIfIndex: number;
  role: string;
  present: boolean;
  name?: string;
  tag?: string;
  adminUp?: boolean;
  linkUp?: boolean;
  mtu?: number[];
  mac?: string;
  memif?: { role: string; mode: string; socketId: number; ringSize: number; bufferSize: number; connected: boolean };
  /** The host interface VPP's af_packet socket is bound to. */
  afPacket?: { hostIfName: string };
  /** `show interface <name>` through cli_inband: VPP prints counters there when it has any. */
  cli?: string;
  error?: string;
}

export interface CtlLinuxCommand {
  command: string[];
  output?: string;
  error?: string;
}

export interface CtlPodDetail extends CtlPodSummary {
  vpp: CtlVppInterface[];
  pblClients: { id: number; ip: string; present: boolean }[];
  /** Why numeric counters are not shown. */
  countersNote: string;
  linux: { netns: string; commands: CtlLinuxCommand[] }[];
  errors: CtlPodError[];
  vppError?: string;
}

export interface CtlErrorBody {
  error: string;
}

// ---------------------------------------------------------------------------------------------------------
// The node dataplane (host link, routes to other nodes, Service translations), for `vpp-cnictl node`,
// `vpp-cnictl service <ns>/<name>` and `vpp-cnictl node cleanup`.
//   GET  /v1/node                     → CtlNodeStatus (404 when the node dataplane is off)
//   GET  /v1/services/<ns>/<name>     → CtlServiceStatus (404 when no such Service is known)
//   POST /v1/node/cleanup             → CtlNodeCleanupReport (removes every node object of ours; the agent
//                                       stops programming the node until it restarts)

export type CtlCrossNodeMode = 'host-gw' | 'vxlan' | 'none';

/** One end of the host link as it is now (read from VPP or the host), undefined when missing. */
export interface CtlLinkEnd {
  name: string;
  addresses: string[];
  mtu: number;
  /** VPP: admin and link flags; host: the kernel's operstate. */
  state: string;
  mac?: string;
}

export interface CtlHostLinkStatus {
  /** As made (the checkpoint's record). */
  vppIf: string;
  hostIf: string;
  swIfIndex: number;
  mtu: number;
  /** As read now; undefined: missing on that side. */
  vpp: CtlLinkEnd | undefined;
  host: CtlLinkEnd | undefined;
}

export interface CtlNodeRouteStatus {
  node: string;
  podCidr: string;
  via: string;
  dev?: string;
  /** In the host's routing table (our protocol) right now. */
  present: boolean;
}

export interface CtlNodeStatus {
  nodeName: string;
  mode: CtlCrossNodeMode;
  servicesEnabled: boolean;
  natOutgoing: boolean;
  clusterCidrs: string[];
  serviceCidrs: string[];
  hostLink: CtlHostLinkStatus | undefined;
  /** Routes to other nodes' pod CIDRs, as desired, each flagged present or missing. */
  routes: CtlNodeRouteStatus[];
  /** Nodes and Services that cannot be programmed, with the reason. */
  skipped: { subject: string; reason: string }[];
  /** cnat translations VPP holds that are ours. */
  translations: number;
  /** Milliseconds from the last Kubernetes change to VPP, when known. */
  lastSyncLatencyMs?: number;
  lastSyncError?: string;
}

export interface CtlServiceTranslation {
  vip: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  /** VPP's translation id (undefined: desired but not in VPP). */
  id?: number;
  /** `addr:port` as VPP holds them. */
  backends: string[];
}

export interface CtlServiceStatus {
  service: string;
  translations: CtlServiceTranslation[];
  /** Why nothing (or not everything) is programmed. */
  skipped?: string;
  warnings: string[];
}

export interface CtlNodeCleanupReport {
  removed: string[];
  errors: string[];
}

/** What the agent's node dataplane offers to vpp-cnictl and the metrics. */
export interface NodeDataplaneView {
  status(): Promise<CtlNodeStatus>;
  service(namespace: string, name: string): Promise<CtlServiceStatus | undefined>;
  /** Cheap counts for the metrics (no VPP call). */
  counts(): { nodesRouted: number; translations: number };
  cleanup(): Promise<CtlNodeCleanupReport>;
}

/** Told after every node dataplane sync (metrics). */
export interface NodeSyncObserver {
  /** A sync finished; `latencySeconds` from the Kubernetes change that caused it, when known. */
  syncDone(latencySeconds: number | undefined): void;
  syncFailed(): void;
}
