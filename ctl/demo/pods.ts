/**
 * The demo's pods and networks: annotated as users annotate them (Calico VPP's keys), written to the
 * pods file that stands in for the Kubernetes API, and the attachments a runtime (with Multus for the
 * secondary network) asks the plugin for.
 */
import { stringify } from 'yaml';
import type { NetworkDef } from './plugin.js';

export const POD_NAMESPACE = 'default';

export const PRIMARY_NET: NetworkDef = { name: 'vpp-cni-demo', subnet: '10.251.0.0/24', routes: [{ dst: '0.0.0.0/0' }] };
/** A secondary network whose interface name starts with `memif`: a multinet memif. */
export const MEMIF_NET: NetworkDef = { name: 'vpp-cni-demo-memif', subnet: '10.252.0.0/24', routes: [] };

export interface DemoAttachment {
  ifName: string;
  net: NetworkDef;
}

export interface DemoPod {
  name: string;
  title: string;
  /** What this pod shows. */
  about: string;
  annotations: Record<string, string>;
  attachments: DemoAttachment[];
  /** The pod is meant to fail: CNI error code and a piece of its message. */
  expectError?: { code: number; msg: string };
  /** Checks of a successful ADD result (one line each); empty when fine. */
  checkResult?: (result: Record<string, unknown>, ifName: string) => string[];
}

interface ResultIface {
  name?: string;
  socketPath?: string;
}

function interfacesOf(result: Record<string, unknown>): ResultIface[] {
  return Array.isArray(result.interfaces) ? (result.interfaces as ResultIface[]) : [];
}

function expectSocket(name: string, socketPath: string) {
  return (result: Record<string, unknown>): string[] => {
    const i = interfacesOf(result).find((x) => x.name === name);
    if (!i) return [`result has no interface ${name}`];
    return i.socketPath === socketPath ? [] : [`interface ${name} has socketPath ${JSON.stringify(i.socketPath)}, expected ${socketPath}`];
  };
}

export const DEMO_PODS: DemoPod[] = [
  {
    name: 'tun',
    title: 'tun (no annotations)',
    about: 'a plain pod: a VPP tun interface as eth0, the pod address routed to it',
    annotations: {},
    attachments: [{ ifName: 'eth0', net: PRIMARY_NET }],
  },
  {
    name: 'pbl-memif',
    title: 'tun + PBL memif',
    about: 'eth0 as above, plus a memif whose socket VPP serves in the pod; PBL sends the listed ports to it',
    annotations: { 'cni.projectcalico.org/vppExtraMemifPorts': 'tcp:4444-20000,udp:4444-20000' },
    attachments: [{ ifName: 'eth0', net: PRIMARY_NET }],
    checkResult: (r, ifName) => (ifName === 'eth0' ? expectSocket('memif-eth0', '@vpp/memif-eth0')(r) : []),
  },
  {
    name: 'multinet',
    title: 'multinet memif',
    about: `eth0 on ${PRIMARY_NET.name}, then memif1 on its own network ${MEMIF_NET.name} (${MEMIF_NET.subnet}), as Multus asks for a secondary network`,
    annotations: {},
    attachments: [
      { ifName: 'eth0', net: PRIMARY_NET },
      { ifName: 'memif1', net: MEMIF_NET },
    ],
    checkResult: (r, ifName) => (ifName === 'memif1' ? expectSocket('memif1', '@memif1')(r) : []),
  },
  {
    name: 'vcl',
    title: 'tun + VCL',
    about:
      "eth0 as above, plus a VPP app namespace whose session socket VPP serves in the pod (VPP's host stack through VCL); an app attaches with VCL_CONFIG `vcl { app-socket-api abstract:vpp/session }` and LD_PRELOAD=libvcl_ldpreload.so (docs/vcl.md)",
    annotations: { 'cni.projectcalico.org/vppVcl': 'enable' },
    attachments: [{ ifName: 'eth0', net: PRIMARY_NET }],
  },
  {
    name: 'bad-ports',
    title: 'an invalid annotation (expected to fail)',
    about: 'vppExtraMemifPorts with a port above 65535: the agent refuses the pod, the plugin releases its address',
    annotations: { 'cni.projectcalico.org/vppExtraMemifPorts': 'tcp:70000' },
    attachments: [{ ifName: 'eth0', net: PRIMARY_NET }],
    expectError: { code: 7, msg: 'vppExtraMemifPorts "tcp:70000": port 70000 is outside 1-65535' },
  },
];

/** This node (NODE_NAME of the agent) and its host side: a netns of its own with an uplink on TEST-NET-1. */
export const DEMO_NODE = { name: 'demo-node', podCidr: PRIMARY_NET.subnet, internalIp: '192.0.2.1', uplink: 'uplink0', uplinkPeer: 'uplink1', uplinkPrefix: '192.0.2.1/24' } as const;
/** A second node on the same L2 segment (host-gw): its podCIDR is routed via its InternalIP. */
export const SECOND_NODE = { name: 'demo-node-2', podCidr: '10.253.0.0/24', internalIp: '192.0.2.2' } as const;
/** The Service the demo gives backends once the pods have addresses. */
export const DEMO_SERVICE = { namespace: POD_NAMESPACE, name: 'demo-web', clusterIp: '10.96.0.80', port: 80, targetPort: 8080, protocol: 'TCP', portName: 'http' } as const;
export const DEMO_SERVICE_REF = `${DEMO_SERVICE.namespace}/${DEMO_SERVICE.name}`;
/** The agent's --cluster-cidrs: the demo networks and the second node's podCIDR. */
export const DEMO_CLUSTER_CIDRS = [PRIMARY_NET.subnet, MEMIF_NET.subnet, SECOND_NODE.podCidr] as const;
export const DEMO_SERVICE_CIDRS = '10.96.0.0/12';

/**
 * The cluster document of the pods file (what the API server would list): the two Nodes, the Service and,
 * once `backends` are given, its EndpointSlice with them as ready endpoints on this node.
 */
export function clusterDocument(backends?: readonly string[]): Record<string, unknown> {
  const node = (n: { name: string; podCidr: string; internalIp: string }) => ({
    metadata: { name: n.name },
    spec: { podCIDR: n.podCidr },
    status: { addresses: [{ type: 'InternalIP', address: n.internalIp }] },
  });
  const svc = DEMO_SERVICE;
  return {
    nodes: [node(DEMO_NODE), node(SECOND_NODE)],
    services: [
      {
        metadata: { namespace: svc.namespace, name: svc.name },
        spec: { type: 'ClusterIP', clusterIP: svc.clusterIp, ports: [{ name: svc.portName, port: svc.port, targetPort: svc.targetPort, protocol: svc.protocol }] },
      },
    ],
    endpointSlices: backends
      ? [
          {
            metadata: { namespace: svc.namespace, name: `${svc.name}-1`, labels: { 'kubernetes.io/service-name': svc.name } },
            addressType: 'IPv4',
            ports: [{ name: svc.portName, port: svc.targetPort, protocol: svc.protocol }],
            endpoints: backends.map((a) => ({ addresses: [a], conditions: { ready: true }, nodeName: DEMO_NODE.name })),
          },
        ]
      : [],
  };
}

/**
 * The pods file: one Pod document per pod, as `kubectl get pod -o yaml` would show the parts we read; with
 * `cluster`, a last document listing the cluster objects.
 */
export function podsYaml(pods: readonly DemoPod[], uidOf: (p: DemoPod) => string, cluster?: Record<string, unknown>): string {
  const docs = pods.map((p) =>
    stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { namespace: POD_NAMESPACE, name: p.name, uid: uidOf(p), ...(Object.keys(p.annotations).length ? { annotations: p.annotations } : {}) },
    }),
  );
  if (cluster) docs.push(stringify(cluster));
  return docs.join('---\n');
}

/** CNI_ARGS as kubelet/CRI runtimes pass them. */
export function cniArgs(pod: DemoPod, uid: string, containerId: string): string {
  return `IgnoreUnknown=1;K8S_POD_NAMESPACE=${POD_NAMESPACE};K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${containerId};K8S_POD_UID=${uid}`;
}
