/**
 * Fault hooks keyed by message name (e.g. "memif_create_v2"), for tests:
 *  - delay(name, ms): the request is handled `ms` later; like a slow VPP handler, every request that arrives
 *    meanwhile (on any connection) waits behind it, so replies keep VPP's order.
 *  - noReply(name): the request is handled (its effects happen) but nothing is sent back: no reply, no details.
 *    This is what a lost reply or a stale client_index looks like from outside.
 *  - failWith(name, retval, times): the request is answered with that retval (other reply fields zero) and has
 *    no effect; after `times` such answers the rule expires. A dump gets no details.
 * Rules for one name combine (a delayed failure is possible). clear() removes every rule.
 */
export interface FaultRule {
  delayMs?: number;
  noReply?: boolean;
  fail?: { retval: number; remaining: number };
}

export class Faults {
  private readonly rules = new Map<string, FaultRule>();

  delay(name: string, ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError(`delay must be a finite number of ms, got ${ms}`);
    this.rule(name).delayMs = ms;
  }

  noReply(name: string): void {
    this.rule(name).noReply = true;
  }

  failWith(name: string, retval: number, times = Infinity): void {
    if (!Number.isInteger(retval)) throw new RangeError(`retval must be an integer, got ${retval}`);
    if (!(times > 0)) throw new RangeError(`times must be > 0, got ${times}`);
    this.rule(name).fail = { retval, remaining: times };
  }

  clear(name?: string): void {
    if (name === undefined) this.rules.clear();
    else this.rules.delete(name);
  }

  get active(): boolean {
    return this.rules.size > 0;
  }

  get(name: string): FaultRule | undefined {
    return this.rules.get(name);
  }

  /** Consumes one failure of a rule; returns the retval to answer with, or undefined. */
  takeFailure(name: string): number | undefined {
    const r = this.rules.get(name);
    if (!r?.fail) return undefined;
    const retval = r.fail.retval;
    r.fail.remaining--;
    if (r.fail.remaining <= 0) {
      delete r.fail;
      if (r.delayMs === undefined && !r.noReply) this.rules.delete(name);
    }
    return retval;
  }

  /** A plain snapshot (for `sim state`). */
  snapshot(): Record<string, { delayMs?: number; noReply?: boolean; fail?: { retval: number; remaining: number | 'infinite' } }> {
    const out: Record<string, { delayMs?: number; noReply?: boolean; fail?: { retval: number; remaining: number | 'infinite' } }> = {};
    for (const [name, r] of this.rules) {
      out[name] = {
        ...(r.delayMs !== undefined ? { delayMs: r.delayMs } : {}),
        ...(r.noReply ? { noReply: true } : {}),
        ...(r.fail ? { fail: { retval: r.fail.retval, remaining: Number.isFinite(r.fail.remaining) ? r.fail.remaining : 'infinite' } } : {}),
      };
    }
    return out;
  }

  private rule(name: string): FaultRule {
    if (!/^[a-z0-9_]+$/.test(name)) throw new RangeError(`"${name}" is not a message name`);
    let r = this.rules.get(name);
    if (!r) {
      r = {};
      this.rules.set(name, r);
    }
    return r;
  }
}
