/** The shapes the skel hands to the commands (types and the command list only: no code to load). */
import type { CniArgs } from './cni-args.js';
import type { SupportedVersion } from './version.js';

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'] as const;
export type CniCommand = (typeof COMMANDS)[number];
export type ActionCommand = Exclude<CniCommand, 'VERSION'>;

export interface TextSink {
  write(chunk: string): unknown;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** What a command gets once the skel has checked the environment and the configuration's frame. */
export interface CommandContext {
  command: ActionCommand;
  /** The whole environment the plugin got (delegates get the same, with their own CNI_COMMAND). */
  env: Env;
  containerId: string;
  netns: string;
  ifName: string;
  cniPath: string[];
  cniArgs: CniArgs;
  /** stdin as parsed JSON (an object whose name and cniVersion the skel checked). */
  config: Record<string, unknown>;
  cniVersion: SupportedVersion;
  stderr: TextSink;
}

export interface CommandsModule {
  /** Runs one command; resolves with the object to print on stdout (ADD's result) or undefined. */
  runCommand(ctx: CommandContext): Promise<unknown>;
}

/**
 * VPPCNI_PLUGIN_TIMING=1: one stderr line per phase, "vpp-cni timing: NAME at WALL ms cpu CPU ms", both
 * since the process started (CPU: user + system of this process, children excluded). For tuning only.
 */
export function timingLine(name: string): string {
  const c = process.cpuUsage();
  return `vpp-cni timing: ${name} at ${(process.uptime() * 1000).toFixed(1)} ms cpu ${((c.user + c.system) / 1000).toFixed(1)} ms\n`;
}
