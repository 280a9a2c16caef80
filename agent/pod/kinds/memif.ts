/**
 * The memif kind. VPP is always the server (master): it listens on an abstract socket inside the pod
 * netns, which the pod's application (DPDK, libmemif, VPP) connects to.
 *  - PBL mode, next to the pod's tun: socket `@vpp/memif-<ifname>`; the pod IP keeps living on eth0, and
 *    PBL clients on the pod IP send the listed port ranges to the memif, everything else to the tun.
 *  - multinet mode, a secondary network whose interface name starts with `memif`: socket `@<ifname>`,
 *    a Linux dummy interface carrying the pod's addresses and routes (dummy.ts), and host routes to the memif.
 */
import { z } from 'zod';
import { adminUp, interfaceByIndex, setRxMode, setTag, setUnnumbered } from '../../vpp/interface.js';
import { addMemifSocket, createMemifServer, deleteMemif, deleteMemifSocket, listMemifs, listMemifSockets } from '../../vpp/memif.js';
import { hostPrefix, ipOf } from '../attachment.js';
import type { PortRange } from '../annotations.js';
import type { InterfaceSpec } from '../interface-spec.js';
import type { CheckProblem } from './context.js';
import { dummyKind } from './dummy.js';
import type { PodDesired, PodInterfaceKind } from './kind.js';
import { pinNeighbor } from './neighbors.js';
import { interfaceSpec, portRange, swIfIndex, u32, vppTag, type MadeRoute } from './parts.js';
import { addPodPblClient } from './pbl.js';
import { addPodRoute } from './routes.js';

/** The MAC an L2 memif client must use (the pod IP is resolved to it, as in Calico VPP). */
export const MEMIF_CLIENT_MAC = '02:00:00:00:00:01';
export const MEMIF_BUFFER_SIZE = 2048;

export function memifSocketName(mode: 'pbl' | 'multinet', ifName: string): string {
  return mode === 'pbl' ? `vpp/memif-${ifName}` : ifName;
}

/** `abstract:<name>,netns_name=<path>` → [name, path]. */
export function parseSocketFilename(f: string): [string, string] | undefined {
  const m = /^abstract:([^,]+),netns_name=(\/.+)$/.exec(f);
  return m ? [m[1]!, m[2]!] : undefined;
}

export const madeMemifSchema = z.object({
  mode: z.enum(['pbl', 'multinet']),
  socketId: u32,
  /** As given to VPP: `abstract:vpp/memif-eth0,netns_name=/var/run/netns/x`. */
  socketFilename: z.string().max(4200).refine((f) => parseSocketFilename(f) !== undefined, 'expected abstract:<name>,netns_name=<absolute path>'),
  /** As the pod sees it: `@vpp/memif-eth0`. */
  socketName: z.string().max(120).regex(/^@/, 'expected an abstract socket name (@...)'),
  swIfIndex,
  tag: vppTag,
  l2: z.boolean(),
  spec: interfaceSpec,
  ports: z.array(portRange).optional(),
});
export type MadeMemif = z.infer<typeof madeMemifSchema>;

export interface MemifPlan {
  mode: 'pbl' | 'multinet';
  spec: InterfaceSpec;
  ports?: PortRange[];
}

export interface MemifDesired extends PodDesired {
  plan: MemifPlan;
}

export const memifKind: PodInterfaceKind<'memif', MemifDesired, MadeMemif> = {
  name: 'memif',
  schema: madeMemifSchema,
  async create(ctx, tx, d) {
    const { req, plan, shared } = d;
    const loop = await tx.step('node loopback', () => ctx.node.unnumberedLoopback());
    const name = memifSocketName(plan.mode, req.ifName);
    const socketFilename = `abstract:${name},netns_name=${req.netns}`;
    const socketId = await tx.step('memif socket', () => addMemifSocket(ctx.vpp, socketFilename), (id) => deleteMemifSocket(ctx.vpp, id));
    const l2 = !plan.spec.isl3;
    const sw = await tx.step(
      'memif create',
      () => createMemifServer(ctx.vpp, { socketId, ethernet: l2, rxQueues: plan.spec.rx, txQueues: plan.spec.tx, ringSize: plan.spec.rxqsz, bufferSize: MEMIF_BUFFER_SIZE }),
      (s) => deleteMemif(ctx.vpp, s),
    );
    const tag = ctx.attachment.owner.mark(plan.mode === 'pbl' ? 'memif' : 'mmif');
    const m: MadeMemif = { mode: plan.mode, socketId, socketFilename, socketName: `@${name}`, swIfIndex: sw, tag, l2, spec: plan.spec };
    if (plan.ports) m.ports = plan.ports;
    await tx.step('memif tag', () => setTag(ctx.vpp, sw, tag));
    await tx.step('memif unnumbered', () => setUnnumbered(ctx.vpp, sw, loop));
    await tx.step('memif admin up', () => adminUp(ctx.vpp, sw));
    await tx.step('memif rx mode', () => setRxMode(ctx.vpp, sw, plan.spec.rxMode));

    const ips = req.ips.map((a) => ipOf(a.address));
    if (l2) {
      for (const ip of ips) await pinNeighbor(ctx, tx, shared, `memif neighbor ${ip}`, { swIfIndex: sw, ip, mac: MEMIF_CLIENT_MAC });
    }
    if (plan.mode === 'multinet') {
      await dummyKind.create(ctx, tx, d);
      for (const ip of ips) {
        const route: MadeRoute = { prefix: hostPrefix(ip), tableId: 0, swIfIndex: sw, ...(l2 ? { nh: ip } : {}) };
        await addPodRoute(ctx, tx, shared, route, 'memif');
      }
    } else {
      for (const ip of ips) await addPodPblClient(ctx, tx, shared, { ip, swIfIndex: sw, l2, ports: plan.ports ?? [] });
    }
    return m;
  },
  /** Removes the memif and its socket. PBL clients, routes and the dummy are their kinds'. Idempotent. */
  async delete(ctx, m) {
    await deleteMemif(ctx.vpp, m.swIfIndex);
    await deleteMemifSocket(ctx.vpp, m.socketId);
  },
  async check(ctx, m) {
    const out: CheckProblem[] = [];
    const d = await interfaceByIndex(ctx.vpp, m.swIfIndex);
    if (!d) return [{ object: `memif sw_if_index ${m.swIfIndex}`, problem: 'missing in VPP' }];
    if (d.tag !== m.tag) out.push({ object: `memif ${d.name}`, problem: `tag is "${d.tag}", expected "${m.tag}"` });
    if (!d.adminUp) out.push({ object: `memif ${d.name}`, problem: 'admin down' });
    const mem = (await listMemifs(ctx.vpp)).find((x) => x.swIfIndex === m.swIfIndex);
    if (!mem) out.push({ object: `memif ${d.name}`, problem: 'not in memif_dump' });
    else {
      if (mem.role !== 'server') out.push({ object: `memif ${d.name}`, problem: 'not in server (master) role' });
      if (mem.socketId !== m.socketId) out.push({ object: `memif ${d.name}`, problem: `socket id ${mem.socketId}, expected ${m.socketId}` });
    }
    const s = (await listMemifSockets(ctx.vpp)).get(m.socketId);
    if (s !== m.socketFilename) out.push({ object: `memif socket ${m.socketId}`, problem: `filename ${s ?? 'missing'}, expected ${m.socketFilename}` });
    return out;
  },
  verify(_ctx, m, inv) {
    const out: CheckProblem[] = [];
    const what = `memif sw_if_index ${m.swIfIndex}`;
    const i = inv.interfaces.get(m.swIfIndex);
    if (!i) out.push({ object: what, problem: 'missing' });
    else if (i.tag !== m.tag) out.push({ object: what, problem: `has tag "${i.tag}", expected "${m.tag}"` });
    const d = inv.memifs.get(m.swIfIndex);
    if (!d) out.push({ object: what, problem: 'not in memif_dump' });
    else if (d.socketId !== m.socketId) out.push({ object: what, problem: `uses socket ${d.socketId}, expected ${m.socketId}` });
    if (inv.sockets.get(m.socketId) !== m.socketFilename) out.push({ object: `memif socket ${m.socketId}`, problem: `is "${inv.sockets.get(m.socketId) ?? 'missing'}", expected "${m.socketFilename}"` });
    return out;
  },
  /** memifs tagged by us (PBL or multinet) on a socket with one of our names. */
  owned(inv) {
    const out = [];
    for (const i of inv.interfaces.values()) {
      const d = inv.memifs.get(i.swIfIndex);
      if ((i.owner?.kind !== 'memif' && i.owner?.kind !== 'mmif') || !d) continue;
      const mode = i.owner.kind === 'memif' ? 'pbl' : 'multinet';
      const filename = inv.sockets.get(d.socketId) ?? '';
      const parsed = parseSocketFilename(filename);
      if (!parsed || parsed[0] !== memifSocketName(mode, i.owner.ifName)) continue;
      const l2 = d.mode === 'ethernet';
      const made: MadeMemif = {
        mode,
        socketId: d.socketId,
        socketFilename: filename,
        socketName: `@${parsed[0]}`,
        swIfIndex: i.swIfIndex,
        tag: i.tag,
        l2,
        spec: { rx: 1, tx: 1, rxqsz: d.ringSize, txqsz: d.ringSize, isl3: !l2, rxMode: 'default' },
      };
      out.push({ owner: `${i.owner.cid}:${i.owner.ifName}`, made, describe: `memif ${i.name} (${i.tag})` });
    }
    return out;
  },
};
