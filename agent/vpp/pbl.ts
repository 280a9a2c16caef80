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

/** Idempotent. */
export async function deletePblClient(vpp: VppApi, id: number): Promise<void> {
  await deleteTolerant(() => vpp.request(pbl.pbl_client_del, { id }));
}

export async function listPblClients(vpp: VppApi): Promise<PblClientInfo[]> {
  return (await vpp.dumpAll(pbl.pbl_client_dump, {})).map((c) => ({ id: c.client.id, addr: c.client.addr, ports: c.client.port_ranges }));
}
