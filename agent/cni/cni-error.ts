/** Maps failures of the pod layer to CNI errors (code, msg, details) for the plugin to print as they are. */
import { CNI_CODES } from '../../contract/types.js';
import type { CniErrorMsg } from '../../contract/types.js';
import { InvalidAnnotationError } from '../pod/annotations.js';
import { PodRequestError, DeleteIncompleteError } from '../pod/pod-network.js';
import { StepError } from '../pod/transaction.js';
import { NetnsGoneError } from '../linux/netns.js';
import { PodSourceUnavailableError } from '../pod-info/source.js';
import { VppDisconnectedError, VppTimeoutError } from '../vpp/api.js';

export class CniFailure extends Error {
  override readonly name = 'CniFailure';
  constructor(
    readonly code: number,
    message: string,
    readonly details = '',
  ) {
    super(message);
  }
}

export function toCniError(e: unknown): CniErrorMsg {
  if (e instanceof CniFailure) return { code: e.code, msg: e.message, details: e.details };
  if (e instanceof InvalidAnnotationError) return { code: CNI_CODES.invalidNetworkConfig, msg: `invalid pod annotations: ${e.message}`, details: '' };
  if (e instanceof PodRequestError) return { code: CNI_CODES.invalidNetworkConfig, msg: e.message, details: '' };
  if (e instanceof StepError) {
    const undo = e.undoFailures.length ? `; rollback left: ${e.undoFailures.join('; ')}` : '';
    const details = [e.vppMessage && `vpp message ${e.vppMessage}`, e.retvalName && `retval ${e.retval} ${e.retvalName}`].filter(Boolean).join(', ');
    if (e.cause instanceof NetnsGoneError) return { code: CNI_CODES.netnsGone, msg: e.message + undo, details };
    if (e.retryable) return { code: CNI_CODES.tryAgainLater, msg: `${e.message}${undo} (VPP not reachable; try again later)`, details };
    return { code: CNI_CODES.vppFailure, msg: e.message + undo, details };
  }
  if (e instanceof PodSourceUnavailableError) return { code: CNI_CODES.tryAgainLater, msg: e.message, details: '' };
  if (e instanceof DeleteIncompleteError) return { code: CNI_CODES.tryAgainLater, msg: e.message, details: '' };
  if (e instanceof VppDisconnectedError || e instanceof VppTimeoutError) {
    return { code: CNI_CODES.tryAgainLater, msg: `VPP not reachable: ${e.message}; try again later`, details: '' };
  }
  return { code: CNI_CODES.internal, msg: (e as Error)?.message ?? String(e), details: '' };
}
