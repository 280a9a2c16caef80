/**
 * `npm run generate:contract [-- --check]`: writes contract/generated/ from contract/cni-backend.proto
 * (run from the repository root). With --check, compares instead and exits 1 on any difference.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GENERATED_DIR, PROTO_FILE, generateContract } from './generate.js';

const check = process.argv.includes('--check');
const files = generateContract(readFileSync(PROTO_FILE, 'utf8'));
let differs = 0;
if (!check) mkdirSync(GENERATED_DIR, { recursive: true });
for (const [name, text] of files) {
  const path = join(GENERATED_DIR, name);
  if (!check) writeFileSync(path, text);
  else if (!existsSync(path) || readFileSync(path, 'utf8') !== text) {
    differs++;
    console.error(`generate:contract --check: ${path} differs from a fresh generation`);
  }
}
if (check) {
  for (const f of readdirSync(GENERATED_DIR).filter((x) => !files.has(x))) {
    differs++;
    console.error(`generate:contract --check: ${join(GENERATED_DIR, f)} is not produced by the generator`);
  }
  if (differs > 0) process.exit(1);
  console.log(`generate:contract --check: ${files.size} files up to date`);
} else {
  console.log(`generate:contract: wrote ${files.size} files to ${GENERATED_DIR}`);
}
