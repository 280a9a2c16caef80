/**
 * `npm start`: a short local session with no VPP installed. Starts the VPP simulator on a private
 * socket (or uses `--vpp-socket PATH`), runs `vpp-cnictl api` commands against it exactly as an
 * operator would type them, prints what they print, and stops the simulator again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const ctlMain = join(here, `main${ext}`);
const simMain = join(here, `../vpp-api/sim/main${ext}`);

function run(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [...process.execArgv, ctlMain, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, out, err });
    });
  });
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const i = argv.indexOf('--vpp-socket');
  const external = i >= 0 ? argv[i + 1] : undefined;
  let sim: ChildProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'vpp-cni-demo-'));
  const socket = external ?? join(dir, 'api.sock');
  const stop = async (): Promise<void> => {
    if (sim && sim.exitCode === null) {
      sim.kill('SIGTERM');
      await new Promise((r) => sim!.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    if (!external) {
      console.log(`# starting the VPP simulator on ${socket}`);
      sim = spawn(process.execPath, [...process.execArgv, simMain, '--socket', socket], { stdio: ['ignore', 'inherit', 'inherit'] });
      const deadline = Date.now() + 15_000;
      while (!existsSync(socket)) {
        if (sim.exitCode !== null || Date.now() > deadline) throw new Error('the simulator did not start');
        await new Promise((r) => setTimeout(r, 25));
      }
    } else {
      console.log(`# using the VPP at ${socket}`);
    }
    const steps: string[][] = [
      ['api', 'cli', 'show version'],
      ['api', 'check'],
      ['api', 'call', 'control_ping'],
      ['api', 'call', 'create_loopback', '{"mac_address":"02:fe:c0:ff:ee:01"}'],
      ['api', 'call', 'sw_interface_set_flags', '{"sw_if_index":1,"flags":"IF_STATUS_API_FLAG_ADMIN_UP"}'],
      ['api', 'call', 'sw_interface_add_del_address', '{"sw_if_index":1,"is_add":true,"prefix":"10.20.0.1/24"}'],
      ['api', 'call', 'sw_interface_tag_add_del', '{"sw_if_index":1,"is_add":true,"tag":"vpp-cni:demo/loop"}'],
      ['api', 'dump', 'sw_interface_dump'],
      ['api', 'call', 'sw_interface_set_flags', '{"sw_if_index":9999,"flags":1}'],
      ['api', 'call', 'delete_loopback', '{"sw_if_index":1}'],
    ];
    let failures = 0;
    for (const s of steps) {
      const shown = s.map((a) => (/[\s{"]/.test(a) ? `'${a}'` : a)).join(' ');
      console.log(`\n$ vpp-cnictl ${shown} --socket ${socket}`);
      const r = await run([...s, '--socket', socket]);
      if (r.out) process.stdout.write(r.out);
      if (r.err) process.stdout.write(r.err);
      console.log(`(exit ${r.code})`);
      // One step is meant to fail: VPP's error for an unknown sw_if_index.
      if (r.code !== 0 && !(s[3] ?? '').includes('9999')) failures++;
    }
    console.log(`\n# demo finished: ${steps.length} commands, ${failures} unexpected failures`);
    return failures === 0 ? 0 : 1;
  } finally {
    await stop();
  }
}

main().then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    console.error(`demo: ${(e as Error).message}`);
    process.exitCode = 1;
  },
);
