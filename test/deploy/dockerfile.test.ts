/**
 * The Dockerfile: parsed into stages and instructions, checked against the repository (the build commands
 * package.json defines, the entry points the chart runs, the plugin's path the install step reads), and the
 * TypeScript build it runs (`npm run build`) done here into a temp outDir.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SETTINGS as INSTALL_SETTINGS } from '../../deploy/install.js';

const ROOT = resolve(__dirname, '..', '..');

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Joins continuation lines, drops comments and blank lines, splits into stages at FROM. */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (cur === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      cur += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(`${cur}${line}`.trim());
    cur = '';
  }
  if (cur.trim() !== '') logical.push(cur.trim());
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^(\S+)\s+(.*)$/.exec(l);
    if (!m) throw new Error(`cannot parse Dockerfile line: ${l}`);
    const op = m[1]!.toUpperCase();
    const args = m[2]!;
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      stages.push({ from: f[1]!, name: f[2], instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`${op} before FROM`);
      stages.at(-1)!.instructions.push({ op, args });
    }
  }
  return stages;
}

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfile);
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; type: string };
const runs = (s: Stage): string => s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');

describe('Dockerfile', () => {
  test('multi-stage on node:20-bookworm-slim pinned by tag', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    for (const s of stages) expect(s.from).toBe('node:20-bookworm-slim');
    expect(stages.map((s) => s.name)).toEqual(expect.arrayContaining(['build', 'prod-deps']));
  });

  test('the build stage installs from the lock with dev dependencies and runs the build scripts package.json defines', () => {
    const build = stages.find((s) => s.name === 'build')!;
    const r = runs(build);
    expect(r).toMatch(/npm install\b/);
    expect(r).not.toContain('--omit=dev');
    expect(build.instructions.some((i) => i.op === 'COPY' && i.args.includes('package-lock.json'))).toBe(true);
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json');
    expect(pkg.scripts['build:plugin']).toBeDefined();
    expect(r).toContain('npm run build\n');
    expect(r).toContain('npm run build:plugin');
    // Every source directory the build's tsconfig includes is copied in.
    const tsconfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
    const copied = build.instructions.filter((i) => i.op === 'COPY').map((i) => i.args.split(/\s+/)[0]);
    for (const dir of tsconfig.include) expect(copied).toContain(dir);
    expect(copied).toEqual(expect.arrayContaining(['tsconfig.json']));
  });

  test('the plugin is Bun-compiled with the bun devDependency the lock file pins; nothing is downloaded outside npm and apt', () => {
    const build = stages.find((s) => s.name === 'build')!;
    expect(runs(build)).toMatch(/npm run build:plugin -- --runtime bun\b/);
    const full = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string>; dependencies: Record<string, string> };
    expect(full.devDependencies['bun']).toMatch(/^\d+\.\d+\.\d+$/); // exact version
    expect(full.dependencies['bun']).toBeUndefined(); // not in the image's production node_modules
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> };
    expect(lock.packages['node_modules/bun']?.version).toBe(full.devDependencies['bun']);
    expect(lock.packages['node_modules/@oven/bun-linux-x64']?.version).toBe(full.devDependencies['bun']);
    for (const s of stages) expect(runs(s)).not.toMatch(/\b(curl|wget)\b|\bADD\s+https?:/);
    for (const s of stages) expect(s.instructions.some((i) => i.op === 'ADD')).toBe(false);
  });

  test('production node_modules come from a separate npm install --omit=dev stage', () => {
    const deps = stages.find((s) => s.name === 'prod-deps')!;
    expect(runs(deps)).toMatch(/npm install\b.*--omit=dev/);
    const runtime = stages.at(-1)!;
    expect(runtime.instructions.some((i) => i.op === 'COPY' && i.args.includes('--from=prod-deps') && i.args.includes('node_modules'))).toBe(true);
  });

  test('the runtime stage: only iproute2, util-linux, procps, iptables from apt; dist, plugin binary, entry point', () => {
    const runtime = stages.at(-1)!;
    const r = runs(runtime);
    const m = /apt-get install -y --no-install-recommends ([^&]+)/.exec(r);
    expect(m?.[1]!.trim().split(/\s+/).sort()).toEqual(['iproute2', 'iptables', 'procps', 'util-linux']);
    const copies = runtime.instructions.filter((i) => i.op === 'COPY').map((i) => i.args);
    expect(copies.some((c) => c.includes('--from=build') && /\/src\/dist\s+\.\/dist$/.test(c))).toBe(true);
    // The install step's default source binary is where the plugin is copied.
    const binSrc = INSTALL_SETTINGS.find((s) => s.env === 'VPPCNI_INSTALL_BIN_SRC')!.default!;
    expect(copies.some((c) => c.includes('--from=build') && c.endsWith(` ${binSrc}`))).toBe(true);
    // "type": "module" for dist's ES modules.
    expect(pkg.type).toBe('module');
    expect(copies).toContain('package.json ./');
    const entry = runtime.instructions.find((i) => i.op === 'ENTRYPOINT')!;
    expect(JSON.parse(entry.args)).toEqual(['node', 'dist/agent/main.js']);
    expect(runtime.instructions.find((i) => i.op === 'WORKDIR')?.args).toBe('/opt/vpp-cni');
  });

  test('.dockerignore keeps node_modules and dist out of the build context', () => {
    const lines = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    expect(lines).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git']));
    // Nothing the build copies is ignored.
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'agent', 'deploy']) expect(lines).not.toContain(needed);
  });

  test('npm run build (tsc -p tsconfig.build.json) succeeds and yields the entry points the image runs', () => {
    const out = mkdtempSync(join(tmpdir(), 'vpp-cni-build-'));
    try {
      const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
      execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', out, '--sourceMap', 'false'], { cwd: ROOT, stdio: 'pipe', timeout: 170_000 });
      for (const f of ['agent/main.js', 'deploy/install-cni.js', 'ctl/main.js']) expect(existsSync(join(out, f))).toBe(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 180_000);
});
