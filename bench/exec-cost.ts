/**
 * What one exec of a program costs, wall and CPU: the program is run `runs` times one after the other;
 * wall time is measured per run, CPU time as the growth of this process's cutime + cstime
 * (/proc/self/stat: the user and system time of reaped children, in clock ticks), divided by the runs.
 * The tick is 10 ms, so CPU needs tens of runs to mean anything. Children of this process that end during
 * the measurement count too: measure with nothing else running from this process.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';

const TICKS_PER_S = 100; // USER_HZ on Linux

/** Reaped children's CPU time so far, in ms. */
export function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  // fields after the command name (which is in parentheses and may hold spaces)
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // cutime and cstime are fields 16 and 17 of the whole line, 14 and 15 after pid and comm
  return ((Number(f[13]) + Number(f[14])) * 1000) / TICKS_PER_S;
}

export interface ExecResult {
  code: number;
  out: string;
  ms: number;
}

/** Runs `bin` once with `env` and `stdin`; resolves when it has exited (60 s bound). */
export function execOnce(bin: string, args: string[], env: Record<string, string>, stdin: string): Promise<ExecResult> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve) => {
    const p = execFile(bin, args, { env, timeout: 60_000 }, (err, out) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: String(out), ms: Number(process.hrtime.bigint() - t0) / 1e6 });
    });
    p.stdin!.on('error', () => undefined);
    p.stdin!.end(stdin);
  });
}

export function pct(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
}

export interface StartCost {
  label: string;
  wallP50: number;
  wallP99: number;
  /** Mean CPU (user + system) per exec, ms. */
  cpu: number;
}

/** `runs` sequential execs; fails if one exits non-zero. */
export async function startCost(label: string, bin: string, args: string[], env: Record<string, string>, stdin: string, runs: number): Promise<StartCost> {
  await execOnce(bin, args, env, stdin); // page cache
  const walls: number[] = [];
  const cpu0 = childrenCpuMs();
  for (let i = 0; i < runs; i++) {
    const r = await execOnce(bin, args, env, stdin);
    if (r.code !== 0) throw new Error(`${label}: exit status ${r.code}: ${r.out.slice(0, 200)}`);
    walls.push(r.ms);
  }
  return { label, wallP50: pct(walls, 0.5), wallP99: pct(walls, 0.99), cpu: (childrenCpuMs() - cpu0) / runs };
}

/** `tsx bench/exec-cost.ts BIN...`: VERSION start-up cost of each binary given (for comparing builds). */
if (process.argv[1]?.endsWith('exec-cost.ts')) {
  const runs = 60;
  const env = { CNI_COMMAND: 'VERSION', PATH: '/usr/bin:/bin' };
  for (const bin of process.argv.slice(2)) {
    const [b, ...a] = bin.split(' ');
    const c = await startCost(bin, b!, a, env, '{"cniVersion":"1.1.0"}', runs);
    console.log(`${c.label.padEnd(50)} wall p50 ${c.wallP50.toFixed(1).padStart(6)} ms  p99 ${c.wallP99.toFixed(1).padStart(6)} ms  CPU ${c.cpu.toFixed(1).padStart(5)} ms/exec`);
  }
}
