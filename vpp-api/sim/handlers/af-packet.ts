/** af_packet.api: `host-<ifname>` interfaces on an existing host interface of VPP's netns. */
import { af_packet } from '../../generated/index.js';
import { on, type HandlerContext, type HandlerSpec } from '../handler.js';
import { Retval } from '../retval.js';
import { randomMac, ZERO_MAC, type AfPacketDevice } from '../state.js';

const AF_PACKET_MODE_ETHERNET = 1;
const AF_PACKET_MODE_IP = 2;

interface AfPacketCreateRequest {
  mode?: number;
  hw_addr: string;
  use_random_hw_addr: boolean;
  host_if_name: string;
  num_rx_queues?: number;
  num_tx_queues?: number;
}

function createAfPacket(ctx: HandlerContext, req: AfPacketCreateRequest): { retval: number; sw_if_index: number } {
  const st = ctx.state;
  const existing = [...st.interfaces.values()].find((i) => i.device.kind === 'af_packet' && i.device.hostIfName === req.host_if_name);
  if (existing) return { retval: Retval.IF_ALREADY_EXISTS, sw_if_index: existing.swIfIndex };
  if (!ctx.host.interfaceExists(req.host_if_name)) return { retval: Retval.INVALID_INTERFACE, sw_if_index: 0 };
  const mode = req.mode === AF_PACKET_MODE_IP ? AF_PACKET_MODE_IP : AF_PACKET_MODE_ETHERNET;
  const ethernet = mode === AF_PACKET_MODE_ETHERNET;
  const device: AfPacketDevice = {
    kind: 'af_packet',
    devInstance: st.afPacketDevPool.alloc(),
    hostIfName: req.host_if_name,
    mode,
    rxQueues: Math.max(1, req.num_rx_queues ?? 1),
    txQueues: Math.max(1, req.num_tx_queues ?? 1),
  };
  const itf = st.createInterface({
    device,
    name: `host-${req.host_if_name}`,
    devType: 'af-packet',
    l2Address: ethernet ? (req.use_random_hw_addr || req.hw_addr === ZERO_MAC ? randomMac() : req.hw_addr) : ZERO_MAC,
    linkMtu: ethernet ? ctx.host.interfaceMtu(req.host_if_name) : 0,
    // af_packet_create_if sets the link up once the host socket is bound.
    linkUp: true,
    txQueues: device.txQueues,
  });
  return { retval: 0, sw_if_index: itf.swIfIndex };
}

export const afPacketHandlers: readonly HandlerSpec[] = [
  on(af_packet.af_packet_create_v3, (req, ctx) => {
    ctx.send(af_packet.af_packet_create_v3_reply, createAfPacket(ctx, req));
  }),

  on(af_packet.af_packet_create_v2, (req, ctx) => {
    ctx.send(af_packet.af_packet_create_v2_reply, createAfPacket(ctx, req));
  }),

  on(af_packet.af_packet_create, (req, ctx) => {
    ctx.send(af_packet.af_packet_create_reply, createAfPacket(ctx, req));
  }),

  on(af_packet.af_packet_delete, (req, ctx) => {
    const st = ctx.state;
    const itf = [...st.interfaces.values()].find((i) => i.device.kind === 'af_packet' && i.device.hostIfName === req.host_if_name);
    if (!itf || itf.device.kind !== 'af_packet') return ctx.send(af_packet.af_packet_delete_reply, { retval: Retval.SYSCALL_ERROR_1 });
    st.afPacketDevPool.release(itf.device.devInstance);
    st.deleteInterface(itf);
    ctx.send(af_packet.af_packet_delete_reply, { retval: 0 });
  }),

  on(af_packet.af_packet_dump, (_req, ctx) => {
    const list = ctx.state.interfaceList().filter((i) => i.device.kind === 'af_packet');
    list.sort((a, b) => (a.device as AfPacketDevice).devInstance - (b.device as AfPacketDevice).devInstance);
    for (const itf of list) {
      ctx.send(af_packet.af_packet_details, { sw_if_index: itf.swIfIndex, host_if_name: (itf.device as AfPacketDevice).hostIfName });
    }
  }),
];
