/**
 * `vpp-cnictl node`, `vpp-cnictl node cleanup` and `vpp-cnictl service <namespace>/<name>`: the node
 * dataplane (host link, routes to other nodes, Service translations in VPP's cnat) as the local agent holds
 * it, read from the agent's root-only troubleshooting socket (contract/ctl-api.ts). Text by default, JSON
 * with `--json` (or `-o json`). Answers are validated (zod) before use.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import {
  CTL_API_PREFIX,
  DEFAULT_CTL_SOCKET,
  type CtlHostLinkStatus,
  type CtlLinkEnd,
  type CtlNodeCleanupReport,
  type CtlNodeStatus,
  type CtlServiceStatus,
} from '../contract/ctl-api.js';
import { agentCall, agentErrorExit } from './agent-client.js';
import { EXIT } from './exit-codes.js';
import type { Io } from './io.js';
import { table } from './pods-command.js';

export const NODE_USAGE = `usage: vpp-cnictl node [--json] [--agent-socket PATH]
       vpp-cnictl node cleanup [--json] [--agent-socket PATH]
       vpp-cnictl service <namespace>/<name> [--json] [--agent-socket PATH]
  node           the node dataplane: the host link (both ends: name, addresses, state, MTU), routes to other
                 nodes (node, pod CIDR, next hop; missing ones flagged), Service translations in VPP, skipped
                 Nodes and Services with the reason, the last sync's latency and error
  node cleanup   asks the agent to remove every node object of its own (host link, routes, VXLAN device,
                 iptables chains, Service translations) and prints what was removed; the agent programs
                 nothing more on this node until it restarts. For uninstalling (docs/install.md): not needed
                 for an upgrade or a restart, where the new agent adopts the objects
  service        one Service: each VIP:port/protocol and its backends as VPP holds them
-o text|json is accepted too. The agent serves this on a root-only socket: --agent-socket, else
$VPPCNI_CTL_SOCKET, else ${DEFAULT_CTL_SOCKET}.
Exit codes: 0 ok, 1 the agent said no (node dataplane off, Service not known, cleanup with errors),
2 usage, 3 cannot reach the agent, 5 timeout, 6 answer not understood (agent of another release), 7 internal error.`;

export interface NodeCommandOptions {
  agentSocket: string;
  timeoutMs: number;
}

// ---------------------------------------------------------------------------------------------------------
// Answer validation (contract/ctl-api.ts)

const u32 = z.number().int().nonnegative();
const linkEnd = z.object({ name: z.string(), addresses: z.array(z.string()), mtu: u32, state: z.string(), mac: z.string().optional() });
// JSON drops an undefined end (missing on that side): absent keys are read back as undefined ones.
const hostLink = z
  .object({ vppIf: z.string(), hostIf: z.string(), swIfIndex: u32, mtu: u32, vpp: linkEnd.optional(), host: linkEnd.optional() })
  .transform((l): CtlHostLinkStatus => ({ ...l, vpp: l.vpp, host: l.host }));

export const nodeStatusSchema: z.ZodType<CtlNodeStatus> = z
  .object({
    nodeName: z.string(),
    mode: z.enum(['host-gw', 'vxlan', 'none']),
    servicesEnabled: z.boolean(),
    natOutgoing: z.boolean(),
    clusterCidrs: z.array(z.string()),
    serviceCidrs: z.array(z.string()),
    hostLink: hostLink.optional(),
    routes: z.array(z.object({ node: z.string(), podCidr: z.string(), via: z.string(), dev: z.string().optional(), present: z.boolean() })),
    skipped: z.array(z.object({ subject: z.string(), reason: z.string() })),
    translations: u32,
    lastSyncLatencyMs: z.number().nonnegative().optional(),
    lastSyncError: z.string().optional(),
  })
  .transform((s): CtlNodeStatus => ({ ...s, hostLink: s.hostLink }));

export const serviceStatusSchema: z.ZodType<CtlServiceStatus> = z.object({
  service: z.string(),
  translations: z.array(
    z.object({
      vip: z.string(),
      port: z.number().int().min(0).max(65535),
      protocol: z.enum(['TCP', 'UDP', 'SCTP']),
      id: u32.optional(),
      backends: z.array(z.string()),
    }),
  ),
  skipped: z.string().optional(),
  warnings: z.array(z.string()),
});

export const cleanupReportSchema: z.ZodType<CtlNodeCleanupReport> = z.object({ removed: z.array(z.string()), errors: z.array(z.string()) });

// ---------------------------------------------------------------------------------------------------------
// Text

const onOff = (b: boolean): string => (b ? 'on' : 'off');

/** `VIP:port`, with brackets around an IPv6 VIP. */
export function vipPort(vip: string, port: number): string {
  return vip.includes(':') ? `[${vip}]:${port}` : `${vip}:${port}`;
}

function linkEndRow(side: string, made: string, end: CtlLinkEnd | undefined, mtu: number): string[] {
  if (!end) return [side, made, 'MISSING', '-', '-', '-'];
  const mtuText = end.mtu === mtu ? String(end.mtu) : `${end.mtu} (made with ${mtu})`;
  return [side, end.name, end.state, mtuText, end.addresses.join(', ') || '-', end.mac ?? '-'];
}

function hostLinkLines(l: CtlHostLinkStatus | undefined): string[] {
  if (!l) return ['Host link: none made (or not yet)'];
  const missing = [!l.vpp && 'VPP', !l.host && 'host'].filter(Boolean);
  const head = `Host link: VPP ${l.vppIf} (sw_if_index ${l.swIfIndex}) <-> host ${l.hostIf}, MTU ${l.mtu}${missing.length ? ` — MISSING on the ${missing.join(' and ')} side` : ''}`;
  const rows = [linkEndRow('VPP', l.vppIf, l.vpp, l.mtu), linkEndRow('host', l.hostIf, l.host, l.mtu)];
  return [head, ...table(['  END', 'NAME', 'STATE', 'MTU', 'ADDRESSES', 'MAC'], rows.map((r) => [`  ${r[0]}`, ...r.slice(1)]))];
}

export function formatNodeStatus(s: CtlNodeStatus): string[] {
  const out = [
    `node ${s.nodeName || '(unnamed)'}: cross-node ${s.mode}, Services ${onOff(s.servicesEnabled)}, egress NAT ${onOff(s.natOutgoing)}`,
    `  cluster CIDRs ${s.clusterCidrs.join(', ') || '-'}; service CIDRs ${s.serviceCidrs.join(', ') || '-'}`,
    '',
    ...hostLinkLines(s.hostLink),
    '',
  ];
  const missing = s.routes.filter((r) => !r.present).length;
  if (s.mode === 'none') out.push('Routes to other nodes: none made (cross-node none: the underlay routes pod CIDRs)');
  else {
    out.push(`Routes to other nodes: ${s.routes.length}${missing ? `, ${missing} MISSING from the host's table` : ''}`);
    if (s.routes.length) {
      const rows = [...s.routes]
        .sort((a, b) => a.node.localeCompare(b.node) || a.podCidr.localeCompare(b.podCidr))
        .map((r) => [`  ${r.node}`, r.podCidr, r.via, r.dev ?? '-', r.present ? 'present' : 'MISSING']);
      out.push(...table(['  NODE', 'POD CIDR', 'NEXT HOP', 'DEV', 'STATE'], rows));
    }
  }
  out.push('', `Service translations in VPP: ${s.servicesEnabled ? s.translations : `${s.translations} (Services off)`}`);
  out.push('', `Skipped: ${s.skipped.length || 'none'}`);
  for (const k of [...s.skipped].sort((a, b) => a.subject.localeCompare(b.subject))) out.push(`  ${k.subject}: ${k.reason}`);
  const latency = s.lastSyncLatencyMs === undefined ? 'latency not known' : `${s.lastSyncLatencyMs.toFixed(1)} ms from the Kubernetes change to VPP`;
  out.push('', `Last sync: ${latency}; ${s.lastSyncError ? `last error: ${s.lastSyncError}` : 'no error'}`);
  return out;
}

export function formatServiceStatus(s: CtlServiceStatus): string[] {
  const out = [`Service ${s.service}: ${s.translations.length} translation(s)`];
  for (const t of s.translations) {
    const where = t.id === undefined ? 'NOT IN VPP (desired)' : `VPP translation ${t.id}`;
    out.push(`  ${vipPort(t.vip, t.port)}/${t.protocol}  ${where}, ${t.backends.length} backend(s)`);
    for (const b of t.backends) out.push(`    -> ${b}`);
  }
  if (s.skipped) out.push(`  skipped: ${s.skipped}`);
  for (const w of s.warnings) out.push(`  warning: ${w}`);
  return out;
}

export function formatCleanupReport(r: CtlNodeCleanupReport): string[] {
  const out = [`node cleanup: ${r.removed.length} object(s) removed, ${r.errors.length} error(s)`];
  for (const x of r.removed) out.push(`  removed ${x}`);
  for (const e of r.errors) out.push(`  ERROR ${e}`);
  out.push(
    r.errors.length
      ? 'Not everything was removed: fix the errors above and run it again (it removes only what is left).'
      : 'The agent programs nothing more on this node until it restarts.',
  );
  return out;
}

// ---------------------------------------------------------------------------------------------------------

/** `cmd` is `node` or `service`; `argv` what follows it. */
export async function runNodeCommand(cmd: 'node' | 'service', argv: string[], opts: NodeCommandOptions, io: Io): Promise<number> {
  let json: boolean;
  let socket: string;
  let args: string[];
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { json: { type: 'boolean' }, output: { type: 'string', short: 'o' }, 'agent-socket': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    });
    if (values.help) {
      io.out(NODE_USAGE);
      return EXIT.ok;
    }
    args = positionals;
    const output = values.output ?? (values.json ? 'json' : 'text');
    if (output !== 'text' && output !== 'json') throw new Error(`-o: "${output}" is not text or json`);
    if (values.json && output !== 'json') throw new Error('--json and -o text contradict each other');
    json = output === 'json';
    socket = values['agent-socket'] || opts.agentSocket;
    if (cmd === 'node' && !(args.length === 0 || (args.length === 1 && args[0] === 'cleanup'))) throw new Error(`node takes no argument but "cleanup" (got ${args.join(' ')})`);
    if (cmd === 'service' && (args.length !== 1 || !/^[^/\s]+\/[^/\s]+$/.test(args[0]!))) throw new Error('service needs one <namespace>/<name> argument');
  } catch (e) {
    io.err(`vpp-cnictl: ${(e as Error).message}\n${NODE_USAGE}`);
    return EXIT.usage;
  }
  const print = <T>(value: T, format: (v: T) => string[]): void => {
    if (json) io.out(JSON.stringify(value, null, 2));
    else for (const line of format(value)) io.out(line);
  };
  try {
    if (cmd === 'service') {
      const [ns, name] = args[0]!.split('/') as [string, string];
      const path = `${CTL_API_PREFIX}/services/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`;
      print(await agentCall(socket, 'GET', path, opts.timeoutMs, serviceStatusSchema), formatServiceStatus);
      return EXIT.ok;
    }
    if (args[0] === 'cleanup') {
      const report = await agentCall(socket, 'POST', `${CTL_API_PREFIX}/node/cleanup`, opts.timeoutMs, cleanupReportSchema);
      print(report, formatCleanupReport);
      if (report.errors.length) {
        io.err(`vpp-cnictl: node cleanup: ${report.errors.length} error(s); the first: ${report.errors[0]}`);
        return EXIT.refused;
      }
      return EXIT.ok;
    }
    print(await agentCall(socket, 'GET', `${CTL_API_PREFIX}/node`, opts.timeoutMs, nodeStatusSchema), formatNodeStatus);
    return EXIT.ok;
  } catch (e) {
    io.err(`vpp-cnictl: ${(e as Error).message}`);
    return agentErrorExit(e);
  }
}
