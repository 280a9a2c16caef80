/** parse → model → emit, over a directory of `.api.json` files. Returns file name → content. */
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { emitIndex, emitModule } from './emit.js';
import { buildModel } from './model.js';
import { parseApiFile } from './parse.js';

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (e.endsWith('.api.json')) out.push(p);
  }
  return out;
}

/** The VPP version recorded next to the JSON (SOURCE.md), or "unknown". */
export function readVppVersion(inDir: string): string {
  const src = join(inDir, 'SOURCE.md');
  if (!existsSync(src)) return 'unknown';
  const m = /VPP version:\s*`([^`]+)`/.exec(readFileSync(src, 'utf8'));
  return m?.[1] ?? 'unknown';
}

export function generate(inDir: string): Map<string, string> {
  const raw = walk(inDir).map((p) => parseApiFile(p, relative(inDir, p)));
  const models = buildModel(raw);
  const version = readVppVersion(inDir);
  const out = new Map<string, string>();
  for (const m of models) out.set(`${m.module}.ts`, emitModule(m, models, version));
  out.set('index.ts', emitIndex(models, version));
  return out;
}
