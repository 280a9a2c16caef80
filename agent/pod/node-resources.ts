/**
 * VPP objects shared by all pods of the node, made once on first use:
 *  - a loopback that every pod interface is unnumbered to (it makes IP work on them without giving each
 *    one an address), tagged `vcni:node:unnumbered`, found again by its tag after an agent restart;
 *  - the session layer, enabled once for VCL (session_sapi_enable_disable first: VPP refuses it once the
 *    session layer runs, and answers -1 then, which is fine).
 * `reset()` forgets them (VPP restarted).
 */
import * as iface from '../../vpp-api/generated/interface.js';
import * as session from '../../vpp-api/generated/session.js';
import { VppApiError } from '../../vpp-api/client/index.js';
import type { VppApi } from './vpp-ops.js';

export const NODE_LOOPBACK_TAG = 'vcni:node:unnumbered';

export class NodeResources {
  private loopback: Promise<number> | undefined;
  private sessionLayer: Promise<void> | undefined;

  constructor(private readonly vpp: VppApi) {}

  /** sw_if_index of the shared unnumbered loopback (created, tagged and set up on first use). */
  unnumberedLoopback(): Promise<number> {
    this.loopback ??= this.findOrCreateLoopback().catch((e: unknown) => {
      this.loopback = undefined;
      throw e;
    });
    return this.loopback;
  }

  sessionEnabled(): Promise<void> {
    this.sessionLayer ??= this.enableSession().catch((e: unknown) => {
      this.sessionLayer = undefined;
      throw e;
    });
    return this.sessionLayer;
  }

  reset(): void {
    this.loopback = undefined;
    this.sessionLayer = undefined;
  }

  private async findOrCreateLoopback(): Promise<number> {
    const all = await this.vpp.dumpAll(iface.sw_interface_dump, {});
    const found = all.find((d) => d.tag === NODE_LOOPBACK_TAG);
    if (found) return found.sw_if_index;
    const { sw_if_index } = await this.vpp.request(iface.create_loopback, { mac_address: '02:00:00:00:00:01' });
    try {
      await this.vpp.request(iface.sw_interface_tag_add_del, { is_add: true, sw_if_index, tag: NODE_LOOPBACK_TAG });
      await this.vpp.request(iface.sw_interface_set_flags, { sw_if_index, flags: 1 });
    } catch (e) {
      await this.vpp.request(iface.delete_loopback, { sw_if_index }).catch(() => undefined);
      throw e;
    }
    return sw_if_index;
  }

  private async enableSession(): Promise<void> {
    try {
      await this.vpp.request(session.session_sapi_enable_disable, { is_enable: true });
    } catch (e) {
      // -1: the session layer already runs (startup.conf `session { enable use-app-socket-api }`).
      if (!(e instanceof VppApiError && e.retval === -1)) throw e;
    }
    await this.vpp.request(session.session_enable_disable_v2, { rt_engine_type: session.RtBackendEngine.RT_BACKEND_ENGINE_API_RULE_TABLE });
  }
}
