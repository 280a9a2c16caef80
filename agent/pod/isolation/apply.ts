/**
 * Makes and removes what plan.ts plans, through a narrow port to VPP (`IsolationOps`, implemented over the binary
 * API in vpp-isolation.ts). Creation runs as steps of the caller's transaction, each with its undo; deletion is the
 * one idempotent path ("already gone" is done) and the checkpoint slices are the plans themselves.
 */
import { z } from 'zod';
import type { NodePuntPlan, SourceCheckPlan, VclPlan } from './plan.js';
import { ANY, type IsolationOps } from '../../vpp/isolation.js';

export type { IsolationOps } from '../../vpp/isolation.js';

/** The transaction a create runs on (agent/pod/transaction.ts `Transaction` is one). */
export interface StepRunner {
  step<T>(name: string, fn: () => Promise<T>, undo?: (result: T) => Promise<void>): Promise<T>;
}

// ---- checkpoint slices ----

const af = z.union([z.literal(4), z.literal(6)]);
const u32 = z.number().int().min(0).max(0xffffffff);
const tablePlan = z.strictObject({ af, tableId: u32, name: z.string().max(63) });
const routePlan = z.strictObject({
  af,
  tableId: u32,
  prefix: z.string().min(3).max(43),
  path: z.union([z.strictObject({ via: z.literal('interface'), swIfIndex: u32, nh: z.string().max(39).optional() }), z.strictObject({ via: z.literal('table'), tableId: u32 })]),
});

export const vclPlanSchema = z.strictObject({
  tables: z.array(tablePlan),
  loopback: z.strictObject({ tableId: u32, addresses: z.array(z.string().max(43)) }),
  vrfRoutes: z.array(routePlan),
  puntRoutes: z.array(routePlan),
  steer: z.array(z.strictObject({ route: routePlan, replaces: routePlan })),
  appNamespace: z.strictObject({ namespaceId: z.string().min(1).max(63), sockName: z.string().min(1).max(255), ip4FibId: u32, ip6FibId: u32 }),
  pblTableId: u32,
}) satisfies z.ZodType<VclPlan>;

export const madeVclSchema = z.strictObject({
  plan: vclPlanSchema,
  loopSwIfIndex: u32,
  /** The app namespace's secret (u64, decimal). */
  secret: z.string().regex(/^\d{1,20}$/),
});
export type MadeVclIsolation = z.infer<typeof madeVclSchema>;

export const sourceCheckPlanSchema = z.strictObject({
  tables: z.array(tablePlan),
  routes: z.array(routePlan),
  checks: z.array(z.strictObject({ swIfIndex: u32, name: z.string().max(32).optional(), af, mode: z.literal('loose'), tableId: u32 })),
}) satisfies z.ZodType<SourceCheckPlan>;
export type MadeSourceCheck = z.infer<typeof sourceCheckPlanSchema>;

// ---- the node's punt path ----

export class PuntRedirectTakenError extends Error {
  override readonly name = 'PuntRedirectTakenError';
}

/**
 * Sets the node's punt path up (idempotent: every message of the plan may be repeated). A "from any" punt
 * redirect that looks up another table is someone else's: it is left alone and the error says so.
 */
export async function ensureNodePunt(ops: IsolationOps, plan: NodePuntPlan): Promise<void> {
  for (const r of plan.redirects) {
    const existing = (await ops.puntRedirects(r.af)).find((x) => x.rxSwIfIndex === 0);
    if (existing && !(existing.lookups.length === 1 && existing.lookups[0] === r.lookupTableId)) {
      throw new PuntRedirectTakenError(
        `the IPv${r.af} punt redirect from any interface already exists and is not ours (it does not look up table ${r.lookupTableId}); VCL pods need it`,
      );
    }
  }
  for (const t of plan.tables) await ops.tableAdd(t);
  for (const p of plan.l4) await ops.puntL4(p.af, p.protocol, true);
  for (const r of plan.redirects) await ops.puntRedirectAdd(r.af, r.rxSwIfIndex, r.lookupTableId);
}

// ---- VCL ----

// Step names say what a step is for, not the ids of the run (tests compare the steps of two runs).

/** Creates the VCL objects of `plan` around the pod's VCL loopback; the app namespace comes last. */
export async function createVclIsolation(ops: IsolationOps, tx: StepRunner, plan: VclPlan, loopSwIfIndex: number, secret: bigint): Promise<MadeVclIsolation> {
  for (const t of plan.tables) await tx.step(`vcl vrf ipv${t.af} table`, () => ops.tableAdd(t), () => ops.tableDel(t));
  for (const a of [4, 6] as const) {
    await tx.step(
      `vcl loopback ipv${a} table`,
      () => ops.interfaceTable(loopSwIfIndex, a, plan.loopback.tableId),
      () => ops.interfaceTable(loopSwIfIndex, a, 0),
    );
  }
  for (const p of plan.loopback.addresses) {
    await tx.step(`vcl loopback address ${p}`, () => ops.addressAdd(loopSwIfIndex, p), () => ops.addressDel(loopSwIfIndex, p));
  }
  for (const r of plan.vrfRoutes) await tx.step(`vcl vrf route ${r.prefix} to table 0`, () => ops.routeAdd(r), () => ops.routeDel(r));
  for (const r of plan.puntRoutes) await tx.step(`vcl punt route ${r.prefix}`, () => ops.routeAdd(r), () => ops.routeDel(r));
  for (const s of plan.steer) await tx.step(`vcl route ${s.route.prefix} into the pod vrf`, () => ops.routeAdd(s.route), () => ops.routeAdd(s.replaces));
  await tx.step(
    'app namespace',
    () => ops.appNamespaceAdd(plan.appNamespace, loopSwIfIndex, secret),
    () => ops.appNamespaceDel(plan.appNamespace, loopSwIfIndex, secret),
  );
  return { plan, loopSwIfIndex, secret: secret.toString() };
}

/**
 * Removes the VCL objects (not the loopback: its kind deletes it). Table 0's routes to the pod go back to eth0
 * (`restore`, the default: the routes are eth0's and its kind removes them) or are removed; when eth0 is gone,
 * they are removed.
 */
export async function deleteVclIsolation(ops: IsolationOps, made: MadeVclIsolation, opts: { restore?: boolean } = {}): Promise<void> {
  const { plan, loopSwIfIndex } = made;
  await ops.appNamespaceDel(plan.appNamespace, loopSwIfIndex, BigInt(made.secret));
  for (const s of plan.steer) {
    if (opts.restore === false) {
      await ops.routeDel(s.route);
      continue;
    }
    try {
      await ops.routeAdd(s.replaces);
    } catch (e) {
      if (!ops.isGone(e)) throw e;
      await ops.routeDel(s.route);
    }
  }
  for (const r of [...plan.puntRoutes, ...plan.vrfRoutes].reverse()) await ops.routeDel(r);
  for (const p of plan.loopback.addresses) await ops.addressDel(loopSwIfIndex, p);
  for (const a of [4, 6] as const) {
    try {
      await ops.interfaceTable(loopSwIfIndex, a, 0);
    } catch (e) {
      // The loopback is gone (its kind deleted it first): nothing binds the table any more.
      if (!ops.isGone(e)) throw e;
    }
  }
  for (const t of plan.tables) await ops.tableDel(t);
}

// ---- source checks ----

/**
 * Creates the source-check table and switches uRPF on. The plugin keeps a config per sw_if_index after its
 * interface is deleted, and an update that changes neither mode nor table does not switch the check on: a
 * config left on this index by an earlier interface is switched off first.
 */
export async function createSourceCheck(ops: IsolationOps, tx: StepRunner, plan: SourceCheckPlan): Promise<MadeSourceCheck> {
  for (const t of plan.tables) await tx.step(`source check ipv${t.af} table`, () => ops.tableAdd(t), () => ops.tableDel(t));
  for (const r of plan.routes) await tx.step(`source check route ${r.prefix}`, () => ops.routeAdd(r), () => ops.routeDel(r));
  const interfaces = [...new Set(plan.checks.map((c) => c.swIfIndex))];
  for (const sw of interfaces) {
    const checks = plan.checks.filter((x) => x.swIfIndex === sw);
    const name = checks[0]?.name ?? `sw_if_index ${sw}`;
    const stale = (await tx.step(`urpf state of ${name}`, () => ops.urpfConfigs(sw))).filter((c) => c.isInput);
    for (const c of checks) {
      if (stale.some((s) => s.af === c.af)) await tx.step(`urpf ipv${c.af} off on ${name} (left by an earlier interface)`, () => ops.urpfSet(sw, c.af, 'off', ANY));
      await tx.step(
        `urpf ipv${c.af} loose on ${name}`,
        () => ops.urpfSet(sw, c.af, c.mode, c.tableId),
        () => ops.urpfSet(sw, c.af, 'off', ANY),
      );
    }
  }
  return plan;
}

/** Switches the checks off (before the interfaces go, so no config outlives them), then removes the table. */
export async function deleteSourceCheck(ops: IsolationOps, made: MadeSourceCheck): Promise<void> {
  for (const c of made.checks) await ops.urpfSet(c.swIfIndex, c.af, 'off', ANY);
  for (const r of [...made.routes].reverse()) await ops.routeDel(r);
  for (const t of made.tables) await ops.tableDel(t);
}
