/**
 * `npm run build:plugin [-- --no-snapshot]`: builds dist/vpp-cni, a single executable that runs on a host
 * with no Node and no node_modules: esbuild bundles the plugin into one CommonJS file, Node's
 * single-executable support (SEA) turns it into a blob, and postject injects the blob into a copy of this
 * Node binary. By default the blob carries a V8 start-up snapshot in which every module is already loaded
 * (cni-plugin/snapshot-entry.ts); --no-snapshot builds from cni-plugin/bin.ts with a code cache instead.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const ROOT = resolve(process.cwd());
const OUT_DIR = join(ROOT, 'dist');
const WORK = join(OUT_DIR, 'plugin-build');
const BINARY = join(OUT_DIR, 'vpp-cni');
const SENTINEL = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

async function main(): Promise<void> {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const snapshot = !process.argv.includes('--no-snapshot');
  const bundle = join(WORK, 'vpp-cni.cjs');
  const t0 = Date.now();
  await build({
    entryPoints: [join(ROOT, snapshot ? 'cni-plugin/snapshot-entry.ts' : 'cni-plugin/bin.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile: bundle,
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const seaConfig = join(WORK, 'sea-config.json');
  const blob = join(WORK, 'sea-prep.blob');
  const sea = { main: bundle, output: blob, disableExperimentalSEAWarning: true, ...(snapshot ? { useSnapshot: true } : { useCodeCache: true }) };
  writeFileSync(seaConfig, JSON.stringify(sea));
  execFileSync(process.execPath, ['--experimental-sea-config', seaConfig], { stdio: 'inherit', timeout: 120_000 });
  const tmp = `${BINARY}.tmp`;
  copyFileSync(process.execPath, tmp);
  chmodSync(tmp, 0o755);
  const postject = join(ROOT, 'node_modules', 'postject', 'dist', 'cli.js');
  execFileSync(process.execPath, [postject, tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SENTINEL], { stdio: 'inherit', timeout: 120_000 });
  // Atomic replace, so a running test never sees half a binary.
  execFileSync('mv', ['-f', tmp, BINARY]);
  const mb = (statSync(BINARY).size / 1e6).toFixed(0);
  console.log(`build:plugin: ${BINARY} (${mb} MB, bundle ${(statSync(bundle).size / 1e6).toFixed(2)} MB, ${snapshot ? 'start-up snapshot' : 'code cache'}) in ${Date.now() - t0} ms`);
}

main().catch((e: unknown) => {
  console.error(`build:plugin: ${(e as Error).message}`);
  process.exitCode = 1;
});
