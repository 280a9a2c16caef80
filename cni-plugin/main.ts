/**
 * The executable the container runtime runs: process environment and stdin into the skel, its output to
 * stdout, its status as the exit status. Nothing else happens at start-up: commands, zod and the HTTP/2 client load
 * only when a command needs them (VERSION needs none). Bundle-safe: no import.meta, no files read.
 */
import * as fs from 'node:fs';
import { isatty } from 'node:tty';
import { CNI_CODES } from './errors.js';
import { dispatch } from './skel.js';
import { CURRENT_VERSION } from './version.js';

/** Bounds the wait for the runtime's configuration (it writes it whole and closes stdin). */
const STDIN_TIMEOUT_MS = 30_000;
const MAX_STDIN_BYTES = 4 * 1024 * 1024;

/**
 * stdin read straight from fd 0 (no stream object: creating process.stdin costs milliseconds on every
 * pod); a runtime writes the configuration whole and closes the pipe.
 */
function readProcessStdin(): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const fd = 0;
    const buf = Buffer.allocUnsafe(65536);
    const started = Date.now();
    const step = (): void => {
      fs.read(fd, buf, 0, buf.length, null, (err, n) => {
        if (err) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
            if (Date.now() - started > STDIN_TIMEOUT_MS) return reject(new Error(`no end of input within ${STDIN_TIMEOUT_MS / 1000}s`));
            return void setTimeout(step, 2);
          }
          return reject(err);
        }
        if (n === 0) return resolve(Buffer.concat(chunks, size));
        size += n;
        if (size > MAX_STDIN_BYTES) return reject(new Error(`more than ${MAX_STDIN_BYTES} bytes`));
        chunks.push(Buffer.from(buf.subarray(0, n)));
        step();
      });
    };
    step();
  });
}

/** The stream-based reader, kept for stdin that is a TTY (a person running the plugin by hand). */
function readProcessStdinStream(): Promise<Buffer> {
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
    const timer = setTimeout(() => done(() => reject(new Error(`no end of input within ${STDIN_TIMEOUT_MS / 1000}s`))), STDIN_TIMEOUT_MS);
    stdin.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_STDIN_BYTES) done(() => reject(new Error(`more than ${MAX_STDIN_BYTES} bytes`)));
      else chunks.push(d);
    });
    stdin.on('end', () => done(() => resolve(Buffer.concat(chunks))));
    stdin.on('error', (e) => done(() => reject(e)));
  });
}

function flush(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (!stream.writable) return resolve();
    stream.write('', () => resolve());
  });
}

/**
 * Last resort for errors thrown outside the dispatcher's promise chain (an emitter without an error
 * listener, say): one 999 error object with the message only, never Node's stack trace.
 */
function fatal(e: unknown): never {
  const msg = (e instanceof Error ? e.message : String(e)) || 'unknown internal error';
  try {
    process.stdout.write(`${JSON.stringify({ cniVersion: CURRENT_VERSION, code: CNI_CODES.internal, msg })}\n`);
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
    stdin: isatty(0) ? readProcessStdinStream : readProcessStdin,
    stdout: process.stdout,
    stderr: process.stderr,
  });
  await Promise.all([flush(process.stdout), flush(process.stderr)]);
  // exit now: a delegate or channel left behind by a failure must not keep the runtime waiting
  process.exit(code);
}

/** Started directly (tsx, bundle) unless an embedding entry (the snapshot) imports runPlugin. */
export function startMain(): void {
  runPlugin().catch(fatal);
}
