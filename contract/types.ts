/**
 * The contract's message types (generated from cni-backend.proto: contract/generated/cni-backend.ts) and
 * the CNI error codes both sides use. Type-only re-exports: importing this module loads no generated code.
 */
export type {
  AddReplyMsg,
  AddRequestMsg,
  AnnotationsMsg,
  AttachmentMsg,
  CheckReplyMsg,
  CheckRequestMsg,
  CniErrorMsg,
  DelReplyMsg,
  DelRequestMsg,
  GcReplyMsg,
  GcRequestMsg,
  InterfaceMsg,
  IpConfigMsg,
  MethodName,
  MethodTypes,
  PodRefMsg,
  RouteMsg,
  StatusReplyMsg,
  StatusRequestMsg,
} from './generated/cni-backend.js';

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
