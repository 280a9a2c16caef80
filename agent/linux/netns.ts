/**
 * Work inside a pod's network namespace. Node has no per-thread setns, so every operation is a short
 * child process entered into the namespace by path (nsenter --net=PATH), with iproute2 batches so one
 * pod costs as few processes as possible. Commands are argument arrays, checked so that no argument can
 * break the batch line it is written into.
 */
import { statfs } from 'node:fs/promises';
import { run, CommandError, type RunOptions } from './exec.js';

/** statfs f_type of a network namespace file (bind mount under /var/run/netns or /proc/PID/ns/net). */
const NSFS_MAGIC = 0x6e736673;

export class NetnsGoneError extends Error {
  override readonly name = 'NetnsGoneError';
  constructor(readonly netns: string) {
    super(`network namespace ${netns} does not exist`);
  }
}

export interface NetnsOps {
  /** True when `path` exists and is a network namespace. */
  isNetns(path: string): Promise<boolean>;
  /** Runs iproute2 commands (each an argv without the leading `ip`) as one batch inside the namespace. */
  ipBatch(netns: string, commands: readonly (readonly string[])[]): Promise<void>;
  /** `ip -j <args>` inside the namespace, parsed (callers validate the shape). */
  ipJson(netns: string, args: readonly string[]): Promise<unknown>;
  /** Sets sysctls inside the namespace (net.* keys are per namespace). */
  sysctl(netns: string, values: readonly (readonly [string, string])[]): Promise<void>;
  /** Runs iproute2 commands as one batch in the agent's own netns (the host's, where VPP's af_packet binds). */
  hostIpBatch(commands: readonly (readonly string[])[]): Promise<void>;
  /** `ip -j <args>` in the agent's own netns, parsed. */
  hostIpJson(args: readonly string[]): Promise<unknown>;
}

const SAFE_ARG = /^[A-Za-z0-9_.:/@%+=,-]+$/;
const SAFE_KEY = /^[a-z0-9_.-]+$/i;

export interface LinuxNetnsOptions {
  timeoutMs?: number;
  nsenter?: string;
  ip?: string;
  sysctl?: string;
}

/** The stdin of `ip -batch -`, every argument checked so that none can break its line. */
function batchInput(commands: readonly (readonly string[])[]): string {
  for (const c of commands) {
    for (const a of c) if (!SAFE_ARG.test(a)) throw new Error(`refusing ip argument ${JSON.stringify(a)}`);
  }
  return `${commands.map((c) => c.join(' ')).join('\n')}\n`;
}

export class LinuxNetns implements NetnsOps {
  private readonly runOpts: RunOptions;
  private readonly nsenter: string;
  private readonly ip: string;
  private readonly sysctlBin: string;

  constructor(opts: LinuxNetnsOptions = {}) {
    this.runOpts = { timeoutMs: opts.timeoutMs ?? 10_000 };
    this.nsenter = opts.nsenter ?? 'nsenter';
    this.ip = opts.ip ?? 'ip';
    this.sysctlBin = opts.sysctl ?? 'sysctl';
  }

  async isNetns(path: string): Promise<boolean> {
    try {
      const s = await statfs(path);
      return s.type === NSFS_MAGIC;
    } catch {
      return false;
    }
  }

  private async enter(netns: string, args: string[], input?: string): Promise<string> {
    if (!(await this.isNetns(netns))) throw new NetnsGoneError(netns);
    const opts: RunOptions = input === undefined ? this.runOpts : { ...this.runOpts, input };
    return run(this.nsenter, [`--net=${netns}`, '--', ...args], opts);
  }

  async ipBatch(netns: string, commands: readonly (readonly string[])[]): Promise<void> {
    if (commands.length === 0) return;
    await this.enter(netns, [this.ip, '-batch', '-'], batchInput(commands));
  }

  async hostIpBatch(commands: readonly (readonly string[])[]): Promise<void> {
    if (commands.length === 0) return;
    await run(this.ip, ['-batch', '-'], { ...this.runOpts, input: batchInput(commands) });
  }

  async hostIpJson(args: readonly string[]): Promise<unknown> {
    for (const a of args) if (!SAFE_ARG.test(a)) throw new Error(`refusing ip argument ${JSON.stringify(a)}`);
    const out = await run(this.ip, ['-j', ...args], this.runOpts);
    return out.trim() === '' ? [] : (JSON.parse(out) as unknown);
  }

  async ipJson(netns: string, args: readonly string[]): Promise<unknown> {
    const out = await this.enter(netns, [this.ip, '-j', ...args]);
    return out.trim() === '' ? [] : (JSON.parse(out) as unknown);
  }

  async sysctl(netns: string, values: readonly (readonly [string, string])[]): Promise<void> {
    if (values.length === 0) return;
    for (const [k, v] of values) if (!SAFE_KEY.test(k) || !SAFE_ARG.test(v)) throw new Error(`refusing sysctl ${k}=${v}`);
    try {
      await this.enter(netns, [this.sysctlBin, '-q', '-w', ...values.map(([k, v]) => `${k}=${v}`)]);
    } catch (e) {
      // A container that is not privileged sees /proc/sys read-only (nsenter changes the netns, not the
      // mounts). Values that already are what we want are fine; only a needed change is an error.
      // procps says "permission denied on key" for EROFS (and EACCES); some builds print the errno text.
      if (!(e instanceof CommandError && /permission denied on key|Read-only file system/.test(e.stderr))) throw e;
      const have = (await this.enter(netns, [this.sysctlBin, '-n', ...values.map(([k]) => k)])).trim().split('\n');
      const wrong = values.map(([k, v], i) => ({ k, v, is: have[i]?.trim() ?? '?' })).filter((x) => x.is !== x.v);
      if (wrong.length > 0) {
        const what = wrong.map((x) => `${x.k}=${x.v} (it is ${x.is})`).join(', ');
        throw new Error(`cannot set ${what} in ${netns}: /proc/sys is not writable for the agent (read-only in a container that is not privileged)`);
      }
    }
  }
}

/** iproute2 saying the link is not there (gone before, or while, it was asked). */
export function isLinkGone(e: unknown): boolean {
  return e instanceof CommandError && /Cannot find device|does not exist|No such device/.test(e.stderr);
}

/**
 * Deletes a link in a pod netns, or in the host netns when `netns` is undefined. A link (or netns)
 * already gone counts as deleted: DEL and cleanups must be idempotent.
 */
export async function deleteLinkTolerant(ns: NetnsOps, netns: string | undefined, name: string): Promise<void> {
  try {
    if (netns === undefined) await ns.hostIpBatch([['link', 'del', 'dev', name]]);
    else await ns.ipBatch(netns, [['link', 'del', 'dev', name]]);
  } catch (e) {
    if (e instanceof NetnsGoneError || isLinkGone(e)) return;
    throw e;
  }
}

export { CommandError };
