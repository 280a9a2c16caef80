/**
 * The IPAM delegate: the executable named by ipam.type, found in CNI_PATH, run with our environment
 * (CNI_COMMAND replaced) and our configuration on stdin (cniVersion replaced by the newest version the
 * delegate and we both speak; a prevResult converted to it). Every run is bounded: past the timeout the
 * delegate is killed. Its error JSON passes through with its own code, the msg prefixed with "ipam <type>: ".
 *
 * The versions a delegate speaks are asked with CNI_COMMAND=VERSION once per delegate binary, not once per
 * pod: the answer is kept in a small file per delegate path under a root-only directory (default
 * /run/vpp-cni/ipam-versions: tmpfs, gone at reboot), valid only while the binary's device, inode, size,
 * mtime and ctime are the ones it was asked with — replacing or rewriting the binary asks again. A cache
 * that is missing, unreadable, malformed, stale, or in a directory another user could write is ignored.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, renameSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { Env, TextSink } from './context.js';
import { CNI_CODES, CniError, toCniError } from './errors.js';
import { formatResult, parseResult, type CniResult } from './result.js';
import { DELEGATE_VERSIONS, atLeast, compareVersions, quotedList } from './version.js';

/** A delegate printing more than this on stdout is killed (no IPAM answer is that large). */
export const MAX_DELEGATE_OUTPUT = 1024 * 1024;

/** The delegate did not finish in time (it was killed; an ADD may have allocated before it was). */
export class DelegateTimeoutError extends CniError {}

/** Finds `type` in the CNI_PATH directories: a regular file we may execute. Throws 7 naming ipam.type. */
export function findPlugin(type: string, cniPath: readonly string[], field = 'ipam.type'): string {
  for (const dir of cniPath) {
    const p = join(dir, type);
    try {
      if (statSync(p).isFile()) {
        accessSync(p, constants.X_OK);
        return p;
      }
    } catch {
      // not here, or not executable: keep looking
    }
  }
  throw new CniError(
    CNI_CODES.invalidNetworkConfig,
    `invalid network configuration: ${field}: no executable plugin ${JSON.stringify(type)} in CNI_PATH`,
    `searched ${cniPath.length ? cniPath.join(':') : '(CNI_PATH is empty)'}`,
  );
}

export interface ExecRequest {
  path: string;
  /** For messages: "ipam host-local". */
  label: string;
  command: string;
  env: Env;
  stdin: string;
  timeoutMs: number;
  stderr: TextSink;
}

function tail(s: string, max = 500): string {
  const t = s.trim();
  return t.length > max ? `...${t.slice(-max)}` : t;
}

/** The delegate's error JSON ({code, msg, details}) or undefined when stdout is not one. */
function parseErrorJson(stdout: string): { code: number; msg: string; details: string } | undefined {
  try {
    const o = JSON.parse(stdout) as unknown;
    if (typeof o !== 'object' || o === null) return undefined;
    const { code, msg, details } = o as Record<string, unknown>;
    if (typeof code !== 'number' || !Number.isInteger(code) || code <= 0) return undefined;
    return { code, msg: typeof msg === 'string' ? msg : '', details: typeof details === 'string' ? details : '' };
  } catch {
    return undefined;
  }
}

/** Runs a plugin once; resolves with its stdout on exit status 0, rejects with a CniError otherwise. */
export function execPlugin(req: ExecRequest): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.env)) if (v !== undefined) env[k] = v;
    env['CNI_COMMAND'] = req.command;
    let out = '';
    let err = '';
    let settled = false;
    const finish = (f: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(req.path, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      reject(new CniError(CNI_CODES.internal, `${req.label}: cannot execute ${req.path}: ${toCniError(e).msg}`));
      return;
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(() => reject(new DelegateTimeoutError(CNI_CODES.tryAgainLater, `${req.label}: ${req.command} did not finish within ${req.timeoutMs / 1000}s (killed)`, tail(err))));
    }, req.timeoutMs);
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      out += d;
      if (out.length > MAX_DELEGATE_OUTPUT) {
        child.kill('SIGKILL');
        finish(() => reject(new CniError(CNI_CODES.internal, `${req.label}: ${req.command} printed more than ${MAX_DELEGATE_OUTPUT} bytes (killed)`)));
      }
    });
    child.stderr!.on('data', (d: string) => {
      if (err.length < MAX_DELEGATE_OUTPUT) err += d;
      req.stderr.write(d);
    });
    child.on('error', (e: NodeJS.ErrnoException) =>
      finish(() => reject(new CniError(CNI_CODES.internal, `${req.label}: cannot execute ${req.path} (${e.code ?? e.message})`))),
    );
    child.on('close', (code, signal) =>
      finish(() => {
        if (code === 0) return resolve(out);
        const ej = parseErrorJson(out);
        if (ej) return reject(new CniError(ej.code, `${req.label}: ${ej.msg}`, ej.details));
        const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
        reject(new CniError(CNI_CODES.internal, `${req.label}: ${req.command} ${how} without an error object`, tail(err || out)));
      }),
    );
    child.stdin!.on('error', () => undefined); // a delegate that exits without reading stdin
    child.stdin!.end(req.stdin);
  });
}

/** Where the versions of delegates are kept unless VPPCNI_IPAM_CACHE_DIR (tests) says otherwise. */
export const DEFAULT_VERSION_CACHE_DIR = '/run/vpp-cni/ipam-versions';

/** What one cache file holds: the binary's identity when it was asked, and its answer. */
interface VersionCacheEntry {
  path: string;
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  supportedVersions: string[];
}

function isEntry(o: unknown): o is VersionCacheEntry {
  if (typeof o !== 'object' || o === null) return false;
  const e = o as Record<string, unknown>;
  return (
    typeof e['path'] === 'string' &&
    ['dev', 'ino', 'size', 'mtimeMs', 'ctimeMs'].every((k) => typeof e[k] === 'number') &&
    Array.isArray(e['supportedVersions']) &&
    e['supportedVersions'].length <= 64 &&
    e['supportedVersions'].every((v) => typeof v === 'string' && v.length <= 16)
  );
}

/**
 * The per-binary cache of VERSION answers (a plain shape check rather than zod: this runs on every ADD and
 * zod is not otherwise needed before the agent call).
 */
export class VersionCache {
  constructor(readonly dir: string) {}

  static fromEnv(env: Env): VersionCache {
    return new VersionCache(env['VPPCNI_IPAM_CACHE_DIR'] || DEFAULT_VERSION_CACHE_DIR);
  }

  /**
   * One file per delegate path, named by a 64-bit FNV-1a hash of it (not node:crypto: loading it costs the
   * plugin ~9 ms of CPU per exec). A collision only means a miss: every entry records its path and is
   * used only for that path.
   */
  private file(path: string): string {
    let h = 0xcbf29ce484222325n;
    for (const b of Buffer.from(path, 'utf8')) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
    return join(this.dir, `${h.toString(16).padStart(16, '0')}.json`);
  }

  /** Only a directory of ours that nobody else can write is trusted. */
  private trusted(): boolean {
    try {
      const st = statSync(this.dir);
      return st.isDirectory() && st.uid === (process.getuid?.() ?? -1) && (st.mode & 0o022) === 0;
    } catch {
      return false;
    }
  }

  private static same(e: VersionCacheEntry, path: string, st: Stats): boolean {
    return e.path === path && e.dev === st.dev && e.ino === st.ino && e.size === st.size && e.mtimeMs === st.mtimeMs && e.ctimeMs === st.ctimeMs;
  }

  get(path: string): string[] | undefined {
    try {
      if (!this.trusted()) return undefined;
      const text = readFileSync(this.file(path), 'utf8');
      if (text.length > 4096) return undefined;
      const e: unknown = JSON.parse(text);
      if (!isEntry(e) || !VersionCache.same(e, path, statSync(path))) return undefined;
      return e.supportedVersions;
    } catch {
      return undefined;
    }
  }

  /** Best effort: a failure to write only means the next run asks again. */
  put(path: string, statBefore: Stats, supportedVersions: readonly string[]): void {
    try {
      // the binary must not have changed while it was asked
      if (!VersionCache.same({ path, dev: statBefore.dev, ino: statBefore.ino, size: statBefore.size, mtimeMs: statBefore.mtimeMs, ctimeMs: statBefore.ctimeMs, supportedVersions: [] }, path, statSync(path))) return;
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      if (!this.trusted()) return;
      const e: VersionCacheEntry = { path, dev: statBefore.dev, ino: statBefore.ino, size: statBefore.size, mtimeMs: statBefore.mtimeMs, ctimeMs: statBefore.ctimeMs, supportedVersions: [...supportedVersions] };
      const f = this.file(path);
      const tmp = `${f}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(e), { mode: 0o600 });
      renameSync(tmp, f);
    } catch {
      // not cached
    }
  }
}

export interface DelegateOptions {
  type: string;
  cniPath: readonly string[];
  env: Env;
  /** The configuration as the runtime gave it (parsed stdin). */
  config: Record<string, unknown>;
  /** The configuration's cniVersion (what prevResult is written in). */
  cniVersion: string;
  timeoutMs: number;
  stderr: TextSink;
  /** Where VERSION answers are kept (default: VersionCache.fromEnv(env)); null: ask every time. */
  versionCache?: VersionCache | null;
}

/** The highest version both sides speak, or undefined. */
export function chooseVersion(theirs: readonly string[]): string | undefined {
  const common = DELEGATE_VERSIONS.filter((v) => theirs.includes(v));
  return common.sort(compareVersions).at(-1);
}

export class IpamDelegate {
  private constructor(
    readonly type: string,
    readonly path: string,
    /** What the delegate said it supports. */
    readonly supportedVersions: readonly string[],
    /** The version we speak to it. */
    readonly version: string,
    private readonly opts: DelegateOptions,
  ) {}

  get label(): string {
    return `ipam ${this.type}`;
  }

  /** Finds the delegate and learns which versions it speaks (from the cache, else by asking it). */
  static async open(opts: DelegateOptions): Promise<IpamDelegate> {
    const path = findPlugin(opts.type, opts.cniPath);
    const label = `ipam ${opts.type}`;
    const cache = opts.versionCache === undefined ? VersionCache.fromEnv(opts.env) : opts.versionCache;
    const cached = cache?.get(path);
    const supported = cached ?? (await IpamDelegate.askVersions(path, label, opts, cache));
    const version = chooseVersion(supported);
    if (!version) {
      throw new CniError(CNI_CODES.incompatibleVersion, `${label}: no CNI version in common`, `it supports ${quotedList(supported)}, vpp-cni speaks ${quotedList(DELEGATE_VERSIONS)}`);
    }
    return new IpamDelegate(opts.type, path, supported, version, opts);
  }

  /** CNI_COMMAND=VERSION; the answer is cached when the binary did not change meanwhile. */
  private static async askVersions(path: string, label: string, opts: DelegateOptions, cache: VersionCache | null): Promise<string[]> {
    let before: Stats | undefined;
    try {
      before = statSync(path);
    } catch {
      before = undefined;
    }
    const out = await execPlugin({
      path,
      label,
      command: 'VERSION',
      env: opts.env,
      stdin: JSON.stringify({ cniVersion: opts.cniVersion }),
      timeoutMs: opts.timeoutMs,
      stderr: opts.stderr,
    });
    let supported: string[] | undefined;
    try {
      const o = JSON.parse(out) as { supportedVersions?: unknown };
      if (Array.isArray(o.supportedVersions) && o.supportedVersions.every((v) => typeof v === 'string')) supported = o.supportedVersions;
    } catch {
      supported = undefined;
    }
    if (!supported) throw new CniError(CNI_CODES.internal, `${label}: VERSION did not print {"supportedVersions": [...]}`, tail(out));
    if (cache && before) cache.put(path, before, supported);
    return supported;
  }

  supports(version: string): boolean {
    return this.supportedVersions.includes(version);
  }

  /** The configuration in the delegate's version (prevResult, when there is one, converted too). */
  stdinFor(prevResult?: CniResult): string {
    const conf: Record<string, unknown> = { ...this.opts.config, cniVersion: this.version };
    if (prevResult) conf['prevResult'] = formatResult(prevResult, this.version);
    else delete conf['prevResult'];
    return JSON.stringify(conf);
  }

  private run(command: string, prevResult?: CniResult): Promise<string> {
    return execPlugin({
      path: this.path,
      label: this.label,
      command,
      env: this.opts.env,
      stdin: this.stdinFor(prevResult),
      timeoutMs: this.opts.timeoutMs,
      stderr: this.opts.stderr,
    });
  }

  async add(): Promise<CniResult> {
    const out = await this.run('ADD');
    let json: unknown;
    try {
      json = JSON.parse(out);
    } catch (e) {
      throw new CniError(CNI_CODES.internal, `${this.label}: ADD printed a result that is not JSON: ${toCniError(e).msg}`, tail(out));
    }
    return parseResult(json, this.version, `${this.label} result`, CNI_CODES.internal);
  }

  async del(prevResult?: CniResult): Promise<void> {
    await this.run('DEL', prevResult);
  }

  /** CHECK exists from 0.4.0 on: an older delegate is not asked. Returns whether it was. */
  async check(prevResult: CniResult): Promise<boolean> {
    if (!atLeast(this.version, '0.4.0')) return false;
    await this.run('CHECK', prevResult);
    return true;
  }

  /** GC and STATUS exist from 1.1.0 on: a delegate that does not speak it is not asked. */
  async gc(): Promise<boolean> {
    if (!this.supports('1.1.0')) return false;
    await this.run('GC');
    return true;
  }

  async status(): Promise<boolean> {
    if (!this.supports('1.1.0')) return false;
    await this.run('STATUS');
    return true;
  }
}
