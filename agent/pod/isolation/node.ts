/**
 * The node's share of pod isolation: the punt path (made once, found again by its table's name after an agent
 * restart, made again after a VPP restart) and the table ids handed out and not yet visible in VPP (two ADDs in
 * flight must not pick the same id). One instance per agent, passed in; nothing global.
 */
import { ensureNodePunt } from './apply.js';
import { planNodePunt } from './plan.js';
import { NODE_PUNT_TABLE_NAME, allocateTableId, isOurTableId } from './tables.js';
import type { IsolationOps } from '../../vpp/isolation.js';

export class IsolationNode {
  private punt: Promise<number> | undefined;
  private readonly reserved = new Set<number>();

  constructor(private readonly ops: IsolationOps) {}

  /**
   * The punt table's id, with the punt path in place: the table of ours VPP already has (same name, our range), or
   * a new id. The first caller does the work, later ones wait for it; a failure lets the next caller try again.
   */
  puntTable(): Promise<number> {
    if (!this.punt) {
      this.punt = this.makePunt().catch((e: unknown) => {
        this.punt = undefined;
        throw e;
      });
    }
    return this.punt;
  }

  private async makePunt(): Promise<number> {
    const tables = await this.ops.tables();
    const existing = tables.find((t) => t.name === NODE_PUNT_TABLE_NAME && isOurTableId(t.tableId));
    const id = existing?.tableId ?? allocateTableId('node:punt', new Set([...tables.map((t) => t.tableId), ...this.reserved]));
    await ensureNodePunt(this.ops, planNodePunt(id));
    return id;
  }

  /**
   * A table id for `key`: the one wanted (a record's id, when VPP has it free), else the hash-picked free one.
   * Held until `release` (the table exists in VPP by then, or was never made).
   */
  async allocate(key: string, wanted?: number): Promise<number> {
    const used = new Set([...(await this.ops.tables()).map((t) => t.tableId), ...this.reserved]);
    if (this.punt) used.add(await this.punt);
    const id = wanted !== undefined && isOurTableId(wanted) && !used.has(wanted) ? wanted : allocateTableId(key, used);
    this.reserved.add(id);
    return id;
  }

  release(id: number): void {
    this.reserved.delete(id);
  }

  /** VPP restarted: everything it had is gone, the punt path included. */
  reset(): void {
    this.punt = undefined;
    this.reserved.clear();
  }
}
