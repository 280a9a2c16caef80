/**
 * TypeScript shapes of the contract's messages as @grpc/proto-loader delivers them (keepCase, defaults,
 * arrays). Both sides validate what they receive (the agent with zod: gRPC input is a trust boundary).
 */
export interface PodRefMsg {
  namespace: string;
  name: string;
  uid: string;
}
export interface AttachmentMsg {
  container_id: string;
  if_name: string;
  netns: string;
  pod: PodRefMsg | null;
}
export interface IpConfigMsg {
  address: string;
  gateway: string;
}
export interface RouteMsg {
  dst: string;
  gw: string;
}
export interface InterfaceMsg {
  name: string;
  mac: string;
  mtu: number;
  sandbox: string;
  socket_path: string;
}
export interface ResultIpMsg {
  address: string;
  gateway: string;
  interface: number;
}
export interface ResultMsg {
  interfaces: InterfaceMsg[];
  ips: ResultIpMsg[];
  routes: RouteMsg[];
}
export interface CniErrorMsg {
  code: number;
  msg: string;
  details: string;
}
export interface AddRequestMsg {
  attachment: AttachmentMsg | null;
  ips: IpConfigMsg[];
  routes: RouteMsg[];
  network_name: string;
}
export interface AddReplyMsg {
  result: ResultMsg | null;
  error: CniErrorMsg | null;
}
export interface DelRequestMsg {
  attachment: AttachmentMsg | null;
}
export interface DelReplyMsg {
  error: CniErrorMsg | null;
}
export interface CheckRequestMsg {
  attachment: AttachmentMsg | null;
  prev_result: ResultMsg | null;
}
export interface CheckReplyMsg {
  error: CniErrorMsg | null;
}
export interface GcRequestMsg {
  valid: AttachmentMsg[];
  network_name: string;
}
export interface GcReplyMsg {
  error: CniErrorMsg | null;
  removed: number;
}
export type StatusRequestMsg = Record<string, never>;
export interface StatusReplyMsg {
  error: CniErrorMsg | null;
}

/** CNI spec error codes used across the contract. */
export const CNI_CODES = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidNetworkConfig: 7,
  tryAgainLater: 11,
  pluginNotAvailable: 50,
  pluginNotAvailableLimitedConnectivity: 51,
  /** vpp-cni: VPP refused or failed a step of the pod's setup. */
  vppFailure: 100,
  /** vpp-cni: the pod's network namespace is gone. */
  netnsGone: 101,
  internal: 999,
} as const;

export type CniCode = (typeof CNI_CODES)[keyof typeof CNI_CODES];
