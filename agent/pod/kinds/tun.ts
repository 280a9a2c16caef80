/**
 * The tun/tap kind: a VPP tap whose host end VPP creates directly in the pod netns under the pod's
 * interface name (TUN for L3, the default; TAP for L2), then the pod-side Linux configuration and the
 * pod's host routes in VPP. A TAP gets a pod-side MAC of the agent's choosing, and VPP pins the pod's
 * addresses to it (neighbors.ts).
 */
import { z } from 'zod';
import { adminUp, interfaceByIndex, setRxMode, setUnnumbered } from '../../vpp/interface.js';
import { createTapInNetns, deleteTap } from '../../vpp/tap.js';
import { hostPrefix, ipOf } from '../attachment.js';
import type { InterfaceSpec } from '../interface-spec.js';
import { checkPodLink, configureInterface } from '../linux-side.js';
import type { CheckProblem } from './context.js';
import type { PodDesired, PodInterfaceKind } from './kind.js';
import { pinNeighbor, randomPodMac } from './neighbors.js';
import { interfaceSpec, linuxIfName, macAddress, swIfIndex, vppTag, type MadeRoute } from './parts.js';
import { addPodRoute } from './routes.js';

export { VhostNetUnavailableError } from '../../vpp/tap.js';

export const madeTunSchema = z.object({
  swIfIndex,
  tag: vppTag,
  hostIfName: linuxIfName,
  /** MAC of the pod-side device (TAP only; a TUN has none). */
  hostMac: macAddress.optional(),
  l2: z.boolean(),
  spec: interfaceSpec,
});
export type MadeTun = z.infer<typeof madeTunSchema>;

export interface TunDesired extends PodDesired {
  spec: InterfaceSpec;
}

/** VPP's host_namespace and host_if_name fields are string[64] and the kernel's ifname limit is 15. */
const MAX_NETNS_PATH = 63;
const MAX_IFNAME = 15;

export const tunKind: PodInterfaceKind<'tun', TunDesired, MadeTun> = {
  name: 'tun',
  schema: madeTunSchema,
  async create(ctx, tx, { req, spec, shared }) {
    if (Buffer.byteLength(req.netns) > MAX_NETNS_PATH) {
      throw new Error(`netns path ${req.netns} is longer than the ${MAX_NETNS_PATH} bytes VPP accepts for a tap's host namespace`);
    }
    if (req.ifName.length > MAX_IFNAME || !/^[A-Za-z0-9_.-]+$/.test(req.ifName)) {
      throw new Error(`interface name "${req.ifName}" is not a valid Linux interface name (at most ${MAX_IFNAME} characters)`);
    }
    const loop = await tx.step('node loopback', () => ctx.node.unnumberedLoopback());
    const tag = ctx.attachment.owner.mark('tun');
    const l2 = !spec.isl3;
    // A TAP's pod-side MAC is ours to choose: VPP pins the pod's addresses to it.
    const hostMac = l2 ? randomPodMac() : undefined;
    const sw = await tx.step(
      'tap create',
      () =>
        createTapInNetns(ctx.vpp, {
          tun: !l2,
          netns: req.netns,
          hostIfName: req.ifName,
          ...(hostMac ? { hostMac } : {}),
          hostMtu: ctx.cfg.mtu,
          rxQueues: spec.rx,
          txQueues: spec.tx,
          rxRingSize: spec.rxqsz,
          txRingSize: spec.txqsz,
          tag,
        }),
      (s) => deleteTap(ctx.vpp, s),
    );
    await tx.step('tap unnumbered', () => setUnnumbered(ctx.vpp, sw, loop));
    await tx.step('tap admin up', () => adminUp(ctx.vpp, sw));
    await tx.step('tap rx mode', () => setRxMode(ctx.vpp, sw, spec.rxMode));
    let peerMac: string | undefined;
    if (l2) {
      // VPP's MAC: the pod's next hop.
      peerMac = await tx.step('tap mac', async () => {
        const d = await interfaceByIndex(ctx.vpp, sw);
        if (!d) throw new Error(`tap sw_if_index ${sw} vanished`);
        return d.mac;
      });
    }
    await tx.step('pod netns: configure ' + req.ifName, () =>
      configureInterface(ctx.netns, req.netns, { ifName: req.ifName, ips: req.ips, routes: req.routes, ...(peerMac ? { l2: { peerMac } } : {}) }),
    );
    for (const a of req.ips) {
      const ip = ipOf(a.address);
      if (hostMac) await pinNeighbor(ctx, tx, shared, `neighbor ${ip} on tap`, { swIfIndex: sw, ip, mac: hostMac });
      const route: MadeRoute = { prefix: hostPrefix(ip), tableId: 0, swIfIndex: sw, ...(l2 ? { nh: ip } : {}) };
      await addPodRoute(ctx, tx, shared, route, 'tap');
    }
    return { swIfIndex: sw, tag, hostIfName: req.ifName, l2, spec, ...(hostMac ? { hostMac } : {}) };
  },
  /** Removes the tap (its kernel end goes with it). Idempotent. Routes and neighbors go first (their kinds). */
  delete: (ctx, tun) => deleteTap(ctx.vpp, tun.swIfIndex),
  async check(ctx, tun) {
    const out: CheckProblem[] = [];
    const d = await interfaceByIndex(ctx.vpp, tun.swIfIndex);
    if (!d) return [{ object: `tap sw_if_index ${tun.swIfIndex}`, problem: 'missing in VPP' }];
    if (d.tag !== tun.tag) out.push({ object: `tap ${d.name}`, problem: `tag is "${d.tag}", expected "${tun.tag}"` });
    if (!d.adminUp) out.push({ object: `tap ${d.name}`, problem: 'admin down' });
    out.push(...(await checkPodLink(ctx.netns, ctx.attachment.netns, tun.hostIfName, ctx.attachment.ips, tun.hostMac)));
    return out;
  },
  verify(_ctx, tun, inv) {
    const i = inv.interfaces.get(tun.swIfIndex);
    if (!i) return [{ object: `tap sw_if_index ${tun.swIfIndex}`, problem: 'missing' }];
    const out: CheckProblem[] = [];
    if (i.tag !== tun.tag) out.push({ object: `tap sw_if_index ${tun.swIfIndex}`, problem: `has tag "${i.tag}", expected "${tun.tag}"` });
    if (!inv.taps.has(tun.swIfIndex)) out.push({ object: `tap sw_if_index ${tun.swIfIndex}`, problem: 'not a tap' });
    return out;
  },
  /** Taps tagged by us as a pod's tun/tap, with what VPP says of them (the spec's queues are not in the dump). */
  owned(inv) {
    const out = [];
    for (const i of inv.interfaces.values()) {
      const t = inv.taps.get(i.swIfIndex);
      if (i.owner?.kind !== 'tun' || !t) continue;
      const l2 = !t.tun;
      const made: MadeTun = {
        swIfIndex: i.swIfIndex,
        tag: i.tag,
        hostIfName: t.hostIfName,
        l2,
        spec: { rx: 1, tx: 1, rxqsz: t.rxRingSize, txqsz: t.txRingSize, isl3: !l2, rxMode: 'default' },
        ...(l2 && t.hostMac !== '00:00:00:00:00:00' ? { hostMac: t.hostMac } : {}),
      };
      out.push({ owner: `${i.owner.cid}:${i.owner.ifName}`, made, describe: `tap ${i.name} (${i.tag})` });
    }
    return out;
  },
};
