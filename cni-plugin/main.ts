/**
 * The executable the container runtime runs: process environment and stdin into the skel, its output to
 * stdout, its status as the exit status. Nothing else happens at start-up: commands, zod and the HTTP/2 client load
 * only when a command needs them (VERSION needs none). Bundle-safe: no import.meta, no files read.
 *
 * stdout and stderr are written with write(2) on fds 1 and 2, never through process.stdout/stderr: those
 * stream objects (and node:tty, needed only when fd 0 is a character device) cost more CPU to set up than
 * the whole VERSION command (docs/benchmarks.md, *Plugin start*).
 */
import * as fs from 'node:fs';
import type { TextSink } from './context.js';
import { CNI_CODES } from './errors.js';
import { dispatch } from './skel.js';
import { CURRENT_VERSION } from './version.js';

/**
 * Bounds the wait for the runtime's configuration (it writes it whole and closes stdin). Whatever fd 0 is
 * (pipe, socket, file, tty), no end of input within this time is error 5; VPPCNI_STDIN_TIMEOUT_MS may only
 * shorten it (tests).
 */
export const STDIN_TIMEOUT_MS = 30_000;
/** A network configuration larger than this is refused (error 5) without reading the rest. */
export const MAX_STDIN_BYTES = 4 * 1024 * 1024;

export function stdinTimeoutMs(env: Readonly<Record<string, string | undefined>>): number {
  const v = Number(env['VPPCNI_STDIN_TIMEOUT_MS']);
  return Number.isInteger(v) && v > 0 && v < STDIN_TIMEOUT_MS ? v : STDIN_TIMEOUT_MS;
}

/**
 * stdin that cannot block (a regular file, a character device such as /dev/null) read straight from fd 0,
 * with no stream object. A pipe or socket is never read this way: a blocking read of a pipe nobody closes
 * would park a worker thread that Node joins at exit, so no timer could end the process. A non-blocking fd
 * (EAGAIN) is polled until the deadline.
 */
function readProcessStdin(timeoutMs: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const buf = Buffer.allocUnsafe(65536);
    const finish = (f: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`no end of input within ${timeoutMs / 1000}s`))), timeoutMs);
    const step = (): void => {
      fs.read(0, buf, 0, buf.length, null, (err, n) => {
        if (settled) return;
        if (err) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return void setTimeout(step, 2);
          return finish(() => reject(err));
        }
        if (n === 0) return finish(() => resolve(Buffer.concat(chunks, size)));
        size += n;
        if (size > MAX_STDIN_BYTES) return finish(() => reject(new Error(`network configuration larger than ${MAX_STDIN_BYTES} bytes`)));
        chunks.push(Buffer.from(buf.subarray(0, n)));
        step();
      });
    };
    step();
  });
}

/**
 * The stream reader, for a pipe, a socket or a TTY: the runtime's event loop waits on the fd (epoll), so
 * the timer ends the wait whether or not the writer ever closes.
 */
function readProcessStdinStream(timeoutMs: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stdin = process.stdin;
    const done = (f: () => void): void => {
      clearTimeout(timer);
      stdin.removeAllListeners('data').removeAllListeners('end').removeAllListeners('error');
      stdin.pause();
      f();
    };
    const timer = setTimeout(() => done(() => reject(new Error(`no end of input within ${timeoutMs / 1000}s`))), timeoutMs);
    stdin.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_STDIN_BYTES) done(() => reject(new Error(`network configuration larger than ${MAX_STDIN_BYTES} bytes`)));
      else chunks.push(d);
    });
    stdin.on('end', () => done(() => resolve(Buffer.concat(chunks))));
    stdin.on('error', (e) => done(() => reject(e)));
  });
}

/**
 * Whether a pipe or socket on fd 0 may be read with fs.read too. Under Bun (the shipped executable) a
 * read still blocked in its worker does not hold up process.exit (test/cni-plugin/stdin.test.ts runs the
 * binary with a FIFO whose writer never closes), and it costs ~10 ms less CPU per exec than building
 * process.stdin's stream; under Node it would (see readProcessStdin), so Node keeps the stream.
 */
const DIRECT_PIPE_READS = process.versions['bun'] !== undefined;

/** fd 0, bounded in time and size whatever kind of fd it is. */
function readStdin(timeoutMs: number): Promise<Buffer> {
  let direct = false;
  try {
    const st = fs.fstatSync(0);
    // node:tty only for a character device (rare: runtimes give a pipe); a TTY is read as a stream
    direct =
      st.isFile() ||
      (DIRECT_PIPE_READS && (st.isFIFO() || st.isSocket())) ||
      (st.isCharacterDevice() && !(process.getBuiltinModule('node:tty') as typeof import('node:tty')).isatty(0));
  } catch {
    direct = false; // no fd 0 at all: the stream reports it
  }
  return direct ? readProcessStdin(timeoutMs) : readProcessStdinStream(timeoutMs);
}

/** How long a write to a full non-blocking stdout/stderr pipe is retried before the output is given up. */
export const OUTPUT_TIMEOUT_MS = 30_000;

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes all of `text` to `fd` with write(2), synchronously: partial writes are continued, EAGAIN (a
 * non-blocking pipe that is full) is retried every millisecond for at most OUTPUT_TIMEOUT_MS, EINTR at once.
 * Any other error (EPIPE: the reader is gone; EBADF: no such fd) is thrown to the caller.
 */
export function writeAllSync(fd: number, text: string, timeoutMs = OUTPUT_TIMEOUT_MS): void {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  let deadline = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EINTR') continue;
      if (code !== 'EAGAIN') throw e;
      const now = Date.now();
      if (deadline === 0) deadline = now + timeoutMs;
      else if (now > deadline) throw new Error(`fd ${fd}: output not taken within ${timeoutMs / 1000}s`);
      Atomics.wait(sleeper, 0, 0, 1);
    }
  }
}

/** A TextSink on fd 1 or 2. stdout's errors reach the skel (it then exits 1); stderr's are dropped. */
export function fdSink(fd: 1 | 2): TextSink {
  return {
    write(chunk: string): void {
      if (fd === 1) return writeAllSync(fd, chunk);
      try {
        writeAllSync(fd, chunk);
      } catch {
        // diagnostics only: a closed stderr must not fail the command
      }
    },
  };
}

/**
 * Last resort for errors thrown outside the dispatcher's promise chain (an emitter without an error
 * listener, say): one 999 error object with the message only, never Node's stack trace.
 */
function fatal(e: unknown): never {
  const msg = (e instanceof Error ? e.message : String(e)) || 'unknown internal error';
  try {
    writeAllSync(1, `${JSON.stringify({ cniVersion: CURRENT_VERSION, code: CNI_CODES.internal, msg })}\n`);
  } catch {
    // nothing left to tell it with
  }
  process.exit(1);
}

/** The whole plugin run (also the main function of the single executable's start-up snapshot). */
export async function runPlugin(): Promise<void> {
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  const code = await dispatch({
    env: process.env,
    stdin: () => readStdin(stdinTimeoutMs(process.env)),
    stdout: fdSink(1),
    stderr: fdSink(2),
  });
  // the output is written (synchronously); exit now: a delegate or channel left behind by a failure must
  // not keep the runtime waiting
  process.exit(code);
}

/** Started directly (tsx, bundle) unless an embedding entry (the snapshot) imports runPlugin. */
export function startMain(): void {
  runPlugin().catch(fatal);
}
