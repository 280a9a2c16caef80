/**
 * `vpp-cnictl pods` and `vpp-cnictl pod <namespace>/<name>`: the node agent's view of its pods, read from
 * the agent's root-only troubleshooting socket (VPPCNI_CTL_SOCKET). Text by default, `-o json` for JSON.
 * Answers are validated (zod) before use: an agent of another release fails with one line naming the field.
 */
import { z } from 'zod';
import {
  CTL_API_PREFIX,
  DEFAULT_CTL_SOCKET,
  type CtlAttachment,
  type CtlInterfaceMode,
  type CtlPodDetail,
  type CtlPodError,
  type CtlPodList,
} from '../contract/ctl-api.js';
import { parseArgs } from 'node:util';
import type { Io } from './io.js';
import { agentCall, agentErrorExit } from './agent-client.js';
import { EXIT } from './exit-codes.js';

/** vpp-cnictl's one exit-code table (exit-codes.ts), under the names these commands use. */
export const PODS_EXIT = {
  ok: EXIT.ok,
  notFound: EXIT.refused,
  usage: EXIT.usage,
  connect: EXIT.connect,
  malformed: EXIT.badAnswer,
  timeout: EXIT.timeout,
  internal: EXIT.internal,
} as const;

export const PODS_USAGE = `usage: vpp-cnictl pods [-o text|json] [--agent-socket PATH]
       vpp-cnictl pod <namespace>/<name> [-o text|json] [--agent-socket PATH]
  pods    the node's pods as the agent holds them: the node's eth0 mode (tun or veth), VPP interfaces,
          memif sockets as the pod sees them, PBL ports, VCL, last error
  pod     one pod: VPP objects with their state, the Linux side in its netns, its last errors
The agent serves this on a root-only socket: --agent-socket, else $VPPCNI_CTL_SOCKET, else ${DEFAULT_CTL_SOCKET}.
Exit codes: 0 ok, 1 pod not known to the agent, 2 usage, 3 cannot reach the agent, 5 timeout,
6 answer not understood (agent of another release), 7 internal error.`;

export interface PodsCommandOptions {
  agentSocket: string;
  timeoutMs: number;
}

// ---------------------------------------------------------------------------------------------------------
// Answer validation (contract/ctl-api.ts)

const int = z.number().int();
const u32 = int.nonnegative();
const podError = z.object({
  at: z.string(),
  op: z.string(),
  reason: z.string(),
  message: z.string(),
  containerId: z.string().optional(),
  ifName: z.string().optional(),
  step: z.string().optional(),
  vppMessage: z.string().optional(),
  retvalName: z.string().optional(),
});
const queues = { rx: u32, tx: u32, rxqsz: u32, txqsz: u32 };
const attachment = z.object({
  containerId: z.string(),
  ifName: z.string(),
  kind: z.string(),
  netns: z.string(),
  ips: z.array(z.string()),
  createdAt: z.string(),
  tun: z.object({ swIfIndex: u32, hostIfName: z.string(), l2: z.boolean(), podMac: z.string().optional(), ...queues }).optional(),
  veth: z
    .object({ swIfIndex: u32, vppIfName: z.string(), hostIfName: z.string(), podIfName: z.string(), podMac: z.string(), vppMac: z.string(), l2: z.boolean(), ...queues })
    .optional(),
  memif: z.object({ swIfIndex: u32, mode: z.string(), socket: z.string(), socketFilename: z.string(), l2: z.boolean(), ...queues }).optional(),
  pbl: z.array(z.object({ ip: z.string(), id: u32 })),
  pblPorts: z.array(z.string()),
  vcl: z.object({ namespaceId: z.string(), socket: z.string(), loopSwIfIndex: u32 }).optional(),
  dummy: z.string().optional(),
});
const podSummary = {
  namespace: z.string(),
  name: z.string(),
  uid: z.string().optional(),
  attachments: z.array(attachment),
  errorCount: u32,
  lastError: podError.optional(),
  hostNetwork: z.boolean().optional(),
};
const interfaceMode = z.object({
  setting: z.string(),
  mode: z.string(),
  fallback: z.object({ reason: z.string(), pod: z.string(), at: z.string() }).optional(),
});
export const podListSchema: z.ZodType<CtlPodList> = z.object({
  node: z.string(),
  vpp: z.string(),
  ready: z.boolean(),
  notReadyReason: z.string().optional(),
  interfaceMode: interfaceMode.optional(),
  pods: z.array(z.object(podSummary)),
});
const vppInterface = z.object({
  swIfIndex: u32,
  role: z.string(),
  present: z.boolean(),
  name: z.string().optional(),
  tag: z.string().optional(),
  adminUp: z.boolean().optional(),
  linkUp: z.boolean().optional(),
  mtu: z.array(u32).optional(),
  mac: z.string().optional(),
  memif: z.object({ role: z.string(), mode: z.string(), socketId: u32, ringSize: u32, bufferSize: u32, connected: z.boolean() }).optional(),
  afPacket: z.object({ hostIfName: z.string() }).optional(),
  cli: z.string().optional(),
  error: z.string().optional(),
});
export const podDetailSchema: z.ZodType<CtlPodDetail> = z.object({
  ...podSummary,
  vpp: z.array(vppInterface),
  pblClients: z.array(z.object({ id: u32, ip: z.string(), present: z.boolean() })),
  countersNote: z.string(),
  linux: z.array(z.object({ netns: z.string(), commands: z.array(z.object({ command: z.array(z.string()), output: z.string().optional(), error: z.string().optional() })) })),
  errors: z.array(podError),
  vppError: z.string().optional(),
});

// ---------------------------------------------------------------------------------------------------------

/** Left-aligned columns. */
export function table(headers: string[], rows: string[][]): string[] {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(w[i]!))).join('  ');
  return [line(headers), ...rows.map(line)];
}

function vppIfs(a: CtlAttachment): string {
  const out: string[] = [];
  if (a.tun) out.push(`${a.tun.l2 ? 'tap' : 'tun'}:${a.tun.swIfIndex}`);
  if (a.veth) out.push(`veth:${a.veth.swIfIndex}`);
  if (a.memif) out.push(`memif:${a.memif.swIfIndex}`);
  if (a.vcl) out.push(`vcl-loop:${a.vcl.loopSwIfIndex}`);
  return out.join(' ') || '-';
}

function oneLine(s: string, max = 80): string {
  const t = s.replace(/\s+/g, ' ');
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

function errorLine(e: CtlPodError): string {
  const vpp = [e.vppMessage, e.retvalName].filter(Boolean).join(' ');
  return `${e.at} ${e.op} ${e.reason}${e.step ? ` step "${e.step}"` : ''}${vpp ? ` (${vpp})` : ''}: ${e.message}`;
}

/** `interface mode: veth (setting auto; fell back at <time> for pod ns/name (...): <reason>)`. */
export function interfaceModeLine(m: CtlInterfaceMode): string {
  const f = m.fallback;
  if (!f) return `interface mode: ${m.mode} (setting ${m.setting})`;
  const who = f.pod.startsWith('pod ') ? f.pod : `pod ${f.pod}`;
  return `interface mode: ${m.mode} (setting ${m.setting}; fell back at ${f.at} for ${who}: ${oneLine(f.reason, 400)})`;
}

export function formatPodList(l: CtlPodList): string[] {
  const out = [`node ${l.node || '(unnamed)'}: VPP ${l.vpp}, ${l.ready ? 'ready' : `not ready (${l.notReadyReason ?? '?'})`}, ${l.pods.length} pod(s)`];
  if (l.interfaceMode) out.push(interfaceModeLine(l.interfaceMode));
  if (l.pods.length === 0) return out;
  const rows: string[][] = [];
  for (const p of l.pods) {
    const last = p.lastError ? oneLine(`${p.lastError.reason}: ${p.lastError.message}`) : '-';
    // A pod with no attachment: on the node's network (no CNI call is made for it), or none made (yet).
    if (p.attachments.length === 0) rows.push([`${p.namespace}/${p.name}`, '-', '-', p.hostNetwork ? 'host-network' : '-', '-', '-', '-', '-', last]);
    p.attachments.forEach((a, i) => {
      rows.push([
        i === 0 ? `${p.namespace}/${p.name}` : '',
        a.containerId.slice(0, 12),
        a.ifName,
        a.kind,
        vppIfs(a),
        a.memif?.socket ?? '-',
        a.pblPorts.join(',') || '-',
        a.vcl ? a.vcl.socket : '-',
        i === 0 ? last : '',
      ]);
    });
  }
  out.push('', ...table(['POD', 'CONTAINER', 'IF', 'KIND', 'VPP INTERFACES', 'MEMIF SOCKET', 'PBL PORTS', 'VCL', 'LAST ERROR'], rows));
  return out;
}

export function formatPodDetail(d: CtlPodDetail): string[] {
  const out = [`Pod ${d.namespace}/${d.name}${d.uid ? ` (uid ${d.uid})` : ''}`];
  if (d.attachments.length === 0) out.push(d.hostNetwork ? '  on the node network (hostNetwork): no CNI attachment' : '  no attachment on this node');
  for (const a of d.attachments) {
    out.push(`  ${a.ifName}: container ${a.containerId.slice(0, 12)}, kind ${a.kind}, netns ${a.netns}, since ${a.createdAt}`);
    out.push(`    IPs: ${a.ips.join(', ') || '-'}`);
    if (a.tun) out.push(`    ${a.tun.l2 ? 'tap' : 'tun'}: sw_if_index ${a.tun.swIfIndex}, queues rx ${a.tun.rx} tx ${a.tun.tx}, rings ${a.tun.rxqsz}/${a.tun.txqsz}${a.tun.podMac ? `, pod mac ${a.tun.podMac} (pinned)` : ''}`);
    if (a.veth) {
      const v = a.veth;
      out.push(`    veth: af_packet ${v.vppIfName} sw_if_index ${v.swIfIndex}, queues rx ${v.rx} tx ${v.tx}, rings ${v.rxqsz}/${v.txqsz}`);
      out.push(`      host end ${v.hostIfName}, pod end ${v.podIfName} mac ${v.podMac} (pinned), VPP mac ${v.vppMac || '?'}`);
    }
    if (a.memif) {
      out.push(`    memif (${a.memif.mode}, ${a.memif.l2 ? 'ethernet' : 'ip'}): sw_if_index ${a.memif.swIfIndex}, queues rx ${a.memif.rx} tx ${a.memif.tx}, rings ${a.memif.rxqsz}/${a.memif.txqsz}`);
      out.push(`      socket as the pod sees it: ${a.memif.socket}   (VPP: ${a.memif.socketFilename})`);
    }
    if (a.memif?.mode === 'pbl' || a.pbl.length) {
      out.push(`    PBL ports: ${a.pblPorts.join(', ') || '-'}`);
      for (const c of a.pbl) {
        const live = d.pblClients.find((x) => x.id === c.id);
        out.push(`      client ${c.id} on ${c.ip}: ${live?.present ? 'present in VPP' : 'MISSING in VPP'}`);
      }
    }
    out.push(`    VCL: ${a.vcl ? `app namespace ${a.vcl.namespaceId}, socket ${a.vcl.socket}, loopback sw_if_index ${a.vcl.loopSwIfIndex}` : 'off'}`);
    if (a.dummy) out.push(`    Linux dummy: ${a.dummy}`);
  }
  out.push('', 'VPP objects');
  if (d.vppError) out.push(`  ${d.vppError}`);
  for (const v of d.vpp) {
    if (!v.present) {
      out.push(`  sw_if_index ${v.swIfIndex} (${v.role}): ${v.error ?? 'MISSING in VPP'}`);
      continue;
    }
    const state = `admin ${v.adminUp ? 'up' : 'down'}, link ${v.linkUp ? 'up' : 'down'}`;
    out.push(`  ${v.name} sw_if_index ${v.swIfIndex} (${v.role}): ${state}, mtu ${(v.mtu ?? []).join('/')}${v.mac ? `, mac ${v.mac}` : ''}`);
    if (v.tag) out.push(`    tag ${v.tag}`);
    if (v.memif) {
      const sizes = v.memif.connected ? `ring ${v.memif.ringSize}, buffer ${v.memif.bufferSize}` : 'ring and buffer sizes negotiated when a client connects';
      out.push(`    memif ${v.memif.role}, ${v.memif.mode}, socket id ${v.memif.socketId}, ${v.memif.connected ? 'client connected' : 'no client connected'}, ${sizes}`);
    }
    if (v.afPacket) out.push(`    af_packet on host interface ${v.afPacket.hostIfName}`);
    if (v.cli) for (const l of v.cli.split('\n')) out.push(`    | ${l}`.trimEnd());
    if (v.error) out.push(`    ${v.error}`);
  }
  out.push(`  Counters: ${d.countersNote}`);
  for (const n of d.linux) {
    out.push('', `Linux side (netns ${n.netns})`);
    for (const c of n.commands) {
      if (c.command.length) out.push(`  $ ${c.command.join(' ')}`);
      if (c.error) out.push(`    error: ${c.error}`);
      for (const l of (c.output ?? '').split('\n')) if (l.trim() !== '') out.push(`    ${l.trimEnd()}`);
    }
  }
  out.push('', `Last errors (${d.errors.length})`);
  if (d.errors.length === 0) out.push('  none');
  for (const e of [...d.errors].reverse()) out.push(`  ${errorLine(e)}`);
  return out;
}

/** `cmd` is `pods` or `pod`; `argv` what follows it. */
export async function runPodsCommand(cmd: 'pods' | 'pod', argv: string[], opts: PodsCommandOptions, io: Io): Promise<number> {
  let output: string;
  let socket: string;
  let args: string[];
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { output: { type: 'string', short: 'o' }, 'agent-socket': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    });
    if (values.help) {
      io.out(PODS_USAGE);
      return PODS_EXIT.ok;
    }
    args = positionals;
    output = values.output ?? 'text';
    if (output !== 'text' && output !== 'json') throw new Error(`-o: "${output}" is not text or json`);
    socket = values['agent-socket'] || opts.agentSocket;
    if (cmd === 'pods' && args.length > 0) throw new Error(`pods takes no arguments (got ${args.join(' ')})`);
    if (cmd === 'pod' && (args.length !== 1 || !/^[^/\s]+\/[^/\s]+$/.test(args[0]!))) throw new Error('pod needs one <namespace>/<name> argument');
  } catch (e) {
    io.err(`vpp-cnictl: ${(e as Error).message}\n${PODS_USAGE}`);
    return PODS_EXIT.usage;
  }
  try {
    if (cmd === 'pods') {
      const l = await agentCall(socket, 'GET', `${CTL_API_PREFIX}/pods`, opts.timeoutMs, podListSchema);
      if (output === 'json') io.out(JSON.stringify(l, null, 2));
      else for (const line of formatPodList(l)) io.out(line);
    } else {
      const [ns, name] = args[0]!.split('/') as [string, string];
      const d = await agentCall(socket, 'GET', `${CTL_API_PREFIX}/pods/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`, opts.timeoutMs, podDetailSchema);
      if (output === 'json') io.out(JSON.stringify(d, null, 2));
      else for (const line of formatPodDetail(d)) io.out(line);
    }
    return PODS_EXIT.ok;
  } catch (e) {
    io.err(`vpp-cnictl: ${(e as Error).message}`);
    return agentErrorExit(e);
  }
}
