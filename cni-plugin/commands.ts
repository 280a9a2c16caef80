/**
 * The commands, once the skel has checked environment and configuration frame. Loaded lazily by the skel
 * (this module brings zod; the agent client brings node:http2 on first call).
 *
 *   ADD     IPAM ADD → agent Add (the IPAM's ips and routes, the network name, the pod annotations the
 *           runtime passed) → result: the agent's interfaces, the IPAM's ips and routes, in the
 *           configuration's version. Anything failing after the address was allocated (agent error, agent
 *           unreachable, timeout, bad reply) releases it with IPAM DEL, then the original error is reported.
 *   DEL     agent Del (an unknown container or a vanished namespace is not an error), then IPAM DEL.
 *   CHECK   needs prevResult; IPAM CHECK with it, then agent Check (the agent checks its own record).
 *   GC      agent Gc with the attachments still valid; IPAM GC when the delegate speaks 1.1.0.
 *   STATUS  agent Status (unreachable → 50); IPAM STATUS when the delegate speaks 1.1.0.
 */
import type { AttachmentMsg } from '../contract/types.js';
import { AgentUnreachableError, replyError, withAgent } from './agent-client.js';
import { timingLine, type CommandContext } from './context.js';
import { CNI_CODES, CniError, toCniError } from './errors.js';
import { DelegateTimeoutError, IpamDelegate } from './ipam.js';
import { parseNetConf, runtimeAnnotations, validAttachments, type NetConf } from './netconf.js';
import { buildAddResult, formatResult, parseResult, type CniDns, type CniResult } from './result.js';

export async function runCommand(ctx: CommandContext): Promise<unknown> {
  const conf = parseNetConf(ctx.config, ctx.command);
  switch (ctx.command) {
    case 'ADD':
      return cmdAdd(ctx, conf);
    case 'DEL':
      return cmdDel(ctx, conf);
    case 'CHECK':
      return cmdCheck(ctx, conf);
    case 'GC':
      return cmdGc(ctx, conf);
    case 'STATUS':
      return cmdStatus(ctx, conf);
  }
}

export function attachmentOf(ctx: CommandContext): AttachmentMsg {
  const a = ctx.cniArgs;
  const pod =
    a.K8S_POD_NAMESPACE || a.K8S_POD_NAME || a.K8S_POD_UID
      ? { namespace: a.K8S_POD_NAMESPACE ?? '', name: a.K8S_POD_NAME ?? '', uid: a.K8S_POD_UID ?? '' }
      : null;
  return { container_id: ctx.containerId, if_name: ctx.ifName, netns: ctx.netns, pod };
}

function agentOpts(conf: NetConf): { socketPath: string; timeoutSeconds: number } {
  return { socketPath: conf.agentSocket, timeoutSeconds: conf.timeoutSeconds };
}

function openIpam(ctx: CommandContext, conf: NetConf): Promise<IpamDelegate> {
  const ipam = conf.ipam;
  if (!ipam) throw new CniError(CNI_CODES.invalidNetworkConfig, 'invalid network configuration: ipam: required');
  return IpamDelegate.open({
    type: ipam.type,
    cniPath: ctx.cniPath,
    env: ctx.env,
    config: ctx.config,
    cniVersion: ctx.cniVersion,
    timeoutMs: conf.timeoutSeconds * 1000,
    stderr: ctx.stderr,
  });
}

function confDns(conf: NetConf): CniDns | undefined {
  const d = conf.dns;
  if (!d) return undefined;
  const out: CniDns = {};
  if (d.nameservers) out.nameservers = d.nameservers;
  if (d.domain) out.domain = d.domain;
  if (d.search) out.search = d.search;
  if (d.options) out.options = d.options;
  return out;
}

/** IPAM DEL after a failed ADD; its own failure is only logged (the original error is what counts). */
async function release(ctx: CommandContext, ipam: IpamDelegate, why: CniError): Promise<void> {
  try {
    await ipam.del();
    ctx.stderr.write(`vpp-cni: ADD failed (${why.msg}); released the address with ${ipam.label} DEL\n`);
  } catch (e) {
    ctx.stderr.write(`vpp-cni: ADD failed (${why.msg}); releasing the address with ${ipam.label} DEL failed too: ${toCniError(e).msg}\n`);
  }
}

/** VPPCNI_PLUGIN_TIMING=1: one stderr line per phase (context.ts timingLine). */
function phase(ctx: CommandContext, name: string): void {
  if (ctx.env.VPPCNI_PLUGIN_TIMING === '1') ctx.stderr.write(timingLine(name));
}

async function cmdAdd(ctx: CommandContext, conf: NetConf): Promise<unknown> {
  const annotations = runtimeAnnotations(conf);
  phase(ctx, 'netconf parsed');
  const ipam = await openIpam(ctx, conf);
  phase(ctx, 'ipam version known');
  let allocated: CniResult;
  try {
    allocated = await ipam.add();
    phase(ctx, 'ipam add done');
  } catch (e) {
    // killed mid-way: it may have written its reservation before it was
    if (e instanceof DelegateTimeoutError) await release(ctx, ipam, e);
    throw e;
  }
  try {
    const reply = await withAgent(agentOpts(conf), (agent) =>
      agent.add({
        attachment: attachmentOf(ctx),
        ips: allocated.ips ?? [],
        routes: allocated.routes ?? [],
        network_name: conf.name,
        annotations: annotations ? { entries: annotations } : null,
      }),
    );
    phase(ctx, 'agent add done');
    const err = replyError('Add', reply.error);
    if (err) throw err;
    if (reply.interfaces.length === 0) throw new CniError(CNI_CODES.internal, 'vpp-cni agent answered Add with neither interfaces nor an error');
    const result = buildAddResult(reply.interfaces, allocated, confDns(conf), ctx.ifName, ctx.cniVersion);
    return formatResult(result, ctx.cniVersion);
  } catch (e) {
    const err = toCniError(e);
    await release(ctx, ipam, err);
    throw err;
  }
}

/** DEL: an attachment the agent does not know, or whose namespace is gone, is already deleted. */
const DEL_DONE_CODES: readonly number[] = [CNI_CODES.unknownContainer, CNI_CODES.netnsGone];

async function cmdDel(ctx: CommandContext, conf: NetConf): Promise<undefined> {
  const reply = await withAgent(agentOpts(conf), (agent) => agent.del({ attachment: attachmentOf(ctx) }));
  const err = replyError('Del', reply.error);
  if (err && !DEL_DONE_CODES.includes(err.code)) throw err;
  let prev: CniResult | undefined;
  if (conf.prevResult) {
    try {
      prev = parseResult(conf.prevResult, ctx.cniVersion, 'prevResult');
    } catch (e) {
      // DEL must clean up what it can: the delegate gets no prevResult rather than a malformed one
      ctx.stderr.write(`vpp-cni: DEL: ignoring prevResult: ${toCniError(e).msg}\n`);
    }
  }
  const ipam = await openIpam(ctx, conf);
  await ipam.del(prev);
  return undefined;
}

async function cmdCheck(ctx: CommandContext, conf: NetConf): Promise<undefined> {
  if (!conf.prevResult) throw new CniError(CNI_CODES.invalidNetworkConfig, 'invalid network configuration: prevResult: required for CHECK');
  const prev = parseResult(conf.prevResult, ctx.cniVersion, 'prevResult');
  const ipam = await openIpam(ctx, conf);
  await ipam.check(prev);
  const reply = await withAgent(agentOpts(conf), (agent) => agent.check({ attachment: attachmentOf(ctx) }));
  const err = replyError('Check', reply.error);
  if (err) throw err;
  return undefined;
}

async function cmdGc(ctx: CommandContext, conf: NetConf): Promise<undefined> {
  const valid = validAttachments(conf);
  let agentErr: CniError | undefined;
  try {
    const reply = await withAgent(agentOpts(conf), (agent) =>
      agent.gc({ valid: valid.map((a) => ({ container_id: a.containerID, if_name: a.ifname, netns: '', pod: null })), network_name: conf.name }),
    );
    agentErr = replyError('Gc', reply.error);
  } catch (e) {
    agentErr = toCniError(e);
  }
  // the IPAM's leaks are independent of the agent's: collect them even when the agent failed
  if (conf.ipam) {
    const ipam = await openIpam(ctx, conf);
    try {
      await ipam.gc();
    } catch (e) {
      if (!agentErr) throw e;
      ctx.stderr.write(`vpp-cni: GC: ${toCniError(e).msg}\n`);
    }
  }
  if (agentErr) throw agentErr;
  return undefined;
}

async function cmdStatus(ctx: CommandContext, conf: NetConf): Promise<undefined> {
  let reply;
  try {
    reply = await withAgent(agentOpts(conf), (agent) => agent.status());
  } catch (e) {
    if (e instanceof AgentUnreachableError) {
      throw new CniError(
        CNI_CODES.pluginNotAvailable,
        `vpp-cni agent is not answering on ${e.socketPath}: check that the vpp-cni DaemonSet pod on this node is running and ready, and that its agent socket is mounted at that path`,
        e.reason,
      );
    }
    throw e;
  }
  const err = replyError('Status', reply.error);
  if (err) throw err;
  if (conf.ipam) await (await openIpam(ctx, conf)).status();
  return undefined;
}
