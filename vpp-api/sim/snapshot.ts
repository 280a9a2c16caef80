/** A JSON-friendly view of a simulated VPP's state (for `sim state` and debugging). */
import type { SimState } from './state.js';

export function snapshotState(st: SimState): Record<string, unknown> {
  return {
    vpePid: st.vpePid,
    interfaces: st.interfaceList().map((i) => ({
      swIfIndex: i.swIfIndex,
      name: i.name,
      kind: i.device.kind,
      device: i.device,
      l2Address: i.l2Address,
      adminUp: i.adminUp,
      linkUp: i.linkUp,
      linkMtu: i.linkMtu,
      mtu: i.mtu,
      tag: i.tag,
      ip4Table: i.ip4Table,
      ip6Table: i.ip6Table,
      addresses: i.addresses.map((a) => `${a.address}/${a.len}`),
      unnumberedOf: i.unnumberedOf ?? null,
    })),
    tables: [...st.tables.values()].map((t) => ({
      af: t.af,
      tableId: t.tableId,
      name: t.name,
      routes: [...t.routes.values()].map((r) => ({ prefix: r.prefix, paths: r.paths })),
    })),
    memifSockets: [...st.memifSockets.values()].map((s) => ({ socketId: s.socketId, filename: s.filename, refCnt: s.refCnt })),
    pblClients: st.pblPool.indexes().map((id) => st.pblClients.get(id)),
    session: {
      enabled: st.sessionEnabled,
      sapiEnabled: st.sapiEnabled,
      namespaces: st.appnsPool.indexes().map((i) => {
        const ns = st.appns.get(i)!;
        return { ...ns, secret: ns.secret.toString() };
      }),
    },
    interfaceEventRegistrations: st.eventRegistrations(),
  };
}
