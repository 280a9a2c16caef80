/**
 * VCL driver: an app namespace for the pod, whose session socket VPP listens on inside the pod netns
 * (`@vpp/session`), so an app using VPP's host stack (VCL, LD_PRELOAD) attaches from the pod.
 * The namespace is bound to a per-pod loopback tagged with its owner; the session layer is enabled
 * once per node. The namespace secret is random per pod.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as iface from '../../../vpp-api/generated/interface.js';
import * as session from '../../../vpp-api/generated/session.js';
import type { AttachRequest, MadeObjects, MadeVcl } from '../attachment.js';
import { makeTag, shortContainerId } from '../tags.js';
import type { Transaction } from '../transaction.js';
import { adminUp, deleteTolerant, interfaceByIndex, setTag } from '../vpp-ops.js';
import type { CheckProblem, DriverContext } from './context.js';

export const VCL_SOCKET = 'vpp/session';

/** App namespace id: unique per attachment, within string[64]. */
export function vclNamespaceId(req: Pick<AttachRequest, 'containerId' | 'ifName'>): string {
  return `vcni-${shortContainerId(req.containerId)}-${req.ifName}`;
}

/** First bytes of the MAC of a VCL loopback: locally administered, "vc". */
export const VCL_LOOPBACK_MAC_PREFIX = '02:76:63:';

/**
 * The MAC a VCL loopback is made with: it marks the owner from the moment of creation (the tag comes one
 * call later; an agent that dies in between leaves a loopback found again by this MAC).
 */
export function vclLoopbackMac(req: Pick<AttachRequest, 'containerId' | 'ifName'>): string {
  const h = createHash('sha256').update(`${shortContainerId(req.containerId)}:${req.ifName}`).digest();
  return VCL_LOOPBACK_MAC_PREFIX + [h[0]!, h[1]!, h[2]!].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export async function createVcl(ctx: DriverContext, tx: Transaction, req: AttachRequest, made: MadeObjects): Promise<MadeVcl> {
  await tx.step('session layer', () => ctx.node.sessionEnabled());
  const tag = makeTag({ containerId: req.containerId, ifName: req.ifName, podNamespace: req.pod.namespace, podName: req.pod.name }, 'vcl');
  const loop = await tx.step(
    'vcl loopback',
    async () => (await ctx.vpp.request(iface.create_loopback, { mac_address: vclLoopbackMac(req) })).sw_if_index,
    (sw) => deleteTolerant(() => ctx.vpp.request(iface.delete_loopback, { sw_if_index: sw })),
  );
  await tx.step('vcl loopback tag', () => setTag(ctx.vpp, loop, tag));
  await tx.step('vcl loopback admin up', () => adminUp(ctx.vpp, loop));
  const secret = randomBytes(8).readBigUInt64BE(0);
  const namespaceId = vclNamespaceId(req);
  const sockName = `abstract:${VCL_SOCKET},netns_name=${req.netns}`;
  await tx.step(
    'app namespace',
    () =>
      ctx.vpp.request(session.app_namespace_add_del_v4, {
        is_add: true,
        secret,
        sw_if_index: loop,
        ip4_fib_id: 0,
        ip6_fib_id: 0,
        namespace_id: namespaceId,
        sock_name: sockName,
      }),
    () => deleteAppNamespace(ctx, namespaceId, secret, loop),
  );
  const v: MadeVcl = { namespaceId, secret: secret.toString(), sockName, socketName: `@${VCL_SOCKET}`, loopSwIfIndex: loop };
  made.vcl = v;
  return v;
}

/** The session layer's answer for a namespace that does not exist (its error passed through as a retval). */
const APP_NS_NOT_FOUND = -19;

async function deleteAppNamespace(ctx: DriverContext, namespaceId: string, secret: bigint, loop: number): Promise<void> {
  await deleteTolerant(
    () => ctx.vpp.request(session.app_namespace_add_del_v4, { is_add: false, secret, sw_if_index: loop, ip4_fib_id: 0, ip6_fib_id: 0, namespace_id: namespaceId, sock_name: '' }),
    [APP_NS_NOT_FOUND],
  );
}

export async function deleteVcl(ctx: DriverContext, v: MadeVcl): Promise<void> {
  await deleteAppNamespace(ctx, v.namespaceId, BigInt(v.secret), v.loopSwIfIndex);
  await deleteTolerant(() => ctx.vpp.request(iface.delete_loopback, { sw_if_index: v.loopSwIfIndex }));
}

export async function checkVcl(ctx: DriverContext, v: MadeVcl): Promise<CheckProblem[]> {
  const out: CheckProblem[] = [];
  if (!(await interfaceByIndex(ctx.vpp, v.loopSwIfIndex))) {
    out.push({ object: `vcl loopback ${v.loopSwIfIndex}`, problem: 'missing in VPP' });
  }
  // This VPP has no app-namespace dump message: read the CLI table.
  const text = (await ctx.vpp.cli('show app ns')).replace(/\u001b\[[0-9;]*m/g, '');
  if (!text.split('\n').some((l) => l.split(/\s+/).includes(v.namespaceId))) {
    out.push({ object: `app namespace ${v.namespaceId}`, problem: 'not in "show app ns"' });
  }
  return out;
}
