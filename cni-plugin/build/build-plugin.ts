/**
 * `npm run build:plugin [-- --runtime bun|node] [--no-snapshot]`: builds dist/vpp-cni, a single executable
 * that runs on a host with no Node, no Bun and no node_modules. One plugin source (cni-plugin/), two ways
 * to make the executable; the default is the one that starts cheapest by measurement (docs/benchmarks.md,
 * *Plugin runtime*):
 *
 *  - bun (default): `bun build --compile --format=esm --splitting --minify --bytecode` of cni-plugin/bin.ts, with the Bun binary of the `bun`
 *    devDependency (its platform package, e.g. @oven/bun-linux-x64). The executable loads no .env or
 *    bunfig.toml from the directory it is run in. Needs glibc ≥ 2.17 and, for x64, a CPU with AVX2.
 *  - node: esbuild bundles the plugin into one CommonJS file, Node's single-executable support (SEA) turns it
 *    into a blob carrying a V8 start-up snapshot with every module loaded (cni-plugin/snapshot-entry.ts;
 *    --no-snapshot: a code cache of cni-plugin/bin.ts instead), postject injects it into a copy of this Node.
 *
 * Either way the new executable must answer VERSION before it replaces dist/vpp-cni (atomically).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { build } from 'esbuild';

const ROOT = resolve(process.cwd());
const OUT_DIR = join(ROOT, 'dist');
const WORK = join(OUT_DIR, 'plugin-build');
const BINARY = join(OUT_DIR, 'vpp-cni');
const SENTINEL = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const EXPECTED_VERSION = '{"cniVersion":"1.1.0","supportedVersions":["0.4.0","1.0.0","1.1.0"]}';

type Runtime = 'bun' | 'node';

function parseArgs(argv: readonly string[]): { runtime: Runtime; snapshot: boolean } {
  const i = argv.indexOf('--runtime');
  const runtime = i >= 0 ? argv[i + 1] : 'bun';
  if (runtime !== 'bun' && runtime !== 'node') throw new Error(`--runtime must be bun or node, not ${String(runtime)}`);
  return { runtime, snapshot: !argv.includes('--no-snapshot') };
}

/** The Bun executable of the installed `bun` devDependency: its platform package's binary (what the bun package's install script links). */
function findBun(root = ROOT): string {
  const arch = process.arch === 'x64' ? 'x64' : process.arch === 'arm64' ? 'aarch64' : process.arch;
  const req = createRequire(join(root, 'package.json'));
  const candidates: string[] = [];
  for (const pkg of [`@oven/bun-${process.platform}-${arch}`, `@oven/bun-${process.platform}-${arch}-musl`]) {
    try {
      candidates.push(join(dirname(req.resolve(`${pkg}/package.json`)), 'bin', 'bun'));
    } catch {
      // not installed for this platform
    }
  }
  // the install script moves the binary here (npm install without --ignore-scripts)
  candidates.push(join(root, 'node_modules', 'bun', 'bin', 'bun.exe'));
  for (const c of candidates) {
    if (!existsSync(c) || statSync(c).size < 1_000_000) continue; // bun.exe is a small placeholder until the install script replaces it
    return c;
  }
  throw new Error(`no Bun binary for ${process.platform}-${process.arch} in node_modules (looked at ${candidates.join(', ')}): run npm install, or build with --runtime node`);
}

function buildBun(tmp: string): string {
  const bun = findBun();
  const version = execFileSync(bun, ['--version'], { encoding: 'utf8', timeout: 30_000 }).trim();
  execFileSync(
    bun,
    [
      'build',
      '--compile',
      // ESM with code splitting: what only commands need (commands.ts, zod, node:http2's client) is a
      // separate chunk inside the executable, loaded by the skel's dynamic import. One file with all of
      // it costs VERSION ~6 ms more CPU per exec, ESM without splitting ~15 ms more (docs/benchmarks.md).
      '--format=esm',
      '--splitting',
      '--minify',
      '--bytecode',
      '--no-compile-autoload-dotenv',
      '--no-compile-autoload-bunfig',
      '--outfile',
      tmp,
      join(ROOT, 'cni-plugin', 'bin.ts'),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 },
  );
  return `bun ${version}, ESM + splitting, bytecode`;
}

async function buildNodeSea(tmp: string, snapshot: boolean): Promise<string> {
  const bundle = join(WORK, 'vpp-cni.cjs');
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
  copyFileSync(process.execPath, tmp);
  chmodSync(tmp, 0o755);
  const postject = join(ROOT, 'node_modules', 'postject', 'dist', 'cli.js');
  execFileSync(process.execPath, [postject, tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SENTINEL], { stdio: 'inherit', timeout: 120_000 });
  return `node ${process.version} SEA, ${snapshot ? 'start-up snapshot' : 'code cache'}, bundle ${(statSync(bundle).size / 1e6).toFixed(2)} MB`;
}

async function main(): Promise<void> {
  const { runtime, snapshot } = parseArgs(process.argv.slice(2));
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const t0 = Date.now();
  const tmp = `${BINARY}.tmp`;
  rmSync(tmp, { force: true });
  const what = runtime === 'bun' ? buildBun(tmp) : await buildNodeSea(tmp, snapshot);
  // it must run here before it replaces anything
  const out = execFileSync(tmp, [], { env: { CNI_COMMAND: 'VERSION' }, input: '', encoding: 'utf8', timeout: 30_000 }).trim();
  if (out !== EXPECTED_VERSION) throw new Error(`the new executable answered VERSION with ${JSON.stringify(out)}`);
  // Atomic replace, so a running test never sees half a binary.
  execFileSync('mv', ['-f', tmp, BINARY]);
  rmSync(WORK, { recursive: true, force: true });
  console.log(`build:plugin: ${BINARY} (${(statSync(BINARY).size / 1e6).toFixed(0)} MB, ${what}) in ${Date.now() - t0} ms`);
}

main().catch((e: unknown) => {
  console.error(`build:plugin: ${(e as Error).message}`);
  process.exitCode = 1;
});
