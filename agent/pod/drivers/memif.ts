/**
 * memif driver. VPP is always the server (master): it listens on an abstract socket inside the pod
 * netns, which the pod's application (DPDK, libmemif, VPP) connects to.
 *  - PBL mode, next to the pod's tun: socket `@vpp/memif-<ifname>`; the pod IP keeps living on eth0, and
 *    PBL clients on the pod IP send the listed port ranges to the memif, everything else to the tun.
 *  - multinet mode, a secondary network whose interface name starts with `memif`: socket `@<ifname>`,
 *    a Linux dummy interface carrying the pod's addresses and routes, and host routes to the memif.
 */
import * as memif from '../../../vpp-api/generated/memif.js';
import * as pbl from '../../../vpp-api/generated/pbl.js';
import { MemifMode, MemifRole } from '../../../vpp-api/generated/memif.js';
import { FibPathNhProto } from '../../../vpp-api/generated/fib_types.js';
import { CommandError, deleteLinkTolerant } from '../../linux/netns.js';
import { PROTO_NUMBERS, type PortRange } from '../annotations.js';
import { hostPrefix, ipOf, isV6, type AttachRequest, type MadeMemif, type MadeObjects, type MadeRoute } from '../attachment.js';
import type { InterfaceSpec } from '../interface-spec.js';
import { configureInterface } from '../linux-side.js';
import { makeTag } from '../tags.js';
import type { Transaction } from '../transaction.js';
import { addRoute, adminUp, deleteTolerant, delRoute, interfaceByIndex, setRxMode, setTag, setUnnumbered } from '../vpp-ops.js';
import type { CheckProblem, DriverContext } from './context.js';
import { pinNeighbor } from './pinned.js';

/** The MAC an L2 memif client must use (the pod IP is resolved to it, as in Calico VPP). */
export const MEMIF_CLIENT_MAC = '02:00:00:00:00:01';
export const MEMIF_BUFFER_SIZE = 2048;

export function memifSocketName(mode: 'pbl' | 'multinet', ifName: string): string {
  return mode === 'pbl' ? `vpp/memif-${ifName}` : ifName;
}

export interface MemifPlan {
  mode: 'pbl' | 'multinet';
  spec: InterfaceSpec;
  ports?: PortRange[];
}

export async function createMemif(ctx: DriverContext, tx: Transaction, req: AttachRequest, plan: MemifPlan, made: MadeObjects): Promise<MadeMemif> {
  const loop = await tx.step('node loopback', () => ctx.node.unnumberedLoopback());
  const name = memifSocketName(plan.mode, req.ifName);
  const socketFilename = `abstract:${name},netns_name=${req.netns}`;
  const socketId = await tx.step(
    'memif socket',
    async () => {
      const r = await ctx.vpp.request(memif.memif_socket_filename_add_del_v2, { is_add: true, socket_id: 0xffffffff, socket_filename: socketFilename });
      return r.socket_id;
    },
    (id) => deleteTolerant(() => ctx.vpp.request(memif.memif_socket_filename_add_del_v2, { is_add: false, socket_id: id, socket_filename: '' })),
  );
  const l2 = !plan.spec.isl3;
  const swIfIndex = await tx.step(
    'memif create',
    async () => {
      const r = await ctx.vpp.request(memif.memif_create_v2, {
        role: MemifRole.MEMIF_ROLE_API_MASTER,
        mode: l2 ? MemifMode.MEMIF_MODE_API_ETHERNET : MemifMode.MEMIF_MODE_API_IP,
        rx_queues: plan.spec.rx,
        tx_queues: plan.spec.tx,
        id: 0,
        socket_id: socketId,
        ring_size: plan.spec.rxqsz,
        buffer_size: MEMIF_BUFFER_SIZE,
      });
      return r.sw_if_index;
    },
    (sw) => deleteTolerant(() => ctx.vpp.request(memif.memif_delete, { sw_if_index: sw })),
  );
  const tag = makeTag({ containerId: req.containerId, ifName: req.ifName, podNamespace: req.pod.namespace, podName: req.pod.name }, plan.mode === 'pbl' ? 'memif' : 'mmif');
  const m: MadeMemif = { mode: plan.mode, socketId, socketFilename, socketName: `@${name}`, swIfIndex, tag, l2, spec: plan.spec };
  if (plan.ports) m.ports = plan.ports;
  made.memif = m;
  await tx.step('memif tag', () => setTag(ctx.vpp, swIfIndex, tag));
  await tx.step('memif unnumbered', () => setUnnumbered(ctx.vpp, swIfIndex, loop));
  await tx.step('memif admin up', () => adminUp(ctx.vpp, swIfIndex));
  await tx.step('memif rx mode', () => setRxMode(ctx.vpp, swIfIndex, plan.spec.rxMode));

  const ips = req.ips.map((a) => ipOf(a.address));
  if (l2) {
    for (const ip of ips) await pinNeighbor(ctx, tx, made, `memif neighbor ${ip}`, { swIfIndex, ip, mac: MEMIF_CLIENT_MAC });
  }
  if (plan.mode === 'multinet') {
    await tx.step(
      `pod netns: dummy ${req.ifName}`,
      () => addDummy(ctx, req.netns, req.ifName),
      () => deleteDummy(ctx, req.netns, req.ifName),
    );
    made.dummy = req.ifName;
    await tx.step(`pod netns: configure ${req.ifName}`, () => configureInterface(ctx.netns, req.netns, { ifName: req.ifName, ips: req.ips, routes: req.routes }));
    for (const ip of ips) {
      const route: MadeRoute = { prefix: hostPrefix(ip), tableId: 0, swIfIndex, ...(l2 ? { nh: ip } : {}) };
      await tx.step(`route ${route.prefix} via memif`, () => addRoute(ctx.vpp, route), () => delRoute(ctx.vpp, route));
      made.routes.push(route);
    }
  } else {
    for (const ip of ips) {
      const id = await tx.step(
        `pbl client ${ip}`,
        () => pblUpdate(ctx, ip, swIfIndex, l2, plan.ports ?? []),
        (cid) => deleteTolerant(() => ctx.vpp.request(pbl.pbl_client_del, { id: cid })),
      );
      made.pbl.push({ ip, id });
    }
  }
  return m;
}

/** Creates a PBL client (a new id: VPP ignores updates of an existing id). */
export async function pblUpdate(ctx: DriverContext, ip: string, swIfIndex: number, l2: boolean, ports: PortRange[]): Promise<number> {
  const r = await ctx.vpp.request(pbl.pbl_client_update, {
    client: {
      id: 0xffffffff,
      addr: ip,
      table_id: 0,
      flags: 0,
      paths: {
        sw_if_index: swIfIndex,
        weight: 1,
        proto: isV6(ip) ? FibPathNhProto.FIB_API_PATH_NH_PROTO_IP6 : FibPathNhProto.FIB_API_PATH_NH_PROTO_IP4,
        nh: l2 ? { address: isV6(ip) ? { ip6: ip } : { ip4: ip } } : {},
      },
      port_ranges: ports.map((p) => ({ start: p.start, end: p.end, iproto: PROTO_NUMBERS[p.proto] })),
    },
  });
  return r.id;
}

/**
 * A link that only carries the pod's addresses and routes: a dummy, or — on kernels built without the
 * dummy driver (some micro-VM kernels) — an empty bridge, which holds addresses and routes the same way.
 */
async function addDummy(ctx: DriverContext, netns: string, ifName: string): Promise<void> {
  try {
    await ctx.netns.ipBatch(netns, [['link', 'add', ifName, 'type', 'dummy']]);
  } catch (e) {
    if (!(e instanceof CommandError) || !/Unknown device type/.test(e.stderr)) throw e;
    ctx.log.warn({ netns, ifName }, 'kernel has no dummy interfaces: using an empty bridge to hold the pod addresses');
    await ctx.netns.ipBatch(netns, [['link', 'add', ifName, 'type', 'bridge']]);
  }
}

function deleteDummy(ctx: DriverContext, netns: string, ifName: string): Promise<void> {
  return deleteLinkTolerant(ctx.netns, netns, ifName);
}

/** Removes the memif, its socket and (multinet) the pod's dummy. PBL clients and routes go first (caller). */
export async function deleteMemif(ctx: DriverContext, netns: string, m: MadeMemif, dummy: string | undefined): Promise<void> {
  await deleteTolerant(() => ctx.vpp.request(memif.memif_delete, { sw_if_index: m.swIfIndex }));
  await deleteTolerant(() => ctx.vpp.request(memif.memif_socket_filename_add_del_v2, { is_add: false, socket_id: m.socketId, socket_filename: '' }));
  if (dummy) await deleteDummy(ctx, netns, dummy);
}

export async function checkMemif(ctx: DriverContext, m: MadeMemif, pblIds: number[]): Promise<CheckProblem[]> {
  const out: CheckProblem[] = [];
  const d = await interfaceByIndex(ctx.vpp, m.swIfIndex);
  if (!d) return [{ object: `memif sw_if_index ${m.swIfIndex}`, problem: 'missing in VPP' }];
  if (d.tag !== m.tag) out.push({ object: `memif ${d.interface_name}`, problem: `tag is "${d.tag}", expected "${m.tag}"` });
  if ((d.flags & 1) === 0) out.push({ object: `memif ${d.interface_name}`, problem: 'admin down' });
  const mem = (await ctx.vpp.dumpAll(memif.memif_dump, {})).find((x) => x.sw_if_index === m.swIfIndex);
  if (!mem) out.push({ object: `memif ${d.interface_name}`, problem: 'not in memif_dump' });
  else {
    if (mem.role !== MemifRole.MEMIF_ROLE_API_MASTER) out.push({ object: `memif ${d.interface_name}`, problem: 'not in server (master) role' });
    if (mem.socket_id !== m.socketId) out.push({ object: `memif ${d.interface_name}`, problem: `socket id ${mem.socket_id}, expected ${m.socketId}` });
  }
  const sockets = await ctx.vpp.dumpAll(memif.memif_socket_filename_dump, {});
  const s = sockets.find((x) => x.socket_id === m.socketId);
  if (!s || s.socket_filename !== m.socketFilename) out.push({ object: `memif socket ${m.socketId}`, problem: `filename ${s?.socket_filename ?? 'missing'}, expected ${m.socketFilename}` });
  if (pblIds.length > 0) {
    const clients = new Set((await ctx.vpp.dumpAll(pbl.pbl_client_dump, {})).map((c) => c.client.id));
    for (const id of pblIds) if (!clients.has(id)) out.push({ object: `pbl client ${id}`, problem: 'missing in VPP' });
  }
  return out;
}
