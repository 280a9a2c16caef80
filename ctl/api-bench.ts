/**
 * control_ping benchmark, in the manner of govpp's perf-bench: synchronous (one request at a time) and
 * pipelined (a window of requests in flight), for our client and, in the same run, for a raw client that
 * writes pre-encoded frames (what the server itself sustains). Starts the simulator as a separate
 * process when no socket is given, and says which side was the bottleneck.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allModules } from '../vpp-api/generated/index.js';
import { control_ping, control_ping_reply } from '../vpp-api/generated/memclnt.js';
import { VppClient } from '../vpp-api/client/index.js';
import { FrameReader, writeFrameHeader } from '../vpp-api/transport/frame-reader.js';
import { SocketTransport } from '../vpp-api/transport/socket-transport.js';
import type { Io } from './io.js';

export interface BenchOptions {
  socketPath: string | undefined;
  syncRequests: number;
  pipelinedRequests: number;
  window: number;
  warmup: number;
}

export function parseBenchArgs(args: string[], socketPath: string | undefined): BenchOptions {
  const { values, positionals } = parseArgs({
    args,
    options: {
      requests: { type: 'string' },
      sync: { type: 'string' },
      window: { type: 'string' },
      warmup: { type: 'string' },
      socket: { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`);
  const num = (name: keyof typeof values, dflt: number): number => {
    const v = values[name];
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} needs a positive integer, not "${v}"`);
    return n;
  };
  if (values.socket === '') throw new Error('--socket needs a path');
  return {
    socketPath: values.socket ?? socketPath,
    syncRequests: num('sync', 20_000),
    pipelinedRequests: num('requests', 100_000),
    window: num('window', 128),
    warmup: num('warmup', 2_000),
  };
}

/** CPU seconds (user + system) used so far by a process, from /proc. */
function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ (100 on Linux)
  } catch {
    return undefined;
  }
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

function simMainPath(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  for (const p of [join(here, '../vpp-api/sim/main.ts'), join(here, '../vpp-api/sim/main.js')]) if (existsSync(p)) return p;
  throw new Error('simulator entry point not found');
}

async function startSimulator(): Promise<{ proc: ChildProcess; socketPath: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'vpp-bench-'));
  const socketPath = join(dir, 'api.sock');
  const proc = spawn(process.execPath, [...process.execArgv, simMainPath(), '--socket', socketPath], { stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 15_000;
  while (!existsSync(socketPath)) {
    if (proc.exitCode !== null) throw new Error(`simulator exited with code ${proc.exitCode}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error('simulator did not create its socket within 15 s');
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { proc, socketPath, dir };
}

interface PhaseResult {
  reqPerSec: number;
  seconds: number;
  clientCpuUsPerReq: number;
  serverCpuShare: number | undefined;
  clientCpuShare: number;
}

async function measure(count: number, serverPid: number | undefined, run: () => Promise<void>): Promise<PhaseResult> {
  const s0 = serverPid ? processCpuSeconds(serverPid) : undefined;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await run();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  const s1 = serverPid ? processCpuSeconds(serverPid) : undefined;
  const clientCpu = (c.user + c.system) / 1e6;
  return {
    reqPerSec: count / seconds,
    seconds,
    clientCpuUsPerReq: (clientCpu * 1e6) / count,
    clientCpuShare: clientCpu / seconds,
    serverCpuShare: s0 !== undefined && s1 !== undefined ? (s1 - s0) / seconds : undefined,
  };
}

/** A raw client: handshake, then pre-encoded control_ping frames with only the context stamped. */
class RawPinger {
  private sock!: Socket;
  private frame!: Buffer;
  private replies = 0;
  private onReply: (() => void) | undefined;

  static async open(socketPath: string): Promise<RawPinger> {
    const t = new SocketTransport({ socketPath, clientName: 'raw-bench', connectTimeoutMs: 5000 });
    const hs = await t.connect({ onMessage: () => undefined, onClose: () => undefined });
    await t.close();
    const r = new RawPinger();
    const pingId = hs.table.get(control_ping.nameCrc);
    const replyId = hs.table.get(control_ping_reply.nameCrc);
    if (pingId === undefined || replyId === undefined) throw new Error('control_ping not in the message table');
    // A second connection used raw: its own handshake, then pings.
    r.sock = createConnection({ path: socketPath });
    const reader = new FrameReader((m) => {
      const id = m.readUInt16BE(0);
      if (id === 16) {
        r.frame = Buffer.alloc(26);
        writeFrameHeader(r.frame, 0, 10);
        control_ping.encode(r.frame, 16, pingId, m.readUInt32BE(14), 1, {}); // sockclnt_create_reply.index
        r.onReply?.();
        return;
      }
      if (id === replyId) {
        r.replies++;
        r.onReply?.();
      }
    });
    r.sock.on('data', (c: Buffer) => reader.push(c));
    await new Promise<void>((resolve, reject) => {
      r.sock.once('error', reject);
      r.onReply = () => resolve();
      r.sock.on('connect', () => {
        const f = Buffer.alloc(86);
        writeFrameHeader(f, 0, 70);
        f.writeUInt16BE(15, 16);
        f.writeUInt32BE(1, 18);
        f.write('raw-bench', 22);
        r.sock.write(f);
      });
    });
    r.onReply = undefined;
    return r;
  }

  async sync(n: number, lat?: Float64Array): Promise<void> {
    for (let i = 0; i < n; i++) {
      const t0 = lat ? process.hrtime.bigint() : 0n;
      await new Promise<void>((resolve) => {
        this.onReply = resolve;
        this.frame.writeUInt32BE((i % 0x7fffffff) + 1, 22);
        this.sock.write(this.frame);
      });
      if (lat) lat[i] = Number(process.hrtime.bigint() - t0) / 1000;
    }
    this.onReply = undefined;
  }

  async pipelined(n: number, window: number): Promise<void> {
    const batch = Buffer.alloc(26 * window);
    for (let i = 0; i < window; i++) this.frame.copy(batch, i * 26);
    const start = this.replies;
    let sent = 0;
    await new Promise<void>((resolve) => {
      const top = (): void => {
        const got = this.replies - start;
        if (got >= n) {
          this.onReply = undefined;
          resolve();
          return;
        }
        const room = Math.min(window - (sent - got), n - sent);
        if (room > 0) {
          this.sock.write(Buffer.from(batch.subarray(0, room * 26)));
          sent += room;
        }
      };
      let scheduled = false;
      this.onReply = () => {
        if (!scheduled) {
          scheduled = true;
          queueMicrotask(() => {
            scheduled = false;
            top();
          });
        }
      };
      top();
    });
  }

  close(): void {
    this.sock.destroy();
  }
}

export async function runApiBench(o: BenchOptions, io: Io): Promise<number> {
  let sim: Awaited<ReturnType<typeof startSimulator>> | undefined;
  const socketPath = o.socketPath ?? (sim = await startSimulator()).socketPath;
  const serverPid = sim?.proc.pid;
  const client = new VppClient({ socketPath, clientName: 'vpp-cnictl-bench', modules: allModules, reconnect: false, healthCheck: false, requestTimeoutMs: 10_000 });
  let raw: RawPinger | undefined;
  try {
    const info = await client.connect();
    io.out(`vpp-api bench: ${sim ? `simulator (pid ${serverPid}, started for this run)` : `VPP at ${socketPath}`}, vpe_pid ${info.vpePid}`);
    io.out(`node ${process.version}, ${o.syncRequests} sync and ${o.pipelinedRequests} pipelined control_pings, window ${o.window}`);

    // Warm-up (JIT) for both paths.
    for (let i = 0; i < o.warmup; i++) await client.request(control_ping, {});
    await pipelined(client, o.warmup * 5, o.window);
    raw = await RawPinger.open(socketPath);
    await raw.sync(o.warmup);
    await raw.pipelined(o.warmup * 5, o.window);

    const rawLat = new Float64Array(o.syncRequests);
    const rawSync = await measure(o.syncRequests, serverPid, () => raw!.sync(o.syncRequests, rawLat));
    rawLat.sort();
    const rawPipe = await measure(o.pipelinedRequests, serverPid, () => raw!.pipelined(o.pipelinedRequests, o.window));

    const lat = new Float64Array(o.syncRequests);
    const sync = await measure(o.syncRequests, serverPid, async () => {
      for (let i = 0; i < o.syncRequests; i++) {
        const t0 = process.hrtime.bigint();
        await client.request(control_ping, {});
        lat[i] = Number(process.hrtime.bigint() - t0) / 1000;
      }
    });
    lat.sort();
    const pipe = await measure(o.pipelinedRequests, serverPid, () => pipelined(client, o.pipelinedRequests, o.window));

    const f = (n: number): string => Math.round(n).toLocaleString('en-US').replace(/,/g, '');
    const share = (x: number | undefined): string => (x === undefined ? 'n/a' : `${Math.round(x * 100)}%`);
    io.out(`raw sync: ${f(rawSync.reqPerSec)} req/s (p50 ${rawLat.length ? percentile(rawLat, 0.5).toFixed(1) : 0} us, p99 ${percentile(rawLat, 0.99).toFixed(1)} us)`);
    io.out(`raw pipelined: ${f(rawPipe.reqPerSec)} req/s (window ${o.window}); server CPU ${share(rawPipe.serverCpuShare)} of a core`);
    io.out(
      `client pipelined: client CPU ${pipe.clientCpuUsPerReq.toFixed(2)} us/req (${share(pipe.clientCpuShare)} of a core), server CPU ${share(pipe.serverCpuShare)} of a core; ` +
        `${(pipe.reqPerSec / rawPipe.reqPerSec).toFixed(2)}x raw`,
    );
    io.out(
      `client sync: client CPU ${sync.clientCpuUsPerReq.toFixed(2)} us/req, server CPU ${share(sync.serverCpuShare)} of a core; ${(sync.reqPerSec / rawSync.reqPerSec).toFixed(2)}x raw`,
    );
    if (pipe.serverCpuShare !== undefined) {
      const who = pipe.serverCpuShare >= 0.85 && pipe.serverCpuShare >= pipe.clientCpuShare ? 'the simulator, not the client,' : 'the client';
      io.out(`bottleneck (pipelined): ${who} is the bottleneck (simulator ${share(pipe.serverCpuShare)}, client ${share(pipe.clientCpuShare)} of a core)`);
    } else {
      io.out('bottleneck: server CPU not measured (external VPP); compare with the raw figures above');
    }
    io.out(`sync: ${f(sync.reqPerSec)} req/s (p50 ${percentile(lat, 0.5).toFixed(1)} us, p99 ${percentile(lat, 0.99).toFixed(1)} us)`);
    io.out(`pipelined: ${f(pipe.reqPerSec)} req/s (window ${o.window})`);
    return 0;
  } finally {
    raw?.close();
    await client.close().catch(() => undefined);
    if (sim) {
      sim.proc.kill('SIGTERM');
      await new Promise((r) => (sim!.proc.exitCode !== null ? r(undefined) : sim!.proc.once('exit', r)));
      rmSync(sim.dir, { recursive: true, force: true });
    }
  }
}

/** Keeps `window` control_pings in flight until `n` are answered. */
function pipelined(client: VppClient, n: number, window: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let sent = 0;
    let done = 0;
    const next = (): void => {
      if (sent >= n) return;
      sent++;
      client.request(control_ping, {}).then(onDone, reject);
    };
    const onDone = (): void => {
      done++;
      if (done === n) resolve();
      else next();
    };
    for (let i = 0; i < Math.min(window, n); i++) next();
  });
}
