/**
 * The contract between the dispatcher and the message handlers.
 *
 * A handler is a plain function registered by message descriptor. It receives the decoded request and a
 * context through which it reads/changes the simulated VPP and sends replies; the dispatcher decides where
 * those go (the registration named by the request's client_index, or nowhere) and sends interface events
 * after the handler is done. A handler may return a promise (for a host operation); the simulator then
 * handles nothing else until it settles, like VPP's single API thread.
 */
import type { MessageDef, OutOf } from '../codec/types.js';
import type { Faults } from './faults.js';
import type { SimHost } from './host.js';
import type { MessageTable } from './message-table.js';
import type { SimState } from './state.js';

export interface VersionInfo {
  readonly program: string;
  readonly version: string;
  readonly buildDate: string;
  readonly buildDirectory: string;
  readonly builtBy: string;
  readonly builtOn: string;
}

export interface SimConfig {
  /** VPP's runtime directory (memif default socket, relative memif sockets, app namespace sockets). */
  readonly runtimeDir: string;
  /** Entries per call of a cursor stream (`*_get`) before retval -165 (EAGAIN). */
  readonly cursorPageSize: number;
  readonly version: VersionInfo;
}

/** The connection a request arrived on. */
export interface ConnectionControl {
  /** This connection's handle (0x80000000 | registration index). */
  readonly clientIndex: number;
  readonly registrationIndex: number;
  setName(name: string): void;
  /** Closes the connection once what was sent so far is written (sockclnt_delete). */
  closeAfterReply(): void;
}

/** Simulator-level operations reachable from handlers (memclnt registrations, `sim ...` CLI commands). */
export interface SimControl {
  readonly faults: Faults;
  readonly hostKind: string;
  /** True when a socket registration with that pool index exists. */
  isRegistrationLive(registrationIndex: number): boolean;
  /** Closes the connection of a registration (after pending output). */
  closeRegistration(registrationIndex: number): void;
  /** Restarts the simulated VPP once the current replies are written. */
  scheduleRestart(): void;
  /** Drops every connection once the current replies are written. */
  scheduleDropConnections(): void;
  /**
   * VPP aborts (os_panic): no reply to this request, nothing more is handled, every connection drops and a
   * fresh instance (new pid, empty state) takes over, as under a supervisor. Recorded in `aborts`.
   */
  abort(reason: string): void;
  /** Plain-data dump of the state, for `sim state`. */
  snapshot(): unknown;
}

export interface HandlerContext {
  readonly state: SimState;
  readonly host: SimHost;
  readonly table: MessageTable;
  readonly config: SimConfig;
  readonly control: SimControl;
  readonly connection: ConnectionControl;
  /** The request's context. */
  readonly context: number;
  /** The request's client_index as sent. */
  readonly clientIndex: number;
  /** Sends a reply/details message to the request's registration (default context: the request's). */
  send<I>(def: MessageDef<I, unknown>, value: I, context?: number): void;
  /** Sends an already encoded message (id included) without VPP's garbage `q` header (sockclnt_create_reply). */
  sendEncoded(msg: Buffer, zeroQ: boolean): void;
}

export interface HandlerSpec {
  readonly def: MessageDef;
  run(msg: Buffer, ctx: HandlerContext): void | Promise<void>;
}

/** Registers `fn` for requests of `def`; the request is decoded with the descriptor before `fn` runs. */
export function on<D extends MessageDef>(def: D, fn: (req: OutOf<D>, ctx: HandlerContext) => void | Promise<void>): HandlerSpec {
  return { def, run: (msg, ctx) => fn(def.decode(msg) as OutOf<D>, ctx) };
}

/** Enum-flag values are unions of single bits in the bindings; combined bits are still valid on the wire. */
export function flagsOf<T extends number>(n: number): T {
  return n as T;
}
