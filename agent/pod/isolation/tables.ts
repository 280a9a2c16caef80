/**
 * VPP tables the agent makes for a pod (its VCL VRF, its source-check table) or for the node (the punt table):
 * their ids, allocated by the agent in a range of its own, and their names, which mark them as ours the way tags
 * mark interfaces (`vcni:<cid12>:<ifname>:<purpose>:<namespace>/<pod>`, `vcni:node:punt`). VPP keeps the name an
 * `ip_table_add_del` gives and shows it in `ip_table_dump`, so the sweep and a rebuild find our tables by name.
 */
import { createHash } from 'node:crypto';
import { TAG_MAX, TAG_PREFIX, shortContainerId, type TagOwner } from '../tags.js';
import type { Af, TableEntry } from '../../vpp/isolation.js';

export type { Af, TableEntry } from '../../vpp/isolation.js';
export const AFS: readonly Af[] = [4, 6];

/** What a table of ours is for. */
export type TablePurpose = 'vrf' | 'rpf';

/** The node's punt table (one id for both families). */
export const NODE_PUNT_TABLE_NAME = `${TAG_PREFIX}node:punt`;

/**
 * Ids we allocate: 0x76630000-0x7663ffff ("vc" in the top bytes). Table ids are the operator's namespace in VPP;
 * one block far from the small ids people type keeps ours apart, and the name says whose a table is.
 */
export const TABLE_ID_BASE = 0x76630000;
export const TABLE_ID_COUNT = 0x10000;

export function isOurTableId(id: number): boolean {
  return id >= TABLE_ID_BASE && id < TABLE_ID_BASE + TABLE_ID_COUNT;
}

export class TableIdsExhaustedError extends Error {
  override readonly name = 'TableIdsExhaustedError';
}

/**
 * A table id for `key` (an owner and purpose, e.g. "1a2b3c4d5e6f:eth0:vrf"): a hash of the key picks the first
 * candidate, so the same owner gets the same id again when it is free (after a VPP restart), and the next free
 * id in the range follows a collision. `used` holds every id in use in either family (VPP's tables and the ids
 * other owners hold).
 */
export function allocateTableId(key: string, used: ReadonlySet<number>): number {
  const start = createHash('sha256').update(key).digest().readUInt16BE(0);
  for (let i = 0; i < TABLE_ID_COUNT; i++) {
    const id = TABLE_ID_BASE + ((start + i) % TABLE_ID_COUNT);
    if (!used.has(id)) return id;
  }
  throw new TableIdsExhaustedError(`no free table id in ${TABLE_ID_BASE}-${TABLE_ID_BASE + TABLE_ID_COUNT - 1} for ${key}`);
}

/** The allocation key of an owner's table. */
export function tableKey(owner: Pick<TagOwner, 'containerId' | 'ifName'>, purpose: TablePurpose): string {
  return `${shortContainerId(owner.containerId)}:${owner.ifName}:${purpose}`;
}

/** The name of a pod's table: the tag format with the purpose as kind, cut to 63 bytes like a tag. */
export function tableName(owner: TagOwner, purpose: TablePurpose): string {
  const name = `${TAG_PREFIX}${shortContainerId(owner.containerId)}:${owner.ifName}:${purpose}:${owner.podNamespace}/${owner.podName}`;
  return Buffer.byteLength(name) <= TAG_MAX ? name : Buffer.from(name).subarray(0, TAG_MAX).toString('utf8').replace(/\uFFFD$/, '');
}

export interface ParsedTableName {
  /** `<cid12>:<ifname>` (the owner key of a pod attachment). */
  owner: string;
  purpose: TablePurpose;
}

/** The owner and purpose of a pod table's name; undefined for names not ours (and for the node's punt table). */
export function parseTableName(name: string): ParsedTableName | undefined {
  if (!name.startsWith(TAG_PREFIX)) return undefined;
  const [cid, ifName, purpose] = name.slice(TAG_PREFIX.length).split(':');
  if (!cid || !ifName || (purpose !== 'vrf' && purpose !== 'rpf')) return undefined;
  return { owner: `${cid}:${ifName}`, purpose };
}

/** Our pod tables in a table dump, with the owner their name carries (for the sweep and a rebuild). */
export function ownedTables(tables: readonly TableEntry[]): (TableEntry & ParsedTableName)[] {
  const out: (TableEntry & ParsedTableName)[] = [];
  for (const t of tables) {
    const p = parseTableName(t.name);
    if (p && isOurTableId(t.tableId)) out.push({ ...t, ...p });
  }
  return out;
}
