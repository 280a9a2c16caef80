/** af_packet interfaces: VPP reading and writing a host netns link (a veth host end for ours). */
import * as afp from '../../vpp-api/generated/af_packet.js';
import { AfPacketFlags, AfPacketMode } from '../../vpp-api/generated/af_packet.js';
import { deleteTolerant, type VppApi } from './api.js';

export interface AfPacketOnLink {
  hostIfName: string;
  rxFramesPerBlock: number;
  txFramesPerBlock: number;
  rxQueues: number;
  txQueues: number;
  /** A fixed MAC (default: a random one). */
  mac?: string;
  /** Frame sizes (default 0: VPP's own). */
  rxFrameSize?: number;
  txFrameSize?: number;
}

export interface AfPacketInfo {
  swIfIndex: number;
  hostIfName: string;
}

/** An ethernet-mode af_packet on the host link, with a random MAC unless one is given. Returns its sw_if_index. */
export async function createAfPacket(vpp: VppApi, a: AfPacketOnLink): Promise<number> {
  const r = await vpp.request(afp.af_packet_create_v3, {
    mode: AfPacketMode.AF_PACKET_API_MODE_ETHERNET,
    hw_addr: a.mac ?? '00:00:00:00:00:00',
    use_random_hw_addr: a.mac === undefined,
    host_if_name: a.hostIfName,
    rx_frame_size: a.rxFrameSize ?? 0,
    tx_frame_size: a.txFrameSize ?? 0,
    rx_frames_per_block: a.rxFramesPerBlock,
    tx_frames_per_block: a.txFramesPerBlock,
    // As VPP's own defaults for v1/v2: qdisc bypass, and the virtio-net header so packets the pod
    // sends with partial checksums (veth offloads) are completed instead of forwarded broken.
    flags: AfPacketFlags.AF_PACKET_API_FLAG_QDISC_BYPASS | AfPacketFlags.AF_PACKET_API_FLAG_CKSUM_GSO,
    num_rx_queues: a.rxQueues,
    num_tx_queues: a.txQueues,
  });
  return r.sw_if_index;
}

/** Idempotent: af_packet_delete of a host interface VPP does not know answers SYSCALL_ERROR_1. */
export async function deleteAfPacket(vpp: VppApi, hostIfName: string): Promise<void> {
  await deleteTolerant(() => vpp.request(afp.af_packet_delete, { host_if_name: hostIfName }), ['SYSCALL_ERROR_1']);
}

export async function listAfPackets(vpp: VppApi): Promise<AfPacketInfo[]> {
  return (await vpp.dumpAll(afp.af_packet_dump, {})).map((a) => ({ swIfIndex: a.sw_if_index, hostIfName: a.host_if_name }));
}
