/** VPP's session layer and app namespaces (VCL). */
import * as session from '../../vpp-api/generated/session.js';
import { deleteTolerant, isRetval, plainCli, VppApiError, type VppApi } from './api.js';

export interface AppNamespace {
  id: string;
  secret: bigint;
  swIfIndex: number;
  /** `abstract:<name>,netns_name=<path>` */
  sockName: string;
}

export interface AppNamespaceRow {
  index: number;
  secret: string;
  interfaceName: string;
  id: string;
  socket: string;
}

/**
 * Enables the session layer with the rule-table engine. session_sapi_enable_disable goes first: VPP
 * refuses it (UNSPECIFIED) once the session layer runs (startup.conf `session { enable use-app-socket-api }`),
 * which is fine.
 */
export async function enableSessionLayer(vpp: VppApi): Promise<void> {
  try {
    await vpp.request(session.session_sapi_enable_disable, { is_enable: true });
  } catch (e) {
    if (!isRetval(e, 'UNSPECIFIED')) throw e;
  }
  await vpp.request(session.session_enable_disable_v2, { rt_engine_type: session.RtBackendEngine.RT_BACKEND_ENGINE_API_RULE_TABLE });
}

export async function addAppNamespace(vpp: VppApi, ns: AppNamespace): Promise<void> {
  await vpp.request(session.app_namespace_add_del_v4, { is_add: true, secret: ns.secret, sw_if_index: ns.swIfIndex, ip4_fib_id: 0, ip6_fib_id: 0, namespace_id: ns.id, sock_name: ns.sockName });
}

/**
 * Idempotent: the session layer passes its own "not found" through as SYSCALL_ERROR_9. `swIfIndex` may
 * be ~0 when the namespace's interface is unknown.
 */
export async function deleteAppNamespace(vpp: VppApi, ns: Omit<AppNamespace, 'sockName'>): Promise<void> {
  await deleteTolerant(
    () => vpp.request(session.app_namespace_add_del_v4, { is_add: false, secret: ns.secret, sw_if_index: ns.swIfIndex, ip4_fib_id: 0, ip6_fib_id: 0, namespace_id: ns.id, sock_name: '' }),
    ['SYSCALL_ERROR_9'],
  );
}

/** `show app ns` rows whose id starts with `idPrefix` (this VPP has no app-namespace dump message). */
export function parseAppNamespaces(text: string, idPrefix: string): AppNamespaceRow[] {
  const out: AppNamespaceRow[] = [];
  for (const line of plainCli(text).split('\n')) {
    const t = line.trim().split(/\s+/);
    if (t.length < 4 || !/^\d+$/.test(t[0]!)) continue;
    // Interface names may hold a space ("DELETED (5)"): the id is the first matching word after them.
    const k = t.findIndex((w, i) => i >= 3 && w.startsWith(idPrefix));
    if (k < 0) continue;
    out.push({ index: Number(t[0]), secret: t[1]!, interfaceName: t.slice(2, k).join(' '), id: t[k]!, socket: t[k + 1] ?? '' });
  }
  return out;
}

/** The app namespaces with ids starting with `idPrefix`; none while the session layer is off (VPP refuses the CLI then). */
export async function listAppNamespaces(vpp: VppApi, idPrefix: string): Promise<AppNamespaceRow[]> {
  try {
    return parseAppNamespaces(await vpp.cli('show app ns'), idPrefix);
  } catch (e) {
    if (e instanceof VppApiError) return [];
    throw e;
  }
}

/** True when `show app ns` lists the namespace `id`. */
export async function hasAppNamespace(vpp: VppApi, id: string): Promise<boolean> {
  const text = plainCli(await vpp.cli('show app ns'));
  return text.split('\n').some((l) => l.split(/\s+/).includes(id));
}
