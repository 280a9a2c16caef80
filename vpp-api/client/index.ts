export { VppClient } from './client.js';
export type { VppClientOptions, ConnectInfo, VppRestart, Subscription, ClientLogger, RequestObserver } from './client.js';
export type { HealthCheckOptions } from './connection.js';
export type { ConnectionState, StateChange } from './connection-state.js';
export { checkCompatibility, type CompatReport } from './compat.js';
/** THE backoff of the project (exponential, jitter, injected random): VPP reconnects, watch relists, retries. */
export { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
export { DEFAULT_MAX_VARIABLE_MESSAGE } from './message-limits.js';
export {
  VppApiError,
  VppTimeoutError,
  VppDisconnectedError,
  VppConnectError,
  VppCompatibilityError,
  VppUnknownMessageError,
  VppProtocolError,
  type IncompatibleMessage,
} from './errors.js';
export { VppDecodeError, VppEncodeError } from '../codec/errors.js';
export { retvalName, VPP_RETVALS } from '../codec/retvals.js';
/** The transport seam: the default unix-socket factory, and the interface another byte source implements. */
export { socketTransport, SocketTransport, DEFAULT_API_SOCKET } from '../transport/socket-transport.js';
export {
  TransportError,
  type Transport,
  type TransportFactory,
  type TransportOptions,
  type TransportEvents,
  type HandshakeResult,
  type MessageEncoder,
} from '../transport/transport.js';
