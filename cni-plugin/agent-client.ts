/**
 * The node agent over gRPC on its unix socket (contract/cni-backend.proto). grpc-js and the contract's
 * loader are imported on first use only. Every call has a deadline (timeoutSeconds). The agent's own
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

/** grpc-js status codes used here (numbers from the gRPC spec; the module itself is loaded lazily). */
const UNAVAILABLE = 14;
const DEADLINE_EXCEEDED = 4;

type GrpcModule = typeof import('@grpc/grpc-js');
type Unary = { path: string; requestSerialize: (v: unknown) => Buffer; responseDeserialize: (b: Buffer) => unknown };

export class AgentClient {
  private constructor(
    private readonly grpc: GrpcModule,
    private readonly client: import('@grpc/grpc-js').Client,
    private readonly methods: Record<string, Unary>,
    readonly opts: AgentClientOptions,
  ) {}

  static async connect(opts: AgentClientOptions): Promise<AgentClient> {
    const grpc = await import('@grpc/grpc-js');
    const { loadContract } = await import('../contract/load.js');
    const def = loadContract()[AGENT_SERVICE] as unknown as Record<string, Unary> | undefined;
    if (!def) throw new CniError(CNI_CODES.internal, `contract has no service ${AGENT_SERVICE}`);
    const client = new grpc.Client(`unix:${opts.socketPath}`, grpc.credentials.createInsecure(), {
      // one plugin run is one short conversation: fail fast, no keepalive chatter
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
      'grpc.enable_retries': 0,
    });
    return new AgentClient(grpc, client, def, opts);
  }

  close(): void {
    this.client.close();
  }

  private unreachable(reason: string): AgentUnreachableError {
    return new AgentUnreachableError(this.opts.socketPath, reason);
  }

  /** One unary call with the deadline; resolves with the validated reply or rejects with a CniError. */
  private call<R>(method: Method, request: unknown): Promise<R> {
    const m = this.methods[method];
    if (!m) return Promise.reject(new CniError(CNI_CODES.internal, `contract has no method ${method}`));
    const timeoutMs = this.opts.timeoutSeconds * 1000;
    const deadline = new Date(Date.now() + timeoutMs);
    return new Promise<R>((resolve, reject) => {
      this.client.makeUnaryRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        request,
        new this.grpc.Metadata(),
        { deadline },
        (err, value) => {
          if (err) return reject(this.classify(method, err));
          const r = replySchemas[method].safeParse(value);
          if (!r.success) {
            const issue = r.error.issues[0];
            return reject(new CniError(CNI_CODES.internal, `vpp-cni agent answered ${method} with a malformed reply`, issue ? `${issue.path.join('.')}: ${issue.message}` : ''));
          }
          resolve(r.data as R);
        },
      );
    });
  }

  private classify(method: string, err: import('@grpc/grpc-js').ServiceError): CniError {
    const details = err.details || err.message;
    if (err.code === UNAVAILABLE) {
      const errno = /connect (E[A-Z]+)/.exec(details);
      return this.unreachable(errno ? `connect ${errno[1]}` : details);
    }
    if (err.code === DEADLINE_EXCEEDED) {
      const ready = this.client.getChannel().getConnectivityState(false) === this.grpc.connectivityState.READY;
      if (!ready) return this.unreachable(`no connection within ${this.opts.timeoutSeconds}s`);
      return new CniError(CNI_CODES.tryAgainLater, `vpp-cni agent on ${this.opts.socketPath} did not answer ${method} within ${this.opts.timeoutSeconds}s`);
    }
    const name = this.grpc.status[err.code] ?? String(err.code);
    return new CniError(CNI_CODES.internal, `vpp-cni agent call ${method} failed: ${name}: ${details}`);
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
