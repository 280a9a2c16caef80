/**
 * The table of object kinds: one line per kind. Everything generic over kinds (the pod layer's ADD, DEL
 * and CHECK, adoption, re-creation, the sweep, the checkpoint record) walks a registry instead of naming
 * kinds; adding a kind is one module and one `register` line.
 */
import { z } from 'zod';
import type { AnyObjectKind, CheckProblem, FoundObject } from './kind.js';

export class DuplicateKindError extends Error {
  override readonly name = 'DuplicateKindError';
}

export class ObjectRegistry<Ctx, Inventory, K extends AnyObjectKind<Ctx, Inventory> = AnyObjectKind<Ctx, Inventory>> {
  private readonly kinds = new Map<string, K>();

  constructor(kinds: readonly K[] = []) {
    for (const k of kinds) this.register(k);
  }

  /** Adds a kind; names are unique (a second kind of the same name is a programming error). */
  register(kind: K): this {
    if (this.kinds.has(kind.name)) throw new DuplicateKindError(`object kind "${kind.name}" is registered twice`);
    this.kinds.set(kind.name, kind);
    return this;
  }

  get(name: string): K | undefined {
    return this.kinds.get(name);
  }

  /** Like `get`, for a name that must be known (a record's slice read back through `schema()`). */
  require(name: string): K {
    const k = this.kinds.get(name);
    if (!k) throw new Error(`unknown object kind "${name}" (known: ${this.names().join(', ')})`);
    return k;
  }

  /** In registration order: creation runs in it, deletion in reverse. */
  all(): K[] {
    return [...this.kinds.values()];
  }

  names(): string[] {
    return [...this.kinds.keys()];
  }

  /**
   * The checkpoint's objects: one slice per registered kind (optional unless the kind is `always`), each
   * parsed by its kind's schema; unknown keys are refused (a slice of a kind this agent does not know
   * cannot be deleted by it). `composeSlices` gives the same schema with its static type.
   */
  schema(): z.ZodType<Record<string, unknown>> {
    return z.strictObject(sliceShape(this.all())) as unknown as z.ZodType<Record<string, unknown>>;
  }

  /** Every kind's `verify` over the slices present in `made` (keyed by kind name). */
  verify(ctx: Ctx, made: Readonly<Record<string, unknown>>, inventory: Inventory): CheckProblem[] {
    const out: CheckProblem[] = [];
    for (const k of this.kinds.values()) {
      const slice = made[k.name];
      if (slice !== undefined) out.push(...k.verify(ctx, slice, inventory));
    }
    return out;
  }

  /** Every kind's objects in the inventory, by kind name. */
  owned(inventory: Inventory): Map<string, FoundObject<unknown>[]> {
    const out = new Map<string, FoundObject<unknown>[]>();
    for (const k of this.kinds.values()) out.set(k.name, k.owned(inventory) as FoundObject<unknown>[]);
    return out;
  }

  /**
   * Deletes the slices present in `made`, newest kind first (dependents are registered after what they
   * hang off). Every kind is attempted; the failures are returned, named by kind.
   */
  async deleteAll(ctx: Ctx, made: Readonly<Record<string, unknown>>): Promise<string[]> {
    const failures: string[] = [];
    for (const k of [...this.kinds.values()].reverse()) {
      const slice = made[k.name];
      if (slice === undefined) continue;
      try {
        await k.delete(ctx, slice);
      } catch (e) {
        failures.push(`${k.name}: ${(e as Error).message}`);
      }
    }
    return failures;
  }
}

/** A kind as far as the checkpoint goes: its name, its slice's schema, whether every record has the slice. */
export interface SliceKind {
  readonly name: string;
  readonly schema: z.ZodType;
  readonly always?: boolean;
}

/** The zod shape of a record's slices: `always` kinds required, the others optional. */
export type SliceShape<Ks extends readonly SliceKind[]> = {
  [K in Ks[number] as K['name']]: K extends { always: true } ? K['schema'] : z.ZodOptional<K['schema']>;
};

function sliceShape(kinds: readonly SliceKind[]): Record<string, z.ZodType> {
  const shape: Record<string, z.ZodType> = {};
  for (const k of kinds) shape[k.name] = k.always ? k.schema : k.schema.optional();
  return shape;
}

/**
 * The checkpoint slices of a fixed table of kinds as one strict zod object, typed from the table: the
 * record type is inferred from it (no second copy of the record's shape).
 */
export function composeSlices<const Ks extends readonly SliceKind[]>(kinds: Ks): z.ZodObject<SliceShape<Ks>, z.core.$strict> {
  return z.strictObject(sliceShape(kinds)) as unknown as z.ZodObject<SliceShape<Ks>, z.core.$strict>;
}
