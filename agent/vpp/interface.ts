/** Interfaces in general: plumbing every pod interface gets, lookups, loopbacks. */
import * as iface from '../../vpp-api/generated/interface.js';
import { IfStatusFlags, RxMode as VppRxMode } from '../../vpp-api/generated/interface_types.js';
import { deleteTolerant, plainCli, type VppApi } from './api.js';

export type RxMode = 'polling' | 'interrupt' | 'adaptive' | 'default';

export interface InterfaceInfo {
  swIfIndex: number;
  name: string;
  tag: string;
  /** The interface's MAC (all zeroes for an IP-only interface). */
  mac: string;
  adminUp: boolean;
  linkUp: boolean;
  mtu: number[];
}

const RX_MODE: Record<RxMode, number> = {
  polling: VppRxMode.RX_MODE_API_POLLING,
  interrupt: VppRxMode.RX_MODE_API_INTERRUPT,
  adaptive: VppRxMode.RX_MODE_API_ADAPTIVE,
  default: VppRxMode.RX_MODE_API_DEFAULT,
};

function info(d: iface.SwInterfaceDetails): InterfaceInfo {
  return {
    swIfIndex: d.sw_if_index,
    name: d.interface_name,
    tag: d.tag,
    mac: d.l2_address,
    adminUp: (d.flags & IfStatusFlags.IF_STATUS_API_FLAG_ADMIN_UP) !== 0,
    linkUp: (d.flags & IfStatusFlags.IF_STATUS_API_FLAG_LINK_UP) !== 0,
    mtu: d.mtu,
  };
}

/** Borrows `swIfIndex`'s IP configuration from `loopback` (which has no address of its own here). */
export async function setUnnumbered(vpp: VppApi, swIfIndex: number, loopback: number): Promise<void> {
  await vpp.request(iface.sw_interface_set_unnumbered, { sw_if_index: loopback, unnumbered_sw_if_index: swIfIndex, is_add: true });
}

export async function adminUp(vpp: VppApi, swIfIndex: number): Promise<void> {
  await vpp.request(iface.sw_interface_set_flags, { sw_if_index: swIfIndex, flags: IfStatusFlags.IF_STATUS_API_FLAG_ADMIN_UP });
}

export async function setRxMode(vpp: VppApi, swIfIndex: number, mode: RxMode): Promise<void> {
  await vpp.request(iface.sw_interface_set_rx_mode, { sw_if_index: swIfIndex, queue_id_valid: false, mode: RX_MODE[mode] });
}

export async function setTag(vpp: VppApi, swIfIndex: number, tag: string): Promise<void> {
  await vpp.request(iface.sw_interface_tag_add_del, { is_add: true, sw_if_index: swIfIndex, tag });
}

/** The L3 MTU of an interface (IPv4, IPv6 and MPLS follow it). */
export async function setMtu(vpp: VppApi, swIfIndex: number, mtu: number): Promise<void> {
  await vpp.request(iface.sw_interface_set_mtu, { sw_if_index: swIfIndex, mtu: [mtu, 0, 0, 0] });
}

/** An address on an interface (`prefix` as `addr/len`). */
export async function addAddress(vpp: VppApi, swIfIndex: number, prefix: string): Promise<void> {
  await vpp.request(iface.sw_interface_add_del_address, { sw_if_index: swIfIndex, is_add: true, prefix });
}

/** The interface with that index, or undefined. */
export async function interfaceByIndex(vpp: VppApi, swIfIndex: number): Promise<InterfaceInfo | undefined> {
  const all = await vpp.dumpAll(iface.sw_interface_dump, { sw_if_index: swIfIndex });
  const d = all.find((x) => x.sw_if_index === swIfIndex);
  return d && info(d);
}

export async function listInterfaces(vpp: VppApi): Promise<InterfaceInfo[]> {
  return (await vpp.dumpAll(iface.sw_interface_dump, {})).map(info);
}

export async function createLoopback(vpp: VppApi, mac: string): Promise<number> {
  return (await vpp.request(iface.create_loopback, { mac_address: mac })).sw_if_index;
}

/** Idempotent. */
export async function deleteLoopback(vpp: VppApi, swIfIndex: number): Promise<void> {
  await deleteTolerant(() => vpp.request(iface.delete_loopback, { sw_if_index: swIfIndex }));
}

/** `show interface <name>`, without colours. */
export async function showInterface(vpp: VppApi, name: string): Promise<string> {
  return plainCli(await vpp.cli(`show interface ${name}`));
}
