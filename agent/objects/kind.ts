/**
 * One kind of object the agent makes in VPP and Linux — a pod interface (tun, veth, memif, vcl), or a
 * node object (host link, route to another node, Service translation) — described once, so that the
 * machinery that runs ADD/DEL/CHECK, adoption after an agent restart, re-creation after a VPP restart,
 * the orphan sweep and the checkpoint can be generic over a registry of kinds (registry.ts).
 *
 * A kind never builds its owner marker itself: the caller builds an `OwnerMark` once per owner (a pod
 * attachment, a node object) and hands it in with the desired state.
 *
 * The contract every kind keeps:
 *  - `create` runs each change as a step of the transaction it is given, with the step's undo; it returns
 *    what it made (its checkpoint slice, `Made`) and records nothing anywhere else.
 *  - `delete` is the one delete path: idempotent, "already gone" (VPP's not-found retvals, a link or netns
 *    that no longer exists) counts as done; it throws only for a real failure.
 *  - `check` compares the live system with `Made` for CNI CHECK (it may read VPP and Linux).
 *  - `verify` does the same from an inventory read once for every owner (adoption after an agent restart
 *    must make no change and as few reads as possible).
 *  - `owned` lists the objects of this kind in an inventory that carry our marker (or, where the marker
 *    comes one call after the object, our naming): the sweep removes those no owner holds, through
 *    `delete`, and a lost checkpoint is rebuilt from them.
 *  - `schema` parses the kind's checkpoint slice back from disk (zod, strict about values the agent
 *    would never have written): the checkpoint record is composed from these, never restated.
 */
import type { z } from 'zod';

/** A difference between what should exist and what does (CHECK, adoption). */
export interface CheckProblem {
  object: string;
  problem: string;
}

/** The cleanup stack a kind's `create` runs its steps on (agent/pod/transaction.ts `Transaction` is one). */
export interface StepRunner {
  /** Runs `fn` as the step `name`; on success `undo` (given the step's result) joins the cleanup stack. */
  step<T>(name: string, fn: () => Promise<T>, undo?: (result: T) => Promise<void>): Promise<T>;
}

/**
 * Who owns an object, built once per owner: `key` identifies the owner among its peers (for a pod
 * attachment `<cid12>:<ifName>`), `mark(kindMark)` the marker an object of a kind carries (VPP tag,
 * link alias, route protocol...).
 */
export interface OwnerMark {
  readonly key: string;
  mark(kindMark: string): string;
}

/** An object of a kind found in an inventory with our marker, and what `delete` needs to remove it. */
export interface FoundObject<Made> {
  /** The owner key the marker names (`OwnerMark.key`), undefined when only our naming marks it. */
  owner: string | undefined;
  /** Enough of the checkpoint slice for `delete` (and, when complete, to rebuild a record). */
  made: Made;
  /** For logs: `tap tap3 (vcni:1a2b…:eth0:tun:default/web)`. */
  describe: string;
}

/**
 * One kind of object. `Ctx` is what its operations are given (VPP façade, netns operations, config,
 * logger); `Desired` what `create` makes and `check` compares against; `Made` the checkpoint slice;
 * `Inventory` the one-pass read of VPP and Linux that `verify` and `owned` look at.
 */
export interface ObjectKind<Ctx, Desired, Made, Inventory> {
  /** Unique in its registry; also the slice's key in the checkpoint record. */
  readonly name: string;
  /** The checkpoint slice, parsed from disk. */
  readonly schema: z.ZodType<Made>;
  /**
   * True when every owner's record holds this kind's slice (a list, empty when the owner has none);
   * otherwise the slice is present only when the owner has an object of this kind.
   */
  readonly always?: boolean;
  create(ctx: Ctx, tx: StepRunner, desired: Desired): Promise<Made>;
  delete(ctx: Ctx, made: Made): Promise<void>;
  check(ctx: Ctx, made: Made, desired: Desired): Promise<CheckProblem[]>;
  verify(ctx: Ctx, made: Made, inventory: Inventory): CheckProblem[];
  owned(inventory: Inventory): FoundObject<Made>[];
}

/**
 * Any kind of a registry whose kinds share a context and an inventory (methods are declared as methods,
 * so a kind with its own `Desired` and `Made` is one of these).
 */
export type AnyObjectKind<Ctx, Inventory> = ObjectKind<Ctx, unknown, unknown, Inventory>;

/** The tolerant delete every kind's `delete` is built from: runs `fn`, and treats `isGone(err)` as done. */
export async function deleteIgnoringGone(fn: () => Promise<unknown>, isGone: (e: unknown) => boolean): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (isGone(e)) return;
    throw e;
  }
}
