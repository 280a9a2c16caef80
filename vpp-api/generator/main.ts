/**
 * `npm run generate [-- --in DIR --out DIR] [--check]`
 * Reads VPP's `*.api.json` files (default ../shared/vpp-api) and writes one TypeScript module per file
 * into vpp-api/generated/. With --check, compares instead of writing and exits 1 on any difference.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from './generate.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const inDir = resolve(opt('--in', join(here, '../../../shared/vpp-api')));
const outDir = resolve(opt('--out', join(here, '../generated')));
const check = args.includes('--check');

if (!existsSync(inDir) || !statSync(inDir).isDirectory()) {
  console.error(`generate: input directory ${inDir} not found (pass --in DIR with VPP's .api.json files)`);
  process.exit(2);
}
const files = generate(inDir);
let differs = 0;
if (!check) mkdirSync(outDir, { recursive: true });
for (const [name, text] of files) {
  const path = join(outDir, name);
  if (check) {
    const old = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (old !== text) {
      differs++;
      console.error(`generate --check: ${relative(process.cwd(), path)} differs from a fresh generation`);
    }
  } else {
    writeFileSync(path, text);
  }
}
if (check) {
  const stale = readdirSync(outDir).filter((f) => f.endsWith('.ts') && !files.has(f));
  for (const f of stale) console.error(`generate --check: ${f} is not produced by the generator`);
  differs += stale.length;
  if (differs > 0) process.exit(1);
  console.log(`generate --check: ${files.size} files up to date`);
} else {
  console.log(`generate: wrote ${files.size} files to ${relative(process.cwd(), outDir)}`);
}
