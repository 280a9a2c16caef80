/** session.api: session layer enable, socket API enable, application namespaces (application_namespace.c). */
import { session } from '../../generated/index.js';
import { on, type HandlerContext, type HandlerSpec } from '../handler.js';
import { Retval, U32_MAX } from '../retval.js';
import type { AppNamespace, SimState } from '../state.js';
import { netnsOfSocket } from './memif.js';

const RT_BACKEND_ENGINE_DISABLE = 0;

function enableSession(ctx: HandlerContext, enable: boolean): void {
  const st = ctx.state;
  if (enable && !st.sessionEnabled) {
    st.sessionEnabled = true;
    // app_namespaces_init: the default namespace (index 0, no interface).
    addDelNamespace(ctx, { nsId: 'default', sockName: undefined, secret: 0n, swIfIndex: U32_MAX, ip4FibId: 0, ip6FibId: 0, isAdd: true });
  } else if (!enable) {
    st.sessionEnabled = false;
  }
}

interface NamespaceArgs {
  nsId: string;
  sockName: string | undefined;
  secret: bigint;
  swIfIndex: number;
  ip4FibId: number;
  ip6FibId: number;
  isAdd: boolean;
}

function findNamespace(state: SimState, nsId: string): AppNamespace | undefined {
  for (const ns of state.appns.values()) if (ns.nsId === nsId) return ns;
  return undefined;
}

/** vnet_app_namespace_add_del; returns a retval (session_error_t values pass through the API unchanged). */
function addDelNamespace(ctx: HandlerContext, a: NamespaceArgs): number {
  const st = ctx.state;
  if (!a.isAdd) {
    const ns = findNamespace(st, a.nsId);
    if (!ns) return Retval.SESSION_E_INVALID;
    st.appns.delete(ns.index);
    st.appnsPool.release(ns.index);
    return 0;
  }
  let ip4FibId = a.ip4FibId;
  let ip6FibId = a.ip6FibId;
  if (a.swIfIndex !== U32_MAX) {
    const itf = st.get(a.swIfIndex);
    if (!itf) return Retval.SESSION_E_INVALID;
    ip4FibId = itf.ip4Table;
    ip6FibId = itf.ip6Table;
  } else if (ip4FibId === U32_MAX) {
    return Retval.SESSION_E_INVALID;
  }
  let ns = findNamespace(st, a.nsId);
  if (!ns) {
    const index = st.appnsPool.alloc();
    ns = { index, nsId: a.nsId, secret: a.secret, swIfIndex: a.swIfIndex, ip4FibId, ip6FibId, sockName: a.sockName || undefined };
    st.appns.set(index, ns);
    if (st.sapiEnabled) {
      // appns_sapi_add_ns_socket: a listener under the runtime dir unless a name was given. It fails when the
      // netns of an abstract name does not exist, after the namespace was allocated (VPP keeps it).
      if (ns.sockName === undefined) ns.sockName = `${ctx.config.runtimeDir}/app_ns_sockets/${a.nsId}`;
      const netns = netnsOfSocket(ns.sockName);
      if (netns !== undefined && !ctx.host.pathExists(netns)) return Retval.UNSPECIFIED;
    }
  }
  ns.secret = a.secret;
  ns.swIfIndex = a.swIfIndex;
  ns.ip4FibId = ip4FibId;
  ns.ip6FibId = ip6FibId;
  return 0;
}

function namespaceReply(ctx: HandlerContext, a: NamespaceArgs): { retval: number; appns_index: number } {
  if (!ctx.state.sessionEnabled) return { retval: Retval.FEATURE_DISABLED, appns_index: 0 };
  const retval = addDelNamespace(ctx, a);
  if (retval !== 0 || !a.isAdd) return { retval, appns_index: 0 };
  return { retval, appns_index: findNamespace(ctx.state, a.nsId)?.index ?? 0 };
}

export const sessionHandlers: readonly HandlerSpec[] = [
  on(session.session_enable_disable, (req, ctx) => {
    enableSession(ctx, req.is_enable);
    ctx.send(session.session_enable_disable_reply, { retval: 0 });
  }),

  on(session.session_enable_disable_v2, (req, ctx) => {
    enableSession(ctx, req.rt_engine_type !== RT_BACKEND_ENGINE_DISABLE);
    ctx.send(session.session_enable_disable_v2_reply, { retval: 0 });
  }),

  on(session.session_sapi_enable_disable, (req, ctx) => {
    // appns_sapi_enable_disable: refused once any namespace (the default one included) exists.
    const st = ctx.state;
    let retval = 0;
    if (st.appns.size > 0) retval = Retval.UNSPECIFIED;
    else st.sapiEnabled = req.is_enable;
    ctx.send(session.session_sapi_enable_disable_reply, { retval });
  }),

  on(session.app_namespace_add_del_v4, (req, ctx) => {
    ctx.send(
      session.app_namespace_add_del_v4_reply,
      namespaceReply(ctx, {
        nsId: req.namespace_id,
        sockName: req.sock_name || undefined,
        secret: req.secret,
        swIfIndex: req.sw_if_index,
        ip4FibId: req.ip4_fib_id,
        ip6FibId: req.ip6_fib_id,
        isAdd: req.is_add,
      }),
    );
  }),

  on(session.app_namespace_add_del_v3, (req, ctx) => {
    const sockName = req.netns !== '' ? `abstract:${req.sock_name},netns_name=${req.netns}` : req.sock_name || undefined;
    ctx.send(
      session.app_namespace_add_del_v3_reply,
      namespaceReply(ctx, {
        nsId: req.namespace_id,
        sockName,
        secret: req.secret,
        swIfIndex: req.sw_if_index,
        ip4FibId: req.ip4_fib_id,
        ip6FibId: req.ip6_fib_id,
        isAdd: req.is_add,
      }),
    );
  }),

  on(session.app_namespace_add_del_v2, (req, ctx) => {
    ctx.send(
      session.app_namespace_add_del_v2_reply,
      namespaceReply(ctx, { nsId: req.namespace_id, sockName: undefined, secret: req.secret, swIfIndex: req.sw_if_index, ip4FibId: req.ip4_fib_id, ip6FibId: req.ip6_fib_id, isAdd: true }),
    );
  }),

  on(session.app_namespace_add_del, (req, ctx) => {
    ctx.send(
      session.app_namespace_add_del_reply,
      namespaceReply(ctx, { nsId: req.namespace_id, sockName: undefined, secret: req.secret, swIfIndex: req.sw_if_index, ip4FibId: req.ip4_fib_id, ip6FibId: req.ip6_fib_id, isAdd: true }),
    );
  }),
];
