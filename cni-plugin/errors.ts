/**
 * The one error type of the plugin: a CNI error as the spec prints it (code, msg, details). Everything a
 * command throws that is not a CniError becomes code 999 in skel.ts (message only, never a stack).
 * No imports beyond contract/types (constants only): loaded on every start, VERSION included.
 */
import { CNI_CODES } from '../contract/types.js';

export { CNI_CODES };

export class CniError extends Error {
  override readonly name = 'CniError';
  constructor(
    readonly code: number,
    readonly msg: string,
    readonly details = '',
  ) {
    super(details ? `${msg} (${details})` : msg);
  }
}

/** The error object printed on stdout (details omitted when empty, as the reference skel does). */
export interface CniErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

export function errorJson(cniVersion: string, e: CniError): CniErrorJson {
  const out: CniErrorJson = { cniVersion, code: e.code, msg: e.msg };
  if (e.details) out.details = e.details;
  return out;
}

/** Any thrown value as a CniError: CniErrors unchanged, anything else 999 with its message only. */
export function toCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  const msg = e instanceof Error ? e.message : typeof e === 'string' ? e : 'unknown internal error';
  return new CniError(CNI_CODES.internal, msg || 'unknown internal error');
}
