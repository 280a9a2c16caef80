import { z } from 'zod';
import type { ObjectKind } from '../../agent/objects/kind.js';
import { DuplicateKindError, ObjectRegistry } from '../../agent/objects/registry.js';

interface Inv {
  things: { id: number; tag: string }[];
}
interface Ctx {
  log: string[];
}

function kind(name: string): ObjectKind<Ctx, { n: number }, { id: number }, Inv> {
  return {
    name,
    schema: z.strictObject({ id: z.number().int().nonnegative() }),
    create: (_c, tx, d) => tx.step(`${name} create`, () => Promise.resolve({ id: d.n })),
    delete: (c, m) => {
      c.log.push(`${name} ${m.id}`);
      return m.id === 99 ? Promise.reject(new Error('refused')) : Promise.resolve();
    },
    check: () => Promise.resolve([]),
    verify: (_c, m, inv) => (inv.things.some((t) => t.id === m.id) ? [] : [{ object: `${name} ${m.id}`, problem: 'missing' }]),
    owned: (inv) => inv.things.filter((t) => t.tag.startsWith(`${name}:`)).map((t) => ({ owner: t.tag.slice(name.length + 1), made: { id: t.id }, describe: `${name} ${t.id}` })),
  };
}

describe('ObjectRegistry', () => {
  it('refuses a kind registered twice', () => {
    expect(() => new ObjectRegistry<Ctx, Inv>([kind('a'), kind('a')])).toThrow(DuplicateKindError);
  });

  it('composes the checkpoint slices: known kinds parsed by their schema, unknown keys refused', () => {
    const s = new ObjectRegistry<Ctx, Inv>([kind('a'), kind('b')]).schema();
    expect(s.parse({ a: { id: 1 } })).toEqual({ a: { id: 1 } });
    expect(s.safeParse({ a: { id: -1 } }).success).toBe(false);
    expect(s.safeParse({ c: { id: 1 } }).success).toBe(false);
  });

  it('deletes newest kind first, attempts every kind, and names the failures', async () => {
    const r = new ObjectRegistry<Ctx, Inv>([kind('a'), kind('b'), kind('c')]);
    const ctx: Ctx = { log: [] };
    const failures = await r.deleteAll(ctx, { a: { id: 1 }, b: { id: 99 }, c: { id: 3 } });
    expect(ctx.log).toEqual(['c 3', 'b 99', 'a 1']);
    expect(failures).toEqual(['b: refused']);
  });

  it('verifies and lists owned objects per kind', () => {
    const r = new ObjectRegistry<Ctx, Inv>([kind('a'), kind('b')]);
    const inv: Inv = { things: [{ id: 1, tag: 'a:x' }, { id: 2, tag: 'b:y' }, { id: 3, tag: 'other' }] };
    expect(r.verify({ log: [] }, { a: { id: 1 }, b: { id: 7 } }, inv)).toEqual([{ object: 'b 7', problem: 'missing' }]);
    expect([...r.owned(inv)].map(([k, v]) => [k, v.map((f) => f.owner)])).toEqual([
      ['a', ['x']],
      ['b', ['y']],
    ]);
  });
});
