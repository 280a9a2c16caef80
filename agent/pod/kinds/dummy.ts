/**
 * The multinet dummy kind: a Linux link in the pod netns that only carries the pod's addresses and routes
 * for a multinet memif (the pod's traffic itself goes through the memif). A dummy, or — on kernels built
 * without the dummy driver (some micro-VM kernels) — an empty bridge, which holds addresses and routes the
 * same way. Its slice is the link's name.
 *
 * Pod netns links are not in the one-pass inventory (reading every pod netns is a process per pod):
 * `verify` has nothing to compare and `owned` nothing to list; the state layer finds a dummy through the
 * attachment's netns and interface name.
 */
import { addLink } from '../../linux/links.js';
import { CommandError, deleteLinkTolerant } from '../../linux/netns.js';
import { configureInterface, checkPodLink } from '../linux-side.js';
import type { PodDesired, PodInterfaceKind, PodKindContext } from './kind.js';
import { linuxIfName } from './parts.js';

async function addDummy(ctx: PodKindContext, netns: string, ifName: string): Promise<void> {
  try {
    await ctx.netns.ipBatch(netns, [addLink(ifName, 'dummy')]);
  } catch (e) {
    if (!(e instanceof CommandError) || !/Unknown device type/.test(e.stderr)) throw e;
    ctx.log.warn({ netns, ifName }, 'kernel has no dummy interfaces: using an empty bridge to hold the pod addresses');
    await ctx.netns.ipBatch(netns, [addLink(ifName, 'bridge')]);
  }
}

export const dummyKind: PodInterfaceKind<'dummy', PodDesired, string> = {
  name: 'dummy',
  schema: linuxIfName,
  async create(ctx, tx, { req, shared }) {
    await tx.step(
      `pod netns: dummy ${req.ifName}`,
      () => addDummy(ctx, req.netns, req.ifName),
      () => deleteLinkTolerant(ctx.netns, req.netns, req.ifName),
    );
    shared.dummy = req.ifName;
    await tx.step(`pod netns: configure ${req.ifName}`, () => configureInterface(ctx.netns, req.netns, { ifName: req.ifName, ips: req.ips, routes: req.routes }));
    return req.ifName;
  },
  delete: (ctx, name) => deleteLinkTolerant(ctx.netns, ctx.attachment.netns, name),
  check: (ctx, name) => checkPodLink(ctx.netns, ctx.attachment.netns, name, ctx.attachment.ips),
  verify: () => [],
  owned: () => [],
};

