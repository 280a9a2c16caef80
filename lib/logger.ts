/**
 * lib/: the one logger interface of the agent: the part of pino it uses (structured fields first, then
 * the message). Every area takes a `Logger` (the composition root hands in pino children); tests hand in
 * `silentLogger` or a recorder.
 */

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  /** A logger whose lines carry `bindings` too (pino's `child`). */
  child?(bindings: Record<string, unknown>): Logger;
}

/** A logger that drops everything. */
export const silentLogger: Logger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
  error() {},
});
