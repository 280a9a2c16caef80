/**
 * Drives the plugin's dispatcher from maps and buffers; temp dirs and a scripted fake delegate.
 * With VPPCNI_TEST_PLUGIN_BINARY set (a path, or 1 for dist/vpp-cni) every run that injects no commands
 * module and gives stdin as bytes executes the built binary instead, with exactly that environment:
 * `npm run test:plugin-binary` runs the plugin suites against what ships.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dispatch, type CommandsModule } from '../../cni-plugin/skel.js';

export const HOST_LOCAL_DIR = '/usr/lib/cni';

export interface RunOutput {
  code: number;
  exitCalls: number[];
  stdout: string;
  stderr: string;
  /** stdout parsed (undefined when empty). */
  json: Record<string, unknown> | undefined;
}

export interface RunOptions {
  loadCommands?: () => Promise<CommandsModule>;
}

/** The binary the runs execute, or undefined for in-process runs. */
export function pluginBinary(): string | undefined {
  const v = process.env['VPPCNI_TEST_PLUGIN_BINARY'];
  if (!v) return undefined;
  return v === '1' ? join(process.cwd(), 'dist', 'vpp-cni') : v;
}

function execBinary(bin: string, env: Record<string, string>, input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === null) reject(new Error(`${bin} was killed by ${signal}`));
      else resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/**
 * The delegate-version cache of every run goes to one temp dir per test file (removed after it), not to
 * the host's /run/vpp-cni, unless the test names one.
 */
let cacheDir: string | undefined;
afterAll(() => {
  if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
  cacheDir = undefined;
});
function harnessCacheDir(): string {
  cacheDir ??= mkdtempSync(join(tmpdir(), 'vpp-cni-ipamcache-'));
  return join(cacheDir, 'versions');
}

export async function runPlugin(givenEnv: Record<string, string>, stdin: string | object | (() => Promise<string>), opts: RunOptions = {}): Promise<RunOutput> {
  const env = { VPPCNI_IPAM_CACHE_DIR: harnessCacheDir(), ...givenEnv };
  let stdout = '';
  let stderr = '';
  const exitCalls: number[] = [];
  const input = typeof stdin === 'object' ? JSON.stringify(stdin) : stdin;
  const bin = pluginBinary();
  if (bin && !opts.loadCommands && typeof input === 'string') {
    const r = await execBinary(bin, env, input);
    const text = r.stdout.trim();
    return { code: r.code, exitCalls: [r.code], stdout: r.stdout, stderr: r.stderr, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  }
  const code = await dispatch({
    env,
    stdin: input,
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    exit: (c) => exitCalls.push(c),
    ...(opts.loadCommands ? { loadCommands: opts.loadCommands } : {}),
  });
  const text = stdout.trim();
  return { code, exitCalls, stdout, stderr, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

/** A fresh directory under the OS temp dir; remove it with removeDir. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `vpp-cni-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Writes an executable /bin/sh script. */
export function writeScript(path: string, body: string): string {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/**
 * A scripted IPAM plugin in `dir`: logs each CNI_COMMAND to dir/log and its stdin to dir/stdin.<COMMAND>,
 * answers VERSION with `versions`, and runs `body` (shell) for the other commands.
 */
export function writeFakeIpam(dir: string, name: string, versions: string[], body = 'exit 0'): string {
  return writeScript(
    join(dir, name),
    [
      `echo "$CNI_COMMAND" >> "${dir}/log"`,
      `cat > "${dir}/stdin.$CNI_COMMAND"`,
      `if [ "$CNI_COMMAND" = VERSION ]; then echo '${JSON.stringify({ cniVersion: versions.at(-1), supportedVersions: versions })}'; exit 0; fi`,
      body,
    ].join('\n'),
  );
}
