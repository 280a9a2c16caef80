/**
 * The agent's gRPC server (in-process): the real CniServer on a private unix socket, with a manager that
 * answers every valid request, sent mutated protobuf bodies for each of its five methods (raw bytes, so
 * malformed wire data reaches the server's decoder). Every call must be answered (a reply, or a gRPC
 * status for an undecodable body) within its bound; a reply's CNI error is never code 999 and carries no
 * stack frame. (gRPC sizes and cancellation are h3a's area in issue 17.)
 */
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AttachmentManager } from '../../agent/cni/attachment-manager.js';
import { CniServer } from '../../agent/cni/server.js';
import { loadContract } from '../../contract/load.js';
import { CNI_CODES } from '../../contract/types.js';
import { mutate, RAW_CONTROL, STACK_RE, type Outcome, type Surface } from '../lib.js';

const METHODS = ['Add', 'Del', 'Check', 'Gc', 'Status'] as const;
const att = { container_id: 'c1', if_name: 'eth0', netns: '/var/run/netns/p', pod: { namespace: 'default', name: 'web', uid: 'u1' } };
const SAMPLES: Record<(typeof METHODS)[number], object> = {
  Add: { attachment: att, ips: [{ address: '10.244.1.5/24', gateway: '10.244.1.1' }], routes: [{ dst: '0.0.0.0/0', gw: '' }], network_name: 'vppnet' },
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

export function grpcSurface(): Surface {
  let dir = '';
  let server: CniServer | undefined;
  let client: grpc.Client | undefined;
  const def = loadContract()['vppcni.v1.CniBackend'] as grpc.ServiceDefinition;
  const seeds = METHODS.map((m) => def[m]!.requestSerialize(SAMPLES[m]).toString('latin1'));
  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
  return {
    name: 'gRPC server',
    level: 'in-process',
    target: 100_000,
    boundMs: 1_000,
    concurrency: 16,
    async setup() {
      dir = mkdtempSync(join(tmpdir(), 'vppcni-fuzz-grpc-'));
      const sock = join(dir, 'agent', 'cni.sock');
      server = new CniServer(sock, fakeManager, { notReady: () => undefined, degraded: () => false }, quiet);
      await server.start();
      client = new grpc.Client(`unix:${sock}`, grpc.credentials.createInsecure());
    },
    async teardown() {
      client?.close();
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    one(rng) {
      const k = rng.int(METHODS.length);
      const m = METHODS[k]!;
      const body = Buffer.from(rng.chance(0.05) ? seeds[k]! : mutate(rng, seeds[k]!, ['\u0000', '\u0008', '\u0012', '\u00ff', '\u0080', '\u000a\u00ff\u00ff\u00ff\u000f'], rng.chance(0.01) ? 3 * 1024 * 1024 : 4096), 'latin1');
      return {
        input: Buffer.concat([Buffer.from(`${m}\n`), body]),
        run: () =>
          new Promise<Outcome>((resolve) => {
            client!.makeUnaryRequest(
              `/vppcni.v1.CniBackend/${m}`,
              (b: Buffer) => b,
              (b: Buffer) => def[m]!.responseDeserialize(b) as { error?: { code: number; msg: string } | null },
              body,
              { deadline: Date.now() + 20_000 },
              (err, reply) => {
                if (err) {
                  // A status is an answer; a deadline is not.
                  if (err.code === grpc.status.DEADLINE_EXCEEDED) return resolve({ failure: 'hang', detail: `${m}: ${err.details}` });
                  if (STACK_RE.test(err.details)) return resolve({ failure: 'stack', detail: err.details.slice(0, 500) });
                  return resolve(undefined);
                }
                const e = reply?.error;
                if (e && e.code === CNI_CODES.internal) return resolve({ failure: 'code999', detail: `${m}: ${e.msg.slice(0, 500)}` });
                if (e && STACK_RE.test(e.msg)) return resolve({ failure: 'stack', detail: e.msg.slice(0, 500) });
                if (e && (RAW_CONTROL.test(e.msg) || e.msg.length > 16 * 1024)) return resolve({ failure: 'unexpected', detail: `${m}: message ${e.msg.length} characters or with raw control characters: ${JSON.stringify(e.msg.slice(0, 200))}` });
                resolve(undefined);
              },
            );
          }),
      };
    },
  };
}
