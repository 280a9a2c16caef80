/**
 * Unix sockets only root may use: the directory is made 0700 (even if it existed), a stale socket file
 * left by a previous run is removed (anything else at the path is an error), and once bound the socket
 * itself is made 0600.
 */
import { chmodSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/** Prepares `path` for bind(): private directory, no stale socket. */
export function preparePrivateSocket(path: string): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  try {
    if (statSync(path).isSocket()) rmSync(path);
    else throw new Error(`${path} exists and is not a socket`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** Restricts a bound socket to its owner. */
export function restrictSocket(path: string): void {
  chmodSync(path, 0o600);
}
