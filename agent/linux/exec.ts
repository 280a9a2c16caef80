/**
 * Runs external commands with argument arrays (never a shell) and a bounded wait, in the C locale
 * (LC_ALL=C: callers recognise some failures by what the command prints, which must not be translated).
 * Errors name the command, its exit status and what it printed on stderr.
 */
import { execFile, spawn } from 'node:child_process';

export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    detail: string,
  ) {
    super(`${[command, ...args].join(' ')}: ${detail}${stderr ? `: ${stderr.trim().split('\n').slice(0, 3).join(' / ')}` : ''}`);
  }
}

export interface RunOptions {
  timeoutMs?: number;
  input?: string;
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;

/** The environment of every child process: the agent's, in the C locale. */
function childEnv(): NodeJS.ProcessEnv {
  return { ...process.env, LC_ALL: 'C', LANG: 'C' };
}

/** Runs `command args...`; resolves with stdout, rejects with CommandError (exit status, timeout, spawn error). */
export function run(command: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  if (opts.input === undefined) {
    return new Promise((resolve, reject) => {
      execFile(command, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', env: childEnv() }, (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
        if (e.killed) reject(new CommandError(command, args, null, stderr, `timed out after ${timeoutMs} ms`));
        else if (typeof e.code === 'string') reject(new CommandError(command, args, null, stderr, `cannot run (${e.code})`));
        else reject(new CommandError(command, args, typeof e.code === 'number' ? e.code : null, stderr, `exit status ${e.code}`));
      });
    });
  }
  return new Promise((resolve, reject) => {
    const p = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: childEnv() });
    let out = '';
    let err = '';
    let settled = false;
    const finish = (f: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      finish(() => reject(new CommandError(command, args, null, err, `timed out after ${timeoutMs} ms`)));
    }, timeoutMs);
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', (e: NodeJS.ErrnoException) => finish(() => reject(new CommandError(command, args, null, err, `cannot run (${e.code})`))));
    p.on('close', (code) =>
      finish(() => (code === 0 ? resolve(out) : reject(new CommandError(command, args, code, err, `exit status ${code}`)))),
    );
    p.stdin.on('error', () => undefined);
    p.stdin.end(opts.input);
  });
}
