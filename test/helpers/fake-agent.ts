/**
 * An in-process vpp-cni agent for tests: a grpc-js server implementing contract/cni-backend.proto (with the
 * contract's codec) on a unix socket in its own temp directory. Each method answers with a configurable reply (an object, a
 * function of the request, or 'hang' to never answer); every request is recorded in order.
 */
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cniBackendService } from '../../contract/grpc-service.js';
import { REQUEST_SCHEMAS } from '../../contract/generated/cni-backend-zod.js';
import type {
  AddReplyMsg,
  AddRequestMsg,
  CheckReplyMsg,
  CheckRequestMsg,
  DelReplyMsg,
  DelRequestMsg,
  GcReplyMsg,
  GcRequestMsg,
  StatusReplyMsg,
  StatusRequestMsg,
} from '../../contract/types.js';

export interface FakeAgentMethods {
  Add: [AddRequestMsg, AddReplyMsg];
  Del: [DelRequestMsg, DelReplyMsg];
  Check: [CheckRequestMsg, CheckReplyMsg];
  Gc: [GcRequestMsg, GcReplyMsg];
  Status: [StatusRequestMsg, StatusReplyMsg];
}
export type FakeMethod = keyof FakeAgentMethods;

/** A reply, a function computing it (may throw a grpc status via `{ code, details }`), or 'hang'. */
export type FakeReply<M extends FakeMethod> =
  | Partial<FakeAgentMethods[M][1]>
  | ((req: FakeAgentMethods[M][0]) => Partial<FakeAgentMethods[M][1]> | Promise<Partial<FakeAgentMethods[M][1]>>)
  | 'hang';

export type FakeReplies = { [M in FakeMethod]?: FakeReply<M> };

export interface RecordedRequest {
  method: FakeMethod;
  request: unknown;
}

/** A MAC derived from the container id, so tests can predict it. */
export function fakeMac(containerId: string): string {
  let h = 0;
  for (const c of containerId) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  const b = [0x02, 0xfe, (h >>> 24) & 0xff, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** What the fake answers by default: one tun interface in the pod, the IPAM's addresses on it. */
export const DEFAULT_REPLIES: { [M in FakeMethod]: (req: FakeAgentMethods[M][0]) => FakeAgentMethods[M][1] } = {
  Add: (req) => ({
    interfaces: [{ name: req.attachment?.if_name ?? 'eth0', mac: fakeMac(req.attachment?.container_id ?? ''), mtu: 1500, sandbox: req.attachment?.netns ?? '' }],
    error: null,
  }),
  Del: () => ({ error: null }),
  Check: () => ({ error: null }),
  Gc: () => ({ error: null, removed: 0 }),
  Status: () => ({ error: null }),
};

export class FakeAgent {
  readonly requests: RecordedRequest[] = [];
  private readonly replies: FakeReplies;
  private readonly hung: (() => void)[] = [];

  private constructor(
    private readonly server: grpc.Server,
    readonly dir: string,
    readonly socketPath: string,
    replies: FakeReplies,
  ) {
    this.replies = { ...replies };
  }

  /** Starts a server on `<fresh temp dir>/agent.sock`. */
  static async start(replies: FakeReplies = {}): Promise<FakeAgent> {
    const dir = mkdtempSync(join(tmpdir(), 'vpp-cni-fake-agent-'));
    const socketPath = join(dir, 'agent.sock');
    const server = new grpc.Server();
    const agent = new FakeAgent(server, dir, socketPath, replies);
    const service = cniBackendService() as unknown as grpc.ServiceDefinition;
    const impl: grpc.UntypedServiceImplementation = {};
    for (const m of ['Add', 'Del', 'Check', 'Gc', 'Status'] as const) impl[m] = agent.handler(m);
    server.addService(service, impl);
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix:${socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    return agent;
  }

  /** Replaces one method's reply. */
  setReply<M extends FakeMethod>(method: M, reply: FakeReply<M> | undefined): void {
    (this.replies as Record<string, unknown>)[method] = reply;
  }

  /** The recorded requests of one method, in order. */
  calls<M extends FakeMethod>(method: M): FakeAgentMethods[M][0][] {
    return this.requests.filter((r) => r.method === method).map((r) => r.request as FakeAgentMethods[M][0]);
  }

  private handler(method: FakeMethod): grpc.handleUnaryCall<unknown, unknown> {
    return (call, callback) => {
      this.requests.push({ method, request: call.request });
      // what the real agent would refuse is a bug of the plugin: fail the call loudly
      const valid = REQUEST_SCHEMAS[method].safeParse(call.request);
      if (!valid.success) {
        const i = valid.error.issues[0]!;
        callback({ code: grpc.status.INVALID_ARGUMENT, details: `fake agent: invalid ${method}Request: ${i.path.join('.')}: ${i.message}` });
        return;
      }
      const reply = this.replies[method] as FakeReply<typeof method> | undefined;
      if (reply === 'hang') {
        // answered (with CANCELLED) only when the test stops the agent
        this.hung.push(() => callback({ code: grpc.status.CANCELLED, details: 'fake agent stopped' }));
        return;
      }
      const base = (DEFAULT_REPLIES[method] as (r: unknown) => object)(call.request);
      Promise.resolve()
        .then(() => (typeof reply === 'function' ? (reply as (r: unknown) => unknown)(call.request) : reply))
        .then(
          (r) => callback(null, { ...base, ...(r as object | undefined) }),
          (e: unknown) => {
            const err = e as Partial<grpc.ServiceError>;
            callback({ code: err.code ?? grpc.status.INTERNAL, details: err.details ?? String(e) });
          },
        );
    };
  }

  /** Stops the server (hanging calls are cancelled) and removes the socket's directory. */
  stop(): void {
    for (const h of this.hung.splice(0)) h();
    this.server.forceShutdown();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
