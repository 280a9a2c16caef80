/**
 * tun/tap driver: a VPP tap whose host end VPP creates directly in the pod netns under the pod's
 * interface name (TUN for L3, the default; TAP for L2), then the pod-side Linux configuration and the
 * pod's host routes in VPP. A TAP gets a pod-side MAC of the agent's choosing, and VPP pins the pod's
 * addresses to it (pinned.ts).
 */
import * as tapv2 from '../../../vpp-api/generated/tapv2.js';
import { TapFlags } from '../../../vpp-api/generated/tapv2.js';
import { VppApiError } from '../../../vpp-api/client/index.js';
import { hostPrefix, ipOf, type AttachRequest, type MadeObjects, type MadeRoute, type MadeTun } from '../attachment.js';
import type { InterfaceSpec } from '../interface-spec.js';
import { VHOST_NET_RETVAL } from '../interface-mode.js';
import { checkPodLink, configureInterface } from '../linux-side.js';
import { makeTag } from '../tags.js';
import type { Transaction } from '../transaction.js';
import { adminUp, deleteTolerant, interfaceByIndex, addRoute, delRoute, setRxMode, setUnnumbered } from '../vpp-ops.js';
import type { CheckProblem, DriverContext } from './context.js';
import { pinNeighbor, randomPodMac } from './pinned.js';

/**
 * VPP refused a tap because it cannot open /dev/vhost-net (tap_create_if's only SYSCALL_ERROR_1). Still a
 * VppApiError (message, retval and its name), with a message that says what it means and what to do.
 */
export class VhostNetUnavailableError extends VppApiError {
  /** `hint`: say which setting avoids it (the caller that knows the node is set to tun adds it). */
  constructor(cause: VppApiError, hint = false) {
    super(cause.messageName, cause.retval, cause.reply);
    this.message =
      `${this.message}: VPP could not open /dev/vhost-net, which a tap needs (micro-VMs and hardened kernels often lack it)` +
      (hint ? '; set VPPCNI_POD_INTERFACE_MODE to auto or veth to give pods a veth pair with an af_packet interface instead' : '');
  }
}

/** VPP's host_namespace and host_if_name fields are string[64] and the kernel's ifname limit is 15. */
const MAX_NETNS_PATH = 63;
const MAX_IFNAME = 15;

export async function createTun(ctx: DriverContext, tx: Transaction, req: AttachRequest, spec: InterfaceSpec, made: MadeObjects): Promise<MadeTun> {
  if (Buffer.byteLength(req.netns) > MAX_NETNS_PATH) {
    throw new Error(`netns path ${req.netns} is longer than the ${MAX_NETNS_PATH} bytes VPP accepts for a tap's host namespace`);
  }
  if (req.ifName.length > MAX_IFNAME || !/^[A-Za-z0-9_.-]+$/.test(req.ifName)) {
    throw new Error(`interface name "${req.ifName}" is not a valid Linux interface name (at most ${MAX_IFNAME} characters)`);
  }
  const loop = await tx.step('node loopback', () => ctx.node.unnumberedLoopback());
  const tag = makeTag({ containerId: req.containerId, ifName: req.ifName, podNamespace: req.pod.namespace, podName: req.pod.name }, 'tun');
  const l2 = !spec.isl3;
  // A TAP's pod-side MAC is ours to choose: VPP pins the pod's addresses to it (pinned.ts).
  const hostMac = l2 ? randomPodMac() : undefined;
  const swIfIndex = await tx.step(
    'tap create',
    async () => {
      const r = await ctx.vpp.request(tapv2.tap_create_v3, {
        id: 0xffffffff,
        use_random_mac: true,
        num_rx_queues: spec.rx,
        num_tx_queues: spec.tx,
        rx_ring_sz: spec.rxqsz,
        tx_ring_sz: spec.txqsz,
        host_mtu_set: true,
        host_mtu_size: ctx.cfg.mtu,
        host_namespace_set: true,
        host_namespace: req.netns,
        host_if_name_set: true,
        host_if_name: req.ifName,
        ...(hostMac ? { host_mac_addr_set: true, host_mac_addr: hostMac } : {}),
        tap_flags: l2 ? 0 : TapFlags.TAP_API_FLAG_TUN,
        tag,
      }).catch((e: unknown) => {
        throw e instanceof VppApiError && e.retval === VHOST_NET_RETVAL ? new VhostNetUnavailableError(e) : e;
      });
      return r.sw_if_index;
    },
    (sw) => deleteTolerant(() => ctx.vpp.request(tapv2.tap_delete_v2, { sw_if_index: sw })),
  );
  const tun: MadeTun = { swIfIndex, tag, hostIfName: req.ifName, l2, spec, ...(hostMac ? { hostMac } : {}) };
  made.tun = tun;
  await tx.step('tap unnumbered', () => setUnnumbered(ctx.vpp, swIfIndex, loop));
  await tx.step('tap admin up', () => adminUp(ctx.vpp, swIfIndex));
  await tx.step('tap rx mode', () => setRxMode(ctx.vpp, swIfIndex, spec.rxMode));
  let peerMac: string | undefined;
  if (l2) {
    // VPP's MAC: the pod's next hop.
    peerMac = await tx.step('tap mac', async () => {
      const d = await interfaceByIndex(ctx.vpp, swIfIndex);
      if (!d) throw new Error(`tap sw_if_index ${swIfIndex} vanished`);
      return d.l2_address;
    });
  }
  await tx.step('pod netns: configure ' + req.ifName, () =>
    configureInterface(ctx.netns, req.netns, { ifName: req.ifName, ips: req.ips, routes: req.routes, ...(peerMac ? { l2: { peerMac } } : {}) }),
  );
  for (const a of req.ips) {
    const ip = ipOf(a.address);
    if (hostMac) await pinNeighbor(ctx, tx, made, `neighbor ${ip} on tap`, { swIfIndex, ip, mac: hostMac });
    const route: MadeRoute = { prefix: hostPrefix(ip), tableId: 0, swIfIndex, ...(l2 ? { nh: ip } : {}) };
    await tx.step(`route ${route.prefix} via tap`, () => addRoute(ctx.vpp, route), () => delRoute(ctx.vpp, route));
    made.routes.push(route);
  }
  return tun;
}

/** Removes the tap (its kernel end goes with it). Idempotent. Routes are removed by the caller first. */
export async function deleteTun(ctx: DriverContext, tun: MadeTun): Promise<void> {
  await deleteTolerant(() => ctx.vpp.request(tapv2.tap_delete_v2, { sw_if_index: tun.swIfIndex }));
}

export async function checkTun(ctx: DriverContext, netns: string, tun: MadeTun, ips: string[]): Promise<CheckProblem[]> {
  const out: CheckProblem[] = [];
  const d = await interfaceByIndex(ctx.vpp, tun.swIfIndex);
  if (!d) return [{ object: `tap sw_if_index ${tun.swIfIndex}`, problem: 'missing in VPP' }];
  if (d.tag !== tun.tag) out.push({ object: `tap ${d.interface_name}`, problem: `tag is "${d.tag}", expected "${tun.tag}"` });
  if ((d.flags & 1) === 0) out.push({ object: `tap ${d.interface_name}`, problem: 'admin down' });
  out.push(...(await checkPodLink(ctx.netns, netns, tun.hostIfName, ips, tun.hostMac)));
  return out;
}
