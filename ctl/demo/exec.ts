/**
 * Child processes for the demo: commands run with argument arrays (never a shell), every wait bounded by
 * a timeout, and results returned rather than thrown, so the demo can print what happened and go on.
 * Long-running children (simulator, agent) get their own process group, write to a log file, and are
 * stopped by their id: SIGTERM, then SIGKILL when they do not exit in time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

export interface CommandResult {
  /** Exit status; null when the command was killed (timeout) or could not be started. */
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Set when the command could not be started (ENOENT, EACCES...). */
  spawnError?: string;
}

export interface CommandOptions {
  timeoutMs: number;
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Own process group: a Ctrl-C in the terminal does not reach it, so a plugin call in flight finishes
   * and the demo cleans up in order.
   */
  detached?: boolean;
}

/** Runs `command args...` and resolves with its exit status and output. Never rejects. */
export function runCommand(command: string, args: readonly string[], opts: CommandOptions): Promise<CommandResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    let p: ChildProcess;
    const finish = (r: CommandResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    try {
      p = spawn(command, [...args], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: opts.env ?? process.env,
        ...(opts.cwd ? { cwd: opts.cwd } : {}),
        detached: opts.detached ?? false,
      });
    } catch (e) {
      resolve({ code: null, stdout, stderr, timedOut, spawnError: (e as Error).message });
      return;
    }
    const timer = setTimeout(() => {
      timedOut = true;
      killTree(p, 'SIGKILL', opts.detached ?? false);
    }, opts.timeoutMs);
    p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', (e: NodeJS.ErrnoException) => finish({ code: null, stdout, stderr, timedOut, spawnError: e.code ?? e.message }));
    p.on('close', (code) => finish({ code: timedOut ? null : code, stdout, stderr, timedOut }));
    p.stdin!.on('error', () => undefined);
    p.stdin!.end(opts.input ?? '');
  });
}

/** One line naming why a command did not succeed (exit status, timeout, or start failure). */
export function failureOf(r: CommandResult, timeoutMs?: number): string {
  if (r.spawnError) return `cannot run (${r.spawnError})`;
  if (r.timedOut) return `timed out${timeoutMs ? ` after ${timeoutMs / 1000} s` : ''}`;
  const err = r.stderr.trim().split('\n').filter(Boolean).slice(-3).join(' / ');
  return `exit status ${r.code}${err ? `: ${err}` : ''}`;
}

function killTree(p: ChildProcess, signal: NodeJS.Signals, group: boolean): void {
  if (p.pid === undefined || p.exitCode !== null || p.signalCode !== null) return;
  try {
    if (group) process.kill(-p.pid, signal);
    else p.kill(signal);
  } catch {
    // already gone
  }
}

export interface ServiceOptions {
  name: string;
  command: string;
  args: readonly string[];
  cwd: string;
  /** stdout and stderr of the child go to this file. */
  logFile: string;
  env?: NodeJS.ProcessEnv;
}

/** A long-running child (simulator, agent) in its own process group, logging to a file. */
export class Service {
  readonly name: string;
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private spawnError: string | undefined;

  private constructor(opts: ServiceOptions) {
    this.name = opts.name;
    const fd = openSync(opts.logFile, 'a');
    try {
      this.child = spawn(opts.command, [...opts.args], {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        stdio: ['ignore', fd, fd],
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    this.exited = new Promise((resolve) => {
      this.child.once('error', (e: NodeJS.ErrnoException) => {
        this.spawnError = e.code ?? e.message;
        this.exitInfo ??= { code: null, signal: null };
        resolve();
      });
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve();
      });
    });
  }

  static start(opts: ServiceOptions): Service {
    return new Service(opts);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** How it ended, for messages: "exit status 2", "killed by SIGKILL", "cannot start (ENOENT)". */
  get exitDescription(): string {
    if (this.spawnError) return `cannot start (${this.spawnError})`;
    const e = this.exitInfo;
    if (!e) return 'running';
    return e.signal ? `killed by ${e.signal}` : `exit status ${e.code}`;
  }

  /** SIGTERM to its process group; SIGKILL after `timeoutMs`. Resolves with how it stopped. */
  async stop(timeoutMs = 10_000): Promise<'stopped' | 'killed' | 'not running'> {
    if (!this.running) return 'not running';
    killTree(this.child, 'SIGTERM', true);
    if (await this.waitExit(timeoutMs)) return 'stopped';
    killTree(this.child, 'SIGKILL', true);
    await this.waitExit(5_000);
    return 'killed';
  }

  /** Last resort (process exit, second Ctrl-C): SIGKILL now, synchronously. */
  killNow(): void {
    if (this.running) killTree(this.child, 'SIGKILL', true);
  }

  /** True when the child exited within `timeoutMs`. */
  async waitExit(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
    const r = await Promise.race([this.exited.then(() => true as const), timeout]);
    clearTimeout(timer);
    return r;
  }
}

/** Polls `check` every `intervalMs` until it returns a value, `timeoutMs` passes (undefined) or `abort` says so. */
export async function waitFor<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs: number, abort?: () => boolean, intervalMs = 50): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() >= deadline || abort?.()) return undefined;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
