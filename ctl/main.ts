#!/usr/bin/env node
/**
 * vpp-cnictl: the operator's and SRE's command line.
 *   vpp-cnictl api ...     talk to a VPP API socket (see `vpp-cnictl api --help`)
 *   vpp-cnictl pods        the node's pods as the local agent holds them
 *   vpp-cnictl pod NS/NAME one pod: VPP objects, Linux side, last errors
 *   vpp-cnictl node        the node dataplane (host link, routes to other nodes, Services); `node cleanup`
 *   vpp-cnictl service NS/NAME one Service's VIPs and backends as VPP holds them
 */
import { parseArgs } from 'node:util';
import { runApiCommand, API_USAGE, type Io } from './api-command.js';
import { EXIT } from './exit-codes.js';
import { runPodsCommand, PODS_USAGE } from './pods-command.js';
import { runNodeCommand, NODE_USAGE } from './node-command.js';
import { DEFAULT_CTL_SOCKET } from '../contract/ctl-api.js';

const USAGE = `usage: vpp-cnictl <command> ...
  api ...          VPP binary API: call, dump, cli, check, bench (vpp-cnictl api --help)
  pods             the node's pods with their VPP interfaces, memif sockets, PBL ports, VCL, last error
  pod <ns>/<name>  one pod: VPP objects and state, Linux side in its netns, last errors (vpp-cnictl pods --help)
  node             the node dataplane: host link, routes to other nodes, Service translations, skipped objects
  node cleanup     remove the node dataplane's objects before uninstalling (vpp-cnictl node --help)
  service <ns>/<name>  one Service's VIP:port/protocol and backends as VPP holds them
Global options: --socket PATH (VPP API socket; default $VPPCNI_VPP_API_SOCKET or /run/vpp/api.sock), --timeout MS (default 5000)`;

/**
 * Takes the global options (--socket, --timeout) from anywhere on the line and returns the rest in order,
 * for the subcommand to parse with its own options.
 */
function globalOptions(argv: string[]): { socket: string | undefined; timeout: string | undefined; rest: string[] } {
  const { values, tokens } = parseArgs({
    args: argv,
    options: { socket: { type: 'string' }, timeout: { type: 'string' } },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const rest: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'positional') rest.push(t.value);
    else if (t.kind === 'option-terminator') rest.push('--');
    else if (t.name !== 'socket' && t.name !== 'timeout') rest.push(t.inlineValue ? `${t.rawName}=${t.value ?? ''}` : t.rawName);
  }
  for (const name of ['socket', 'timeout'] as const) {
    const v = values[name];
    if (v === true || v === '') throw new Error(`--${name} needs a value`);
  }
  return { socket: values.socket as string | undefined, timeout: values.timeout as string | undefined, rest };
}

export async function main(argv: string[], io: Io): Promise<number> {
  let args: string[];
  let socketPath: string;
  let timeoutMs: number;
  let explicitSocket: string | undefined;
  let explicitTimeout = false;
  try {
    const g = globalOptions(argv);
    args = g.rest;
    explicitSocket = g.socket;
    socketPath = explicitSocket ?? (process.env.VPPCNI_VPP_API_SOCKET || '/run/vpp/api.sock');
    const t = g.timeout;
    explicitTimeout = t !== undefined;
    timeoutMs = t === undefined ? 5000 : Number(t);
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new Error(`--timeout: "${t}" is not a positive number of milliseconds`);
  } catch (e) {
    io.err(`vpp-cnictl: ${(e as Error).message}`);
    return EXIT.usage;
  }
  const [cmd, ...rest] = args;
  switch (cmd) {
    case 'api':
      // `api bench` starts its own simulator unless a socket was given explicitly.
      if (rest[0] === 'bench' && !explicitSocket) return runApiCommand(rest, { socketPath: '', timeoutMs }, io);
      return runApiCommand(rest, { socketPath, timeoutMs }, io);
    case 'pods':
    case 'pod':
      return runPodsCommand(cmd, rest, { agentSocket: process.env.VPPCNI_CTL_SOCKET || DEFAULT_CTL_SOCKET, timeoutMs: explicitTimeout ? timeoutMs : 15_000 }, io);
    case 'node':
    case 'service': {
      // A cleanup removes every translation and route one by one: give it longer than a read.
      const defaultMs = cmd === 'node' && rest.includes('cleanup') ? 120_000 : 15_000;
      return runNodeCommand(cmd, rest, { agentSocket: process.env.VPPCNI_CTL_SOCKET || DEFAULT_CTL_SOCKET, timeoutMs: explicitTimeout ? timeoutMs : defaultMs }, io);
    }
    case undefined:
    case '--help':
    case 'help':
      io.out(USAGE);
      io.out('');
      io.out(API_USAGE);
      io.out('');
      io.out(PODS_USAGE);
      io.out('');
      io.out(NODE_USAGE);
      return cmd ? EXIT.ok : EXIT.usage;
    default:
      io.err(`vpp-cnictl: unknown command "${cmd}"\n${USAGE}`);
      return EXIT.usage;
  }
}

const io: Io = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};
main(process.argv.slice(2), io).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // Every command maps its own errors; reaching here is a bug.
    io.err(`vpp-cnictl: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = EXIT.internal;
  },
);
