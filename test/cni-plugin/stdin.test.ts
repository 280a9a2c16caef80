/**
 * The shipped binary (dist/vpp-cni) bounds its wait for the configuration whatever fd 0 is: a pipe that is
 * never closed (blocking, and non-blocking), a socket that is never shut down, a regular file, and a
 * source that never ends (/dev/zero, the size limit). VPPCNI_STDIN_TIMEOUT_MS shortens the 30 s bound.
 */
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PLUGIN = join(process.cwd(), 'dist', 'vpp-cni');
const ready = existsSync(PLUGIN);
const d = ready ? describe : describe.skip;
if (!ready) console.warn(`stdin tests skipped: ${PLUGIN} missing (npm run build:plugin)`);

const ENV = {
  PATH: process.env['PATH'] ?? '/usr/bin:/bin',
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'stdin1',
  CNI_NETNS: '/var/run/netns/stdin1',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/nonexistent',
  VPPCNI_STDIN_TIMEOUT_MS: '300',
};

interface Out {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
}

/** Runs the binary with `stdin` as fd 0; a run still going after 20 s is killed (and the test fails on its signal). */
function run(stdin: number | 'pipe', env: Record<string, string> = ENV): Promise<Out> {
  return new Promise((resolve, reject) => {
    const child = spawn(PLUGIN, [], { env, stdio: [stdin, 'pipe', 'ignore'] });
    let stdout = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      child.stdin?.destroy();
      resolve({ code, signal, stdout });
    });
  });
}

const timedOut = { cniVersion: '1.1.0', code: 5, msg: 'error reading from stdin: no end of input within 0.3s' };

d('stdin of the binary', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vpp-cni-stdin-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('a blocking pipe whose writer never closes: error 5 once the bound passes', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // read-write: the child holds a writer itself, so the pipe never reaches end of file
    const fd = openSync(fifo, 'r+');
    try {
      const r = await run(fd);
      expect(r.signal).toBeNull();
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout)).toEqual(timedOut);
    } finally {
      closeSync(fd);
    }
  });

  test('a non-blocking pipe with a silent writer (EAGAIN): the same bound', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const rd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const wr = openSync(fifo, constants.O_WRONLY);
    try {
      const r = await run(rd);
      expect(r.signal).toBeNull();
      expect(JSON.parse(r.stdout)).toEqual(timedOut);
    } finally {
      closeSync(rd);
      closeSync(wr);
    }
  });

  test('a socket that is never shut down: the same bound', async () => {
    const r = await run('pipe'); // child_process stdio pipes are socket pairs; ours is never ended
    expect(r.signal).toBeNull();
    expect(JSON.parse(r.stdout)).toEqual(timedOut);
  });

  test('input that never ends (/dev/zero): refused at the size limit', async () => {
    const fd = openSync('/dev/zero', 'r');
    try {
      const r = await run(fd);
      expect(r.signal).toBeNull();
      expect(JSON.parse(r.stdout)).toEqual({ cniVersion: '1.1.0', code: 5, msg: 'error reading from stdin: network configuration larger than 4194304 bytes' });
    } finally {
      closeSync(fd);
    }
  });

  test('a regular file is read to its end (the command then runs: here it fails on the missing IPAM plugin)', async () => {
    const f = join(dir, 'conf.json');
    writeFileSync(f, JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'vpp-cni', ipam: { type: 'host-local' } }));
    const fd = openSync(f, 'r');
    try {
      const r = await run(fd);
      expect(r.code).toBe(1);
      const out = JSON.parse(r.stdout) as { code: number; msg: string };
      expect(out.code).toBe(7);
      expect(out.msg).toContain('no executable plugin "host-local" in CNI_PATH');
    } finally {
      closeSync(fd);
    }
  });
});
