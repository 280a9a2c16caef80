/**
 * The fuzz runner: a seeded generator, mutators, and a loop that feeds one surface until it has seen its
 * number of inputs or its time is up, counting what must never happen (crashes, inputs over their time
 * bound, code 999 for input errors, stack traces in output). Failing inputs are saved for replay.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** xorshift128+ on 32-bit halves (deterministic for a seed, fast, good enough for fuzzing). */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    // splitmix32 to spread the seed
    const mix = (x: number): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = mix(seed) || 1;
    this.s1 = mix(this.s0);
    this.s2 = mix(this.s1);
    this.s3 = mix(this.s2);
  }

  /** Uniform in [0, 2^32). */
  u32(): number {
    const t = this.s0 ^ (this.s0 << 11);
    this.s0 = this.s1;
    this.s1 = this.s2;
    this.s2 = this.s3;
    this.s3 = (this.s3 ^ (this.s3 >>> 19) ^ t ^ (t >>> 8)) >>> 0;
    return this.s3;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor((this.u32() / 0x100000000) * n);
  }

  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  /** Sizes skewed small: mostly < 16, sometimes up to `max`. */
  size(max: number): number {
    const r = this.int(100);
    if (r < 70) return this.int(Math.min(16, max + 1));
    if (r < 95) return this.int(Math.min(1024, max + 1));
    return this.int(max + 1);
  }
}

/** Numbers at the edges of the widths and checks the surfaces have. */
export const EDGE_NUMBERS = [
  '0', '-1', '1', '2', '3', '7', '8', '15', '16', '255', '256', '1000', '1024', '4096', '16384', '32768', '65535', '65536', '70000',
  '2147483647', '2147483648', '4294967295', '4294967296', '6442450944', '9007199254740993', '1e309', '-0', '1.5', '1e2', '0x10', 'NaN', '00', '1_0',
];
export const EDGE_STRINGS = [
  '', ' ', '\u0000', '\n', '\r\n', '\t', '\u001b[2J', '\u0085', '\u2028', '\u202e', '\ufeff', '\ud800', '😀', '"', '\\', "'", '__proto__', 'constructor',
  'prototype', 'toString', '..', '/', 'a/b', '%s%n', '${x}', '{{x}}', 'eth0', 'memif1', 'a'.repeat(64),
];

/** Mutates text with byte-level and structure-aware edits drawn from `tokens`. */
export function mutate(rng: Rng, s: string, tokens: readonly string[], maxLength: number): string {
  let out = s;
  const n = 1 + rng.int(rng.chance(0.2) ? 12 : 3);
  for (let k = 0; k < n; k++) {
    const at = rng.int(out.length + 1);
    switch (rng.int(11)) {
      case 0: // flip a character
        if (out.length) out = out.slice(0, at) + String.fromCharCode(out.charCodeAt(at % out.length) ^ (1 << rng.int(7))) + out.slice(at + 1);
        break;
      case 1: // delete a range
        out = out.slice(0, at) + out.slice(at + rng.size(32));
        break;
      case 2: // insert a token
      case 3:
        out = out.slice(0, at) + rng.pick(tokens) + out.slice(at);
        break;
      case 4: // insert an edge string
        out = out.slice(0, at) + rng.pick(EDGE_STRINGS) + out.slice(at);
        break;
      case 5: {
        // replace a number with an edge number
        const m = /\d+/.exec(out.slice(at));
        if (m) out = out.slice(0, at + m.index) + rng.pick(EDGE_NUMBERS) + out.slice(at + m.index + m[0].length);
        break;
      }
      case 6: {
        // repeat a slice (long lists, deep nesting)
        const len = 1 + rng.int(16);
        const piece = out.slice(at, at + len) || rng.pick(tokens);
        const times = rng.chance(0.1) ? rng.int(Math.max(1, Math.floor(maxLength / Math.max(1, piece.length)))) : rng.int(64);
        out = out.slice(0, at) + piece.repeat(times) + out.slice(at);
        break;
      }
      case 7: {
        // deep nesting
        const open = rng.pick(['[', '{"a":', '{', '[[', 'a: ', '- ', '? ']);
        const d = rng.chance(0.1) ? rng.int(10_000) : rng.int(100);
        out = out.slice(0, at) + open.repeat(d) + out.slice(at);
        break;
      }
      case 8: // random bytes
        out = out.slice(0, at) + Array.from({ length: 1 + rng.int(8) }, () => String.fromCharCode(rng.int(rng.chance(0.8) ? 128 : 0x10000))).join('') + out.slice(at);
        break;
      case 9: // truncate
        out = out.slice(0, at);
        break;
      case 10: {
        // duplicate a range elsewhere (repeated keys)
        const a = rng.int(out.length + 1);
        const piece = out.slice(a, a + rng.size(64));
        out = out.slice(0, at) + piece + out.slice(at);
        break;
      }
    }
    if (out.length > maxLength) out = out.slice(0, maxLength);
  }
  return out;
}

export type Failure = 'crash' | 'hang' | 'code999' | 'stack' | 'unexpected';

/** What one input did: fine, or a failure with a description. */
export type Outcome = undefined | { failure: Failure; detail: string };

export interface Surface {
  name: string;
  /** in-process (≥ 100,000 inputs) or process (≥ 1,000: a process or a socket per input). */
  level: 'in-process' | 'process';
  /** Inputs to run (the run stops earlier when its time is up). */
  target: number;
  /** Per-input bound in ms: an input taking longer is a hang. */
  boundMs: number;
  /** Inputs run at once (async surfaces). */
  concurrency?: number;
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
  /** Generates input `i` from `rng` and runs it; returns the input (for saving) and what happened. */
  one(rng: Rng, i: number): { input: string | Buffer; run: () => Outcome | Promise<Outcome> };
}

export interface SurfaceStats {
  name: string;
  level: Surface['level'];
  inputs: number;
  target: number;
  seconds: number;
  crash: number;
  hang: number;
  code999: number;
  stack: number;
  unexpected: number;
  maxMs: number;
  p99Ms: number;
  saved: string[];
}

/** A stack frame as Node prints it. */
export const STACK_RE = /\n\s+at (?:[^\n]+ \()?(?:\/|node:|file:)[^\n]*:\d+:\d+\)?/;
/** Characters that must never reach an error message raw. */
export const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/;

export async function runSurface(s: Surface, seed: number, seconds: number, findingsDir: string): Promise<SurfaceStats> {
  const rng = new Rng(seed ^ hash(s.name));
  const stats: SurfaceStats = { name: s.name, level: s.level, inputs: 0, target: s.target, seconds: 0, crash: 0, hang: 0, code999: 0, stack: 0, unexpected: 0, maxMs: 0, p99Ms: 0, saved: [] };
  const times: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await s.setup?.();
  const record = (i: number, input: string | Buffer, o: NonNullable<Outcome>): void => {
    stats[o.failure]++;
    if (stats.saved.length < 20) {
      mkdirSync(findingsDir, { recursive: true });
      const f = join(findingsDir, `${s.name}-${seed}-${i}.${o.failure}`);
      writeFileSync(f, input);
      writeFileSync(`${f}.txt`, `${o.detail}\n`);
      stats.saved.push(f);
    }
  };
  const runOne = async (i: number): Promise<void> => {
    const { input, run } = s.one(rng, i);
    const t0 = performance.now();
    let o: Outcome;
    try {
      o = await withBound(run, s.boundMs * 20);
    } catch (e) {
      o = { failure: 'crash', detail: e instanceof Error ? (e.stack ?? e.message) : String(e) };
    }
    let ms = performance.now() - t0;
    if (!o && ms > s.boundMs) {
      // Over the bound: run it again, so a GC pause or a busy machine is not taken for a slow input.
      const t1 = performance.now();
      try {
        o = await withBound(run, s.boundMs * 20);
      } catch (e) {
        o = { failure: 'crash', detail: e instanceof Error ? (e.stack ?? e.message) : String(e) };
      }
      ms = Math.min(ms, performance.now() - t1);
      if (!o && ms > s.boundMs) o = { failure: 'hang', detail: `${ms.toFixed(1)} ms twice, bound ${s.boundMs} ms` };
    }
    times.push(ms);
    if (ms > stats.maxMs) stats.maxMs = ms;
    if (o) record(i, input, o);
    stats.inputs++;
  };
  try {
    let i = 0;
    const lanes = Array.from({ length: s.concurrency ?? 1 }, async () => {
      while (i < s.target && performance.now() < deadline) await runOne(i++);
    });
    await Promise.all(lanes);
  } finally {
    await s.teardown?.();
  }
  stats.seconds = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  stats.p99Ms = times.length ? times[Math.min(times.length - 1, Math.floor(times.length * 0.99))]! : 0;
  return stats;
}

/** Runs `fn`; an async one that does not settle within `ms` is a hang (its promise is left behind). */
async function withBound(fn: () => Outcome | Promise<Outcome>, ms: number): Promise<Outcome> {
  const r = fn();
  if (!(r instanceof Promise)) return r;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([r, new Promise<Outcome>((resolve) => (timer = setTimeout(() => resolve({ failure: 'hang', detail: `did not settle within ${ms} ms` }), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
