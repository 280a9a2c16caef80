/** What every pod interface kind is given: VPP, the pod netns, shared node objects, config, a logger. */
import type { NetnsOps } from '../../linux/netns.js';
import type { VppApi } from '../../vpp/api.js';
import type { PodInterfaceConfig } from '../interface-spec.js';
import type { NodeResources } from '../node-resources.js';
import type { Logger } from '../../../lib/logger.js';

export type { CheckProblem } from '../../objects/kind.js';

export interface DriverContext {
  vpp: VppApi;
  netns: NetnsOps;
  node: NodeResources;
  cfg: PodInterfaceConfig;
  log: Logger;
}
