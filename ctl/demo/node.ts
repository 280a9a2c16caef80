/**
 * The demo's view of the node dataplane, as an operator gets it: `vpp-cnictl node` and
 * `vpp-cnictl service <ns>/<name>` read from the demo agent's ctl socket and printed with the same text
 * vpp-cnictl prints. Shown only when the agent answers GET /v1/node with 200 (its node dataplane is on).
 */
import { CTL_API_PREFIX, type CtlNodeCleanupReport, type CtlNodeStatus, type CtlServiceStatus } from '../../contract/ctl-api.js';
import { agentCall, CtlHttpError } from '../agent-client.js';
import { cleanupReportSchema, formatCleanupReport, formatNodeStatus, formatServiceStatus, nodeStatusSchema, serviceStatusSchema } from '../node-command.js';
import { podListSchema } from '../pods-command.js';
import { waitFor } from './exec.js';
import type { Printer, Steps } from './print.js';

const TIMEOUT_MS = 15_000;
const POLL_MS = 200;

function servicePath(ref: string): string {
  const [ns = '', name = ''] = ref.split('/');
  return `${CTL_API_PREFIX}/services/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`;
}

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
    p.line();
    try {
      const s = await agentCall(ctlSocket, 'GET', servicePath(ref), TIMEOUT_MS, serviceStatusSchema);
      renderServiceStatus(p, s);
      steps.record(`vpp-cnictl service ${ref}`, true, `${s.translations.length} translation(s)`);
    } catch (e) {
      steps.record(`vpp-cnictl service ${ref}`, false, (e as Error).message);
    }
  }
  return true;
}

/**
 * Polls `GET /v1/services/<ref>` (every 200 ms, at most `timeoutMs`) until VPP holds a translation of the
 * Service with exactly `backends` (`ip:port`); returns the status then, or throws with the last one seen.
 */
export async function waitForServiceBackends(ctlSocket: string, ref: string, backends: readonly string[], timeoutMs: number, abort?: () => boolean): Promise<CtlServiceStatus> {
  const want = [...backends].sort().join(',');
  let last = 'no answer yet';
  const got = await waitFor(
    async () => {
      try {
        const s = await agentCall(ctlSocket, 'GET', servicePath(ref), TIMEOUT_MS, serviceStatusSchema);
        const inVpp = s.translations.filter((t) => t.id !== undefined);
        last = inVpp.length ? inVpp.map((t) => `${t.vip}:${t.port} -> ${t.backends.join(',') || 'none'}`).join('; ') : `no translation in VPP${s.skipped ? ` (${s.skipped})` : ''}`;
        return inVpp.some((t) => [...t.backends].sort().join(',') === want) ? s : undefined;
      } catch (e) {
        last = (e as Error).message;
        return undefined;
      }
    },
    timeoutMs,
    abort,
    POLL_MS,
  );
  if (!got) throw new Error(`service ${ref}: VPP has no translation to ${want} after ${timeoutMs / 1000} s (last seen: ${last})`);
  return got;
}

/** `vpp-cnictl node cleanup` (POST /v1/node/cleanup): prints the command and the agent's report. */
export async function cleanupNodeDataplane(p: Printer, ctlSocket: string): Promise<CtlNodeCleanupReport> {
  p.command(['vpp-cnictl', 'node', 'cleanup'], '   $ ');
  const r = await agentCall(ctlSocket, 'POST', `${CTL_API_PREFIX}/node/cleanup`, TIMEOUT_MS, cleanupReportSchema);
  p.block(formatCleanupReport(r).join('\n'), '     ');
  return r;
}

/** `GET /v1/node`: the node dataplane's status (throws when it is off or the agent cannot be reached). */
export function readNodeStatus(ctlSocket: string): Promise<CtlNodeStatus> {
  return agentCall(ctlSocket, 'GET', `${CTL_API_PREFIX}/node`, TIMEOUT_MS, nodeStatusSchema);
}

/**
 * Polls `GET /v1/pods` (at most `timeoutMs`) until the agent says it is ready for CNI calls: with the node
 * dataplane on, it first makes the host link and programs the node, then reconciles the pods' checkpoint;
 * an ADD before that is refused with "try again later". Returns undefined when ready, else the last reason.
 */
export async function waitAgentReady(ctlSocket: string, timeoutMs: number, abort?: () => boolean): Promise<string | undefined> {
  let last = 'no answer yet';
  const ok = await waitFor(
    async () => {
      try {
        const l = await agentCall(ctlSocket, 'GET', `${CTL_API_PREFIX}/pods`, TIMEOUT_MS, podListSchema);
        last = l.notReadyReason ?? 'not ready';
        return l.ready ? true : undefined;
      } catch (e) {
        last = (e as Error).message;
        return undefined;
      }
    },
    timeoutMs,
    abort,
    POLL_MS,
  );
  return ok ? undefined : last;
}
