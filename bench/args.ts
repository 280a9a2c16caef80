/**
 * The benchmarks' command lines, through node:util parseArgs: `--name value` options with defaults, every
 * value a positive integer (or a comma-separated list of them). Bad input ends the process with status 2
 * and one line naming the option.
 */
import { parseArgs } from 'node:util';

function fail(script: string, msg: string): never {
  process.stderr.write(`${script}: ${msg}\n`);
  process.exit(2);
}

/** Parses `argv` against `defaults` (option name → default text); unknown options and stray arguments are errors. */
export function benchArgs<K extends string>(script: string, argv: string[], defaults: Record<K, string>): Record<K, string> {
  const options: Record<string, { type: 'string'; default: string }> = {};
  for (const [k, v] of Object.entries<string>(defaults)) options[k] = { type: 'string', default: v };
  try {
    const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
    return values as Record<K, string>;
  } catch (e) {
    return fail(script, (e as Error).message);
  }
}

/** A positive integer option. */
export function positiveInt(script: string, name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) fail(script, `--${name} needs a positive integer, not "${text}"`);
  return n;
}

/** A comma-separated list of positive integers. */
export function positiveInts(script: string, name: string, text: string): number[] {
  return text.split(',').map((t) => positiveInt(script, name, t.trim()));
}
