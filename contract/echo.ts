/**
 * Quoting a value someone else wrote (an annotation, a netconf field, a request field, a file) into an error or
 * a log line: cut to a readable length and with every control character escaped, so hostile input can neither
 * flood a message nor forge lines or terminal sequences in it. Used by the agent and the CNI plugin alike.
 */

/** Longest echoed value, in characters (code points), before it is cut. */
export const ECHO_MAX_CHARS = 64;

// C0 and C1 controls, DEL, soft hyphen, zero-width and bidi controls, the line/paragraph separators, BOM and
// interlinear annotations (JSON.stringify escapes only C0, `"` and `\`).
const UNSAFE = /[\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;
const hex = (ch: string): string => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** The first `max` code points of `s` (never half a surrogate pair), and how many code points `s` has. */
function cutCodePoints(s: string, max: number): { head: string; total: number; cut: boolean } {
  // Fast path: no cut possible when even UTF-16 units fit.
  if (s.length <= max) return { head: s, total: [...s].length, cut: false };
  let head = '';
  let n = 0;
  let total = 0;
  for (const ch of s) {
    if (n < max) {
      head += ch;
      n++;
    }
    total++;
  }
  return { head, total, cut: total > max };
}

/**
 * `value` as a double-quoted, JSON-escaped string, cut after `max` characters with `…` and the full length,
 * e.g. `"tcp:1,tcp:2,…" (184320 characters)`. Numbers, booleans and bigints print as themselves; other values
 * are echoed as their JSON text.
 */
export function echo(value: unknown, max = ECHO_MAX_CHARS): string {
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  const s = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  const { head, total, cut } = cutCodePoints(s, max);
  const q = JSON.stringify(head).replace(UNSAFE, hex);
  return cut ? `${q.slice(0, -1)}…" (${total} characters)` : q;
}

/**
 * A message that may carry someone else's text (a parser's error, an errno string): control characters
 * escaped as in `echo`, cut after `max` characters with `…`; no quotes added.
 */
export function escapeText(text: string, max = 200): string {
  const { head, cut } = cutCodePoints(text, max);
  return (cut ? `${head}…` : head).replace(CONTROL, (ch) => ESCAPES[ch] ?? hex(ch));
}
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;
const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
