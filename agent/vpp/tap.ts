/** Taps (and TUNs) whose host end VPP creates directly in a pod netns. */
import * as tapv2 from '../../vpp-api/generated/tapv2.js';
import { TapFlags } from '../../vpp-api/generated/tapv2.js';
import { deleteTolerant, isRetval, VppApiError, type VppApi } from './api.js';

export interface TapInNetns {
  /** L3 (TUN, no MAC on the host end) or L2 (TAP). */
  tun: boolean;
  /** Path of the netns the host end is created in (string[64] on the wire). */
  netns: string;
  hostIfName: string;
  /** MAC of the host end (TAP only): VPP picks one at random when undefined. */
  hostMac?: string;
  hostMtu: number;
  rxQueues: number;
  txQueues: number;
  rxRingSize: number;
  txRingSize: number;
  tag: string;
}

export interface TapInfo {
  swIfIndex: number;
  hostNamespace: string;
  hostIfName: string;
  hostMac: string;
  tun: boolean;
  rxRingSize: number;
  txRingSize: number;
}

/**
 * VPP refused a tap because it cannot open /dev/vhost-net (tap_create_if's only SYSCALL_ERROR_1). Still a
 * VppApiError (message, retval and its name), with a message that says what it means and what to do.
 */
export class VhostNetUnavailableError extends VppApiError {
  /** `hint`: say which setting avoids it (the caller that knows the node is set to tun adds it). */
  constructor(cause: VppApiError, hint = false) {
    super(cause.messageName, cause.retval, cause.reply);
    this.message =
      `${this.message}: VPP could not open /dev/vhost-net, which a tap needs (micro-VMs and hardened kernels often lack it)` +
      (hint ? '; set VPPCNI_POD_INTERFACE_MODE to auto or veth to give pods a veth pair with an af_packet interface instead' : '');
  }
}

/** True when `e` is VPP refusing a tap because the node has no usable /dev/vhost-net. */
export function isVhostNetFailure(e: unknown): e is VppApiError {
  return isRetval(e, 'SYSCALL_ERROR_1', 'tap_create');
}

/** Creates the tap; a refusal for lack of /dev/vhost-net is a VhostNetUnavailableError. Returns its sw_if_index. */
export async function createTapInNetns(vpp: VppApi, t: TapInNetns): Promise<number> {
  try {
    const r = await vpp.request(tapv2.tap_create_v3, {
      id: 0xffffffff,
      use_random_mac: true,
      num_rx_queues: t.rxQueues,
      num_tx_queues: t.txQueues,
      rx_ring_sz: t.rxRingSize,
      tx_ring_sz: t.txRingSize,
      host_mtu_set: true,
      host_mtu_size: t.hostMtu,
      host_namespace_set: true,
      host_namespace: t.netns,
      host_if_name_set: true,
      host_if_name: t.hostIfName,
      ...(t.hostMac ? { host_mac_addr_set: true, host_mac_addr: t.hostMac } : {}),
      tap_flags: t.tun ? TapFlags.TAP_API_FLAG_TUN : 0,
      tag: t.tag,
    });
    return r.sw_if_index;
  } catch (e) {
    throw isVhostNetFailure(e) ? new VhostNetUnavailableError(e) : e;
  }
}

/** Removes the tap (its kernel end goes with it). Idempotent. */
export async function deleteTap(vpp: VppApi, swIfIndex: number): Promise<void> {
  await deleteTolerant(() => vpp.request(tapv2.tap_delete_v2, { sw_if_index: swIfIndex }));
}

export async function listTaps(vpp: VppApi): Promise<TapInfo[]> {
  return (await vpp.dumpAll(tapv2.sw_interface_tap_v2_dump, { sw_if_index: 0xffffffff })).map((t) => ({
    swIfIndex: t.sw_if_index,
    hostNamespace: t.host_namespace,
    hostIfName: t.host_if_name,
    hostMac: t.host_mac_addr,
    tun: (t.tap_flags & TapFlags.TAP_API_FLAG_TUN) !== 0,
    rxRingSize: t.rx_ring_sz,
    txRingSize: t.tx_ring_sz,
  }));
}
