/**
 * The entry point as a process (node --import tsx cni-plugin/bin.ts): environment and stdin in, stdout
 * and exit status out. The bundled binary gets its own tests; this proves main.ts wires the skel up.
 */
import { spawn } from 'node:child_process';
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
