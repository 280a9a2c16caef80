/**
 * Files on the host replaced atomically, through the one atomic writer (lib/atomic-file.ts: temp file
 * ".<name>.tmp-<pid>" opened with O_NOFOLLOW, mode, fsync, rename, fsync of the directory, the temp file
 * removed on failure), plus what the install step needs around it (digests, modes, directories).
 * Every error is an InstallError naming the operation and the path.
 */
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { replaceFile as libReplaceFile, replaceFileWith as libReplaceFileWith, tempName, writeAll } from '../lib/atomic-file.js';

/** Exit status 2: bad input (options, IPAM, versions). Exit status 1: the filesystem said no. */
export const EXIT_USAGE = 2;
export const EXIT_FAILURE = 1;

export class InstallError extends Error {
  override readonly name = 'InstallError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
  }
}

export class UsageError extends InstallError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
  }
}

/** "ENOENT (no such file or directory)" from a node fs error; the message for anything else. */
function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code === 'string') {
    const m = /^[A-Z0-9_]+: ([^,]+)/.exec(err.message);
    return m ? `${err.code} (${m[1]})` : err.code;
  }
  return e instanceof Error ? e.message : String(e);
}

/** One error line: "<operation> <path>: <reason>". */
export function fsError(op: string, path: string, e: unknown): InstallError {
  if (e instanceof InstallError) return e;
  return new InstallError(`${op} ${path}: ${reason(e)}`);
}

function attempt<T>(op: string, path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw fsError(op, path, e);
  }
}

/** lstat that answers undefined for a path that does not exist. */
export function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fsError('lstat', path, e);
  }
}

/** Creates `dir` and missing parents with mode 0755; true when it did not exist. Throws when it is not a directory. */
export function ensureDir(dir: string): boolean {
  const before = attempt('stat', dir, () => {
    try {
      return statSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  });
  if (before) {
    if (!before.isDirectory()) throw new InstallError(`create directory ${dir}: exists and is not a directory`);
    return false;
  }
  const first = attempt('create directory', dir, () => mkdirSync(dir, { recursive: true, mode: 0o755 }));
  // 0755 whatever the umask: every directory made here, from the first one down to `dir`.
  if (first !== undefined) {
    const made = [dir];
    for (let d = dir; d !== first && dirname(d) !== d; ) made.unshift((d = dirname(d)));
    for (const d of made) attempt('chmod 0755', d, () => chmodSync(d, 0o755));
  }
  return true;
}

const CHUNK = 1024 * 1024;

export interface Digest {
  size: number;
  sha256: string;
}

/** Reads a file through once: its size and sha256 (hex). `op` names what the file is, for errors. */
export function digestFile(path: string, op = 'read'): Digest {
  const fd = attempt(`open (${op})`, path, () => openSync(path, 'r'));
  try {
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK);
    let size = 0;
    for (;;) {
      const n = attempt(op, path, () => readSync(fd, buf, 0, CHUNK, null));
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      size += n;
    }
    return { size, sha256: hash.digest('hex') };
  } finally {
    closeSync(fd);
  }
}

/** True when `path` is a regular file (not followed through a symlink) with exactly this size and sha256. */
export function hasContent(path: string, want: Digest): boolean {
  const st = lstatOrUndefined(path);
  if (!st || !st.isFile() || st.size !== want.size) return false;
  return digestFile(path, 'read existing file').sha256 === want.sha256;
}

/** Sets the mode of an existing file when it differs (permission bits only); true when it changed it. */
export function fixMode(path: string, mode: number): boolean {
  const st = attempt('stat', path, () => statSync(path));
  if ((st.mode & 0o7777) === mode) return false;
  attempt(`chmod ${mode.toString(8).padStart(4, '0')}`, path, () => chmodSync(path, mode));
  return true;
}

export { tempName };

/** lib's replaceFile (lib/atomic-file.ts), every failure an InstallError: "<operation> <path>: <reason>". */
export function replaceFile<T>(dir: string, name: string, mode: number, fill: (fd: number, tmpPath: string) => T): T {
  return libReplaceFile(dir, name, mode, fill, fsError);
}

/** Replaces dir/name atomically with `data`. */
export function replaceFileWith(dir: string, name: string, mode: number, data: Buffer): void {
  libReplaceFileWith(dir, name, mode, data, fsError);
}

/**
 * Replaces dir/name atomically with a copy of `src`; returns the digest of the bytes written. With `expect`,
 * a copy that does not match it (the source changed meanwhile) fails before the rename.
 */
export function replaceFileWithCopy(dir: string, name: string, mode: number, src: string, expect?: Digest): Digest {
  return replaceFile(dir, name, mode, (fd, tmp) => {
    const inFd = attempt('open (source)', src, () => openSync(src, 'r'));
    try {
      const hash = createHash('sha256');
      const buf = Buffer.allocUnsafe(CHUNK);
      let size = 0;
      for (;;) {
        const n = attempt('read (source)', src, () => readSync(inFd, buf, 0, CHUNK, null));
        if (n === 0) break;
        const chunk = buf.subarray(0, n);
        hash.update(chunk);
        writeAll(fd, chunk, tmp, fsError);
        size += n;
      }
      const got = { size, sha256: hash.digest('hex') };
      if (expect && (got.size !== expect.size || got.sha256 !== expect.sha256)) {
        throw new InstallError(`copy ${src}: it changed while being copied (${expect.size} bytes sha256 ${expect.sha256}, then ${got.size} bytes sha256 ${got.sha256})`);
      }
      return got;
    } finally {
      closeSync(inFd);
    }
  });
}
