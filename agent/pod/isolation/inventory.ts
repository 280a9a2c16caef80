/**
 * The isolation objects as VPP has them, read once (adoption after an agent restart, the orphan sweep), and the
 * comparisons with what a checkpoint says was made. Reading makes no change.
 */
import type { MadeSourceCheck, MadeVclIsolation } from './apply.js';
import { NODE_PUNT_TABLE_NAME, isOurTableId, ownedTables, type ParsedTableName } from './tables.js';
import { ANY, type Af, type IsolationOps, type PuntRedirectState, type RouteEntry, type RoutePath, type RoutePlan, type TableEntry, type TablePlan, type UrpfState } from '../../vpp/isolation.js';

/** A difference between what should exist and what does. */
export interface IsolationProblem {
  object: string;
  problem: string;
}

export interface IsolationInventory {
  tables: TableEntry[];
  /** The node punt table's id, when VPP has it. */
  puntTableId: number | undefined;
  /** Routes by "af/tableId" of table 0 and of every table of ours. */
  routes: Map<string, RouteEntry[]>;
  /** Addresses of the interfaces asked for (VCL loopbacks). */
  addresses: Map<number, string[]>;
  urpf: UrpfState[];
  puntRedirects: PuntRedirectState[];
  appNamespaces: Set<string>;
}

export function emptyIsolationInventory(): IsolationInventory {
  return { tables: [], puntTableId: undefined, routes: new Map(), addresses: new Map(), urpf: [], puntRedirects: [], appNamespaces: new Set() };
}

function routesKey(af: Af, tableId: number): string {
  return `${af}/${tableId}`;
}

/**
 * One read of everything isolation-related: table 0, our tables, the given loopbacks, every uRPF config. The
 * punt table is the one given, or ours by name.
 */
export async function readIsolationInventory(reader: IsolationOps, loopbacks: readonly number[], puntTableId?: number): Promise<IsolationInventory> {
  const tables = await reader.tables();
  puntTableId ??= tables.find((t) => t.name === NODE_PUNT_TABLE_NAME && isOurTableId(t.tableId))?.tableId;
  const ids = new Set<string>([routesKey(4, 0), routesKey(6, 0)]);
  for (const t of ownedTables(tables)) ids.add(routesKey(t.af, t.tableId));
  if (puntTableId !== undefined) for (const af of [4, 6] as const) if (tables.some((t) => t.af === af && t.tableId === puntTableId)) ids.add(routesKey(af, puntTableId));
  const routes = new Map<string, RouteEntry[]>();
  for (const k of ids) {
    const [af, id] = k.split('/').map(Number) as [Af, number];
    routes.set(k, await reader.routes(af, id));
  }
  const addresses = new Map<number, string[]>();
  for (const sw of loopbacks) addresses.set(sw, await reader.addresses(sw));
  return {
    tables,
    puntTableId,
    routes,
    addresses,
    urpf: await reader.urpfConfigs(ANY),
    puntRedirects: [...(await reader.puntRedirects(4)), ...(await reader.puntRedirects(6))],
    appNamespaces: new Set(await reader.appNamespaceIds()),
  };
}

function samePath(a: RoutePath, b: RoutePath): boolean {
  if (a.via === 'table' || b.via === 'table') return a.via === b.via && (a as { tableId: number }).tableId === (b as { tableId: number }).tableId;
  return a.swIfIndex === b.swIfIndex && (a.nh ?? '') === (b.nh ?? '');
}

function checkTables(inv: IsolationInventory, tables: readonly TablePlan[], out: IsolationProblem[]): void {
  for (const t of tables) {
    const found = inv.tables.find((x) => x.af === t.af && x.tableId === t.tableId);
    if (!found) out.push({ object: `ipv${t.af} table ${t.tableId}`, problem: 'missing in VPP' });
    else if (found.name !== t.name) out.push({ object: `ipv${t.af} table ${t.tableId}`, problem: `named "${found.name}", not "${t.name}"` });
  }
}

function checkRoutes(inv: IsolationInventory, routes: readonly RoutePlan[], out: IsolationProblem[]): void {
  for (const r of routes) {
    const entries = (inv.routes.get(routesKey(r.af, r.tableId)) ?? []).filter((x) => x.prefix === r.prefix);
    const object = `route ${r.prefix} in table ${r.tableId}`;
    if (entries.length === 0) out.push({ object, problem: 'missing in VPP' });
    else if (!entries.some((e) => e.paths.length === 1 && samePath(e.paths[0]!, r.path))) out.push({ object, problem: 'has other paths than planned' });
  }
}

function checkUrpf(inv: IsolationInventory, made: MadeSourceCheck, out: IsolationProblem[]): void {
  for (const c of made.checks) {
    const cfg = inv.urpf.find((u) => u.swIfIndex === c.swIfIndex && u.af === c.af && u.isInput);
    if (!cfg || cfg.mode !== 1 || cfg.tableId !== c.tableId) out.push({ object: `ipv${c.af} uRPF on interface ${c.swIfIndex}`, problem: `not loose against table ${c.tableId}` });
  }
}

/** Adoption of a VCL pod: every planned object present, as planned. */
export function verifyVclIsolation(made: MadeVclIsolation, inv: IsolationInventory): IsolationProblem[] {
  const out: IsolationProblem[] = [];
  const { plan, loopSwIfIndex } = made;
  checkTables(inv, plan.tables, out);
  checkRoutes(inv, [...plan.vrfRoutes, ...plan.puntRoutes, ...plan.steer.map((s) => s.route)], out);
  const have = inv.addresses.get(loopSwIfIndex) ?? [];
  for (const a of plan.loopback.addresses) if (!have.includes(a)) out.push({ object: `vcl loopback ${loopSwIfIndex} address ${a}`, problem: 'missing in VPP' });
  if (!inv.appNamespaces.has(plan.appNamespace.namespaceId)) out.push({ object: `app namespace ${plan.appNamespace.namespaceId}`, problem: 'missing in VPP' });
  return out;
}

/** Adoption of a pod's source check. */
export function verifySourceCheck(made: MadeSourceCheck, inv: IsolationInventory): IsolationProblem[] {
  const out: IsolationProblem[] = [];
  checkTables(inv, made.tables, out);
  checkRoutes(inv, made.routes, out);
  checkUrpf(inv, made, out);
  return out;
}

/** Our pod tables of some owners, and what refers to them. */
export interface IsolationObjects {
  tables: (TableEntry & ParsedTableName)[];
  /** Routes in table 0 or the punt table that lead into one of these VRFs or carry its pod prefixes. */
  routes: RoutePlan[];
  /** uRPF configs that check against one of these tables (switched off before the table goes). */
  urpf: UrpfState[];
}
/** What the sweep removes: the isolation objects of owners no record holds. */
export type OrphanTables = IsolationObjects;

export function emptyIsolationObjects(): IsolationObjects {
  return { tables: [], routes: [], urpf: [] };
}

/**
 * Our tables whose owner (`<cid12>:<ifname>`, from the table's name) `selected` accepts, with table 0's routes
 * into their VRFs, the punt table's routes of the same prefixes and the uRPF configs against their source-check
 * tables: everything isolation made for those owners, found without a record (rollback of an interrupted ADD,
 * removal by identity, the sweep).
 */
export function isolationObjectsOf(inv: IsolationInventory, selected: (owner: string) => boolean, puntTableId: number | undefined = inv.puntTableId): IsolationObjects {
  const tables = ownedTables(inv.tables).filter((t) => selected(t.owner));
  const routes: RoutePlan[] = [];
  for (const af of [4, 6] as const) {
    const vrfIds = new Set(tables.filter((t) => t.af === af && t.purpose === 'vrf').map((t) => t.tableId));
    const steered = (inv.routes.get(routesKey(af, 0)) ?? []).filter((r) => r.paths.some((p) => p.via === 'table' && vrfIds.has(p.tableId)));
    for (const r of steered) routes.push({ af, tableId: 0, prefix: r.prefix, path: r.paths[0]! });
    if (puntTableId === undefined) continue;
    const prefixes = new Set(steered.map((r) => r.prefix));
    for (const r of inv.routes.get(routesKey(af, puntTableId)) ?? []) {
      if (prefixes.has(r.prefix)) routes.push({ af, tableId: puntTableId, prefix: r.prefix, path: r.paths[0]! });
    }
  }
  const rpf = new Set(tables.filter((t) => t.purpose === 'rpf').map((t) => `${t.af}/${t.tableId}`));
  const urpf = inv.urpf.filter((u) => u.mode !== 0 && rpf.has(`${u.af}/${u.tableId}`));
  return { tables, routes, urpf };
}

/** What the sweep removes: our tables whose owner (`<cid12>:<ifname>`) holds no record, and what refers to them. */
export function orphanTables(inv: IsolationInventory, liveOwners: ReadonlySet<string>, puntTableId?: number): OrphanTables {
  return isolationObjectsOf(inv, (owner) => !liveOwners.has(owner), puntTableId);
}

/** Pod addresses whose table-0 route leads into one of our VRFs, by the owner its table's name carries. */
export function steeredAddressOwners(inv: IsolationInventory): Map<string, string> {
  const out = new Map<string, string>();
  for (const t of ownedTables(inv.tables)) {
    if (t.purpose !== 'vrf') continue;
    for (const r of inv.routes.get(routesKey(t.af, 0)) ?? []) {
      if (r.paths.some((p) => p.via === 'table' && p.tableId === t.tableId)) out.set(r.prefix.split('/')[0]!, t.owner);
    }
  }
  return out;
}

/** Removes orphans found by `orphanTables`: checks off, routes, then the tables. */
export async function sweepOrphanTables(ops: IsolationOps, o: OrphanTables): Promise<void> {
  for (const u of o.urpf) await ops.urpfSet(u.swIfIndex, u.af, 'off', ANY);
  for (const r of o.routes) await ops.routeDel(r);
  for (const t of o.tables) await ops.tableDel(t);
}

/**
 * What an orphan VCL pod left of its isolation, found from its VRF tables (for the sweep, which deletes it with
 * `deleteVclIsolation(..., { restore: false })`): the VRF, its routes, table 0's routes into it, the punt routes
 * of the same prefixes, the loopback's addresses and the namespace. Undefined when the owner has no VRF.
 */
export function vclIsolationFromInventory(ownerKey: string, loopSwIfIndex: number, namespace: { id: string; socket: string; secret: string }, inv: IsolationInventory): MadeVclIsolation | undefined {
  const tables = ownedTables(inv.tables).filter((t) => t.owner === ownerKey && t.purpose === 'vrf').map(({ af, tableId, name }) => ({ af, tableId, name }));
  const vrf = tables[0]?.tableId;
  if (vrf === undefined) return undefined;
  const steer: { route: RoutePlan; replaces: RoutePlan }[] = [];
  const vrfRoutes: RoutePlan[] = [];
  const puntRoutes: RoutePlan[] = [];
  for (const af of [4, 6] as const) {
    for (const r of inv.routes.get(routesKey(af, 0)) ?? []) {
      const p = r.paths[0];
      if (p?.via === 'table' && p.tableId === vrf) steer.push({ route: { af, tableId: 0, prefix: r.prefix, path: p }, replaces: { af, tableId: 0, prefix: r.prefix, path: p } });
    }
    for (const r of inv.routes.get(routesKey(af, vrf)) ?? []) {
      const p = r.paths[0];
      if (p?.via === 'table' && p.tableId === 0) vrfRoutes.push({ af, tableId: vrf, prefix: r.prefix, path: p });
    }
    if (inv.puntTableId !== undefined) {
      const prefixes = new Set(steer.map((s) => s.route.prefix));
      for (const r of inv.routes.get(routesKey(af, inv.puntTableId)) ?? []) {
        if (prefixes.has(r.prefix) && r.paths[0]) puntRoutes.push({ af, tableId: inv.puntTableId, prefix: r.prefix, path: r.paths[0] });
      }
    }
  }
  return {
    plan: {
      tables,
      loopback: { tableId: vrf, addresses: inv.addresses.get(loopSwIfIndex) ?? [] },
      vrfRoutes,
      puntRoutes,
      steer,
      appNamespace: { namespaceId: namespace.id, sockName: namespace.socket || 'unknown', ip4FibId: vrf, ip6FibId: vrf },
      pblTableId: 0,
    },
    loopSwIfIndex,
    secret: /^\d{1,20}$/.test(namespace.secret) ? namespace.secret : '0',
  };
}
