/**
 * Index allocation the way VPP's vppinfra does it.
 *
 * IndexPool mirrors `pool_get` / `pool_put`: a freed index goes on a free list and the most recently freed
 * one is handed out first; with no free index the pool grows by one. sw_if_index, socket registrations,
 * pbl clients and app namespaces all come from such pools, which is why a fresh VPP that created and
 * deleted interfaces 1 then 2 hands out 2 before 1.
 *
 * lowestFree mirrors `clib_bitmap_first_clear`, used for loopback instances and tap ids.
 */
export class IndexPool {
  private nextIndex = 0;
  private readonly freeList: number[] = [];
  private readonly live = new Set<number>();

  alloc(): number {
    const i = this.freeList.length > 0 ? this.freeList.pop()! : this.nextIndex++;
    this.live.add(i);
    return i;
  }

  release(i: number): void {
    if (!this.live.delete(i)) return;
    this.freeList.push(i);
  }

  has(i: number): boolean {
    return this.live.has(i);
  }

  get size(): number {
    return this.live.size;
  }

  /** Live indexes in ascending order (pool_foreach order). */
  indexes(): number[] {
    return [...this.live].sort((a, b) => a - b);
  }
}

export function lowestFree(used: ReadonlySet<number>, from = 0): number {
  let i = from;
  while (used.has(i)) i++;
  return i;
}

/**
 * VPP's random_u32 (vppinfra/random.h): the linear congruential generator
 * seed = 1664525 * seed + 1013904223 (mod 2^32). Memif picks auto socket ids with it from seed 0,
 * which is why a fresh VPP hands out 1013904223, 1196435762, 3519870697, ...
 */
export class VppRandom {
  constructor(private seed = 0) {}

  next(): number {
    this.seed = (Math.imul(this.seed, 1664525) + 1013904223) >>> 0;
    return this.seed;
  }
}
