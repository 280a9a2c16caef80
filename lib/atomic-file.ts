/**
 * lib/: the one atomic file writer (the agent's checkpoint, the install step's plugin binary and conflist).
 * The new content goes to a temp file in the same directory (".<name>.tmp-<pid>", a name no container
 * runtime reads as a network configuration), opened with O_NOFOLLOW, is given its mode (whatever the
 * umask) and fsynced, then renamed over the target; the directory is fsynced after the rename. On any
 * failure the temp file is removed and the target is as it was. Only the target name and our own temp
 * file are ever created, replaced or removed.
 *
 * Every failure goes through `onError(op, path, err)`: the install step turns it into its InstallError
 * ("<op> <path>: <reason>"); by default the error is an AtomicFileError naming the operation and path,
 * with the filesystem's error as its cause (its `code` kept).
 */
import { closeSync, constants, fchmodSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** What failed (`create temp file`, `write`, `chmod 0600`, `fsync`, `close`, `rename <tmp> over`, `fsync directory`, `replace`) and where. */
export type AtomicErrorMapper = (op: string, path: string, err: unknown) => Error;

export class AtomicFileError extends Error {
  override readonly name = 'AtomicFileError';
  /** The filesystem's error code (ENOSPC, EISDIR...), when there is one. */
  readonly code: string | undefined;
  constructor(
    readonly op: string,
    readonly path: string,
    cause: unknown,
  ) {
    super(`${op} ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    this.code = typeof code === 'string' ? code : undefined;
  }
}

const defaultMapper: AtomicErrorMapper = (op, path, err) => (err instanceof AtomicFileError ? err : new AtomicFileError(op, path, err));

/** The temp file used while replacing `name` in its directory. */
export function tempName(name: string, pid = process.pid): string {
  return `.${name}.tmp-${pid}`;
}

/** The temp file used while replacing `path`. */
export function tempPathFor(path: string, pid = process.pid): string {
  return join(dirname(path), tempName(basename(path), pid));
}

function attempt<T>(onError: AtomicErrorMapper, op: string, path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw onError(op, path, e);
  }
}

/** Writes all of `data` to `fd` (`path` names it in errors). */
export function writeAll(fd: number, data: Buffer, path: string, onError: AtomicErrorMapper = defaultMapper): void {
  let off = 0;
  while (off < data.length) off += attempt(onError, 'write', path, () => writeSync(fd, data, off, data.length - off));
}

function fsyncDir(dir: string, onError: AtomicErrorMapper): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Some filesystems cannot fsync a directory; the rename has happened either way.
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EISDIR') throw onError('fsync directory', dir, e);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Replaces dir/name atomically with what `fill` writes to the temp file's descriptor, with `mode`.
 * Returns what `fill` returns. On any failure the temp file is gone and the target is as it was; an error
 * `fill` throws is handed to `onError('replace', target, err)`.
 */
export function replaceFile<T>(dir: string, name: string, mode: number, fill: (fd: number, tmpPath: string) => T, onError: AtomicErrorMapper = defaultMapper): T {
  const target = join(dir, name);
  const tmp = join(dir, tempName(name));
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
  const fd = attempt(onError, 'create temp file', tmp, () => openSync(tmp, flags, mode));
  let open = true;
  try {
    const out = fill(fd, tmp);
    attempt(onError, `chmod ${mode.toString(8).padStart(4, '0')}`, tmp, () => fchmodSync(fd, mode));
    attempt(onError, 'fsync', tmp, () => fsyncSync(fd));
    open = false;
    attempt(onError, 'close', tmp, () => closeSync(fd));
    attempt(onError, `rename ${tmp} over`, target, () => renameSync(tmp, target));
    fsyncDir(dir, onError);
    return out;
  } catch (e) {
    if (open) {
      try {
        closeSync(fd);
      } catch {
        // already failing: the first error is the one to report
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      // gone already (renamed, or never fully created)
    }
    throw onError('replace', target, e);
  }
}

/** Replaces dir/name atomically with `data`. */
export function replaceFileWith(dir: string, name: string, mode: number, data: Buffer, onError: AtomicErrorMapper = defaultMapper): void {
  replaceFile(dir, name, mode, (fd, tmp) => writeAll(fd, data, tmp, onError), onError);
}

/** Writes `data` to `path` atomically (mode `mode`, 0600 unless given). */
export function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600): void {
  replaceFileWith(dirname(path), basename(path), mode, typeof data === 'string' ? Buffer.from(data) : data);
}
