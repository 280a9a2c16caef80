/**
 * The node agent over gRPC on its unix socket (contract/cni-backend.proto), spoken with node:http2 and
 * the contract's hand-written wire codec (contract/wire.ts): no gRPC or protobuf runtime to load. Every call has a deadline (timeoutSeconds). The agent's own
 * errors come inside the reply and pass through unchanged; transport failures become CNI errors:
 *
 *   socket missing, connection refused, UNAVAILABLE, or no connection before the deadline
 *       → AgentUnreachableError, code 11, saying where the agent should be and what to check
 *   connected but no answer before the deadline → 11 "did not answer ... within Ns"
 *   anything else (UNIMPLEMENTED: plugin and agent of different releases, ...) → 999 naming the status
 *
 * Replies are validated (zod) before use: the socket is a trust boundary in both directions.
 */
import { z } from 'zod';
import type {
  AddReplyMsg,
  AddRequestMsg,
  CheckReplyMsg,
  CheckRequestMsg,
  CniErrorMsg,
  DelReplyMsg,
  DelRequestMsg,
  GcReplyMsg,
  GcRequestMsg,
  StatusReplyMsg,
} from '../contract/types.js';
import { CNI_CODES, CniError } from './errors.js';
import { METHODS, decode, encode } from '../contract/wire.js';
import { GRPC_STATUS, GrpcCallError, statusName, unaryCall } from './grpc-unary.js';

export const AGENT_SERVICE = 'vppcni.v1.CniBackend';

/** The agent could not be reached at all (STATUS reports it as 50, the other commands as 11). */
export class AgentUnreachableError extends CniError {
  constructor(
    readonly socketPath: string,
    readonly reason: string,
  ) {
    super(CNI_CODES.tryAgainLater, `vpp-cni agent not reachable on ${socketPath}: is the vpp-cni DaemonSet pod running on this node? (${reason})`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Reply validation

const u32 = z.number().int().nonnegative();
const errorMsg = z.object({ code: u32, msg: z.string(), details: z.string() }).nullable();
const resultMsg = z.object({
  interfaces: z.array(z.object({ name: z.string(), mac: z.string(), mtu: u32, sandbox: z.string(), socket_path: z.string() })),
  ips: z.array(z.object({ address: z.string(), gateway: z.string(), interface: z.number().int() })),
  routes: z.array(z.object({ dst: z.string(), gw: z.string() })),
});
const replySchemas = {
  Add: z.object({ result: resultMsg.nullable(), error: errorMsg }),
  Del: z.object({ error: errorMsg }),
  Check: z.object({ error: errorMsg }),
  Gc: z.object({ error: errorMsg, removed: u32 }),
  Status: z.object({ error: errorMsg }),
} as const;
type Method = keyof typeof replySchemas;

/** Runs every reply schema once (start-up snapshot warm-up: zod compiles its validators on first use). */
export function warmReplySchemas(addReply: unknown): void {
  replySchemas.Add.safeParse(addReply);
  for (const m of ['Del', 'Check', 'Status'] as const) replySchemas[m].safeParse({ error: null });
  replySchemas.Gc.safeParse({ error: null, removed: 0 });
}

/** The CNI error an agent reply carries, if any (a set error with code 0 is the agent's bug: 999). */
export function replyError(method: string, e: CniErrorMsg | null | undefined): CniError | undefined {
  if (!e || (e.code === 0 && !e.msg && !e.details)) return undefined;
  if (e.code === 0) return new CniError(CNI_CODES.internal, e.msg || `vpp-cni agent failed ${method} without a code`, e.details);
  return new CniError(e.code, e.msg || `vpp-cni agent failed ${method} (code ${e.code})`, e.details);
}

// ---------------------------------------------------------------------------------------------------------

export interface AgentClientOptions {
  socketPath: string;
  /** Bounds each call, connection included. */
  timeoutSeconds: number;
}

export class AgentClient {
  private constructor(readonly opts: AgentClientOptions) {}

  static connect(opts: AgentClientOptions): Promise<AgentClient> {
    return Promise.resolve(new AgentClient(opts));
  }

  close(): void {
    // each call has its own short-lived HTTP/2 session
  }

  private unreachable(reason: string): AgentUnreachableError {
    return new AgentUnreachableError(this.opts.socketPath, reason);
  }

  /** One unary call with the deadline; resolves with the validated reply or rejects with a CniError. */
  private async call<R>(method: Method, request: object): Promise<R> {
    const [reqSchema, replySchema] = METHODS[method];
    const timeoutMs = this.opts.timeoutSeconds * 1000;
    let raw: Buffer;
    try {
      raw = await unaryCall(this.opts.socketPath, `/${AGENT_SERVICE}/${method}`, encode(reqSchema, request), timeoutMs);
    } catch (e) {
      throw e instanceof GrpcCallError ? this.classify(method, e) : new CniError(CNI_CODES.internal, `vpp-cni agent call ${method} failed: ${(e as Error).message}`);
    }
    let value: unknown;
    try {
      value = decode(replySchema, raw);
    } catch (e) {
      throw new CniError(CNI_CODES.internal, `vpp-cni agent answered ${method} with a malformed reply`, (e as Error).message);
    }
    const r = replySchemas[method].safeParse(value);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new CniError(CNI_CODES.internal, `vpp-cni agent answered ${method} with a malformed reply`, issue ? `${issue.path.join('.')}: ${issue.message}` : '');
    }
    return r.data as R;
  }

  private classify(method: string, err: GrpcCallError): CniError {
    if (err.status === GRPC_STATUS.UNAVAILABLE && !err.connected) return this.unreachable(err.errno ? `connect ${err.errno}` : err.details);
    if (err.status === GRPC_STATUS.DEADLINE_EXCEEDED) {
      if (!err.connected) return this.unreachable(`no connection within ${this.opts.timeoutSeconds}s`);
      return new CniError(CNI_CODES.tryAgainLater, `vpp-cni agent on ${this.opts.socketPath} did not answer ${method} within ${this.opts.timeoutSeconds}s`);
    }
    if (err.status === GRPC_STATUS.UNAVAILABLE) return this.unreachable(err.details);
    return new CniError(CNI_CODES.internal, `vpp-cni agent call ${method} failed: ${statusName(err.status)}: ${err.details}`);
  }

  add(req: AddRequestMsg): Promise<AddReplyMsg> {
    return this.call('Add', req);
  }
  del(req: DelRequestMsg): Promise<DelReplyMsg> {
    return this.call('Del', req);
  }
  check(req: CheckRequestMsg): Promise<CheckReplyMsg> {
    return this.call('Check', req);
  }
  gc(req: GcRequestMsg): Promise<GcReplyMsg> {
    return this.call('Gc', req);
  }
  status(): Promise<StatusReplyMsg> {
    return this.call('Status', {});
  }
}

/** Connects, runs `f`, closes (the plugin process must not linger on an open channel). */
export async function withAgent<T>(opts: AgentClientOptions, f: (agent: AgentClient) => Promise<T>): Promise<T> {
  const agent = await AgentClient.connect(opts);
  try {
    return await f(agent);
  } finally {
    agent.close();
  }
}
