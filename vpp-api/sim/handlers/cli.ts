/**
 * cli_inband: the few VPP CLI commands the project reads, plus simulator-only `sim ...` commands that expose
 * the fault hooks to other processes. Like VPP, an unknown command answers retval -1 and
 * "unknown input `...'". Real VPP answers `sim ...` the same way.
 */
import { vlib } from '../../generated/index.js';
import { on, type HandlerContext, type HandlerSpec } from '../handler.js';
import { Retval, U32_MAX } from '../retval.js';
import type { MemifDevice, SimState } from '../state.js';
import { showCnatSessions, showCnatSnatPolicy, showCnatTranslations } from './cnat.js';
import { showPblClients } from './pbl.js';

interface CliResult {
  readonly ok: boolean;
  readonly text: string;
}

interface CliCommand {
  readonly path: readonly string[];
  run(ctx: HandlerContext, args: string[]): CliResult;
}

const ok = (text: string): CliResult => ({ ok: true, text });
const fail = (text: string): CliResult => ({ ok: false, text });

function padRight(s: string, w: number): string {
  return s.length >= w ? s : s + ' '.repeat(w - s.length);
}

function padLeft(s: string, w: number): string {
  return s.length >= w ? s : ' '.repeat(w - s.length) + s;
}

function center(s: string, w: number): string {
  if (s.length >= w) return s;
  const left = Math.floor((w - s.length) / 2);
  return ' '.repeat(left) + s + ' '.repeat(w - s.length - left);
}

/** VPP's format_table with left alignment and yellow headers (what `show app ns` prints). */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, j) => Math.max(h.length, ...rows.map((r) => (r[j] ?? '').length)));
  let out = headers.map((h, j) => `\x1b[33m${padRight(h, widths[j]!)}\x1b[0m`).join(' ') + '\n';
  for (const r of rows) out += r.map((c, j) => `${padRight(c, widths[j]!)}\x1b[0m`).join(' ') + '\n';
  return out;
}

/** format_vnet_sw_if_index_name. */
function ifName(state: SimState, swIfIndex: number): string {
  return state.get(swIfIndex)?.name ?? `DELETED (${swIfIndex})`;
}

function showInterface(ctx: HandlerContext, args: string[]): CliResult {
  const st = ctx.state;
  let list = st.interfaceList();
  if (args[0] === 'address' || args[0] === 'addr') {
    let out = '';
    for (const itf of list) {
      out += `${itf.name} (${itf.adminUp ? 'up' : 'dn'}):\n`;
      if (itf.unnumberedOf !== undefined) out += `  unnumbered, use ${ifName(st, itf.unnumberedOf)}\n`;
      for (const a of itf.addresses) out += `  L3 ${a.address}/${a.len}${(a.af === 4 ? itf.ip4Table : itf.ip6Table) ? ` ip${a.af} table-id ${a.af === 4 ? itf.ip4Table : itf.ip6Table}` : ''}\n`;
    }
    return ok(out);
  }
  if (args.length > 0) {
    const itf = st.findByName(args[0]!);
    if (!itf) return fail(`unknown input \`${args.join(' ')}'`);
    list = [itf];
  }
  let out = `${center('Name', 32)}${center('Idx', 5)}${center('State', 10)}${center('MTU (L3/IP4/IP6/MPLS)', 21)}${center('Counter', 16)}${center('Count', 16)}\n`;
  for (const itf of list) {
    out += `${padRight(itf.name, 32)}${center(String(itf.swIfIndex), 5)}${center(itf.adminUp ? 'up' : 'down', 10)}${center(itf.mtu.join('/'), 21)}\n`;
  }
  return ok(out);
}

function showMemif(ctx: HandlerContext): CliResult {
  const st = ctx.state;
  let out = 'sockets\n';
  out += `  ${padRight('id', 12)}${padRight('listener', 10)}filename\n`;
  for (const s of st.memifSockets.values()) out += `  ${padRight(String(s.socketId), 12)}${padRight(s.refCnt > 0 && s.isListener ? 'yes' : 'no', 10)}${s.filename}\n`;
  for (const itf of st.interfaceList()) {
    if (itf.device.kind !== 'memif') continue;
    const d: MemifDevice = itf.device;
    out += `interface ${itf.name}\n`;
    out += `  socket-id ${d.socketId} id ${d.id} mode ${d.mode === 0 ? 'ethernet' : d.mode === 1 ? 'ip' : 'punt/inject'}\n`;
    out += `  flags${itf.adminUp ? ' admin-up' : ''}${d.role === 1 ? ' slave' : ''}${d.zeroCopy ? ' zero-copy' : ''}\n`;
    out += `  listener-fd 0 conn-fd 0\n`;
    out += `  num-s2m-rings 0 num-m2s-rings 0 buffer-size 0 num-regions 0\n`;
  }
  return ok(out);
}

const PATH_TYPES = ['', 'local', 'drop', 'udp-encap', 'bier-imp', 'icmp-unreachable', 'icmp-prohibit', 'source-lookup', 'dvr', 'interface-rx', 'classify'];

function showFib(ctx: HandlerContext, af: 4 | 6): CliResult {
  const st = ctx.state;
  let out = '';
  let fibIndex = 0;
  for (const t of st.tables.values()) {
    if (t.af !== af) continue;
    out += `${t.name}, fib_index:${fibIndex++}, flow hash:[src dst sport dport proto flowlabel ] epoch:0 flags:none locks:[API:1, ]\n`;
    const routes = st.routesOf(t);
    for (const r of routes) {
      out += `${r.prefix}\n`;
      r.paths.forEach((p, i) => {
        const type = PATH_TYPES[p.type] ?? `type-${p.type}`;
        const via = p.nh !== '' ? ` via ${p.nh}` : '';
        const itf = p.swIfIndex !== U32_MAX ? ` ${ifName(st, p.swIfIndex)}` : '';
        out += `  [@${i}]: ${type === '' ? 'path' : type}${via}${itf} weight=${p.weight} pref=${p.preference}\n`;
      });
    }
  }
  return ok(out);
}

function showAppNs(ctx: HandlerContext): CliResult {
  const st = ctx.state;
  if (!st.sessionEnabled) return fail('show app ns: session layer is not enabled');
  const rows = st.appnsPool.indexes().map((i) => {
    const ns = st.appns.get(i)!;
    return [String(ns.index), ns.secret.toString(), ifName(st, ns.swIfIndex), ns.nsId, ns.sockName ?? ''];
  });
  return ok(formatTable(['Index', 'Secret', 'Interface', 'Id', 'Socket'], rows));
}

function showApiPlugin(ctx: HandlerContext): CliResult {
  let out = 'Plugin API message ID ranges...\n';
  out += `${padRight('Name', 50)} ${padLeft('First-ID', 8)} ${padLeft('Last-ID', 8)}\n`;
  for (const r of ctx.table.pluginRanges()) out += `${padRight(r.name, 50)} ${padLeft(String(r.first), 8)} ${padLeft(String(r.last), 8)}\n`;
  return ok(out);
}

function simCommand(ctx: HandlerContext, args: string[]): CliResult {
  const faults = ctx.control.faults;
  const [verb, ...rest] = args;
  try {
    if (verb === 'fault') {
      const [kind, msg, a, b] = rest;
      if (kind === 'clear') {
        faults.clear(msg);
        return ok('ok');
      }
      if (msg === undefined) return fail('sim fault: message name missing');
      if (kind === 'fail') {
        const retval = Number(a);
        const times = b === undefined ? Infinity : Number(b);
        faults.failWith(msg, retval, times);
        return ok('ok');
      }
      if (kind === 'delay') {
        faults.delay(msg, Number(a));
        return ok('ok');
      }
      if (kind === 'noreply') {
        faults.noReply(msg);
        return ok('ok');
      }
      return fail(`sim fault: unknown fault \`${kind ?? ''}'`);
    }
    if (verb === 'restart') {
      ctx.control.scheduleRestart();
      return ok('ok');
    }
    if (verb === 'drop') {
      ctx.control.scheduleDropConnections();
      return ok('ok');
    }
    if (verb === 'state') return ok(JSON.stringify(ctx.control.snapshot()));
  } catch (e) {
    return fail(`sim: ${(e as Error).message}`);
  }
  return fail(`unknown input \`sim ${args.join(' ')}'`);
}

/**
 * `show interface features <name>`: the arcs of the captured build in its order. ip4/ip6 unicast and multicast
 * carry ip4-/ip6-not-enabled until the family is enabled on the interface (an address, or ip6 enable); arp-reply
 * sits on the arp arc of an interface with an IPv4 address; cnat adds its nodes to unicast and output.
 */
function showInterfaceFeatures(ctx: HandlerContext, args: string[]): CliResult {
  const itf = args[0] === undefined ? undefined : ctx.state.findByName(args[0]);
  if (!itf) return fail(`unknown input \`${args.join(' ')}'`);
  const ip4 = itf.addresses.some((a) => a.af === 4);
  const ip6 = itf.ip6Enabled || itf.addresses.some((a) => a.af === 6);
  const cnatOn = ctx.state.cnat.featureInterfaces.has(itf.swIfIndex);
  const arcs: [string, string[]][] = [
    ['arp', ip4 ? ['arp-reply'] : []],
    ['nsh-output', []],
    ['mpls-output', []],
    ['mpls-input', ['mpls-not-enabled']],
    ['ip6-drop', []],
    ['ip6-punt', []],
    ['ip6-local', []],
    ['ip6-output', cnatOn ? ['cnat-output-ip6', 'cnat-writeback-ip6'] : []],
    ['ip6-multicast', ip6 ? [] : ['ip6-not-enabled']],
    ['ip6-unicast', [...(cnatOn ? ['cnat-lookup-ip6', 'cnat-input-ip6'] : []), ...(ip6 ? [] : ['ip6-not-enabled'])]],
    ['ip4-drop', []],
    ['ip4-punt', []],
    ['ip4-local', []],
    ['ip4-output', cnatOn ? ['cnat-output-ip4', 'cnat-writeback-ip4'] : []],
    ['ip4-multicast', ip4 ? [] : ['ip4-not-enabled']],
    ['ip4-unicast', [...(cnatOn ? ['cnat-lookup-ip4', 'cnat-input-ip4'] : []), ...(ip4 ? [] : ['ip4-not-enabled'])]],
    ...['l2-output-nonip', 'l2-input-nonip', 'l2-output-ip6', 'l2-input-ip6', 'l2-output-ip4', 'l2-input-ip4', 'ethernet-output', 'error-drop', 'interface-output', 'port-rx-eth', 'device-input', 'l2-input', 'l2-output'].map(
      (a): [string, string[]] => [a, []],
    ),
  ];
  let out = `Feature paths configured on ${itf.name}...\n`;
  for (const [arc, nodes] of arcs) out += `\n${arc}:\n${(nodes.length ? nodes : ['none configured']).map((n) => `  ${n}\n`).join('')}`;
  return ok(out);
}

const COMMANDS: readonly CliCommand[] = [
  { path: ['show', 'interface', 'features'], run: showInterfaceFeatures },
  { path: ['show', 'cnat', 'translation'], run: (ctx) => ok(showCnatTranslations(ctx.state.cnat)) },
  { path: ['show', 'cnat', 'snat-policy'], run: (ctx) => ok(showCnatSnatPolicy(ctx)) },
  { path: ['show', 'cnat', 'session'], run: (ctx) => ok(showCnatSessions(ctx.state.cnat)) },
  {
    path: ['show', 'version'],
    run: (ctx) => {
      const v = ctx.config.version;
      return ok(`vpp v${v.version} built by ${v.builtBy} on ${v.builtOn} at ${v.buildDate}`);
    },
  },
  { path: ['show', 'interface'], run: showInterface },
  { path: ['show', 'memif'], run: showMemif },
  { path: ['show', 'pbl', 'client'], run: (ctx) => ok(showPblClients(ctx.state)) },
  { path: ['show', 'app', 'ns'], run: showAppNs },
  { path: ['show', 'ip', 'fib'], run: (ctx) => showFib(ctx, 4) },
  { path: ['show', 'ip6', 'fib'], run: (ctx) => showFib(ctx, 6) },
  { path: ['show', 'api', 'plugin'], run: showApiPlugin },
  { path: ['sim'], run: simCommand },
];

/** Matches words like VPP's CLI: each word may be abbreviated to a prefix of the command word. */
function match(words: string[]): { cmd: CliCommand; args: string[] } | { unmatchedAt: number } {
  let best = 0;
  for (const cmd of COMMANDS) {
    let i = 0;
    while (i < cmd.path.length && i < words.length && words[i]!.length > 0 && cmd.path[i]!.startsWith(words[i]!)) i++;
    if (i === cmd.path.length) return { cmd, args: words.slice(i) };
    best = Math.max(best, i);
  }
  return { unmatchedAt: best };
}

/** Runs a CLI command line; the text always ends with a newline (vlib_cli_output). */
export function runCli(ctx: HandlerContext, line: string): { retval: number; reply: string } {
  const words = line.trim().split(/\s+/).filter((w) => w.length > 0);
  if (words.length === 0) return { retval: 0, reply: '' };
  const m = match(words);
  const result = 'cmd' in m ? m.cmd.run(ctx, m.args) : fail(`unknown input \`${words.slice(m.unmatchedAt).join(' ')}'`);
  const text = result.text === '' || result.text.endsWith('\n') ? result.text : `${result.text}\n`;
  return { retval: result.ok ? 0 : Retval.UNSPECIFIED, reply: text };
}

/** True for a cli_inband line addressed to the simulator itself (never subject to faults). */
export function isSimCommand(line: string): boolean {
  return /^\s*sim(\s|$)/.test(line);
}

export const cliHandlers: readonly HandlerSpec[] = [
  on(vlib.cli_inband, (req, ctx) => {
    ctx.send(vlib.cli_inband_reply, runCli(ctx, req.cmd));
  }),
];
