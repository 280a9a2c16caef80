/**
 * The entry point as a process (node --import tsx cni-plugin/bin.ts): environment and stdin in, stdout
 * and exit status out. The bundled binary gets its own tests; this proves main.ts wires the skel up.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants as fsConstants, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MAIN = join(process.cwd(), 'cni-plugin', 'bin.ts');

function runMain(env: Record<string, string>, stdin: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

test('VERSION', async () => {
  const r = await runMain({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.0.0"}');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toBe('{"cniVersion":"1.1.0","supportedVersions":["0.4.0","1.0.0","1.1.0"]}\n');
});

test('an error: exit status 1 and the error JSON on stdout', async () => {
  const r = await runMain(
    { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/var/run/netns/c1', CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' },
    '{"cniVersion":"0.3.1","name":"vppnet","type":"vpp-cni"}',
  );
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('{"cniVersion":"1.1.0","code":1,"msg":"incompatible CNI versions","details":"config is \\"0.3.1\\", plugin supports [\\"0.4.0\\" \\"1.0.0\\" \\"1.1.0\\"]"}\n');
});

describe('output with write(2) (no stdout stream objects)', () => {
  // imported here, not at the top: main.ts is the executable's module (no side effects on import)
  const load = (): Promise<typeof import('../../cni-plugin/main.js')> => import('../../cni-plugin/main.js');

  test('writes all of a multi-byte text to an fd', async () => {
    const { writeAllSync } = await load();
    const dir = mkdtempSync(join(tmpdir(), 'vpp-cni-out-'));
    try {
      const path = join(dir, 'out');
      const fd = openSync(path, 'w');
      const text = `${'é'.repeat(100_000)}\n`;
      try {
        writeAllSync(fd, text);
      } finally {
        closeSync(fd);
      }
      expect(readFileSync(path, 'utf8')).toBe(text);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a full non-blocking pipe nobody reads: bounded, then an error', async () => {
    const { writeAllSync } = await load();
    const dir = mkdtempSync(join(tmpdir(), 'vpp-cni-out-'));
    try {
      const fifo = join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      // read-write open of a FIFO does not block; nobody ever reads it
      const fd = openSync(fifo, fsConstants.O_RDWR | fsConstants.O_NONBLOCK);
      try {
        expect(() => writeAllSync(fd, 'x'.repeat(4 * 1024 * 1024), 50)).toThrow(`fd ${fd}: output not taken within 0.05s`);
      } finally {
        closeSync(fd);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an error other than EAGAIN or EINTR is thrown at once', async () => {
    const { writeAllSync } = await load();
    expect(() => writeAllSync(987654, 'x')).toThrow(/EBADF/);
  });
});
