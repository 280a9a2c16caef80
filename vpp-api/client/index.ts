export { VppClient } from './client.js';
export type { VppClientOptions, ConnectInfo, VppRestart, Subscription, ClientLogger, RequestObserver } from './client.js';
export type { ConnectionState, StateChange } from './connection-state.js';
export { checkCompatibility, type CompatReport } from './compat.js';
export { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
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
export { retvalName, VPP_RETVALS } from '../codec/retvals.js';
