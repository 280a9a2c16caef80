/**
 * The demo's view of the node dataplane, as an operator gets it: `vpp-cnictl node` and
 * `vpp-cnictl service <ns>/<name>` read from the demo agent's ctl socket and printed with the same text
 * vpp-cnictl prints. Shown only when the agent answers GET /v1/node with 200 (its node dataplane is on).
 */
import { CTL_API_PREFIX, type CtlNodeStatus, type CtlServiceStatus } from '../../contract/ctl-api.js';
import { agentCall, CtlHttpError } from '../agent-client.js';
import { formatNodeStatus, formatServiceStatus, nodeStatusSchema, serviceStatusSchema } from '../node-command.js';
import type { Printer, Steps } from './print.js';

const TIMEOUT_MS = 15_000;

/** `vpp-cnictl node` as typed, then its output. */
export function renderNodeStatus(p: Printer, s: CtlNodeStatus): void {
  p.command(['vpp-cnictl', 'node'], '   $ ');
  p.block(formatNodeStatus(s).join('\n'), '     ');
  const missing = s.routes.filter((r) => !r.present);
  if (missing.length) p.line(`   note: ${missing.length} route(s) to other nodes are wanted but not in the host's table (MISSING above)`);
  if (!s.hostLink?.vpp || !s.hostLink.host) p.line('   note: the host link is not complete: pods cannot reach the host or other nodes');
}

/** `vpp-cnictl service <ns>/<name>` as typed, then its output. */
export function renderServiceStatus(p: Printer, s: CtlServiceStatus): void {
  p.command(['vpp-cnictl', 'service', s.service], '   $ ');
  p.block(formatServiceStatus(s).join('\n'), '     ');
}

/**
 * Reads the node status from the agent at `ctlSocket`, and each of `services` (`namespace/name`); prints
 * them under their own header. Returns false, printing one line, when the node dataplane is off (404);
 * another failure is a failed step.
 */
export async function showNodeDataplane(p: Printer, steps: Steps, ctlSocket: string, services: readonly string[]): Promise<boolean> {
  let status: CtlNodeStatus;
  try {
    status = await agentCall(ctlSocket, 'GET', `${CTL_API_PREFIX}/node`, TIMEOUT_MS, nodeStatusSchema);
  } catch (e) {
    if (e instanceof CtlHttpError && e.status === 404) {
      p.line(`   (node dataplane: ${e.message}; not shown)`);
      return false;
    }
    steps.record('vpp-cnictl node', false, (e as Error).message);
    return false;
  }
  p.header('node dataplane: host link, routes to other nodes, Services');
  renderNodeStatus(p, status);
  steps.record('vpp-cnictl node', true, `${status.routes.length} route(s), ${status.translations} Service translation(s)`);
  for (const ref of services) {
    const [ns = '', name = ''] = ref.split('/');
    p.line();
    try {
      const s = await agentCall(ctlSocket, 'GET', `${CTL_API_PREFIX}/services/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`, TIMEOUT_MS, serviceStatusSchema);
      renderServiceStatus(p, s);
      steps.record(`vpp-cnictl service ${ref}`, true, `${s.translations.length} translation(s)`);
    } catch (e) {
      steps.record(`vpp-cnictl service ${ref}`, false, (e as Error).message);
    }
  }
  return true;
}
