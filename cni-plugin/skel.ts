/**
 * The dispatcher: what the container runtime gives (environment, stdin) in, one result or one error JSON
 * out, and an exit status. Everything outside is injected (env map, stdin, stdout, stderr, exit) so tests
 * drive it from maps and buffers. The order of checks follows the reference skel of the CNI project:
 *
 *   CNI_COMMAND unset        → about text on stderr, exit 0, nothing on stdout
 *   unknown CNI_COMMAND      → 4
 *   VERSION                  → the version object (stdin is not read)
 *   required variable unset  → 4 "required env variables [A,B] missing"; invalid value → 4 naming it
 *   stdin unreadable         → 5;  not a JSON object → 6
 *   network name missing/bad → 7;  cniVersion not supported → 1 (GC and STATUS need 1.1.0)
 *   then the command itself (commands.ts, loaded only now: VERSION never loads zod or gRPC)
 *
 * Errors are written in one place, as {"cniVersion","code","msg","details"} on stdout with exit status 1.
 * Anything thrown that is not a CniError becomes 999 with its message only (no stack, no source).
 */
import { parseCniArgs } from './cni-args.js';
import { COMMANDS, timingLine, type ActionCommand, type CniCommand, type CommandContext, type CommandsModule, type Env, type TextSink } from './context.js';
import { CNI_CODES, CniError, errorJson, toCniError } from './errors.js';
import {
  CURRENT_VERSION,
  PLUGIN_NAME,
  PLUGIN_VERSION,
  SUPPORTED_VERSIONS,
  atLeast,
  isSupportedVersion,
  quotedList,
  type SupportedVersion,
} from './version.js';

export { COMMANDS };
export type { ActionCommand, CniCommand, CommandContext, CommandsModule, Env, TextSink };

export interface SkelIO {
  env: Env;
  /** stdin's bytes, or a function reading them (called once, and never for VERSION). */
  stdin: string | Uint8Array | (() => Promise<string | Uint8Array>);
  stdout: TextSink;
  stderr: TextSink;
  /** Called with the exit status once the output is written (the status is also the resolved value). */
  exit?: (code: number) => void;
  /** Where the commands come from (default: a lazy import of commands.js); a seam for tests. */
  loadCommands?: () => Promise<CommandsModule>;
}

// ---------------------------------------------------------------------------------------------------------
// The environment table

/** Container IDs and network names: an alphanumeric start, then alphanumerics, "_", "." or "-". */
export const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
export const MAX_IFNAME_LENGTH = 15;

export interface EnvVarRule {
  name: string;
  /** Commands for which an unset or empty value is an error. */
  requiredFor: readonly CniCommand[];
  /** Commands for which a set value is checked (and used). */
  usedBy: readonly CniCommand[];
  validate?: (value: string) => CniError | undefined;
}

const bad = (msg: string, details = ''): CniError => new CniError(CNI_CODES.invalidEnvironment, msg, details);

export function validateContainerId(id: string): CniError | undefined {
  if (!NAME_RE.test(id)) return bad('invalid characters in containerID', id);
  return undefined;
}

export function validateIfName(name: string): CniError | undefined {
  if (name.length === 0) return bad('interface name is empty');
  if (Buffer.byteLength(name) > MAX_IFNAME_LENGTH) {
    return bad('interface name is too long', `interface name should be less than ${MAX_IFNAME_LENGTH + 1} characters`);
  }
  if (name === '.' || name === '..') return bad('interface name is . or ..');
  if (/[/:\s]/u.test(name)) return bad('interface name contains / or : or whitespace characters');
  return undefined;
}

export const ENV_TABLE: readonly EnvVarRule[] = [
  { name: 'CNI_CONTAINERID', requiredFor: ['ADD', 'DEL', 'CHECK'], usedBy: ['ADD', 'DEL', 'CHECK'], validate: validateContainerId },
  {
    name: 'CNI_NETNS',
    // DEL may come without a namespace (it is gone, or the runtime never had one): clean up anyway.
    requiredFor: ['ADD', 'CHECK'],
    usedBy: ['ADD', 'DEL', 'CHECK'],
    validate: (v) => (v.startsWith('/') ? undefined : bad('CNI_NETNS must be an absolute path', v)),
  },
  { name: 'CNI_IFNAME', requiredFor: ['ADD', 'DEL', 'CHECK'], usedBy: ['ADD', 'DEL', 'CHECK'], validate: validateIfName },
  {
    name: 'CNI_ARGS',
    requiredFor: [],
    usedBy: ['ADD', 'DEL', 'CHECK'],
    validate: (v) => {
      try {
        parseCniArgs(v);
        return undefined;
      } catch (e) {
        return toCniError(e);
      }
    },
  },
  { name: 'CNI_PATH', requiredFor: ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS'], usedBy: ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS'] },
];

/** Checks the environment for a command: every missing variable named at once, then each value. */
export function checkEnv(command: CniCommand, env: Env): void {
  const missing = ENV_TABLE.filter((r) => r.requiredFor.includes(command) && !env[r.name]).map((r) => r.name);
  if (missing.length > 0) throw bad(`required env variables [${missing.join(',')}] missing`);
  for (const r of ENV_TABLE) {
    const v = env[r.name];
    if (!v || !r.usedBy.includes(command) || !r.validate) continue;
    const err = r.validate(v);
    if (err) throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------

export function aboutText(): string {
  return `CNI plugin ${PLUGIN_NAME} v${PLUGIN_VERSION}\nCNI protocol versions supported: ${SUPPORTED_VERSIONS.join(', ')}\n`;
}

export function versionObject(): { cniVersion: string; supportedVersions: string[] } {
  return { cniVersion: CURRENT_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] };
}

async function readAll(stdin: SkelIO['stdin']): Promise<string> {
  try {
    const data = typeof stdin === 'function' ? await stdin() : stdin;
    return typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  } catch (e) {
    throw new CniError(CNI_CODES.ioFailure, `error reading from stdin: ${toCniError(e).msg}`);
  }
}

/** stdin → an object with a valid name and a supported cniVersion (codes 6, 7, 1). */
export function checkConfigFrame(command: ActionCommand, text: string): { config: Record<string, unknown>; cniVersion: SupportedVersion } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new CniError(CNI_CODES.decodeFailure, `error decoding network configuration: ${toCniError(e).msg}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CniError(CNI_CODES.decodeFailure, 'error decoding network configuration: expected a JSON object');
  }
  const config = parsed as Record<string, unknown>;
  const name = config['name'];
  if (name === undefined || name === '') throw new CniError(CNI_CODES.invalidNetworkConfig, 'missing network name');
  if (typeof name !== 'string') throw new CniError(CNI_CODES.invalidNetworkConfig, 'invalid network configuration: name: expected a string');
  if (!NAME_RE.test(name)) throw new CniError(CNI_CODES.invalidNetworkConfig, 'invalid characters found in network name', name);

  const v = config['cniVersion'];
  if (!isSupportedVersion(v)) {
    const seen = v === undefined ? 'config has no cniVersion' : `config is ${JSON.stringify(v)}`;
    throw new CniError(CNI_CODES.incompatibleVersion, 'incompatible CNI versions', `${seen}, plugin supports ${quotedList(SUPPORTED_VERSIONS)}`);
  }
  if ((command === 'GC' || command === 'STATUS') && !atLeast(v, '1.1.0')) {
    throw new CniError(CNI_CODES.incompatibleVersion, `config version does not allow ${command}`, `config is ${JSON.stringify(v)}, ${command} needs "1.1.0"`);
  }
  return { config, cniVersion: v };
}

const defaultLoadCommands = (): Promise<CommandsModule> => import('./commands.js');

/** Runs the plugin once. Resolves with the exit status (0 or 1); never rejects. */
export async function dispatch(io: SkelIO): Promise<number> {
  let outVersion: string = CURRENT_VERSION;
  let code = 0;
  try {
    const command = io.env['CNI_COMMAND'];
    if (!command) {
      io.stderr.write(aboutText());
    } else if (!(COMMANDS as readonly string[]).includes(command)) {
      throw bad(`unknown CNI_COMMAND: ${command}`);
    } else if (command === 'VERSION') {
      io.stdout.write(`${JSON.stringify(versionObject())}\n`);
    } else {
      const cmd = command as ActionCommand;
      const t = io.env['VPPCNI_PLUGIN_TIMING'] === '1' ? (w: string): void => void io.stderr.write(timingLine(w)) : undefined;
      t?.('dispatch');
      checkEnv(cmd, io.env);
      const text = await readAll(io.stdin);
      t?.('stdin read');
      const { config, cniVersion } = checkConfigFrame(cmd, text);
      outVersion = cniVersion;
      const commands = await (io.loadCommands ?? defaultLoadCommands)();
      t?.('commands loaded');
      const output = await commands.runCommand({
        command: cmd,
        env: io.env,
        containerId: io.env['CNI_CONTAINERID'] ?? '',
        netns: io.env['CNI_NETNS'] ?? '',
        ifName: io.env['CNI_IFNAME'] ?? '',
        cniPath: (io.env['CNI_PATH'] ?? '').split(':').filter((p) => p !== ''),
        cniArgs: cmd === 'GC' || cmd === 'STATUS' ? parseCniArgs(undefined) : parseCniArgs(io.env['CNI_ARGS']),
        config,
        cniVersion,
        stderr: io.stderr,
      });
      if (output !== undefined) io.stdout.write(`${JSON.stringify(output)}\n`);
    }
  } catch (e) {
    code = 1;
    const err = toCniError(e);
    try {
      io.stdout.write(`${JSON.stringify(errorJson(outVersion, err))}\n`);
    } catch {
      // stdout is gone: the exit status still says it failed
    }
  }
  io.exit?.(code);
  return code;
}
