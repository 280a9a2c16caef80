/**
 * A private containerd (Debian's containerd 1.6 + runc) for the real-runtime test and benchmark: started by
 * the caller as root with its root, state, sockets and runc state in one temporary directory, the CRI plugin
 * configured as kubelet's runtime would be (a CNI bin dir, a conf dir per runtime handler). What containerd
 * keeps outside that directory is removed by `stop()` even after a failure: the pod sandboxes (through CRI),
 * the containerd process, shims started for our socket (and their sockets in /run/containerd/s), mounts under
 * the directory, the sandboxes' network namespaces, and libcni's result cache for our network names.
 *
 * Needed on these VMs: `restrict_oom_score_adj` (runc cannot set CRI's oomScoreAdj -998 without
 * CAP_SYS_RESOURCE: "can't get final child's PID from pipe: EOF").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { until } from '../helpers/until.js';
import { CriClient } from './cri-client.js';
import { run } from './exec.js';

/** Where libcni (containerd 1.6) caches results, named `<network>-<container id>-<ifname>`. */
export const CNI_RESULTS_DIR = '/var/lib/cni/results';
/** containerd 1.6 puts shim sockets here whatever its state directory. */
export const SHIM_SOCKET_DIR = '/run/containerd/s';
export const NETNS_DIR = '/var/run/netns';
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

export interface ContainerdOptions {
  /** An empty directory for everything of this containerd. */
  dir: string;
  cniBinDir: string;
  /** The default runtime handler's CNI configuration directory. */
  confDir: string;
  /** More runtime handlers (runc too), each with its own CNI configuration directory. */
  handlers?: Record<string, string>;
  sandboxImage: string;
  /** Network names our configurations use (their libcni cache entries are removed at stop). */
  networkNames: string[];
}

function toml(s: string): string {
  return JSON.stringify(s);
}

function configToml(o: ContainerdOptions): string {
  const runtime = (name: string, confDir: string): string => `
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.${name}]
      runtime_type = "io.containerd.runc.v2"
      cni_conf_dir = ${toml(confDir)}
      cni_max_conf_num = 1
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.${name}.options]
        Root = ${toml(join(o.dir, 'runc'))}`;
  return `version = 2
root = ${toml(join(o.dir, 'root'))}
state = ${toml(join(o.dir, 'state'))}
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = ${toml(join(o.dir, 'containerd.sock'))}
[ttrpc]
  address = ${toml(join(o.dir, 'containerd.sock.ttrpc'))}
[debug]
  level = "info"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${toml(o.sandboxImage)}
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = ${toml(o.cniBinDir)}
    conf_dir = ${toml(o.confDir)}
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    snapshotter = "overlayfs"${runtime('runc', o.confDir)}${Object.entries(o.handlers ?? {})
    .map(([n, d]) => runtime(n, d))
    .join('')}
`;
}

const sandboxInfo = z.looseObject({
  runtimeSpec: z.looseObject({ linux: z.looseObject({ namespaces: z.array(z.looseObject({ type: z.string(), path: z.string().optional() })) }) }).optional(),
});

export class Containerd {
  readonly socket: string;
  readonly cri: CriClient;
  readonly logPath: string;
  /** Network namespaces of the sandboxes seen through `netnsOf` (removed at stop if still there). */
  private readonly netns = new Set<string>();

  private constructor(
    readonly opts: ContainerdOptions,
    private readonly child: ChildProcess,
  ) {
    this.socket = join(opts.dir, 'containerd.sock');
    this.logPath = join(opts.dir, 'containerd.log');
    this.cri = new CriClient(this.socket);
  }

  /** Starts containerd and waits until its CRI service answers (bounded). */
  static async start(o: ContainerdOptions): Promise<Containerd> {
    mkdirSync(o.dir, { recursive: true });
    const config = join(o.dir, 'config.toml');
    writeFileSync(config, configToml(o));
    const log = openSync(join(o.dir, 'containerd.log'), 'a');
    const child = spawn('containerd', ['--config', config], { stdio: ['ignore', log, log], env: { ...process.env, LC_ALL: 'C' } });
    closeSync(log);
    const c = new Containerd(o, child);
    let exited: string | undefined;
    child.once('exit', (code, sig) => (exited = `containerd exited (${sig ?? code}) before answering; its log: ${c.logTail()}`));
    child.once('error', (e) => (exited = `cannot start containerd: ${e.message}`));
    try {
      await until(
        'containerd to answer CRI Version',
        async () => {
          if (exited) throw new Error(exited);
          if (!existsSync(c.socket)) return false;
          try {
            await c.cri.version();
            return true;
          } catch {
            return false;
          }
        },
        START_TIMEOUT_MS,
        100,
      );
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  logTail(lines = 20): string {
    try {
      return readFileSync(this.logPath, 'utf8').trim().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** `ctr images import` of a docker-save archive into the CRI namespace. */
  async importImage(archive: string): Promise<void> {
    const r = await run('ctr', ['--address', this.socket, '--namespace', 'k8s.io', 'images', 'import', archive], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`ctr images import ${archive}: ${r.stderr.trim() || r.stdout.trim()}`);
  }

  /** The sandbox's network namespace path (from the verbose status), remembered for the cleanup. */
  async netnsOf(sandboxId: string): Promise<string | undefined> {
    const st = await this.cri.podSandboxStatus(sandboxId, true);
    const text = st.info['info'];
    if (!text) return undefined;
    const info = sandboxInfo.parse(JSON.parse(text));
    const path = info.runtimeSpec?.linux.namespaces.find((n) => n.type === 'network')?.path;
    if (path) this.netns.add(path);
    return path;
  }

  /** Our libcni cache entries (there should be none once every sandbox is removed). */
  cachedResults(): string[] {
    if (!existsSync(CNI_RESULTS_DIR)) return [];
    return readdirSync(CNI_RESULTS_DIR).filter((f) => this.opts.networkNames.some((n) => f.startsWith(`${n}-`)));
  }

  /** Shim processes serving our containerd (their command line names our socket). */
  private shims(): number[] {
    const out: number[] = [];
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      let argv: string[];
      try {
        argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      } catch {
        continue;
      }
      if (!argv[0]?.includes('containerd-shim')) continue;
      const i = argv.indexOf('-address');
      if (i >= 0 && argv[i + 1] === this.socket) out.push(Number(e));
    }
    return out;
  }

  /** The unix socket paths a process holds open under SHIM_SOCKET_DIR. */
  private static socketPathsOf(pid: number): string[] {
    const inodes = new Set<string>();
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
          if (m) inodes.add(m[1]!);
        } catch {
          // closed meanwhile
        }
      }
      return readFileSync(`/proc/${pid}/net/unix`, 'utf8')
        .split('\n')
        .slice(1)
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f.length >= 8 && inodes.has(f[6]!) && f[7]!.startsWith(`${SHIM_SOCKET_DIR}/`))
        .map((f) => f[7]!.replace(/^@/, ''));
    } catch {
      return [];
    }
  }

  /** Removes everything this containerd made; never throws (returns what went wrong). */
  async stop(): Promise<string[]> {
    const problems: string[] = [];
    const step = async (what: string, f: () => Promise<void> | void): Promise<void> => {
      try {
        await f();
      } catch (e) {
        problems.push(`${what}: ${(e as Error).message}`);
      }
    };
    if (this.child.exitCode === null && this.child.signalCode === null) {
      await step('remove the remaining sandboxes', async () => {
        for (const s of await this.cri.listPodSandbox()) {
          await this.netnsOf(s.id).catch(() => undefined);
          await this.cri.stopPodSandbox(s.id).catch(() => undefined);
          await this.cri.removePodSandbox(s.id);
        }
      });
    }
    this.cri.close();
    await step('stop containerd', async () => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return;
      const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await gone;
      clearTimeout(timer);
    });
    await step('stop our shims', async () => {
      const pids = this.shims();
      const sockets = pids.flatMap((p) => Containerd.socketPathsOf(p));
      for (const p of pids) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      await until('our shims to exit', () => this.shims().length === 0, STOP_TIMEOUT_MS, 50);
      for (const s of sockets) rmSync(s, { force: true });
    });
    await step('unmount under the directory', async () => {
      const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .map((l) => l.split(' ')[4] ?? '')
        .map((m) => m.replace(/\\040/g, ' '))
        .filter((m) => m.startsWith(`${this.opts.dir}/`))
        .sort((a, b) => b.length - a.length);
      for (const m of mounts) await run('umount', ['-l', m], { timeoutMs: 10_000 });
    });
    await step('remove the sandboxes’ network namespaces', async () => {
      for (const ns of this.netns) {
        if (!existsSync(ns)) continue;
        await run('umount', ['-l', ns], { timeoutMs: 10_000 });
        rmSync(ns, { force: true });
      }
    });
    await step('remove our libcni cache entries', () => {
      for (const f of this.cachedResults()) rmSync(join(CNI_RESULTS_DIR, f), { force: true });
    });
    await step(`remove ${this.opts.dir}`, () => rmSync(this.opts.dir, { recursive: true, force: true }));
    return problems;
  }
}
