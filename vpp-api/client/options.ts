/**
 * The client's options and their defaults, resolved once into what the connection needs.
 */
import type { ApiModule, MessageDef } from '../codec/types.js';
import { control_ping, control_ping_reply, memclnt_keepalive, memclnt_keepalive_reply } from '../generated/memclnt.js';
import { socketTransport, DEFAULT_API_SOCKET } from '../transport/socket-transport.js';
import type { TransportFactory } from '../transport/transport.js';
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import type { ClientLogger, ConnectionOptions, HealthCheckOptions, StallRule } from './connection.js';
import { DEFAULT_MAX_VARIABLE_MESSAGE, fixedSizes } from './message-limits.js';
import type { RequestObserver } from './pending-requests.js';

export interface VppClientOptions {
  socketPath?: string;
  clientName?: string;
  /** Generated modules whose messages this client may use. */
  modules: readonly ApiModule[];
  /** Messages that must be present with the same CRC: connect fails (listing them all) otherwise. */
  required?: readonly MessageDef[];
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Reconnect after the connection is lost. Default on. */
  reconnect?: boolean;
  backoff?: Partial<BackoffOptions>;
  /** Give up after this many failed reconnect attempts (state 'failed'). Default: never. */
  maxReconnectAttempts?: number;
  /** control_ping probe; `misses` unanswered mark the connection not-responding (see `stall` for the reset). */
  healthCheck?: HealthCheckOptions | false;
  /**
   * When VPP's silence resets the connection (a stream out of step, or a socket open on a dead peer): after
   * `timeouts` requests (health probes included) timed out with nothing received meanwhile, once nothing has
   * come for `quietMs`. Default 3 timeouts and twice the request timeout.
   */
  stall?: Partial<StallRule>;
  /** Cap on a message with a variable part (bytes); fixed-size messages are held to their size. Default 8 MiB. */
  maxMessageSize?: number;
  /** Where the bytes come from: VPP's unix socket unless a test or a fuzzer injects another transport. */
  transport?: TransportFactory;
  logger?: ClientLogger;
  observer?: RequestObserver;
  now?: () => number;
  random?: () => number;
}

const NOOP_LOGGER: ClientLogger = { debug() {}, info() {}, warn() {}, error() {} };
export const DEFAULT_HEALTH_CHECK: HealthCheckOptions = { intervalMs: 1000, timeoutMs: 500, misses: 2 };

export interface ResolvedOptions {
  connection: ConnectionOptions;
  requestTimeoutMs: number;
  stall: StallRule;
  /** How often deadlines are checked: a tenth of the shortest usual timeout, 10 to 100 ms. */
  sweepEveryMs: number;
}

export function resolveOptions(options: VppClientOptions): ResolvedOptions {
  const seen = new Set<MessageDef>();
  for (const m of options.modules) for (const d of m.messages) seen.add(d);
  for (const d of [control_ping, control_ping_reply, memclnt_keepalive, memclnt_keepalive_reply]) seen.add(d);
  const known = [...seen];
  const b: BackoffOptions = { ...DEFAULT_BACKOFF, ...options.backoff };
  if (options.random) b.random = options.random;
  const requestTimeoutMs = options.requestTimeoutMs ?? 5000;
  const healthCheck = options.healthCheck === undefined ? DEFAULT_HEALTH_CHECK : options.healthCheck;
  const shortest = Math.min(requestTimeoutMs, healthCheck ? healthCheck.timeoutMs : Infinity);
  return {
    requestTimeoutMs,
    sweepEveryMs: Math.max(10, Math.min(100, shortest / 10)),
    stall: { timeouts: options.stall?.timeouts ?? 3, quietMs: options.stall?.quietMs ?? 2 * requestTimeoutMs },
    connection: {
      socketPath: options.socketPath ?? DEFAULT_API_SOCKET,
      clientName: options.clientName ?? 'vpp-cni',
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      reconnect: options.reconnect ?? true,
      maxReconnectAttempts: options.maxReconnectAttempts,
      healthCheck,
      known,
      required: options.required ?? [],
      sizes: fixedSizes(known, options.modules),
      maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_VARIABLE_MESSAGE,
      transport: options.transport ?? socketTransport,
      backoff: new Backoff(b),
      log: options.logger ?? NOOP_LOGGER,
      now: options.now ?? Date.now,
    },
  };
}
