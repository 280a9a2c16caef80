/**
 * The agent's log (pino JSON lines in a file) read as it grows, each new event summarised on one line:
 * level, message and the fields that matter to a reader (pod, interface, kind, duration, error).
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
/** Fields shown, in this order; the rest stay in the file. */
const SHOWN = ['namespace', 'pod', 'ifname', 'kind', 'memif', 'vcl', 'durationMs', 'socket', 'cniSocket', 'vppSocket', 'vpePid', 'pods', 'signal', 'retryInMs', 'err'];

export interface LogEvent {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
  /** A line that is not JSON (a crash on stderr): shown as it is. */
  raw?: string;
}

export function parseLogLine(line: string): LogEvent {
  try {
    const v = JSON.parse(line) as Record<string, unknown>;
    if (v && typeof v === 'object' && typeof v.msg === 'string') {
      const level = typeof v.level === 'number' ? (LEVELS[v.level] ?? String(v.level)) : String(v.level ?? '');
      return { level, msg: v.msg, fields: v };
    }
  } catch {
    // not JSON
  }
  return { level: '', msg: '', fields: {}, raw: line };
}

export function formatEvent(e: LogEvent): string {
  if (e.raw !== undefined) return e.raw.length > 200 ? `${e.raw.slice(0, 200)}…` : e.raw;
  const f = e.fields;
  const parts: string[] = [];
  if (f.namespace !== undefined && f.pod !== undefined) parts.push(`pod ${String(f.namespace)}/${String(f.pod)}`);
  for (const k of SHOWN) {
    if (k === 'namespace' || k === 'pod' || f[k] === undefined || f[k] === false) continue;
    parts.push(`${k} ${typeof f[k] === 'string' ? f[k] : JSON.stringify(f[k])}`);
  }
  return `${e.level.padEnd(5)} ${e.msg}${parts.length ? `  (${parts.join(', ')})` : ''}`;
}

export class LogTail {
  private offset = 0;
  private partial = '';

  constructor(readonly path: string) {}

  /** The complete lines written since the last call. */
  readNew(): LogEvent[] {
    if (!existsSync(this.path)) return [];
    const size = statSync(this.path).size;
    if (size <= this.offset) return [];
    const fd = openSync(this.path, 'r');
    let text: string;
    try {
      const buf = Buffer.alloc(size - this.offset);
      const n = readSync(fd, buf, 0, buf.length, this.offset);
      this.offset += n;
      text = this.partial + buf.subarray(0, n).toString('utf8');
    } finally {
      closeSync(fd);
    }
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    return lines.filter((l) => l.trim()).map(parseLogLine);
  }

  /** Every line of the file (for a failure report), without moving the reader. */
  static lastLines(path: string, n: number): string[] {
    if (!existsSync(path)) return [];
    const t = new LogTail(path);
    const all = t.readNew();
    if (t.partial.trim()) all.push(parseLogLine(t.partial));
    return all.map(formatEvent).slice(-n);
  }
}
