/**
 * The agent's VPP façade: the only part of the agent that knows VPP's messages. Everything else calls
 * typed operations ("create a tap in a netns", "route a prefix to an interface", "add a PBL client") with
 * plain values, and recognises VPP's answers by retval name (the codec's table), never by number.
 *
 * Operations take the `VppApi` (the part of the client they use) as their first argument, so tests wrap
 * or replace it freely.
 */
import type { VppClient } from '../../vpp-api/client/index.js';
import { VppApiError, VPP_RETVALS } from '../../vpp-api/client/index.js';

export { VppApiError, VppTimeoutError, VppDisconnectedError, VppUnknownMessageError, Backoff, type BackoffOptions } from '../../vpp-api/client/index.js';
/** The codec's address check (what VPP's address fields take). */
export { isIpAddress, canonicalIp, formatIp4, formatIp6, ipToBytes } from '../../vpp-api/codec/ip.js';

/** The part of the client the agent uses (tests may wrap it). */
export type VppApi = Pick<VppClient, 'request' | 'dumpAll' | 'streamAll' | 'cli'>;

/** A retval by its name in the codec's table (`NO_SUCH_ENTRY`, `SYSCALL_ERROR_1`...). */
export type RetvalName = keyof typeof VPP_RETVALS;

export function retval(name: RetvalName): number {
  return VPP_RETVALS[name];
}

/** True when `e` is VPP answering `name` (optionally to the message `message`, or one whose name starts with it). */
export function isRetval(e: unknown, name: RetvalName | readonly RetvalName[], message?: string): e is VppApiError {
  if (!(e instanceof VppApiError)) return false;
  const names = typeof name === 'string' ? [name] : name;
  if (!names.some((n) => e.retval === VPP_RETVALS[n])) return false;
  return message === undefined || e.messageName.startsWith(message);
}

/**
 * Answers meaning "the thing to delete is not there" for every delete of the façade: no such interface
 * (INVALID_SW_IF_INDEX, NO_MATCHING_INTERFACE: also a route whose interface is gone, INVALID_INTERFACE),
 * no such entry, address not found, invalid argument (an id VPP no longer knows), address not in use.
 */
const GONE: readonly RetvalName[] = [
  'INVALID_SW_IF_INDEX',
  'NO_SUCH_ENTRY',
  'NO_MATCHING_INTERFACE',
  'ADDRESS_NOT_FOUND_FOR_INTERFACE',
  'INVALID_INTERFACE',
  'INVALID_ARGUMENT',
  'ADDRESS_NOT_IN_USE',
];

/** Runs a delete; a VPP answer saying the object does not exist (or one of `alsoGone`) counts as done. */
export async function deleteTolerant(fn: () => Promise<unknown>, alsoGone: readonly RetvalName[] = []): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (isRetval(e, GONE) || isRetval(e, alsoGone)) return;
    throw e;
  }
}

/** Removes the ANSI colours VPP's CLI output carries. */
export function plainCli(text: string): string {
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}
