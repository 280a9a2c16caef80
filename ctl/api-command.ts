/**
 * `vpp-cnictl api ...`: talk to any VPP API socket.
 *   call <message> [json]   one request, prints the reply as JSON
 *   dump <message> [json]   a dump or cursor stream, prints details as JSON lines
 *   cli "<command>"         runs cli_inband, prints its text
 *   check [--all]           CRC compatibility report
 *   bench [...]             control_ping benchmark (see api-bench.ts)
 */
import { parseArgs } from 'node:util';
import type { MessageDef } from '../vpp-api/codec/types.js';
import { VppEncodeError } from '../vpp-api/codec/errors.js';
import { allModules } from '../vpp-api/generated/index.js';
import {
  TransportError,
  VppApiError,
  VppClient,
  VppCompatibilityError,
  VppConnectError,
  VppDecodeError,
  VppDisconnectedError,
  VppProtocolError,
  VppTimeoutError,
  VppUnknownMessageError,
} from '../vpp-api/client/index.js';
import { JsonInputError, TypeRegistry, toJson } from './json.js';
import { runApiBench, parseBenchArgs } from './api-bench.js';
import type { Io } from './io.js';
import { EXIT } from './exit-codes.js';

export { EXIT };

export type { Io };

export interface ApiCommandOptions {
  socketPath: string;
  timeoutMs: number;
}

class UsageError extends Error {}

export const API_USAGE = `usage: vpp-cnictl api <command> [--socket PATH] [--timeout MS]
  call <message> [json]   send one request; print the reply as JSON
  dump <message> [json]   run a *_dump or *_get; print each details message as a JSON line
  cli "<command>"         run a VPP CLI command (cli_inband); print its output
  check [--all]           report messages missing or with another CRC in the running VPP
  bench [--requests N] [--window W] [--sync N]   control_ping benchmark (starts a simulator without --socket)
JSON uses VPP's field names; enums as numbers or names; addresses, prefixes and MACs as strings.
Exit codes: 0 ok, 1 VPP returned an error, 2 usage or bad input, 3 cannot connect or connection lost,
4 API mismatch, 5 timeout, 6 bad answer from VPP (unreadable frame or message), 7 internal error.`;

/** parseArgs for a subcommand: its errors are usage errors. */
function parseSub(what: string, args: string[], options: Record<string, { type: 'boolean' | 'string' }>, maxPositionals: number): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  let r;
  try {
    r = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (e) {
    throw new UsageError(`${what}: ${(e as Error).message}`);
  }
  if (r.positionals.length > maxPositionals) throw new UsageError(`${what}: unexpected argument "${r.positionals[maxPositionals]}"`);
  return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
}

function findMessage(name: string): MessageDef {
  for (const m of allModules) for (const d of m.messages) if (d.name === name) return d;
  const all = allModules.flatMap((m) => m.messages.map((d) => d.name));
  const close = all.filter((n) => n.includes(name) || name.includes(n)).slice(0, 5);
  throw new UsageError(`unknown message "${name}"${close.length ? ` (did you mean ${close.join(', ')}?)` : ''}`);
}

function parseJsonArg(text: string | undefined, what: string): unknown {
  if (text === undefined || text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new UsageError(`${what}: invalid JSON: ${(e as Error).message}`);
  }
}

/** Runs one `api` subcommand; returns the exit code. Never throws. */
export async function runApiCommand(args: string[], opts: ApiCommandOptions, io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === 'help') {
    io.out(API_USAGE);
    return sub ? EXIT.ok : EXIT.usage;
  }
  if (sub === 'bench') {
    let bench;
    try {
      bench = parseBenchArgs(rest, opts.socketPath || undefined);
    } catch (e) {
      io.err(`vpp-cnictl api bench: ${(e as Error).message}`);
      return EXIT.usage;
    }
    try {
      return await runApiBench(bench, io);
    } catch (e) {
      return reportError(e, io);
    }
  }
  const registry = new TypeRegistry(allModules);
  let client: VppClient | undefined;
  try {
    let def: MessageDef | undefined;
    let input: unknown;
    let all = false;
    let cliCommand = '';
    if (sub === 'call' || sub === 'dump') {
      const { positionals } = parseSub(`api ${sub}`, rest, {}, 2);
      if (!positionals[0]) throw new UsageError(`api ${sub}: missing message name`);
      def = findMessage(positionals[0]);
      const d = def as MessageDef & { stream?: string; reply?: MessageDef };
      if (sub === 'call' && (d.kind !== 'request' || d.stream || !d.reply)) {
        throw new UsageError(`${def.name} is not a request with a single reply${d.stream ? ` (use: api dump ${def.name})` : ''}`);
      }
      if (sub === 'dump' && !d.stream) throw new UsageError(`${def.name} is not a dump or stream (use: api call ${def.name})`);
      input = registry.messageFromJson(def, parseJsonArg(positionals[1], def.name));
    } else if (sub === 'cli') {
      // The CLI command is VPP's text, taken as it is (it may hold words that look like options).
      if (rest.length === 0) throw new UsageError('api cli: missing command');
      cliCommand = rest.join(' ');
    } else if (sub === 'check') {
      all = parseSub('api check', rest, { all: { type: 'boolean' } }, 0).values.all === true;
    } else {
      throw new UsageError(`unknown api command "${sub}"`);
    }
    client = new VppClient({
      socketPath: opts.socketPath,
      clientName: 'vpp-cnictl',
      modules: allModules,
      requestTimeoutMs: opts.timeoutMs,
      connectTimeoutMs: opts.timeoutMs,
      reconnect: false,
      healthCheck: false,
    });
    await client.connect();
    switch (sub) {
      case 'call': {
        const reply = await client.request(def as never, input as never);
        io.out(JSON.stringify(toJson(reply), null, 2));
        break;
      }
      case 'dump': {
        const d = def as MessageDef & { stream: 'dump' | 'cursor' };
        if (d.stream === 'cursor') {
          const { details, reply } = await client.streamAll(def as never, input as never);
          for (const x of details) io.out(JSON.stringify(toJson(x)));
          void reply;
        } else {
          for await (const x of client.dump(def as never, input as never)) io.out(JSON.stringify(toJson(x)));
        }
        break;
      }
      case 'cli': {
        const text = await client.cli(cliCommand);
        io.out(text.replace(/\n$/, ''));
        break;
      }
      case 'check': {
        const r = client.compatibility();
        io.out(`connected to ${opts.socketPath}: ${r.compatible.length} compatible, ${r.incompatible.length} with another CRC, ${r.missing.length} missing`);
        for (const x of r.incompatible) io.out(`crc-mismatch ${x.name}: VPP has ${x.found.join(', ')}, built for ${x.expected}`);
        if (all) for (const x of r.missing) io.out(`missing ${x.name} (${x.expected})`);
        else if (r.missing.length > 0) io.out(`(${r.missing.length} missing messages not listed: plugins not loaded; use --all)`);
        return r.incompatible.length > 0 ? EXIT.incompatible : EXIT.ok;
      }
    }
    return EXIT.ok;
  } catch (e) {
    return reportError(e, io);
  } finally {
    await client?.close().catch(() => undefined);
  }
}

/** True when `e` or one of its causes is an unreadable answer from VPP. */
function isBadAnswer(e: unknown): boolean {
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 8; c = (c as { cause?: unknown }).cause, depth++) {
    if (c instanceof VppProtocolError || c instanceof VppDecodeError) return true;
    if (c instanceof TransportError && c.code === 'EPROTO') return true;
  }
  return false;
}

/** Maps an error to its exit code (see exit-codes.ts) and prints one line. */
export function reportError(e: unknown, io: Io): number {
  const msg = e instanceof Error ? e.message : String(e);
  io.err(`vpp-cnictl: ${msg}`);
  if (e instanceof UsageError || e instanceof JsonInputError || e instanceof VppEncodeError) return EXIT.usage;
  if (e instanceof VppApiError) {
    // The reply only when it says more than its retval (VPP sometimes returns the existing object's index).
    const rest = e.reply && typeof e.reply === 'object' ? Object.entries(e.reply).filter(([k]) => k !== 'retval') : [];
    if (rest.length > 0) io.out(JSON.stringify(toJson(e.reply)));
    return EXIT.refused;
  }
  if (e instanceof VppUnknownMessageError || e instanceof VppCompatibilityError) return EXIT.incompatible;
  if (e instanceof VppTimeoutError) return EXIT.timeout;
  // Before the connection errors: a connection dropped because VPP's stream was unreadable is a bad answer.
  if (isBadAnswer(e)) return EXIT.badAnswer;
  if (e instanceof VppConnectError || e instanceof VppDisconnectedError) return EXIT.connect;
  return EXIT.internal;
}
