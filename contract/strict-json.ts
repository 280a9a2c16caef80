/**
 * JSON for input someone else wrote (annotations, files, config): the JSON grammar (RFC 8259) with the
 * limits JSON.parse lacks. The size is checked before any parsing, nesting deeper than `maxDepth` is
 * refused where it starts (the parser's recursion is bounded by it, so no input overflows the stack), a
 * key repeated in one object is refused instead of the last one winning, and objects have no prototype,
 * so a `__proto__` key is an ordinary key. Linear in the input's length. Errors say where and why.
 */

export interface StrictJsonLimits {
  /** Longest accepted text, in UTF-16 code units (what `string.length` counts). */
  maxLength: number;
  /** Deepest accepted nesting of arrays and objects (a scalar is depth 0, `[1]` depth 1). */
  maxDepth: number;
}

export class StrictJsonError extends Error {
  override readonly name = 'StrictJsonError';
  constructor(
    message: string,
    /** Offset in the text where the problem is. */
    readonly offset: number,
  ) {
    super(message);
  }
}

/** A JSON value as parsed here: objects have a null prototype. */
export type StrictJsonValue = null | boolean | number | string | StrictJsonValue[] | { [k: string]: StrictJsonValue };

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const SIMPLE_ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

function describeAt(text: string, i: number): string {
  if (i >= text.length) return 'end of input';
  const c = text.charCodeAt(i);
  return c > 0x20 && c < 0x7f ? `"${text[i]}"` : `character U+${c.toString(16).padStart(4, '0')}`;
}

/** Parses `text` as JSON within `limits`; throws StrictJsonError naming the offset and the problem. */
export function parseStrictJson(text: string, limits: StrictJsonLimits): StrictJsonValue {
  if (text.length > limits.maxLength) throw new StrictJsonError(`${text.length} characters, more than the ${limits.maxLength} accepted`, 0);
  let i = 0;
  const fail = (why: string, at = i): never => {
    throw new StrictJsonError(`${why} at offset ${at}`, at);
  };
  const ws = (): void => {
    while (i < text.length && WS.has(text.charCodeAt(i))) i++;
  };
  const str = (): string => {
    const start = i;
    i++; // opening quote
    let out = '';
    let run = i;
    for (;;) {
      if (i >= text.length) fail('unterminated string', start);
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(run, i);
        i++;
        return out;
      }
      if (c < 0x20) fail(`control character U+${c.toString(16).padStart(4, '0')} in a string (escape it)`);
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += text.slice(run, i);
      const e = text[i + 1];
      if (e === undefined) fail('unterminated string', start);
      if (e === 'u') {
        const hex = text.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape (four hex digits expected)');
        out += String.fromCharCode(parseInt(hex, 16));
        i += 6;
      } else {
        const s = SIMPLE_ESCAPES[e!];
        if (s === undefined) fail(`bad escape: backslash then ${describeAt(text, i + 1)}`);
        out += s;
        i += 2;
      }
      run = i;
    }
  };
  const value = (depth: number): StrictJsonValue => {
    ws();
    const c = text[i];
    if (c === '{' || c === '[') {
      if (depth >= limits.maxDepth) fail(`nested deeper than ${limits.maxDepth} levels`);
      i++;
      ws();
      if (c === '[') {
        const arr: StrictJsonValue[] = [];
        if (text[i] === ']') {
          i++;
          return arr;
        }
        for (;;) {
          arr.push(value(depth + 1));
          ws();
          if (text[i] === ',') i++;
          else if (text[i] === ']') {
            i++;
            return arr;
          } else fail(`expected "," or "]" but found ${describeAt(text, i)}`);
        }
      }
      const obj = Object.create(null) as { [k: string]: StrictJsonValue };
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(`expected a key in double quotes but found ${describeAt(text, i)}`);
        const at = i;
        const k = str();
        if (Object.prototype.hasOwnProperty.call(obj, k)) fail(`duplicate key ${JSON.stringify(k.length > 64 ? `${k.slice(0, 64)}…` : k)}`, at);
        ws();
        if (text[i] !== ':') fail(`expected ":" but found ${describeAt(text, i)}`);
        i++;
        obj[k] = value(depth + 1);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return obj;
        } else fail(`expected "," or "}" but found ${describeAt(text, i)}`);
      }
    }
    if (c === '"') return str();
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m && m[0] !== '' && m[0] !== '-') {
      i += m[0].length;
      return Number(m[0]);
    }
    return fail(`expected a value but found ${describeAt(text, i)}`);
  };
  const v = value(0);
  ws();
  if (i < text.length) fail(`unexpected ${describeAt(text, i)} after the value`);
  return v;
}
