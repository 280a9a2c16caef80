/**
 * The node agent over gRPC on its unix socket (contract/cni-backend.proto), spoken with node:http2 and
 * the contract's codec (contract/wire.ts with the tables generated from the proto): no gRPC or protobuf
 * runtime to load. Every call has a deadline (timeoutSeconds). The agent's own errors come inside the reply
 * and pass through unchanged; transport failures become CNI errors:
 *
 *   socket missing, connection refused, UNAVAILABLE, or no connection before the deadline
 *       → AgentUnreachableError, code 11, saying where the agent should be and what to check
 *   connected but no answer before the deadline → 11 "did not answer ... within Ns"
 *   RESOURCE_EXHAUSTED (the request is above the agent's size bound) → 7
 *   anything else (UNIMPLEMENTED: plugin and agent of different releases, ...) → 999 naming the status
 *
 * Replies are validated with the zod schemas generated from the proto before use: the socket is a trust
 * boundary in both directions.
 */
import type { AddReplyMsg, AddRequestMsg, CheckReplyMsg, CheckRequestMsg, CniErrorMsg, DelReplyMsg, DelRequestMsg, GcReplyMsg, GcRequestMsg, MethodName, MethodTypes, StatusReplyMsg } from '../contract/types.js';
import { METHODS, SERVICE } from '../contract/generated/cni-backend.js';
import { REPLY_SCHEMAS } from '../contract/generated/cni-backend-zod.js';
import { CNI_CODES, CniError } from './errors.js';
import { decode, encode } from '../contract/wire.js';
import { GRPC_STATUS, GrpcCallError, statusName, unaryCall } from './grpc-unary.js';

export const AGENT_SERVICE = SERVICE;

/** The agent could not be reached at all (STATUS reports it as 50, the other commands as 11). */
export class AgentUnreachableError extends CniError {
  constructor(
    readonly socketPath: string,
    readonly reason: string,
  ) {
    super(CNI_CODES.tryAgainLater, `vpp-cni agent not reachable on ${socketPath}: is the vpp-cni DaemonSet pod running on this node? (${reason})`);
  }
}

/** Runs every reply schema once (start-up snapshot warm-up: zod compiles its validators on first use). */
export function warmReplySchemas(addReply: unknown): void {
  REPLY_SCHEMAS.Add.safeParse(addReply);
  for (const m of ['Del', 'Check', 'Status'] as const) REPLY_SCHEMAS[m].safeParse({ error: null });
  REPLY_SCHEMAS.Gc.safeParse({ error: null, removed: 0 });
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
  private async call<M extends MethodName>(method: M, request: MethodTypes[M][0]): Promise<MethodTypes[M][1]> {
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
    const r = REPLY_SCHEMAS[method].safeParse(value);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new CniError(CNI_CODES.internal, `vpp-cni agent answered ${method} with a malformed reply`, issue ? `${issue.path.join('.')}: ${issue.message}` : '');
    }
    return r.data as MethodTypes[M][1];
  }

  private classify(method: string, err: GrpcCallError): CniError {
    if (err.status === GRPC_STATUS.UNAVAILABLE && !err.connected) return this.unreachable(err.errno ? `connect ${err.errno}` : err.details);
    if (err.status === GRPC_STATUS.DEADLINE_EXCEEDED) {
      if (!err.connected) return this.unreachable(`no connection within ${this.opts.timeoutSeconds}s`);
      return new CniError(CNI_CODES.tryAgainLater, `vpp-cni agent on ${this.opts.socketPath} did not answer ${method} within ${this.opts.timeoutSeconds}s`);
    }
    if (err.status === GRPC_STATUS.UNAVAILABLE) return this.unreachable(err.details);
    // the agent bounds request sizes: what the runtime handed us is too large (e.g. a huge GC list)
    if (err.status === GRPC_STATUS.RESOURCE_EXHAUSTED) return new CniError(CNI_CODES.invalidNetworkConfig, `vpp-cni agent refused ${method}: the request is larger than it accepts`, err.details);
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
