/**
 * Frames from VPP's side.
 *  - in-process: the frame reader fed mutated streams of framed messages cut at random points, and every
 *    generated reply/details/event decoder fed mutated bodies. The reader may only throw FrameError, a
 *    decoder only VppDecodeError: anything else (a RangeError out of a Buffer read, a TypeError) is a crash.
 *  - live (process level: a socket per fault): a VppClient talking to the simulator through a proxy that
 *    corrupts what the simulator sends (flipped bytes, wrong lengths, junk frames, cut connections). Every
 *    request must settle (reply or a typed error) within its bound and nothing may escape as an uncaught
 *    exception. (The client's desync handling is h2's area in issue 17.)
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VppDecodeError } from '../../vpp-api/codec/errors.js';
import type { MessageDef } from '../../vpp-api/codec/types.js';
import { VppClient } from '../../vpp-api/client/index.js';
import { allModules } from '../../vpp-api/generated/index.js';
import { control_ping } from '../../vpp-api/generated/memclnt.js';
import { sw_interface_dump } from '../../vpp-api/generated/interface.js';
import { show_version } from '../../vpp-api/generated/vpe.js';
import { VppSimulator } from '../../vpp-api/sim/server.js';
import { FRAME_HEADER_SIZE, FrameError, FrameReader, writeFrameHeader } from '../../vpp-api/transport/frame-reader.js';
import type { Outcome, Rng, Surface } from '../lib.js';

const INBOUND: MessageDef[] = allModules.flatMap((m) => m.messages).filter((d) => d.kind === 'reply' || d.kind === 'details' || d.kind === 'event');

/** A plausible body for `def`: its fixed part, random bytes, sometimes a tail. */
function body(rng: Rng, def: MessageDef): Buffer {
  const n = rng.chance(0.7) ? def.fixedSize + (rng.chance(0.3) ? rng.int(300) : 0) : rng.int(def.fixedSize + 64);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = rng.chance(0.6) ? 0 : rng.chance(0.5) ? 0xff : rng.int(256);
  // variable-length counts are the interesting part: sometimes huge, sometimes exact
  if (n >= 4 && rng.chance(0.3)) b.writeUInt32BE(rng.pick([0, 1, 2, 0x7fffffff, 0xffffffff, rng.int(1000)]), rng.int(n - 3));
  return b;
}

function framed(msgs: Buffer[], rng: Rng): Buffer {
  const parts: Buffer[] = [];
  for (const m of msgs) {
    const h = Buffer.alloc(FRAME_HEADER_SIZE);
    writeFrameHeader(h, 0, m.length);
    if (rng.chance(0.05)) h.writeUInt32BE(rng.pick([0, m.length + 1, m.length - 1 >>> 0, 0xffffffff, 64 * 1024 * 1024 + 1]), 8);
    parts.push(h, m);
  }
  return Buffer.concat(parts);
}

export function vppFramesSurface(): Surface {
  return {
    name: 'VPP frames',
    level: 'in-process',
    target: 100_000,
    boundMs: 50,
    one(rng) {
      const defs = Array.from({ length: 1 + rng.int(4) }, () => rng.pick(INBOUND));
      const msgs = defs.map((d) => body(rng, d));
      const stream = framed(msgs, rng);
      return {
        input: stream,
        run: (): Outcome => {
          let k = 0;
          const reader = new FrameReader((m) => {
            const def = defs[k++ % defs.length]!;
            try {
              def.decode(Buffer.from(m));
            } catch (e) {
              if (!(e instanceof VppDecodeError)) throw new Error(`${def.name}: ${(e as Error).name}: ${(e as Error).message}`);
            }
          });
          try {
            for (let p = 0; p < stream.length; ) {
              const n = 1 + rng.int(Math.max(1, stream.length - p));
              reader.push(stream.subarray(p, p + n));
              p += n;
            }
          } catch (e) {
            if (e instanceof FrameError) return undefined;
            return { failure: 'crash', detail: (e as Error).message.slice(0, 500) };
          }
          return undefined;
        },
      };
    },
  };
}

/** The proxy's damage to one chunk from the simulator. */
function damage(rng: Rng, chunk: Buffer): Buffer[] {
  const b = Buffer.from(chunk);
  switch (rng.int(6)) {
    case 0: // flip bytes
      for (let i = 0; i < 1 + rng.int(4); i++) {
        const at = rng.int(b.length);
        b[at] = (b[at] ?? 0) ^ (1 << rng.int(8));
      }
      return [b];
    case 1: // a wrong length in the first frame header
      if (b.length >= FRAME_HEADER_SIZE) b.writeUInt32BE(rng.pick([0, 1, 0xffffffff, b.length, b.length * 2, 64 * 1024 * 1024 + 1]), 8);
      return [b];
    case 2: {
      // a junk frame before the real one
      const m = Buffer.alloc(rng.int(64));
      for (let i = 0; i < m.length; i++) m[i] = rng.int(256);
      return [framed([m], rng), b];
    }
    case 3: // truncated
      return [b.subarray(0, rng.int(b.length))];
    case 4: // duplicated
      return [b, b];
    default: // split in two writes
      return [b.subarray(0, b.length >> 1), b.subarray(b.length >> 1)];
  }
}

export function vppLiveSurface(): Surface {
  let dir = '';
  let sim: VppSimulator | undefined;
  let proxy: Server | undefined;
  let client: VppClient | undefined;
  const sockets = new Set<Socket>();
  let corrupt: Rng | undefined;
  let faultRate = 0.3;
  const uncaught: Error[] = [];
  const onUncaught = (e: Error): void => void uncaught.push(e);
  return {
    name: 'VPP frames (live client)',
    level: 'process',
    target: 1_000,
    boundMs: 5_000,
    async setup() {
      process.on('uncaughtException', onUncaught);
      dir = mkdtempSync(join(tmpdir(), 'vppcni-fuzz-vpp-'));
      sim = await VppSimulator.start({ socketPath: join(dir, 'sim.sock') });
      const proxyPath = join(dir, 'api.sock');
      proxy = createServer((down) => {
        const up = createConnection(join(dir, 'sim.sock'));
        sockets.add(down).add(up);
        let handshakeDone = false;
        down.on('data', (d) => up.write(d));
        up.on('data', (d) => {
          // the handshake passes untouched (no connection, nothing to fuzz), then frames are damaged
          if (!handshakeDone || !corrupt || !corrupt.chance(faultRate)) {
            handshakeDone = true;
            down.write(d);
            return;
          }
          if (corrupt.chance(0.05)) return void down.destroy();
          for (const piece of damage(corrupt, d)) down.write(piece);
        });
        const end = (): void => {
          up.destroy();
          down.destroy();
          sockets.delete(up);
          sockets.delete(down);
        };
        down.on('close', end).on('error', end);
        up.on('close', end).on('error', end);
      });
      await new Promise<void>((r) => proxy!.listen(proxyPath, r));
      client = new VppClient({ socketPath: proxyPath, modules: allModules, requestTimeoutMs: 300, connectTimeoutMs: 2_000, healthCheck: false, backoff: { initialDelayMs: 5, maxDelayMs: 50 } });
      client.onError(() => undefined);
      await client.connect();
    },
    async teardown() {
      process.off('uncaughtException', onUncaught);
      await client?.close().catch(() => undefined);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
      await sim?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    one(rng) {
      corrupt = rng;
      faultRate = rng.pick([0.1, 0.3, 1]);
      const what = rng.int(3);
      return {
        input: JSON.stringify({ what, faultRate }),
        run: async (): Promise<Outcome> => {
          try {
            if (client!.state !== 'connected') await client!.waitConnected(2_000).catch(() => undefined);
            if (what === 0) await client!.request(control_ping, {});
            else if (what === 1) await client!.request(show_version, {});
            else await client!.dumpAll(sw_interface_dump, {});
          } catch (e) {
            if (!(e instanceof Error) || !/^(?:Vpp[A-Za-z]*|Transport|Frame)Error$/.test(e.name)) return { failure: 'crash', detail: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
          }
          const u = uncaught.shift();
          if (u) return { failure: 'crash', detail: `uncaught ${u.name}: ${u.message}` };
          return undefined;
        },
      };
    },
  };
}
