/**
 * tapv2.api. VPP's own checks (id in use, ATTACH without a name) happen here; the host half (the kernel
 * tun/tap, its netns, vhost-net) is the SimHost's decision. On success the handler records the VPP side:
 * interface `tap<id>` (or `tun<id>` with the TUN flag), link up, tag.
 */
import { tapv2 } from '../../generated/index.js';
import type { TapFlags } from '../../generated/tapv2.js';
import { flagsOf, on, type HandlerContext, type HandlerSpec } from '../handler.js';
import { lowestFree } from '../index-pool.js';
import { Retval, U32_MAX } from '../retval.js';
import { ETHERNET_DEFAULT_MTU, randomMac, ZERO_MAC, type TapDevice } from '../state.js';
import type { TapHostRequest } from '../host.js';

/** TAP_MAX_INSTANCE of tap.c. */
const TAP_MAX_INSTANCE = 1024;
const TAP_FLAG_ATTACH = 8;
const TAP_FLAG_TUN = 16;
const DEFAULT_RING_SIZE = 256;

interface TapCreateRequest {
  id: number;
  use_random_mac: boolean;
  mac_address: string;
  num_rx_queues: number;
  num_tx_queues?: number;
  tx_ring_sz: number;
  rx_ring_sz: number;
  host_mtu_set: boolean;
  host_mtu_size: number;
  host_mac_addr_set: boolean;
  host_mac_addr: string;
  host_ip4_prefix_set: boolean;
  host_ip4_prefix: string;
  host_ip6_prefix_set: boolean;
  host_ip6_prefix: string;
  host_ip4_gw_set: boolean;
  host_ip4_gw: string;
  host_ip6_gw_set: boolean;
  host_ip6_gw: string;
  tap_flags: number;
  host_namespace_set: boolean;
  host_namespace: string;
  host_if_name_set: boolean;
  host_if_name: string;
  host_bridge_set: boolean;
  host_bridge: string;
  tag: string;
}

async function createTap(ctx: HandlerContext, req: TapCreateRequest): Promise<{ retval: number; sw_if_index: number }> {
  const st = ctx.state;
  const fail = (retval: number): { retval: number; sw_if_index: number } => ({ retval, sw_if_index: U32_MAX });
  let id = req.id;
  if (id !== U32_MAX) {
    if (st.tapIds.has(id)) return fail(Retval.INVALID_INTERFACE);
  } else {
    id = lowestFree(st.tapIds);
  }
  if (id > TAP_MAX_INSTANCE) return fail(Retval.UNSPECIFIED);
  const tun = (req.tap_flags & TAP_FLAG_TUN) !== 0;
  if ((req.tap_flags & TAP_FLAG_ATTACH) !== 0 && !req.host_if_name_set) return fail(Retval.NO_MATCHING_INTERFACE);
  const hostReq: TapHostRequest = {
    id,
    tun,
    hostIfName: req.host_if_name_set ? req.host_if_name : undefined,
    hostNamespace: req.host_namespace_set ? req.host_namespace : undefined,
    hostBridge: req.host_bridge_set ? req.host_bridge : undefined,
    hostMacAddr: req.host_mac_addr_set ? req.host_mac_addr : undefined,
    hostIp4Prefix: req.host_ip4_prefix_set ? req.host_ip4_prefix : undefined,
    hostIp6Prefix: req.host_ip6_prefix_set ? req.host_ip6_prefix : undefined,
    hostIp4Gw: req.host_ip4_gw_set ? req.host_ip4_gw : undefined,
    hostIp6Gw: req.host_ip6_gw_set ? req.host_ip6_gw : undefined,
    hostMtu: req.host_mtu_set ? req.host_mtu_size : undefined,
    numRxQueues: Math.max(1, req.num_rx_queues),
    numTxQueues: Math.max(1, req.num_tx_queues ?? 1),
    tapFlags: req.tap_flags,
  };
  // Reserve the id while the host works (a concurrent create must not take it).
  st.tapIds.add(id);
  const result = await ctx.host.createTap(hostReq);
  if (result.retval !== 0 || !('hostIfName' in result)) {
    st.tapIds.delete(id);
    return fail(result.retval);
  }
  const device: TapDevice = {
    kind: 'tap',
    devInstance: st.tapDevPool.alloc(),
    id,
    tun,
    hostIfName: result.hostIfName,
    hostNamespace: hostReq.hostNamespace ?? '',
    hostBridge: hostReq.hostBridge ?? '',
    hostMacAddr: tun ? ZERO_MAC : (result.hostMacAddr ?? hostReq.hostMacAddr ?? randomMac()),
    hostIp4Prefix: hostReq.hostIp4Prefix ?? '0.0.0.0/0',
    hostIp6Prefix: hostReq.hostIp6Prefix ?? '::/0',
    hostMtu: hostReq.hostMtu ?? 0,
    rxRingSize: req.rx_ring_sz || DEFAULT_RING_SIZE,
    txRingSize: req.tx_ring_sz || DEFAULT_RING_SIZE,
    tapFlags: req.tap_flags,
    rxQueues: hostReq.numRxQueues,
    txQueues: hostReq.numTxQueues,
  };
  const itf = st.createInterface({
    device,
    name: `${tun ? 'tun' : 'tap'}${id}`,
    devType: 'virtio',
    l2Address: tun ? ZERO_MAC : req.use_random_mac ? randomMac() : req.mac_address,
    linkMtu: tun ? 0 : ETHERNET_DEFAULT_MTU,
    // tap_create_if brings the VPP side's link up at creation.
    linkUp: true,
    txQueues: device.txQueues,
  });
  if (req.tag !== '') itf.tag = req.tag;
  return { retval: 0, sw_if_index: itf.swIfIndex };
}

export const tapHandlers: readonly HandlerSpec[] = [
  on(tapv2.tap_create_v3, async (req, ctx) => {
    ctx.send(tapv2.tap_create_v3_reply, await createTap(ctx, req));
  }),

  on(tapv2.tap_create_v2, async (req, ctx) => {
    ctx.send(tapv2.tap_create_v2_reply, await createTap(ctx, req));
  }),

  on(tapv2.tap_delete_v2, async (req, ctx) => {
    const st = ctx.state;
    const itf = st.get(req.sw_if_index);
    if (!itf || itf.device.kind !== 'tap') return ctx.send(tapv2.tap_delete_v2_reply, { retval: Retval.INVALID_SW_IF_INDEX });
    const dev = itf.device;
    st.deleteInterface(itf);
    st.tapIds.delete(dev.id);
    st.tapDevPool.release(dev.devInstance);
    await ctx.host.deleteTap({ id: dev.id, tun: dev.tun, hostIfName: dev.hostIfName, hostNamespace: dev.hostNamespace });
    ctx.send(tapv2.tap_delete_v2_reply, { retval: 0 });
  }),

  on(tapv2.sw_interface_tap_v2_dump, (req, ctx) => {
    const taps = ctx.state.interfaceList().filter((i) => i.device.kind === 'tap');
    taps.sort((a, b) => (a.device as TapDevice).devInstance - (b.device as TapDevice).devInstance);
    for (const itf of taps) {
      if (req.sw_if_index !== U32_MAX && req.sw_if_index !== itf.swIfIndex) continue;
      const d = itf.device as TapDevice;
      ctx.send(tapv2.sw_interface_tap_v2_details, {
        sw_if_index: itf.swIfIndex,
        id: d.id,
        tx_ring_sz: d.txRingSize,
        rx_ring_sz: d.rxRingSize,
        host_mtu_size: d.hostMtu,
        host_mac_addr: d.hostMacAddr,
        host_ip4_prefix: d.hostIp4Prefix,
        host_ip6_prefix: d.hostIp6Prefix,
        tap_flags: flagsOf<TapFlags>(d.tapFlags),
        dev_name: itf.name,
        host_if_name: d.hostIfName,
        host_namespace: d.hostNamespace,
        host_bridge: d.hostBridge,
      });
    }
  }),
];
