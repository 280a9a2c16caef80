/**
 * The client's options and their defaults, resolved once into what the connection needs.
 */
import type { ApiModule, MessageDef } from '../codec/types.js';
import { control_ping, control_ping_reply, memclnt_keepalive, memclnt_keepalive_reply } from '../generated/memclnt.js';
import { socketTransport, DEFAULT_API_SOCKET } from '../transport/socket-transport.js';
import type { TransportFactory } from '../transport/transport.js';
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import type { ClientLogger, ConnectionOptions, HealthCheckOptions } from './connection.js';
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
  /** control_ping probe; `misses` unanswered mark the connection not-responding, twice as many reconnect. */
  healthCheck?: HealthCheckOptions | false;
  /** Requests timing out with nothing at all received from VPP meanwhile, before the socket is reset. Default 3. */
  silentTimeoutsBeforeReset?: number;
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
  silentTimeoutsBeforeReset: number;
}

export function resolveOptions(options: VppClientOptions): ResolvedOptions {
  const seen = new Set<MessageDef>();
  for (const m of options.modules) for (const d of m.messages) seen.add(d);
  for (const d of [control_ping, control_ping_reply, memclnt_keepalive, memclnt_keepalive_reply]) seen.add(d);
  const known = [...seen];
  const b: BackoffOptions = { ...DEFAULT_BACKOFF, ...options.backoff };
  if (options.random) b.random = options.random;
  return {
    requestTimeoutMs: options.requestTimeoutMs ?? 5000,
    silentTimeoutsBeforeReset: options.silentTimeoutsBeforeReset ?? 3,
    connection: {
      socketPath: options.socketPath ?? DEFAULT_API_SOCKET,
      clientName: options.clientName ?? 'vpp-cni',
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      reconnect: options.reconnect ?? true,
      maxReconnectAttempts: options.maxReconnectAttempts,
      healthCheck: options.healthCheck === undefined ? DEFAULT_HEALTH_CHECK : options.healthCheck,
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
