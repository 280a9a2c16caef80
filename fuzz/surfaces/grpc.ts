/**
 * The agent's gRPC server (in-process): the real CniServer on a private unix socket, with a manager that
 * answers every valid request, sent mutated protobuf bodies for each of its five methods (raw bytes, so
 * malformed wire data reaches the server's decoder), over a raw HTTP/2 session. Every call must be answered (a reply, or a gRPC
 * status for an undecodable body) within its bound; a reply's CNI error is never code 999 and carries no
 * stack frame.
 */
import * as http2 from 'node:http2';
import { connect as netConnect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AttachmentManager } from '../../agent/cni/attachment-manager.js';
import { CniServer } from '../../agent/cni/server.js';
import { cniBackendService } from '../../contract/grpc-service.js';
import { CNI_CODES } from '../../contract/types.js';
import { mutate, RAW_CONTROL, STACK_RE, type Outcome, type Surface } from '../lib.js';
import { silentLogger } from '../../lib/logger.js';

const METHODS = ['Add', 'Del', 'Check', 'Gc', 'Status'] as const;
const att = { container_id: 'c1', if_name: 'eth0', netns: '/var/run/netns/p', pod: { namespace: 'default', name: 'web', uid: 'u1' } };
const SAMPLES: Record<(typeof METHODS)[number], object> = {
  Add: { attachment: att, ips: [{ address: '10.244.1.5/24', gateway: '10.244.1.1' }], routes: [{ dst: '0.0.0.0/0' }], network_name: 'vppnet', annotations: { entries: { 'cni.projectcalico.org/vppExtraMemifPorts': 'tcp:4444' } } },
  Del: { attachment: att },
  Check: { attachment: att },
  Gc: { valid: [{ container_id: 'c1', if_name: 'eth0' }], network_name: 'vppnet' },
  Status: {},
};

const fakeManager = {
  add: () => Promise.resolve({ interfaces: [{ name: 'eth0', sandbox: '/var/run/netns/p' }], ips: [{ address: '10.244.1.5/24', interface: 0 }], routes: [] }),
  del: () => Promise.resolve(),
  check: () => Promise.resolve(),
  gc: () => Promise.resolve([]),
} as unknown as AttachmentManager;

/** One gRPC call on `session` with `body` as the whole request stream (prefix included); status, message, reply bytes. */
function call(session: http2.ClientHttp2Session, method: string, body: Buffer): Promise<{ status: number; message: string; reply: Buffer }> {
  return new Promise((resolve) => {
    const req = session.request({ ':method': 'POST', ':path': `/vppcni.v1.CniBackend/${method}`, 'content-type': 'application/grpc', te: 'trailers' });
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => (headers = h));
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (d: Buffer) => chunks.push(d));
    const done = (): void => {
      const st = trailers['grpc-status'] ?? headers['grpc-status'];
      const msg = String(trailers['grpc-message'] ?? headers['grpc-message'] ?? '');
      let message = msg;
      try {
        message = decodeURIComponent(msg);
      } catch {
        // as sent
      }
      resolve({ status: st === undefined ? -1 : Number(st), message, reply: Buffer.concat(chunks) });
    };
    req.on('end', done);
    req.on('error', (e) => resolve({ status: -2, message: e.message, reply: Buffer.alloc(0) }));
    req.end(body);
  });
}

export function grpcSurface(): Surface {
  let dir = '';
  let server: CniServer | undefined;
  let session: http2.ClientHttp2Session | undefined;
  let sock = '';
  const def = cniBackendService();
  const seeds = METHODS.map((m) => def[m]!.requestSerialize(SAMPLES[m]).toString('latin1'));
  const quiet = silentLogger;
  const connect = (): http2.ClientHttp2Session => {
    const s = http2.connect('http://localhost', { createConnection: () => netConnect(sock) });
    s.on('error', () => undefined);
    return s;
  };
  return {
    name: 'gRPC server',
    level: 'in-process',
    target: 100_000,
    boundMs: 1_000,
    concurrency: 64,
    async setup() {
      dir = mkdtempSync(join(tmpdir(), 'vppcni-fuzz-grpc-'));
      sock = join(dir, 'agent', 'cni.sock');
      server = new CniServer(sock, fakeManager, { notReady: () => undefined, degraded: () => false }, quiet);
      await server.start();
      session = connect();
    },
    async teardown() {
      session?.destroy();
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    one(rng) {
      const k = rng.int(METHODS.length);
      const m = METHODS[k]!;
      const msg = Buffer.from(rng.chance(0.05) ? seeds[k]! : mutate(rng, seeds[k]!, ['\u0000', '\u0008', '\u0012', '\u00ff', '\u0080', '\u000a\u00ff\u00ff\u00ff\u000f'], rng.chance(0.01) ? 3 * 1024 * 1024 : 4096), 'latin1');
      // The gRPC length prefix, usually right; sometimes compressed, too short or too long.
      const prefix = Buffer.alloc(5);
      prefix[0] = rng.chance(0.03) ? 1 : 0;
      prefix.writeUInt32BE(rng.chance(0.05) ? rng.pick([0, msg.length + 1, Math.max(0, msg.length - 1), 0xffffffff, 5 * 1024 * 1024]) : msg.length, 1);
      const body = Buffer.concat([prefix, msg]);
      return {
        input: Buffer.concat([Buffer.from(`${m}\n`), body]),
        run: async (): Promise<Outcome> => {
          // A large body gets a connection of its own: on the shared one it waits behind the others for
          // HTTP/2 flow-control window, which times the client, not the server.
          const own = body.length > 64 * 1024 ? connect() : undefined;
          if (!own && (!session || session.closed || session.destroyed)) session = connect();
          const r = await call(own ?? session!, m, body);
          own?.destroy();
          if (r.status === -2) {
            if (!own) {
              session!.destroy();
              session = connect();
            }
            return undefined; // the server reset the stream or the connection: an answer
          }
          if (STACK_RE.test(r.message)) return { failure: 'stack', detail: r.message.slice(0, 500) };
          if (r.status !== 0) return undefined; // a status for an undecodable request is an answer
          let reply: { error?: { code: number; msg: string } | null };
          try {
            reply = def[m]!.responseDeserialize(r.reply.subarray(5)) as typeof reply;
          } catch (e) {
            return { failure: 'unexpected', detail: `${m}: reply not decodable: ${(e as Error).message}` };
          }
          const e = reply.error;
          if (e && e.code === CNI_CODES.internal) return { failure: 'code999', detail: `${m}: ${e.msg.slice(0, 500)}` };
          if (e && STACK_RE.test(e.msg)) return { failure: 'stack', detail: e.msg.slice(0, 500) };
          if (e && (RAW_CONTROL.test(e.msg) || e.msg.length > 16 * 1024)) return { failure: 'unexpected', detail: `${m}: message ${e.msg.length} characters or with raw control characters: ${JSON.stringify(e.msg.slice(0, 200))}` };
          return undefined;
        },
      };
    },
  };
}
