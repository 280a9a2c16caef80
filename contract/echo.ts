/**
 * A value from outside (a request field, an annotation) quoted for an error message: control and other
 * non-printable characters escaped, cut to a readable length with the full length said.
 */
export function echo(value: unknown, max = 64): string {
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  const s = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  const chars = [...s];
  const cut = chars.length > max ? chars.slice(0, max).join('') : s;
  // JSON.stringify escapes " \ and C0 controls; the rest of the non-printables (DEL, C1, bidi, separators) by hand
  const quoted = JSON.stringify(cut).replace(/[\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return chars.length > max ? `${quoted}… (${chars.length} characters)` : quoted;
}
