/**
 * TCP probes for the real-VPP tests: a banner server and a one-shot client, both small python3 scripts run in
 * a network namespace (python3 is what a VCL app under LD_PRELOAD needs: a plain libc program).
 *  - the server listens on 0.0.0.0:<port> and answers every connection with `<banner> <peer address>`;
 *  - the client connects (from a source address when given) and reports who answered and the first line,
 *    or a timeout, or the error.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { until } from './until.js';

export const PYTHON = '/usr/bin/python3';
const ENV = { ...process.env, LC_ALL: 'C' };

const SERVER = [
  'import socket,sys',
  's=socket.socket(socket.AF_INET,socket.SOCK_STREAM)',
  's.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)',
  "s.bind(('0.0.0.0',int(sys.argv[1])))",
  's.listen(16)',
  "print('ready',flush=True)",
  'while True:',
  '  c,a=s.accept()',
  "  c.sendall((sys.argv[2]+' '+a[0]+'\\n').encode())",
  '  c.close()',
].join('\n');

const CLIENT = [
  'import socket,sys',
  's=socket.socket(socket.AF_INET,socket.SOCK_STREAM)',
  's.settimeout(float(sys.argv[3]))',
  'if sys.argv[4]: s.bind((sys.argv[4],0))',
  'try:',
  '  s.connect((sys.argv[1],int(sys.argv[2])))',
  "  print('OK '+s.getpeername()[0]+' '+(s.recv(200).decode().strip() or 'EMPTY'))",
  'except socket.timeout:',
  "  print('TIMEOUT')",
  'except OSError as e:',
  "  print('ERROR '+str(e))",
].join('\n');

export type ProbeResult = { readonly kind: 'ok'; readonly peer: string; readonly line: string } | { readonly kind: 'timeout' } | { readonly kind: 'error'; readonly message: string };

/**
 * Starts a banner server (in `netns`, or here when undefined; `env` assignments such as LD_PRELOAD go before
 * python) and resolves once it listens. The process is pushed on `procs`: the caller kills them at the end.
 */
export async function startTcpServer(procs: ChildProcess[], o: { netns?: string; port: number; banner: string; env?: readonly string[] }): Promise<void> {
  const argv = ['env', ...(o.env ?? []), PYTHON, '-c', SERVER, String(o.port), o.banner];
  const p = o.netns ? spawn('ip', ['netns', 'exec', o.netns, ...argv], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(argv[0]!, argv.slice(1), { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(p);
  let out = '';
  let err = '';
  p.stdout!.on('data', (b: Buffer) => void (out += b.toString()));
  p.stderr!.on('data', (b: Buffer) => void (err = (err + b.toString()).slice(-2000)));
  await until(`${o.banner} server on ${o.netns ?? 'this netns'}:${o.port} (${err})`, () => out.includes('ready') || p.exitCode !== null, 15_000);
  if (p.exitCode !== null) throw new Error(`${o.banner} server exited ${p.exitCode}: ${err}`);
}

/** One connection from `netns` to ip:port (from `src` when given), bounded by `timeoutS`. */
export function tcpProbe(o: { netns: string; ip: string; port: number; src?: string; timeoutS?: number }): ProbeResult {
  const t = o.timeoutS ?? 3;
  const out = execFileSync('ip', ['netns', 'exec', o.netns, PYTHON, '-c', CLIENT, o.ip, String(o.port), String(t), o.src ?? ''], { env: ENV, encoding: 'utf8', timeout: (t + 10) * 1000 }).trim();
  if (out === 'TIMEOUT') return { kind: 'timeout' };
  const m = /^OK (\S+) (.*)$/.exec(out);
  if (m) return { kind: 'ok', peer: m[1]!, line: m[2]! };
  return { kind: 'error', message: out.replace(/^ERROR /, '') };
}

/** The result as one line: the answer's line, TIMEOUT, or ERROR <reason>; `withPeer` puts who answered first. */
export function probeText(r: ProbeResult, withPeer = false): string {
  if (r.kind === 'timeout') return 'TIMEOUT';
  if (r.kind === 'error') return `ERROR ${r.message}`;
  return withPeer ? `${r.peer} ${r.line}` : r.line;
}
