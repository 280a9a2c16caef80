/**
 * The agent's CNI server: grpc-js on a unix socket created 0600 in a 0700 directory (only root talks to
 * it), speaking the contract with its own codec (contract/wire.ts, tables generated from the proto).
 *
 * Every request is bounded and checked before it reaches the AttachmentManager:
 *   - size: a message above MAX_REQUEST_BYTES is refused by grpc-js from its length prefix, unparsed
 *     (RESOURCE_EXHAUSTED); at most MAX_CONCURRENT_STREAMS calls per connection;
 *   - form: decoded by the contract codec and validated with the zod schema generated from the proto; a
 *     failure is CNI error 7 naming the field (`AddRequest.attachment.if_name: ...`) and the value, escaped
 *     and cut;
 *   - turn: operations on one container run one at a time, in order; a call the client cancels (or whose
 *     deadline passes) while waiting for its turn leaves the queue and is never executed; a call whose
 *     deadline has passed when its turn comes is refused (DEADLINE_EXCEEDED). At most
 *     MAX_WAITING_PER_CONTAINER calls wait per container; more are refused with code 11.
 * Once started, an operation runs to its end (ADD rolls back on its own failure, not on a cancel).
 * Failures come back inside the reply as CNI errors with the code the plugin must print.
 */
import { preparePrivateSocket, restrictSocket } from '../linux/private-socket.js';
import { rmSync } from 'node:fs';
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import * as z from 'zod/mini';
import { cniBackendService } from '../../contract/grpc-service.js';
import { METHODS, type MethodName } from '../../contract/generated/cni-backend.js';
import { REQUEST_SCHEMAS, type AttachmentValid } from '../../contract/generated/cni-backend-zod.js';
import { CNI_CODES, type CniErrorMsg, type InterfaceMsg } from '../../contract/types.js';
import { decode, WireError } from '../../contract/wire.js';
import { echo } from '../../contract/echo.js';
import type { AttachResult, PodRef } from '../pod/attachment.js';
import type { AttachmentManager } from './attachment-manager.js';
import { CniFailure, toCniError } from './cni-error.js';
import { KeyedMutex, LockWaitAbortedError } from './keyed-mutex.js';
import type { Logger } from '../../lib/logger.js';

/** The largest request accepted (GC's list of a busy node, or 256 KiB of pod annotations, fit easily). */
export const MAX_REQUEST_BYTES = 2 * 1024 * 1024;
/** Replies are small (interfaces, an error). */
export const MAX_REPLY_BYTES = 1024 * 1024;
export const MAX_CONCURRENT_STREAMS = 128;
export const MAX_WAITING_PER_CONTAINER = 16;

export interface ReadinessSource {
  /** Undefined when ready, else why not (for STATUS and ADD). */
  notReady(): string | undefined;
  /** True when existing pods may have lost connectivity (STATUS code 51 instead of 50). */
  degraded(): boolean;
}

/** What the server needs of the AttachmentManager. */
export type CniOperations = Pick<AttachmentManager, 'add' | 'del' | 'check' | 'gc'>;

type Reply = object;
/** What the wait for a container's turn watches: the call's cancellation and its deadline (ms epoch, Infinity: none). */
interface Turn {
  signal: AbortSignal;
  deadline: number;
}
/** A grpc status instead of a reply (the call was refused before any work). */
class Refused extends Error {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(details);
  }
}

/** The value at `path` in `root` (for echoing what failed validation). */
function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const p of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

/** `.attachment.if_name`, `.ips[0]`, `.annotations.entries["a b"]` (keys that are not plain names quoted and escaped). */
function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(String(p)) ? `.${String(p)}` : `[${echo(String(p))}]`;
  return out;
}

/** CNI error 7 naming the first invalid field, with its value (escaped, cut); all issues in details. */
export function invalidRequest(message: string, e: z.core.$ZodError, input: unknown): CniErrorMsg {
  const describe = (i: z.core.$ZodIssue): string => {
    const v = i.code === 'invalid_key' ? undefined : valueAt(input, i.path);
    const got = typeof v === 'string' || typeof v === 'number' ? ` (got ${echo(v)})` : '';
    return `${message}${fieldPath(i.path)}: ${i.message}${got}`;
  };
  const all = e.issues.map(describe);
  return { code: CNI_CODES.invalidNetworkConfig, msg: `invalid request: ${all[0]}`, details: all.length > 1 ? all.slice(0, 10).join('; ') : '' };
}

/** "10.1.0.5/24": an address and a prefix length that fits its family (the proto's pattern only shapes it). */
function cidrProblem(s: string): string | undefined {
  const slash = s.lastIndexOf('/');
  const fam = isIP(s.slice(0, slash));
  if (fam === 0) return 'not an IP address before the "/"';
  return Number(s.slice(slash + 1)) > (fam === 4 ? 32 : 128) ? `prefix length above ${fam === 4 ? 32 : 128}` : undefined;
}

/** ADD's addresses beyond their form: what the generated schema cannot say. */
const addSchema = REQUEST_SCHEMAS.Add.check(z.superRefine((r, ctx) => {
  const bad = (path: (string | number)[], message: string): void => void ctx.addIssue({ code: 'custom', path, message, input: undefined });
  r.ips.forEach((ip, i) => {
    const p = cidrProblem(ip.address);
    if (p) bad(['ips', i, 'address'], p);
    if (ip.gateway !== undefined && isIP(ip.gateway) === 0) bad(['ips', i, 'gateway'], 'not an IP address');
  });
  r.routes.forEach((rt, i) => {
    const p = cidrProblem(rt.dst);
    if (p) bad(['routes', i, 'dst'], p);
    if (rt.gw !== undefined && isIP(rt.gw) === 0) bad(['routes', i, 'gw'], 'not an IP address');
  });
}));
const SCHEMAS = { ...REQUEST_SCHEMAS, Add: addSchema };

function toInterfaces(r: AttachResult): InterfaceMsg[] {
  return r.interfaces.map((i) => ({ name: i.name, mac: i.mac, mtu: i.mtu, sandbox: i.sandbox, socket_path: i.socketPath }));
}

function podOf(a: AttachmentValid): PodRef {
  const p = { namespace: a.pod?.namespace || 'default', name: a.pod?.name ?? '' };
  return a.pod?.uid ? { ...p, uid: a.pod.uid } : p;
}

function keyOf(a: AttachmentValid): { containerId: string; ifName: string; netns: string; pod: PodRef } {
  return { containerId: a.container_id, ifName: a.if_name, netns: a.netns, pod: podOf(a) };
}

export class CniServer {
  private readonly server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_REQUEST_BYTES,
    'grpc.max_send_message_length': MAX_REPLY_BYTES,
    'grpc.max_concurrent_streams': MAX_CONCURRENT_STREAMS,
  });
  private readonly turns = new KeyedMutex();
  private listening = false;
  /** Calls cancelled or expired before their turn (never executed). */
  private skippedCount = 0;

  constructor(
    private readonly socketPath: string,
    private readonly manager: CniOperations,
    private readonly readiness: ReadinessSource,
    private readonly log: Logger,
  ) {
    const service = cniBackendService({ rawRequests: true }) as unknown as grpc.ServiceDefinition;
    this.server.addService(service, {
      Add: this.handler('Add', (r, turn) => this.add(r, turn)),
      Del: this.handler('Del', (r, turn) => this.del(r, turn)),
      Check: this.handler('Check', (r, turn) => this.check(r, turn)),
      Gc: this.handler('Gc', (r) => this.gc(r)),
      Status: this.handler('Status', () => this.status()),
    });
  }

  get isListening(): boolean {
    return this.listening;
  }

  /** Calls waiting for their container's turn. */
  get waiting(): number {
    return this.turns.waitingTotal;
  }

  /** Calls that were cancelled or expired while waiting and so never executed. */
  get skipped(): number {
    return this.skippedCount;
  }

  async start(): Promise<void> {
    preparePrivateSocket(this.socketPath);
    await new Promise<void>((resolve, reject) => {
      this.server.bindAsync(`unix:${this.socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
    });
    restrictSocket(this.socketPath);
    this.listening = true;
    this.log.info({ socket: this.socketPath }, 'CNI server listening');
  }

  async stop(): Promise<void> {
    this.listening = false;
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    rmSync(this.socketPath, { force: true });
  }

  /** Decode, validate, run; cancellation and deadline become an AbortSignal for the wait for the turn. */
  private handler<M extends MethodName>(
    method: M,
    fn: (req: z.infer<(typeof REQUEST_SCHEMAS)[M]>, turn: Turn) => Promise<Reply>,
  ): grpc.handleUnaryCall<Buffer, Reply> {
    return (call, cb) => {
      let input: unknown;
      try {
        input = decode(METHODS[method][0], call.request);
      } catch (e) {
        const error: CniErrorMsg =
          e instanceof WireError
            ? { code: CNI_CODES.invalidNetworkConfig, msg: `invalid request: malformed ${method}Request: ${e.message}`, details: '' }
            : toCniError(e);
        this.log.warn({ rpc: method, err: error.msg }, 'CNI request refused: invalid');
        cb(null, { error });
        return;
      }
      const p = SCHEMAS[method].safeParse(input);
      if (!p.success) {
        const error = invalidRequest(`${method}Request`, p.error, input);
        this.log.warn({ rpc: method, err: error.msg }, 'CNI request refused: invalid');
        cb(null, { error });
        return;
      }
      const ac = new AbortController();
      const deadline = Number(call.getDeadline());
      const onCancel = (): void => ac.abort(Number.isFinite(deadline) && Date.now() >= deadline ? 'deadline passed' : 'cancelled by the client');
      call.on('cancelled', onCancel);
      if (call.cancelled) onCancel();
      fn(p.data as z.infer<(typeof REQUEST_SCHEMAS)[M]>, { signal: ac.signal, deadline }).then(
        (reply) => cb(null, reply),
        (e: unknown) => {
          if (e instanceof Refused) return cb({ code: e.code, details: e.details });
          this.log.error({ rpc: method, err: (e as Error).message }, 'CNI request failed unexpectedly');
          cb(null, { error: toCniError(e) });
        },
      ).finally(() => call.removeListener('cancelled', onCancel));
    };
  }

  /**
   * Runs `fn` in the container's turn. A call cancelled (or expired) before its turn is not executed;
   * one whose deadline has passed when its turn comes is refused.
   */
  private async inTurn<T>(rpc: string, a: AttachmentValid, turn: Turn, fn: () => Promise<T>): Promise<T> {
    const who = { rpc, containerID: a.container_id, ifname: a.if_name, pod: a.pod ? `${a.pod.namespace}/${a.pod.name}` : undefined };
    if (this.turns.waitingOn(a.container_id) >= MAX_WAITING_PER_CONTAINER) {
      this.log.warn({ ...who, waiting: MAX_WAITING_PER_CONTAINER }, 'CNI request refused: too many requests waiting for this container');
      throw new CniFailure(CNI_CODES.tryAgainLater, `container ${echo(a.container_id)}: ${MAX_WAITING_PER_CONTAINER} requests are already waiting for it; try again later`);
    }
    try {
      return await this.turns.run(
        a.container_id,
        () => {
          // the turn came in the same tick as the deadline, before grpc-js cancelled the call
          if (Date.now() >= turn.deadline) throw new LockWaitAbortedError('deadline passed');
          return fn();
        },
        turn.signal,
      );
    } catch (e) {
      if (!(e instanceof LockWaitAbortedError)) throw e;
      this.skippedCount++;
      const reason = String(e.reason);
      this.log.warn({ ...who, reason }, `CNI request not executed: ${reason} while it waited for an earlier operation on the container`);
      throw new Refused(reason === 'deadline passed' ? grpc.status.DEADLINE_EXCEEDED : grpc.status.CANCELLED, `${rpc} for container ${a.container_id.slice(0, 12)} not executed: ${reason} while it waited for an earlier operation on the container`);
    }
  }

  private async add(r: z.infer<typeof REQUEST_SCHEMAS.Add>, turn: Turn): Promise<Reply> {
    const a = r.attachment;
    try {
      const result = await this.inTurn('Add', a, turn, () =>
        this.manager.add({
          ...keyOf(a),
          ips: r.ips,
          routes: r.routes,
          network: r.network_name,
          ...(r.annotations ? { annotations: r.annotations.entries } : {}),
        }),
      );
      return { interfaces: toInterfaces(result) };
    } catch (e) {
      if (e instanceof Refused) throw e;
      return { error: toCniError(e) };
    }
  }

  private async del(r: z.infer<typeof REQUEST_SCHEMAS.Del>, turn: Turn): Promise<Reply> {
    try {
      await this.inTurn('Del', r.attachment, turn, () => this.manager.del(keyOf(r.attachment)));
      return {};
    } catch (e) {
      if (e instanceof Refused) throw e;
      return { error: toCniError(e) };
    }
  }

  private async check(r: z.infer<typeof REQUEST_SCHEMAS.Check>, turn: Turn): Promise<Reply> {
    try {
      await this.inTurn('Check', r.attachment, turn, () => this.manager.check(keyOf(r.attachment)));
      return {};
    } catch (e) {
      if (e instanceof Refused) throw e;
      return { error: toCniError(e) };
    }
  }

  private async gc(r: z.infer<typeof REQUEST_SCHEMAS.Gc>): Promise<Reply> {
    try {
      const removed = await this.manager.gc(r.network_name, r.valid.map((v) => ({ containerId: v.container_id, ifName: v.if_name })));
      return { removed };
    } catch (e) {
      return { error: toCniError(e) };
    }
  }

  private status(): Promise<Reply> {
    const why = this.readiness.notReady();
    if (!why) return Promise.resolve({});
    const code = this.readiness.degraded() ? CNI_CODES.pluginNotAvailableLimitedConnectivity : CNI_CODES.pluginNotAvailable;
    return Promise.resolve({ error: toCniError(new CniFailure(code, `vpp-cni agent not ready: ${why}`)) });
  }
}
