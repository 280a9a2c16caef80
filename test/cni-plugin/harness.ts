/** Drives the plugin's dispatcher from maps and buffers; temp dirs and a scripted fake delegate. */
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

export async function runPlugin(env: Record<string, string>, stdin: string | object | (() => Promise<string>), opts: RunOptions = {}): Promise<RunOutput> {
  let stdout = '';
  let stderr = '';
  const exitCalls: number[] = [];
  const input = typeof stdin === 'object' ? JSON.stringify(stdin) : stdin;
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
