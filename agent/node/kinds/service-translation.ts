/**
 * A Service translation: one cnat translation (VIP, port, protocol → backends) in VPP.
 *  - create/update: cnat_translation_update (VPP keys it by VIP + port + protocol, returns the same id for an
 *    existing one and replaces its paths: an update is a create). A spec with no backend is refused before
 *    anything is sent: VPP aborts on a translation without paths.
 *  - delete: cnat_translation_del by id; NO_SUCH_ENTRY (already gone, or purged) is done.
 *  - owned: cnat translations carry no tag; on a vpp-cni node the agent owns VPP's cnat, so every translation
 *    is ours (documented in docs/node-dataplane.md).
 */
import { z } from 'zod';
import { deleteTranslation as vppDeleteTranslation, listTranslations, updateTranslation as vppUpdateTranslation } from '../../vpp/cnat.js';
import type { CheckProblem, FoundObject, ObjectKind, StepRunner } from '../../objects/kind.js';
import type { NodeCtx, NodeInventory, VppTranslation } from '../context.js';
import { IP_PROTO, translationKey, type L4Protocol, type TranslationSpec } from '../services.js';

export { TRANSLATION_FLAGS } from '../../vpp/cnat.js';

export const madeTranslationSchema = z.strictObject({
  key: z.string().min(1),
  id: z.number().int().min(0),
  service: z.string(),
  vip: z.string(),
  port: z.number().int().min(1).max(65535),
  protocol: z.enum(['TCP', 'UDP', 'SCTP']),
  backends: z.array(z.strictObject({ addr: z.string(), port: z.number().int().min(1).max(65535) })).min(1),
});
export type MadeTranslation = z.infer<typeof madeTranslationSchema>;

export class ZeroPathsError extends Error {
  override readonly name = 'ZeroPathsError';
}

/** Sends the translation; returns VPP's id. */
export async function updateTranslation(ctx: NodeCtx, spec: TranslationSpec): Promise<number> {
  if (spec.backends.length === 0) throw new ZeroPathsError(`Service ${spec.service} ${spec.key}: refusing a cnat translation without paths (VPP aborts on one)`);
  return vppUpdateTranslation(ctx.vpp, { vip: spec.vip, port: spec.port, ipProto: IP_PROTO[spec.protocol], backends: spec.backends });
}

export function madeOf(spec: TranslationSpec, id: number): MadeTranslation {
  return { key: spec.key, id, service: spec.service, vip: spec.vip, port: spec.port, protocol: spec.protocol, backends: spec.backends.map((b) => ({ ...b })) };
}

function protocolOfNumber(n: number): L4Protocol | undefined {
  return (Object.entries(IP_PROTO) as [L4Protocol, number][]).find(([, v]) => v === n)?.[0];
}

function sameBackends(a: readonly { addr: string; port: number }[], b: readonly { addr: string; port: number }[]): boolean {
  const k = (x: { addr: string; port: number }): string => `${x.addr}|${x.port}`;
  const sa = a.map(k).sort();
  const sb = b.map(k).sort();
  return sa.length === sb.length && sa.every((v, i) => v === sb[i]);
}

function compare(made: MadeTranslation, live: VppTranslation | undefined): CheckProblem[] {
  const object = `cnat translation ${made.key} (id ${made.id}, Service ${made.service})`;
  if (!live) return [{ object, problem: 'missing in VPP' }];
  if (!sameBackends(made.backends, live.backends)) return [{ object, problem: `VPP has backends ${live.backends.map((b) => `${b.addr}:${b.port}`).join(',')}` }];
  return [];
}

export const serviceTranslationKind: ObjectKind<NodeCtx, TranslationSpec, MadeTranslation, NodeInventory> = {
  name: 'serviceTranslation',
  schema: madeTranslationSchema,

  async create(ctx: NodeCtx, tx: StepRunner, spec: TranslationSpec): Promise<MadeTranslation> {
    const id = await tx.step(
      `cnat_translation_update ${spec.key}`,
      () => updateTranslation(ctx, spec),
      (vppId) => deleteTranslation(ctx, vppId),
    );
    return madeOf(spec, id);
  },

  async delete(ctx: NodeCtx, made: MadeTranslation): Promise<void> {
    await deleteTranslation(ctx, made.id);
  },

  async check(ctx: NodeCtx, made: MadeTranslation): Promise<CheckProblem[]> {
    const all = await listTranslations(ctx.vpp);
    return compare(made, all.find((t) => t.id === made.id));
  },

  verify(_ctx: NodeCtx, made: MadeTranslation, inv: NodeInventory): CheckProblem[] {
    const live = inv.translations.find((t) => t.id === made.id);
    if (live && translationKey(live.vip, live.port, protocolOfNumber(live.ipProto) ?? 'TCP') !== made.key) return [{ object: `cnat translation ${made.key} (id ${made.id})`, problem: `id ${made.id} is ${live.vip}:${live.port} in VPP` }];
    return compare(made, live);
  },

  owned(inv: NodeInventory): FoundObject<MadeTranslation>[] {
    const out: FoundObject<MadeTranslation>[] = [];
    for (const t of inv.translations) {
      const protocol = protocolOfNumber(t.ipProto);
      if (!protocol || t.backends.length === 0) continue;
      const key = translationKey(t.vip, t.port, protocol);
      out.push({ owner: undefined, made: { key, id: t.id, service: '', vip: t.vip, port: t.port, protocol, backends: t.backends }, describe: `cnat translation ${key} (id ${t.id})` });
    }
    return out;
  },
};

/** cnat_translation_del; a translation already gone (NO_SUCH_ENTRY) is done. */
export async function deleteTranslation(ctx: NodeCtx, id: number): Promise<void> {
  await vppDeleteTranslation(ctx.vpp, id);
}
