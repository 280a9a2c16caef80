/**
 * Quoting a value someone else wrote (an annotation, a netconf field, a file) into an error or a log line:
 * cut to a readable length and with every control character escaped, so hostile input can neither flood
 * a message nor forge lines or terminal sequences in it. Used by the agent and the CNI plugin alike.
 */

/** Longest echoed value, in characters, before it is cut. */
export const ECHO_MAX_CHARS = 64;

// C0 and C1 controls, DEL, the line/paragraph separators and the bidi overrides (JSON.stringify leaves
// all but C0 as they are).
const UNSAFE = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

/**
 * `value` as a double-quoted, JSON-escaped string, cut after `max` characters with `…` and the full
 * length, e.g. `"tcp:1,tcp:2,…" (184320 characters)`. A cut never splits a surrogate pair.
 */
export function echo(value: string, max = ECHO_MAX_CHARS): string {
  const cut = value.length > max;
  let v = value;
  if (cut) {
    const c = v.charCodeAt(max - 1);
    v = v.slice(0, c >= 0xd800 && c <= 0xdbff ? max - 1 : max);
  }
  const q = JSON.stringify(v).replace(UNSAFE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return cut ? `${q.slice(0, -1)}…" (${value.length} characters)` : q;
}

/**
 * A message that may carry someone else's text (a parser's error, an errno string): control characters
 * escaped as in `echo`, cut after `max` characters with `…`; no quotes added.
 */
export function escapeText(text: string, max = 200): string {
  const c = text.length > max ? text.charCodeAt(max - 1) : 0;
  const v = text.length > max ? `${text.slice(0, c >= 0xd800 && c <= 0xdbff ? max - 1 : max)}…` : text;
  return v.replace(CONTROL, (ch) => ESCAPES[ch] ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;
const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
