/**
 * Runs the VPP simulator as a process:
 *   npm run vpp-sim -- --socket PATH [--pid N] [--host fake-tap|no-vhost-net|kernel-tun] [--runtime-dir DIR]
 *                      [--cursor-page-size N] [--host-netns NAME] [--verbose]
 * --host-netns NAME: an interface VPP opens by its host name (af_packet) is also looked up in that named netns
 * when this one has none (the demo's node host: the agent's host link lives there).
 * Prints one JSON line once listening, logs JSON lines to stderr, stops cleanly on SIGTERM/SIGINT
 * (the socket file is removed). Faults and restarts are driven over the API with `sim ...` CLI commands.
 */
import { execFile, execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { defaultHost, fakeTap, noVhostNet, type SimHost } from './host.js';
import { VppSimulator, type SimLogger } from './server.js';

function fail(msg: string): never {
  process.stderr.write(`vpp-sim: ${msg}\n`);
  process.exit(2);
}

const IP_TIMEOUT_MS = 5000;

/** `host` whose interface checks also find interfaces in the named netns `netns` (looked up with `ip -j -n`). */
function alsoInNetns(host: SimHost, netns: string): SimHost {
  const link = (name: string): { flags?: string[]; mtu?: number } | undefined => {
    if (!name || name.includes('/')) return undefined;
    try {
      const out = execFileSync('ip', ['-j', '-n', netns, 'link', 'show', 'dev', name], { encoding: 'utf8', timeout: IP_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, LC_ALL: 'C' } });
      return (JSON.parse(out) as { flags?: string[]; mtu?: number }[])[0];
    } catch {
      return undefined;
    }
  };
  const here = (name: string): boolean => host.interfaceExists(name);
  return {
    ...host,
    interfaceExists: (name) => here(name) || link(name) !== undefined,
    interfaceUp: (name) => (here(name) ? host.interfaceUp(name) : (link(name)?.flags ?? []).includes('UP')),
    interfaceMtu: (name) => (here(name) ? host.interfaceMtu(name) : (link(name)?.mtu ?? 1500)),
    setInterfaceUp: (name) =>
      here(name)
        ? host.setInterfaceUp(name)
        : new Promise<void>((resolve, reject) => {
            execFile('ip', ['-n', netns, 'link', 'set', 'dev', name, 'up'], { timeout: IP_TIMEOUT_MS, killSignal: 'SIGKILL', env: { ...process.env, LC_ALL: 'C' } }, (err, _o, stderr) =>
              err ? reject(new Error(`ip -n ${netns} link set dev ${name} up: ${String(stderr).trim() || err.message}`)) : resolve(),
            );
          }),
  };
}

function logLine(level: string, msg: string, fields?: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      socket: { type: 'string' },
      pid: { type: 'string' },
      host: { type: 'string' },
      'runtime-dir': { type: 'string' },
      'cursor-page-size': { type: 'string' },
      'host-netns': { type: 'string' },
      verbose: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values.socket) fail('--socket PATH is required');
  let host: SimHost | undefined;
  if (values.host === 'fake-tap') host = fakeTap();
  else if (values.host === 'no-vhost-net') host = noVhostNet();
  else if (values.host === 'kernel-tun') host = (await import('./kernel-host.js')).kernelTun();
  else if (values.host !== undefined) fail(`--host must be fake-tap, no-vhost-net or kernel-tun, not ${values.host}`);
  if (values['host-netns'] !== undefined) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(values['host-netns'])) fail('--host-netns must be a network namespace name');
    host = alsoInNetns(host ?? defaultHost(), values['host-netns']);
  }
  const pid = values.pid === undefined ? undefined : Number(values.pid);
  if (pid !== undefined && !(Number.isInteger(pid) && pid > 0)) fail('--pid must be a positive integer');
  const pageSize = values['cursor-page-size'] === undefined ? undefined : Number(values['cursor-page-size']);
  if (pageSize !== undefined && !(Number.isInteger(pageSize) && pageSize > 0)) fail('--cursor-page-size must be a positive integer');

  const verbose = values.verbose === true;
  const logger: SimLogger = {
    info: (msg, fields) => logLine('info', msg, fields),
    warn: (msg, fields) => logLine('warn', msg, fields),
    ...(verbose ? { debug: (msg: string, fields?: Record<string, unknown>) => logLine('debug', msg, fields) } : {}),
  };
  const sim = await VppSimulator.start({
    socketPath: values.socket,
    ...(pid !== undefined ? { vpePid: pid } : {}),
    ...(host ? { host } : {}),
    ...(values['runtime-dir'] ? { runtimeDir: values['runtime-dir'] } : {}),
    ...(pageSize !== undefined ? { cursorPageSize: pageSize } : {}),
    logger,
  });
  process.stdout.write(`${JSON.stringify({ event: 'listening', socket: sim.socketPath, vpePid: sim.vpePid, host: sim.host.kind, pid: process.pid })}\n`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logLine('info', 'stopping', { signal });
    sim.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        logLine('error', 'stop failed', { error: String(e) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => fail(e instanceof Error ? e.message : String(e)));
