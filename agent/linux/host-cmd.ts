/**
 * Commands of the node dataplane's host side (routes, VXLAN, iptables), run in the agent's own netns or in a
 * named one (tests: each "node" is a netns). Argument arrays only, LC_ALL=C so outputs and errors parse the
 * same everywhere, and a bounded wait. iproute2 tools take the netns with `-n`; others run through
 * `ip netns exec`.
 */
import { execFile, spawn } from 'node:child_process';

export class HostCommandError extends Error {
  override readonly name = 'HostCommandError';
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    detail: string,
  ) {
    super(`${argv.join(' ')}: ${detail}${stderr ? `: ${stderr.trim().split('\n').slice(0, 3).join(' / ')}` : ''}`);
  }
}

export interface HostCmdOptions {
  /** A named netns (under /var/run/netns); undefined: the agent's own. */
  readonly netns?: string | undefined;
  readonly timeoutMs?: number;
}

const IPROUTE = new Set(['ip', 'bridge']);
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export class HostCmd {
  readonly netns: string | undefined;
  private readonly timeoutMs: number;

  constructor(opts: HostCmdOptions = {}) {
    if (opts.netns !== undefined && !NAME.test(opts.netns)) throw new Error(`invalid netns name ${JSON.stringify(opts.netns)}`);
    this.netns = opts.netns;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** The argv that runs `cmd args` in this netns. */
  argv(cmd: string, args: readonly string[]): string[] {
    if (this.netns === undefined) return [cmd, ...args];
    if (IPROUTE.has(cmd)) return [cmd, '-n', this.netns, ...args];
    return ['ip', 'netns', 'exec', this.netns, cmd, ...args];
  }

  /** Runs a command; resolves with stdout; rejects with HostCommandError. */
  run(cmd: string, args: readonly string[], input?: string): Promise<string> {
    const [file, ...rest] = this.argv(cmd, args);
    const env = { ...process.env, LC_ALL: 'C' };
    const argv = [file!, ...rest];
    if (input === undefined) {
      return new Promise((resolve, reject) => {
        execFile(file!, rest, { env, timeout: this.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
          if (!err) return resolve(stdout);
          const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
          if (e.killed) reject(new HostCommandError(argv, null, stderr, `timed out after ${this.timeoutMs} ms`));
          else if (typeof e.code === 'string') reject(new HostCommandError(argv, null, stderr, `cannot run (${e.code})`));
          else reject(new HostCommandError(argv, typeof e.code === 'number' ? e.code : null, stderr, `exit status ${e.code}`));
        });
      });
    }
    return new Promise((resolve, reject) => {
      const p = spawn(file!, rest, { env, stdio: ['pipe', 'pipe', 'pipe'] });
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
        finish(() => reject(new HostCommandError(argv, null, err, `timed out after ${this.timeoutMs} ms`)));
      }, this.timeoutMs);
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('error', (e: NodeJS.ErrnoException) => finish(() => reject(new HostCommandError(argv, null, err, `cannot run (${e.code})`))));
      p.on('close', (code) => finish(() => (code === 0 ? resolve(out) : reject(new HostCommandError(argv, code, err, `exit status ${code}`)))));
      p.stdin.on('error', () => undefined);
      p.stdin.end(input);
    });
  }

  /** `cmd -j args` parsed as JSON (an empty output is an empty list). */
  async json(cmd: 'ip' | 'bridge', args: readonly string[]): Promise<unknown> {
    const out = await this.run(cmd, ['-j', ...args]);
    return out.trim() === '' ? [] : (JSON.parse(out) as unknown);
  }
}
