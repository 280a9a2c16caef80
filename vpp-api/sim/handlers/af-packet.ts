/**
 * af_packet.api: `host-<ifname>` interfaces on an existing host interface of VPP's netns, following the
 * af_packet plugin (af_packet_api.c fills an af_packet_create_if_arg_t, af_packet.c:af_packet_create_if).
 *
 * A create goes through VPP's steps in order:
 *  1. v3 only: a mode other than ETHERNET (1) or IP (2) is INVALID_VALUE (-7), sw_if_index ~0;
 *  2. an af_packet on the same host interface already: IF_ALREADY_EXISTS (-79) with its sw_if_index;
 *  3. the host interface lookup (SIOCGIFINDEX) fails: INVALID_INTERFACE (-71);
 *  4. a host interface that is down is set up (SIOCSIFFLAGS); a refusal is SYSCALL_ERROR_1 (-11);
 *  5. one AF_PACKET socket per queue: the kernel refuses a ring it cannot lay out (see ringRefused) and
 *     VPP answers SYSCALL_ERROR_1 (-11).
 * A failed create leaves nothing behind; apart from 1 and 2 its reply carries sw_if_index 0 (the create
 * argument is zeroed and never filled in).
 */
import { af_packet } from '../../generated/index.js';
import { AfPacketFlags, AfPacketMode } from '../../generated/af_packet.js';
import { on, type HandlerContext, type HandlerSpec } from '../handler.js';
import { Retval, U32_MAX } from '../retval.js';
import { randomMac, ZERO_MAC, type AfPacketDevice, type PacketRing } from '../state.js';

/** AF_PACKET_IF_FLAGS_FANOUT: internal, set for more than one rx queue. */
/** VPP's default max frame size of an ethernet hardware interface (vnet_eth_register_interface). */
const ETHERNET_DEFAULT_MTU = 9000;
const FLAG_FANOUT = 4;
/** The flags of v1 and v2 (v2's own flags field is not read). */
const DEFAULT_FLAGS = AfPacketFlags.AF_PACKET_API_FLAG_QDISC_BYPASS | AfPacketFlags.AF_PACKET_API_FLAG_CKSUM_GSO;

const TPACKET_V2 = 2;
const TPACKET_V3 = 3;

/** Ring defaults of af_packet.c (a request's 0 means the default). */
const RX_DEFAULTS = {
  [TPACKET_V3]: { frameSize: 2048, framesPerBlock: 32, blockNr: 160 },
  // A GSO packet of 64 KB per frame.
  [TPACKET_V2]: { frameSize: 2048 * 33, framesPerBlock: 1024, blockNr: 1 },
} as const;
const TX_DEFAULTS = { frameSize: 2048 * 33, framesPerBlock: 1024, blockNr: 1 } as const;

/** The kernel side of packet_set_ring: PAGE_SIZE of the host, TPACKET_ALIGNMENT, tp_hdrlen per version. */
const PAGE_SIZE = 4096;
const TPACKET_ALIGNMENT = 16;
/** TPACKET_ALIGN(sizeof tpacket2_hdr) + sizeof sockaddr_ll; TPACKET_ALIGN(sizeof tpacket3_hdr) + the same. */
const TPACKET_HDRLEN = { [TPACKET_V2]: 32 + 20, [TPACKET_V3]: 48 + 20 } as const;

/** af_packet_create_if_arg_t as the API handlers leave it. */
interface CreateArgs {
  readonly hostIfName: string;
  /** The MAC to use; undefined makes a random one (use_random_hw_addr). */
  readonly hwAddr: string | undefined;
  readonly mode: number;
  readonly flags: number;
  /** u8 in the create argument. */
  readonly numRxqs: number;
  readonly numTxqs: number;
  readonly rxFrameSize: number;
  readonly txFrameSize: number;
  readonly rxFramesPerBlock: number;
  readonly txFramesPerBlock: number;
}

interface CreateReply {
  retval: number;
  sw_if_index: number;
}

interface ApiCreateFields {
  hw_addr: string;
  use_random_hw_addr: boolean;
  host_if_name: string;
}

interface RingFields {
  rx_frame_size: number;
  tx_frame_size: number;
  rx_frames_per_block: number;
  tx_frames_per_block: number;
}

/** A queue count as the handlers store it: values above 1 are taken (truncated to the u8 field), else 1. */
function queueCount(requested: number): number {
  return requested > 1 ? requested & 0xff : 1;
}

/** Bytes of a u16 swapped: v2's handler compares num_rx_queues before converting it from network order. */
function swap16(n: number): number {
  return ((n & 0xff) << 8) | (n >> 8);
}

function baseArgs(req: ApiCreateFields): Pick<CreateArgs, 'hostIfName' | 'hwAddr'> {
  // A MAC given without use_random_hw_addr is used as is, all zero included.
  return { hostIfName: req.host_if_name, hwAddr: req.use_random_hw_addr ? undefined : req.hw_addr };
}

function ringArgs(req: RingFields): Pick<CreateArgs, 'rxFrameSize' | 'txFrameSize' | 'rxFramesPerBlock' | 'txFramesPerBlock'> {
  return { rxFrameSize: req.rx_frame_size, txFrameSize: req.tx_frame_size, rxFramesPerBlock: req.rx_frames_per_block, txFramesPerBlock: req.tx_frames_per_block };
}

/** tpacket_req as af_packet_queue_init fills it: products wrap like the C u32 arithmetic. */
function ringOf(frameSize: number, framesPerBlock: number, blockNr: number): PacketRing {
  return {
    blockSize: Math.imul(frameSize, framesPerBlock) >>> 0,
    blockNr,
    frameSize,
    frameNr: Math.imul(blockNr, framesPerBlock) >>> 0,
  };
}

function rxRingOf(args: CreateArgs, version: 2 | 3): PacketRing {
  const d = RX_DEFAULTS[version];
  return ringOf(args.rxFrameSize || d.frameSize, args.rxFramesPerBlock || d.framesPerBlock, d.blockNr);
}

function txRingOf(args: CreateArgs): PacketRing {
  return ringOf(args.txFrameSize || TX_DEFAULTS.frameSize, args.txFramesPerBlock || TX_DEFAULTS.framesPerBlock, TX_DEFAULTS.blockNr);
}

/**
 * packet_set_ring's EINVAL checks (net/packet/af_packet.c): the block size must be positive as an int and
 * page aligned; a frame must hold the tpacket header and be TPACKET_ALIGNMENT aligned; the frames the
 * kernel fits in a block, times the blocks, must be the frame count asked for. (TPACKET_V3's minimum block
 * size, block header + one frame, is below one page and so always met.)
 */
function ringRefused(ring: PacketRing, version: 2 | 3): boolean {
  if ((ring.blockSize | 0) <= 0 || ring.blockSize % PAGE_SIZE !== 0) return true;
  if (ring.frameSize < TPACKET_HDRLEN[version] || ring.frameSize % TPACKET_ALIGNMENT !== 0) return true;
  const framesPerBlock = Math.floor(ring.blockSize / ring.frameSize);
  if (framesPerBlock === 0 || framesPerBlock > Math.floor(U32_MAX / ring.blockNr)) return true;
  return framesPerBlock * ring.blockNr !== ring.frameNr;
}

function findByHostIfName(ctx: HandlerContext, hostIfName: string) {
  return [...ctx.state.interfaces.values()].find((i) => i.device.kind === 'af_packet' && i.device.hostIfName === hostIfName);
}

/** Step 4: SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP when the interface is down. False when that fails. */
async function ensureHostUp(ctx: HandlerContext, name: string): Promise<boolean> {
  if (ctx.host.interfaceUp(name)) return true;
  try {
    await ctx.host.setInterfaceUp(name);
    return true;
  } catch {
    return false;
  }
}

/** af_packet_create_if. */
async function createIf(ctx: HandlerContext, args: CreateArgs): Promise<CreateReply> {
  const st = ctx.state;
  const existing = findByHostIfName(ctx, args.hostIfName);
  if (existing) return { retval: Retval.IF_ALREADY_EXISTS, sw_if_index: existing.swIfIndex };
  if (!ctx.host.interfaceExists(args.hostIfName)) return { retval: Retval.INVALID_INTERFACE, sw_if_index: 0 };
  if (!(await ensureHostUp(ctx, args.hostIfName))) return { retval: Retval.SYSCALL_ERROR_1, sw_if_index: 0 };

  const version = (args.flags & AfPacketFlags.AF_PACKET_API_FLAG_VERSION_2) !== 0 ? TPACKET_V2 : TPACKET_V3;
  const rxRing = args.numRxqs > 0 ? rxRingOf(args, version) : null;
  const txRing = args.numTxqs > 0 ? txRingOf(args) : null;
  // VPP takes its device instance before the sockets and puts it back when one fails: no trace either way.
  if ((rxRing && ringRefused(rxRing, version)) || (txRing && ringRefused(txRing, version))) {
    return { retval: Retval.SYSCALL_ERROR_1, sw_if_index: 0 };
  }

  const ethernet = args.mode === AfPacketMode.AF_PACKET_API_MODE_ETHERNET;
  const device: AfPacketDevice = {
    kind: 'af_packet',
    devInstance: st.afPacketDevPool.alloc(),
    hostIfName: args.hostIfName,
    mode: args.mode,
    flags: args.numRxqs > 1 ? args.flags | FLAG_FANOUT : args.flags,
    tpacketVersion: version,
    rxQueues: args.numRxqs,
    txQueues: args.numTxqs,
    rxRing,
    txRing,
  };
  const itf = st.createInterface({
    device,
    name: `host-${args.hostIfName}`,
    devType: 'af-packet',
    // IP mode registers a hardware interface without an address (and without MTU, unlike ethernet).
    l2Address: ethernet ? (args.hwAddr ?? randomMac()) : ZERO_MAC,
    // Ethernet mode registers the hardware interface with VPP's default max frame (link_mtu and L3 MTU 9000),
    // whatever the host interface's MTU: a real VPP answered 9000 for a veth of MTU 1400 (it reads the host MTU
    // for its own use only).
    linkMtu: ethernet ? ETHERNET_DEFAULT_MTU : 0,
    // af_packet_create_if sets the link up once the sockets are bound.
    linkUp: true,
    txQueues: device.txQueues,
  });
  return { retval: 0, sw_if_index: itf.swIfIndex };
}

export const afPacketHandlers: readonly HandlerSpec[] = [
  on(af_packet.af_packet_create_v3, async (req, ctx) => {
    const reply = (r: CreateReply): void => ctx.send(af_packet.af_packet_create_v3_reply, r);
    if (req.mode !== AfPacketMode.AF_PACKET_API_MODE_ETHERNET && req.mode !== AfPacketMode.AF_PACKET_API_MODE_IP) {
      return reply({ retval: Retval.INVALID_VALUE, sw_if_index: U32_MAX });
    }
    const args: CreateArgs = {
      ...baseArgs(req),
      ...ringArgs(req),
      mode: req.mode,
      flags: req.flags,
      numRxqs: queueCount(req.num_rx_queues),
      numTxqs: queueCount(req.num_tx_queues),
    };
    reply(await createIf(ctx, args));
  }),

  on(af_packet.af_packet_create_v2, async (req, ctx) => {
    const args: CreateArgs = {
      ...baseArgs(req),
      ...ringArgs(req),
      mode: AfPacketMode.AF_PACKET_API_MODE_ETHERNET,
      flags: DEFAULT_FLAGS,
      // The handler tests the raw (network order) field, then stores the converted value.
      numRxqs: swap16(req.num_rx_queues) > 1 ? req.num_rx_queues & 0xff : 1,
      numTxqs: 1,
    };
    ctx.send(af_packet.af_packet_create_v2_reply, await createIf(ctx, args));
  }),

  on(af_packet.af_packet_create, async (req, ctx) => {
    // v1 never sets the queue counts of the zeroed argument: VPP makes the interface with no rx or tx queue
    // (and so no socket, no ring).
    const args: CreateArgs = {
      ...baseArgs(req),
      rxFrameSize: 0,
      txFrameSize: 0,
      rxFramesPerBlock: 0,
      txFramesPerBlock: 0,
      mode: AfPacketMode.AF_PACKET_API_MODE_ETHERNET,
      flags: DEFAULT_FLAGS,
      numRxqs: 0,
      numTxqs: 0,
    };
    ctx.send(af_packet.af_packet_create_reply, await createIf(ctx, args));
  }),

  on(af_packet.af_packet_delete, (req, ctx) => {
    const st = ctx.state;
    const itf = findByHostIfName(ctx, req.host_if_name);
    if (!itf || itf.device.kind !== 'af_packet') return ctx.send(af_packet.af_packet_delete_reply, { retval: Retval.SYSCALL_ERROR_1 });
    // Link down, then the interface goes (one sw_interface_event: flags 0, deleted), like any other delete.
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
