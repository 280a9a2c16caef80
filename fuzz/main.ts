/**
 * npm run fuzz [-- --seed N] [--seconds S] [--only name,name] [--scale F] [--findings DIR]
 *
 * Runs every surface with a seeded generator, each until it has seen its number of inputs (100,000
 * in-process, 1,000 at process level, times --scale) or its time (--seconds, per surface) is up, and prints
 * a table of inputs, time and failures (a surface that ran out of time first shows "(of N)"). Exit status 1
 * when any surface had a failure. Not part of npm test. Failing inputs are saved under --findings (default:
 * a temp dir). The default (30 s per surface, nine surfaces) stays under five minutes.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSurface, type Surface, type SurfaceStats } from './lib.js';
import { annotationsSurface } from './surfaces/annotations.js';
import { checkpointSurface } from './surfaces/checkpoint.js';
import { grpcSurface } from './surfaces/grpc.js';
import { pluginProcessSurface, pluginSurface } from './surfaces/plugin.js';
import { podsFileSurface, podsFileWorkerSurface } from './surfaces/pods-file.js';
import { vppFramesSurface, vppLiveSurface } from './surfaces/vpp-frames.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const seed = Number(arg('seed') ?? 1);
const seconds = Number(arg('seconds') ?? 30);
const scale = Number(arg('scale') ?? 1);
const only = arg('only')?.split(',');
const findings = arg('findings') ?? join(tmpdir(), `vppcni-fuzz-findings-${seed}`);

const all: Surface[] = [annotationsSurface(), pluginSurface(), pluginProcessSurface(), grpcSurface(), vppFramesSurface(), vppLiveSurface(), checkpointSurface(), podsFileSurface(), podsFileWorkerSurface()];
const surfaces = all.filter((s) => !only || only.some((o) => s.name.toLowerCase().includes(o.toLowerCase())));

const rows: SurfaceStats[] = [];
let bad = false;
for (const s of surfaces) {
  s.target = Math.max(1, Math.round(s.target * scale));
  process.stderr.write(`fuzz: ${s.name} (${s.level}, ${s.target} inputs, at most ${seconds} s)…\n`);
  let st: SurfaceStats;
  try {
    st = await runSurface(s, seed, seconds, findings);
  } catch (e) {
    process.stderr.write(`fuzz: ${s.name}: could not run: ${(e as Error).message}\n`);
    bad = true;
    continue;
  }
  rows.push(st);
  const failures = st.crash + st.hang + st.code999 + st.stack + st.unexpected;
  if (failures > 0) bad = true;
  process.stderr.write(`fuzz: ${s.name}: ${st.inputs} inputs in ${st.seconds.toFixed(1)} s, ${failures} failures${st.saved.length ? ` (saved: ${st.saved[0]} …)` : ''}\n`);
}

const line = (cells: (string | number)[]): string => `| ${cells.join(' | ')} |`;
process.stdout.write(`\nseed ${seed}, ${seconds} s per surface at most, node ${process.version}\n\n`);
process.stdout.write(`${line(['surface', 'level', 'inputs', 'seconds', 'crashes', 'hangs', 'code 999', 'stack traces', 'other', 'p99 ms', 'max ms'])}\n`);
process.stdout.write(`${line(['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:'])}\n`);
for (const r of rows) {
  process.stdout.write(`${line([r.name, r.level, `${r.inputs}${r.inputs < r.target ? ` (of ${r.target})` : ''}`, r.seconds.toFixed(1), r.crash, r.hang, r.code999, r.stack, r.unexpected, r.p99Ms.toFixed(2), r.maxMs.toFixed(1)])}\n`);
}
process.stdout.write(`\nfindings: ${rows.some((r) => r.saved.length) ? findings : 'none'}\n`);
process.exit(bad ? 1 : 0);
