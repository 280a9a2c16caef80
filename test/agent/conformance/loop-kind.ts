/**
 * A kind that exists only in the tests: one loopback per attachment, tagged with the attachment's owner
 * (tag kind `loop`), made when the pod asks for it with an annotation. It shows that adding a kind is one
 * module (this file) and one registry line (`podKindRegistry([testLoopKind])` in the conformance suite).
 */
import { z } from 'zod';
import type { PodDesired, PodInterfaceKind } from '../../../agent/pod/kinds/kind.js';
import { swIfIndex, vppTag } from '../../../agent/pod/kinds/parts.js';
import { adminUp, createLoopback, deleteLoopback, interfaceByIndex, setTag } from '../../../agent/vpp/interface.js';

export const TEST_LOOP_ANNOTATION = 'test.vpp-cni/extra-loopback';

const madeLoopSchema = z.object({ swIfIndex, tag: vppTag });
type MadeLoop = z.infer<typeof madeLoopSchema>;

export const testLoopKind: PodInterfaceKind<'testLoop', PodDesired, MadeLoop> = {
  name: 'testLoop',
  schema: madeLoopSchema,
  select: (req) => (req.annotations[TEST_LOOP_ANNOTATION] === 'yes' ? {} : undefined),
  async create(ctx, tx) {
    const tag = ctx.attachment.owner.mark('loop');
    const sw = await tx.step('test loopback', () => createLoopback(ctx.vpp, '02:fe:00:00:00:01'), (s) => deleteLoopback(ctx.vpp, s));
    await tx.step('test loopback tag', () => setTag(ctx.vpp, sw, tag));
    await tx.step('test loopback admin up', () => adminUp(ctx.vpp, sw));
    return { swIfIndex: sw, tag };
  },
  delete: (ctx, m) => deleteLoopback(ctx.vpp, m.swIfIndex),
  async check(ctx, m) {
    const d = await interfaceByIndex(ctx.vpp, m.swIfIndex);
    if (!d) return [{ object: `test loopback ${m.swIfIndex}`, problem: 'missing in VPP' }];
    return d.tag === m.tag ? [] : [{ object: `test loopback ${m.swIfIndex}`, problem: `tag is "${d.tag}"` }];
  },
  verify(_ctx, m, inv) {
    const i = inv.interfaces.get(m.swIfIndex);
    return i?.tag === m.tag ? [] : [{ object: `test loopback ${m.swIfIndex}`, problem: i ? `has tag "${i.tag}"` : 'missing' }];
  },
  owned(inv) {
    return [...inv.interfaces.values()]
      .filter((i) => i.owner?.kind === 'loop')
      .map((i) => ({ owner: `${i.owner!.cid}:${i.owner!.ifName}`, made: { swIfIndex: i.swIfIndex, tag: i.tag }, describe: `test loopback ${i.name}` }));
  },
};
