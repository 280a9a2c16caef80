/** interface.api: dumps, flags, tags, addresses, tables, unnumbered, MTU, events, loopbacks, rx mode, tx placement. */
import { interface_ } from '../../generated/index.js';
import type { IfStatusFlags } from '../../generated/interface_types.js';
import { flagsOf, on, type HandlerContext, type HandlerSpec } from '../handler.js';
import { formatBytes, parsePrefix } from '../ip-prefix.js';
import { Retval, U32_MAX } from '../retval.js';
import { addressConflicts, ETHERNET_DEFAULT_MTU, RxMode, ZERO_MAC, type SimInterface } from '../state.js';
import { lowestFree } from '../index-pool.js';

/** LOOPBACK_MAX_INSTANCE of ethernet/interface.c. */
const LOOPBACK_MAX_INSTANCE = 16 * 1024;

export function statusFlags(itf: SimInterface): IfStatusFlags {
  return flagsOf<IfStatusFlags>((itf.adminUp ? 1 : 0) | (itf.linkUp ? 2 : 0));
}

function sendDetails(ctx: HandlerContext, itf: SimInterface): void {
  ctx.send(interface_.sw_interface_details, {
    sw_if_index: itf.swIfIndex,
    sup_sw_if_index: itf.swIfIndex,
    l2_address: itf.l2Address,
    flags: statusFlags(itf),
    type: 0,
    link_duplex: 0,
    link_speed: 0,
    link_mtu: itf.linkMtu,
    mtu: [...itf.mtu],
    interface_name: itf.name,
    interface_dev_type: itf.devType,
    tag: itf.tag,
  });
}

function createLoopback(ctx: HandlerContext, mac: string, instance: number | undefined): { retval: number; sw_if_index: number } {
  const st = ctx.state;
  const inst = instance ?? lowestFree(st.loopbackInstances);
  if (inst >= LOOPBACK_MAX_INSTANCE || st.loopbackInstances.has(inst)) return { retval: Retval.INVALID_REGISTRATION, sw_if_index: U32_MAX };
  st.loopbackInstances.add(inst);
  // A zero MAC gets de:ad:00:00:00:<instance> (vnet_create_loopback_interface).
  const l2 = mac === ZERO_MAC ? `de:ad:00:00:00:${(inst & 0xff).toString(16).padStart(2, '0')}` : mac;
  const itf = st.createInterface({ device: { kind: 'loopback', instance: inst }, name: `loop${inst}`, devType: 'Loopback', l2Address: l2, linkMtu: ETHERNET_DEFAULT_MTU });
  return { retval: 0, sw_if_index: itf.swIfIndex };
}

/**
 * vnet_hw_if_set_rx_queue_mode for one queue: DEFAULT means the interface's default mode (polling for every
 * interface the simulator has); an unchanged mode is left alone; otherwise the driver's rx_mode_change
 * function decides. Only af_packet refuses one (adaptive). Returns false when the driver refused.
 */
function setRxQueueMode(itf: SimInterface, queueId: number, requested: number): boolean {
  const mode = requested === RxMode.DEFAULT ? RxMode.POLLING : requested;
  if (itf.rxModes[queueId] === mode) return true;
  if (itf.device.kind === 'af_packet' && mode === RxMode.ADAPTIVE) return false;
  itf.rxModes[queueId] = mode;
  return true;
}

/** Tx queues in (hw_if_index, queue id) order, as vnet_hw_if_txq_cmp_cli_api sorts them. */
function txQueues(ctx: HandlerContext, only?: SimInterface): { swIfIndex: number; queueId: number }[] {
  const out: { swIfIndex: number; queueId: number }[] = [];
  for (const itf of only ? [only] : ctx.state.interfaceList()) {
    for (let q = 0; q < itf.txQueues; q++) out.push({ swIfIndex: itf.swIfIndex, queueId: q });
  }
  return out;
}

export const interfaceHandlers: readonly HandlerSpec[] = [
  on(interface_.sw_interface_dump, (req, ctx) => {
    // One interface only without a filter and with an index other than ~0 and 0 (0 means all, like ~0).
    if (!req.name_filter_valid && req.sw_if_index !== U32_MAX && req.sw_if_index !== 0) {
      const itf = ctx.state.get(req.sw_if_index);
      if (itf) sendDetails(ctx, itf);
      return;
    }
    const filter = req.name_filter_valid ? req.name_filter.toLowerCase() : undefined;
    for (const itf of ctx.state.interfaceList()) {
      if (filter !== undefined && !itf.name.toLowerCase().includes(filter)) continue;
      sendDetails(ctx, itf);
    }
  }),

  on(interface_.sw_interface_set_flags, (req, ctx) => {
    const itf = ctx.state.get(req.sw_if_index);
    if (!itf) return ctx.send(interface_.sw_interface_set_flags_reply, { retval: Retval.INVALID_SW_IF_INDEX });
    ctx.state.setAdmin(itf, (req.flags & 1) !== 0);
    ctx.send(interface_.sw_interface_set_flags_reply, { retval: 0 });
  }),

  on(interface_.sw_interface_tag_add_del, (req, ctx) => {
    const itf = ctx.state.get(req.sw_if_index);
    let retval: number = 0;
    if (!itf) retval = Retval.INVALID_SW_IF_INDEX;
    else if (req.is_add && req.tag === '') retval = Retval.INVALID_VALUE;
    else itf.tag = req.is_add ? req.tag : '';
    ctx.send(interface_.sw_interface_tag_add_del_reply, { retval });
  }),

  on(interface_.sw_interface_add_del_address, (req, ctx) => {
    const reply = (retval: number): void => ctx.send(interface_.sw_interface_add_del_address_reply, { retval });
    const itf = ctx.state.get(req.sw_if_index);
    if (!itf) return reply(Retval.INVALID_SW_IF_INDEX);
    if (req.del_all) {
      for (const a of itf.addresses) ctx.state.flushNeighborsCoveredBy(itf, a);
      itf.addresses = [];
      return reply(0);
    }
    const p = parsePrefix(req.prefix);
    const address = formatBytes(p.bytes);
    if (req.is_add) {
      if (addressConflicts(ctx.state, itf, p.af, address, p.len)) return reply(Retval.ADDRESS_IN_USE);
      itf.addresses.push({ af: p.af, address, len: p.len });
      return reply(0);
    }
    const i = itf.addresses.findIndex((a) => a.af === p.af && a.address === address && a.len === p.len);
    if (i < 0) return reply(Retval.ADDRESS_NOT_FOUND_FOR_INTERFACE);
    const [removed] = itf.addresses.splice(i, 1);
    ctx.state.flushNeighborsCoveredBy(itf, removed!);
    reply(0);
  }),

  on(interface_.sw_interface_set_table, (req, ctx) => {
    const reply = (retval: number): void => ctx.send(interface_.sw_interface_set_table_reply, { retval });
    const itf = ctx.state.get(req.sw_if_index);
    if (!itf) return reply(Retval.INVALID_SW_IF_INDEX);
    const af = req.is_ipv6 ? 6 : 4;
    if (!ctx.state.table(af, req.vrf_id)) return reply(Retval.NO_SUCH_FIB);
    // ip_table_bind: addresses must be removed before the VRF changes.
    if (ctx.state.effectiveAddresses(itf).some((a) => a.af === af)) return reply(Retval.ADDRESS_FOUND_FOR_INTERFACE);
    if (af === 4) itf.ip4Table = req.vrf_id;
    else itf.ip6Table = req.vrf_id;
    reply(0);
  }),

  on(interface_.sw_interface_get_table, (req, ctx) => {
    const itf = ctx.state.get(req.sw_if_index);
    if (!itf) return ctx.send(interface_.sw_interface_get_table_reply, { retval: Retval.INVALID_SW_IF_INDEX, vrf_id: U32_MAX });
    ctx.send(interface_.sw_interface_get_table_reply, { retval: 0, vrf_id: req.is_ipv6 ? itf.ip6Table : itf.ip4Table });
  }),

  on(interface_.sw_interface_set_unnumbered, (req, ctx) => {
    // The field names are backwards: sw_if_index has the address, unnumbered_sw_if_index borrows it.
    const reply = (retval: number): void => ctx.send(interface_.sw_interface_set_unnumbered_reply, { retval });
    const unnumbered = ctx.state.get(req.unnumbered_sw_if_index);
    if (!unnumbered) return reply(Retval.INVALID_SW_IF_INDEX);
    if (!req.is_add) {
      unnumbered.unnumberedOf = undefined;
      return reply(0);
    }
    const ip = ctx.state.get(req.sw_if_index);
    if (!ip) return reply(Retval.INVALID_SW_IF_INDEX_2);
    if (ip.ip4Table !== unnumbered.ip4Table || ip.ip6Table !== unnumbered.ip6Table) return reply(Retval.UNEXPECTED_INTF_STATE);
    unnumbered.unnumberedOf = ip.swIfIndex;
    reply(0);
  }),

  on(interface_.sw_interface_set_mtu, (req, ctx) => {
    const itf = ctx.state.get(req.sw_if_index);
    if (!itf) return ctx.send(interface_.sw_interface_set_mtu_reply, { retval: Retval.INVALID_SW_IF_INDEX });
    itf.mtu = [req.mtu[0] ?? 0, req.mtu[1] ?? 0, req.mtu[2] ?? 0, req.mtu[3] ?? 0];
    ctx.send(interface_.sw_interface_set_mtu_reply, { retval: 0 });
  }),

  on(interface_.hw_interface_set_mtu, (req, ctx) => {
    const itf = ctx.state.get(req.sw_if_index);
    if (!itf) return ctx.send(interface_.hw_interface_set_mtu_reply, { retval: Retval.INVALID_SW_IF_INDEX });
    itf.linkMtu = req.mtu;
    itf.mtu = [req.mtu, itf.mtu[1], itf.mtu[2], itf.mtu[3]];
    ctx.send(interface_.hw_interface_set_mtu_reply, { retval: 0 });
  }),

  on(interface_.sw_interface_get_mac_address, (req, ctx) => {
    const itf = ctx.state.get(req.sw_if_index);
    if (!itf) return ctx.send(interface_.sw_interface_get_mac_address_reply, { retval: Retval.INVALID_SW_IF_INDEX, mac_address: ZERO_MAC });
    ctx.send(interface_.sw_interface_get_mac_address_reply, { retval: 0, mac_address: itf.l2Address });
  }),

  on(interface_.want_interface_events, (req, ctx) => {
    const st = ctx.state;
    const existing = st.findEventRegistration(ctx.clientIndex);
    let retval: number = 0;
    if (existing !== undefined) {
      if (req.enable_disable) retval = Retval.INVALID_REGISTRATION;
      else {
        st.eventRegs.delete(existing);
        st.eventRegPool.release(existing);
      }
    } else if (!req.enable_disable) {
      retval = Retval.INVALID_REGISTRATION;
    } else {
      const i = st.eventRegPool.alloc();
      st.eventRegs.set(i, { clientIndex: ctx.clientIndex, pid: req.pid });
    }
    ctx.send(interface_.want_interface_events_reply, { retval });
  }),

  on(interface_.create_loopback, (req, ctx) => {
    ctx.send(interface_.create_loopback_reply, createLoopback(ctx, req.mac_address, undefined));
  }),

  on(interface_.create_loopback_instance, (req, ctx) => {
    ctx.send(interface_.create_loopback_instance_reply, createLoopback(ctx, req.mac_address, req.is_specified ? req.user_instance : undefined));
  }),

  on(interface_.delete_loopback, (req, ctx) => {
    const itf = ctx.state.get(req.sw_if_index);
    if (!itf || itf.device.kind !== 'loopback') return ctx.send(interface_.delete_loopback_reply, { retval: Retval.INVALID_SW_IF_INDEX });
    ctx.state.loopbackInstances.delete(itf.device.instance);
    ctx.state.deleteInterface(itf);
    ctx.send(interface_.delete_loopback_reply, { retval: 0 });
  }),

  on(interface_.sw_interface_set_rx_mode, (req, ctx) => {
    const reply = (retval: number): void => ctx.send(interface_.sw_interface_set_rx_mode_reply, { retval });
    const itf = ctx.state.get(req.sw_if_index);
    if (!itf) return reply(Retval.INVALID_SW_IF_INDEX);
    // (A non-hardware interface would be -7; every simulated interface is a hardware one.)
    // set_hw_interface_change_rx_mode: an unknown queue id is its only error, which the handler turns into
    // -9. A queue the driver refuses stops the walk, but that is not reported: the reply is still 0.
    let queues: number[];
    if (req.queue_id_valid) {
      if (req.queue_id >= itf.rxModes.length) return reply(Retval.UNIMPLEMENTED);
      queues = [req.queue_id];
    } else {
      queues = itf.rxModes.map((_, i) => i);
    }
    for (const q of queues) if (!setRxQueueMode(itf, q, req.mode)) break;
    reply(0);
  }),

  on(interface_.sw_interface_tx_placement_get, (req, ctx) => {
    const reply = (retval: number, cursor: number): void => ctx.send(interface_.sw_interface_tx_placement_get_reply, { retval, cursor });
    const all = txQueues(ctx);
    if (all.length === 0) return reply(Retval.NO_SUCH_ENTRY, 0);
    let queues = all;
    if (req.sw_if_index !== U32_MAX) {
      const itf = ctx.state.get(req.sw_if_index);
      if (!itf) return reply(Retval.INVALID_SW_IF_INDEX, 0);
      queues = txQueues(ctx, itf);
    }
    if (req.cursor > queues.length) return reply(Retval.INVALID_VALUE, U32_MAX);
    const end = Math.min(queues.length, req.cursor + ctx.config.cursorPageSize);
    for (let i = req.cursor; i < end; i++) {
      const q = queues[i]!;
      ctx.send(interface_.sw_interface_tx_placement_details, { sw_if_index: q.swIfIndex, queue_id: q.queueId, shared: 0, threads: [0] });
    }
    if (end < queues.length) reply(Retval.EAGAIN, end);
    else reply(0, U32_MAX);
  }),
];
