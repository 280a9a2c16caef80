/** A JSON-friendly view of a simulated VPP's state (for `sim state` and debugging). */
import type { SimState } from './state.js';

/** format_vnet_hw_if_rx_mode names. */
const RX_MODE_NAMES = ['unknown', 'polling', 'interrupt', 'adaptive', 'default'];

function rxModeName(mode: number): string {
  return RX_MODE_NAMES[mode] ?? `unknown(${mode})`;
}

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
      // Mode of each rx queue by queue id ([] when the interface has none).
      rxModes: i.rxModes.map(rxModeName),
      neighbors: [...i.neighbors.values()].map((n) => ({
        ip: n.ip,
        mac: n.mac,
        static: n.isStatic,
        noFibEntry: n.noFibEntry,
        statsIndex: n.adjIndex ?? null,
      })),
    })),
    tables: [...st.tables.values()].map((t) => ({
      af: t.af,
      tableId: t.tableId,
      name: t.name,
      routes: [...t.routes.values()].map((r) => ({ prefix: r.prefix, paths: r.paths })),
    })),
    memifSockets: [...st.memifSockets.values()].map((s) => ({ socketId: s.socketId, filename: s.filename, refCnt: s.refCnt })),
    pblClients: st.pblPool.indexes().map((id) => st.pblClients.get(id) ?? { id, cloneOf: [...st.pblClones].find(([, c]) => c === id)?.[0] }),
    session: {
      enabled: st.sessionEnabled,
      sapiEnabled: st.sapiEnabled,
      namespaces: st.appnsPool.indexes().map((i) => {
        const ns = st.appns.get(i)!;
        return { ...ns, secret: ns.secret.toString() };
      }),
    },
    punt: {
      unknownL4: [...st.punt.unknownL4].sort(),
      udpPorts: [...st.punt.udpPorts].sort(),
      redirects: [...st.punt.redirects.values()],
      urpf: [...st.punt.urpf].map(([key, c]) => ({ key, mode: c.mode, tableId: c.tableId, custom: c.custom, active: c.enabledOn !== undefined && st.get(c.enabledOn.swIfIndex) === c.enabledOn })),
    },
    interfaceEventRegistrations: st.eventRegistrations(),
    cnat: {
      translations: st.cnat.translationList(),
      snatAddresses: [...st.cnat.snatEntries.values()],
      snatPolicy: st.cnat.snatPolicy,
      excludePrefixes: [...st.cnat.excludePrefixes],
      podInterfaces: [...st.cnat.policyInterfaces[2]],
      hostInterfaces: [...st.cnat.policyInterfaces[3]],
      featureInterfaces: [...st.cnat.featureInterfaces],
      sessions: st.cnat.sessions.length,
    },
  };
}
