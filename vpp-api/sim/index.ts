/** The VPP simulator: a process-capable server speaking VPP's socket API, for tests and local runs. */
export { VppSimulator, ALL_HANDLERS, type SimLogger, type VppSimulatorOptions } from './server.js';
export { Faults, type FaultRule } from './faults.js';
export { defaultHost, fakeTap, linuxHostChecks, netnsPathOf, noVhostNet, withChecks, type HostChecks, type SimHost, type TapHostInfo, type TapHostRequest, type TapHostResult } from './host.js';
export { API_RANGE_NAMES, MessageTable, type MessageTableEntry } from './message-table.js';
export { SimState, type SimInterface, type InterfaceDevice, type AfPacketDevice, type PacketRing, type SimTable, type SimRoute, type SimPath } from './state.js';
export type { HandlerContext, HandlerSpec, SimConfig, SimControl, VersionInfo } from './handler.js';
export { Retval } from './retval.js';
