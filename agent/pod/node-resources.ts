/**
 * VPP objects shared by all pods of the node, made once on first use:
 *  - a loopback that every pod interface is unnumbered to (it makes IP work on them without giving each
 *    one an address), tagged `vcni:node:unnumbered`, found again by its tag after an agent restart;
 *  - the session layer, enabled once for VCL.
 * `reset()` forgets them (VPP restarted).
 */
import type { VppApi } from '../vpp/api.js';
import { adminUp, createLoopback, deleteLoopback, listInterfaces, setTag } from '../vpp/interface.js';
import { enableSessionLayer } from '../vpp/session.js';
import { IsolationNode } from './isolation/node.js';
import { vppIsolationOps } from '../vpp/isolation.js';

export const NODE_LOOPBACK_TAG = 'vcni:node:unnumbered';

export class NodeResources {
  private loopback: Promise<number> | undefined;
  private sessionLayer: Promise<void> | undefined;

  /** The punt path of VCL pods and the table ids of pod VRFs and source-check tables (agent/pod/isolation). */
  readonly isolation: IsolationNode;

  constructor(private readonly vpp: VppApi) {
    this.isolation = new IsolationNode(vppIsolationOps(vpp));
  }

  /** sw_if_index of the shared unnumbered loopback (created, tagged and set up on first use). */
  unnumberedLoopback(): Promise<number> {
    this.loopback ??= this.findOrCreateLoopback().catch((e: unknown) => {
      this.loopback = undefined;
      throw e;
    });
    return this.loopback;
  }

  sessionEnabled(): Promise<void> {
    this.sessionLayer ??= enableSessionLayer(this.vpp).catch((e: unknown) => {
      this.sessionLayer = undefined;
      throw e;
    });
    return this.sessionLayer;
  }

  reset(): void {
    this.loopback = undefined;
    this.sessionLayer = undefined;
    this.isolation.reset();
  }

  private async findOrCreateLoopback(): Promise<number> {
    const found = (await listInterfaces(this.vpp)).find((d) => d.tag === NODE_LOOPBACK_TAG);
    if (found) return found.swIfIndex;
    const sw = await createLoopback(this.vpp, '02:00:00:00:00:01');
    try {
      await setTag(this.vpp, sw, NODE_LOOPBACK_TAG);
      await adminUp(this.vpp, sw);
    } catch (e) {
      await deleteLoopback(this.vpp, sw).catch(() => undefined);
      throw e;
    }
    return sw;
  }
}
