/** PBL clients: traffic to an address on the listed ports goes to one interface. */
import * as pbl from '../../vpp-api/generated/pbl.js';
import { deleteTolerant, type VppApi } from './api.js';
import { nhAddress, nhProto } from './ip.js';

export interface PblPortRange {
  start: number;
  end: number;
  /** IP protocol number (6 tcp, 17 udp). */
  iproto: number;
}

export interface PblClientInfo {
  id: number;
  addr: string;
  ports: PblPortRange[];
}

/**
 * A new PBL client steering `ip`'s `ports` to `swIfIndex` (with `ip` as next hop on an ethernet
 * interface). Always a new id: VPP ignores updates of an existing one. Returns the id.
 */
export async function addPblClient(vpp: VppApi, c: { ip: string; swIfIndex: number; ethernet: boolean; ports: PblPortRange[] }): Promise<number> {
  const r = await vpp.request(pbl.pbl_client_update, {
    client: {
      id: 0xffffffff,
      addr: c.ip,
      table_id: 0,
      flags: 0,
      paths: { sw_if_index: c.swIfIndex, weight: 1, proto: nhProto(c.ip), nh: nhAddress(c.ethernet ? c.ip : undefined, c.ip) },
      port_ranges: c.ports,
    },
  });
  return r.id;
}

/**
 * Ids that are FIB clones of another client, from `show pbl client` (`[0] pbl-client: 10.0.0.5 clone:1`). PBL
 * interposes a copy of a client into the FIB entry of its address, in the same pool: pbl_client_dump lists it like
 * any client, and pbl_client_del of its id crashes VPP (SIGSEGV, seen on v26.10-rc0); deleting the original
 * removes both. A VPP without that CLI (or a simulator) answers an error: no clones known.
 */
export async function pblCloneIds(vpp: Pick<VppApi, 'cli'>): Promise<Set<number>> {
  let text: string;
  try {
    text = await vpp.cli('show pbl client');
  } catch {
    return new Set();
  }
  return new Set([...text.matchAll(/^\[\d+\] pbl-client: \S+ clone:(\d+)\s*$/gm)].map((m) => Number(m[1])));
}

/** Idempotent. A FIB clone's id is left alone (VPP would crash; it goes with its original). */
export async function deletePblClient(vpp: VppApi, id: number): Promise<void> {
  if ((await pblCloneIds(vpp)).has(id)) return;
  await deleteTolerant(() => vpp.request(pbl.pbl_client_del, { id }));
}

/**
 * The clients we can own: pbl_client_dump without the FIB clones (`show pbl client` read after the dump, so a
 * clone made in between is not in the dump; one gone in between leaves a freed id, whose delete answers
 * NO_SUCH_ENTRY unless reused, and deletePblClient checks again). Nothing listed here is ever a clone known
 * to VPP at the time of the listing, so the inventory, check(), adoption and the sweep never count one.
 */
export async function listPblClients(vpp: VppApi): Promise<PblClientInfo[]> {
  const all = (await vpp.dumpAll(pbl.pbl_client_dump, {})).map((c) => ({ id: c.client.id, addr: c.client.addr, ports: c.client.port_ranges }));
  if (all.length === 0) return all;
  const clones = await pblCloneIds(vpp);
  return all.filter((c) => !clones.has(c.id));
}
