#!/usr/bin/env node
/**
 * vpp-cnictl: the operator's and SRE's command line.
 *   vpp-cnictl api ...     talk to a VPP API socket (see `vpp-cnictl api --help`)
 *   vpp-cnictl pods        the node's pods as the local agent holds them
 *   vpp-cnictl pod NS/NAME one pod: VPP objects, Linux side, last errors
 */
import { runApiCommand, API_USAGE, EXIT, type Io } from './api-command.js';
import { runPodsCommand, PODS_USAGE } from './pods-command.js';
import { DEFAULT_CTL_SOCKET } from '../contract/ctl-api.js';

const USAGE = `usage: vpp-cnictl <command> ...
  api ...          VPP binary API: call, dump, cli, check, bench (vpp-cnictl api --help)
  pods             the node's pods with their VPP interfaces, memif sockets, PBL ports, VCL, last error
  pod <ns>/<name>  one pod: VPP objects and state, Linux side in its netns, last errors (vpp-cnictl pods --help)
Global options: --socket PATH (VPP API socket; default $VPPCNI_VPP_API_SOCKET or /run/vpp/api.sock), --timeout MS (default 5000)`;

/** Pulls `--name value` out of args. */
function takeOption(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, v === undefined ? 1 : 2);
  if (v === undefined) throw new Error(`${name} needs a value`);
  return v;
}

export async function main(argv: string[], io: Io): Promise<number> {
  const args = [...argv];
  let socketPath: string;
  let timeoutMs: number;
  let explicitSocket: string | undefined;
  let explicitTimeout = false;
  try {
    explicitSocket = takeOption(args, '--socket');
    socketPath = explicitSocket ?? process.env.VPPCNI_VPP_API_SOCKET ?? '/run/vpp/api.sock';
    const t = takeOption(args, '--timeout');
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
    case undefined:
    case '--help':
    case 'help':
      io.out(USAGE);
      io.out('');
      io.out(API_USAGE);
      io.out('');
      io.out(PODS_USAGE);
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
    io.err(`vpp-cnictl: ${(e as Error).message}`);
    process.exitCode = 1;
  },
);
