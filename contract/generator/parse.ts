/**
 * Reads the subset of proto3 the contract uses: one package, one service of unary rpcs, flat messages with
 * string / uint32 / int32 / message fields (single, `optional`, `repeated`) and map<string, string>, and
 * `reserved`. Anything else is an error naming the line, so the generator never guesses. Validation tags
 * (@required, @len, @pattern, @items, @key_len, @key_pattern) are read from the field's comments.
 */

export type ScalarKind = 'string' | 'uint32' | 'int32';
export type FieldLabel = 'single' | 'optional' | 'repeated' | 'map';

export interface Bounds {
  min?: number;
  max?: number;
}
export interface PatternRule {
  source: string;
  hint: string;
}
export interface FieldRules {
  required?: boolean;
  len?: Bounds;
  pattern?: PatternRule;
  items?: Bounds;
  keyLen?: Bounds;
  keyPattern?: PatternRule;
}

export interface ProtoField {
  number: number;
  name: string;
  /** A scalar kind, or the name of a message of the file. */
  type: ScalarKind | string;
  label: FieldLabel;
  rules: FieldRules;
  /** The field's comments as written (tags included). */
  doc: string;
  line: number;
}
export interface ProtoMessage {
  name: string;
  doc: string;
  fields: ProtoField[];
  reserved: number[];
}
export interface ProtoRpc {
  name: string;
  request: string;
  reply: string;
}
export interface ProtoFile {
  package: string;
  service: string;
  rpcs: ProtoRpc[];
  messages: ProtoMessage[];
}

export class ProtoParseError extends Error {
  override readonly name = 'ProtoParseError';
}

const SCALARS: readonly string[] = ['string', 'uint32', 'int32'];
const IDENT = '[A-Za-z_][A-Za-z0-9_]*';

function bounds(text: string, tag: string, line: number): Bounds {
  const m = /^(\d*)\.\.(\d*)$/.exec(text);
  if (!m || (m[1] === '' && m[2] === '')) throw new ProtoParseError(`line ${line}: ${tag} expects MIN..MAX, got "${text}"`);
  const b: Bounds = {};
  if (m[1] !== '') b.min = Number(m[1]);
  if (m[2] !== '') b.max = Number(m[2]);
  if (b.min !== undefined && b.max !== undefined && b.min > b.max) throw new ProtoParseError(`line ${line}: ${tag} ${text}: MIN above MAX`);
  return b;
}

function pattern(rest: string, tag: string, line: number): { rule: PatternRule; rest: string } {
  const m = /^`([^`]+)`\s+"([^"]+)"/.exec(rest);
  if (!m) throw new ProtoParseError(`line ${line}: ${tag} expects \`RE\` "HINT"`);
  try {
    new RegExp(m[1]!);
  } catch (e) {
    throw new ProtoParseError(`line ${line}: ${tag}: ${(e as Error).message}`);
  }
  return { rule: { source: m[1]!, hint: m[2]! }, rest: rest.slice(m[0].length) };
}

/** The @ tags of a field's comments (everything else in them is prose). */
export function parseRules(comment: string, line: number): FieldRules {
  const rules: FieldRules = {};
  let rest = comment;
  for (;;) {
    const at = rest.search(/(^|\s)@[a-z_]+/);
    if (at < 0) return rules;
    rest = rest.slice(at).trimStart();
    const tag = /^@([a-z_]+)/.exec(rest)![1]!;
    rest = rest.slice(tag.length + 1).trimStart();
    const word = (): string => {
      const w = /^\S+/.exec(rest)?.[0] ?? '';
      rest = rest.slice(w.length);
      return w;
    };
    switch (tag) {
      case 'required':
        rules.required = true;
        break;
      case 'len':
        rules.len = bounds(word(), '@len', line);
        break;
      case 'items':
        rules.items = bounds(word(), '@items', line);
        break;
      case 'key_len':
        rules.keyLen = bounds(word(), '@key_len', line);
        break;
      case 'pattern': {
        const p = pattern(rest, '@pattern', line);
        rules.pattern = p.rule;
        rest = p.rest;
        break;
      }
      case 'key_pattern': {
        const p = pattern(rest, '@key_pattern', line);
        rules.keyPattern = p.rule;
        rest = p.rest;
        break;
      }
      default:
        throw new ProtoParseError(`line ${line}: unknown tag @${tag}`);
    }
  }
}

export function parseProto(text: string): ProtoFile {
  const file: ProtoFile = { package: '', service: '', rpcs: [], messages: [] };
  let block: { kind: 'service' } | { kind: 'message'; msg: ProtoMessage } | undefined;
  let pendingComment: string[] = [];
  let topComment: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const raw = lines[i]!;
    const slash = raw.indexOf('//');
    const code = (slash >= 0 ? raw.slice(0, slash) : raw).trim();
    const comment = slash >= 0 ? raw.slice(slash + 2).trim() : '';
    if (code === '') {
      if (comment && block?.kind === 'message') pendingComment.push(comment);
      else if (comment && !block) topComment.push(comment);
      else {
        pendingComment = [];
        topComment = [];
      }
      continue;
    }
    const fail = (why: string): never => {
      throw new ProtoParseError(`line ${n}: ${why}: ${code}`);
    };
    let m: RegExpExecArray | null;
    if (!block) {
      pendingComment = [];
      const before = topComment;
      topComment = [];
      if ((m = /^syntax\s*=\s*"([^"]+)"\s*;$/.exec(code))) {
        if (m[1] !== 'proto3') fail('only proto3 is supported');
      } else if ((m = new RegExp(`^package\\s+(${IDENT}(?:\\.${IDENT})*)\\s*;$`).exec(code))) file.package = m[1]!;
      else if ((m = new RegExp(`^service\\s+(${IDENT})\\s*\\{$`).exec(code))) {
        if (file.service) fail('a second service');
        file.service = m[1]!;
        block = { kind: 'service' };
      } else if ((m = new RegExp(`^message\\s+(${IDENT})\\s*\\{\\s*(\\})?$`).exec(code))) {
        const msg: ProtoMessage = { name: m[1]!, doc: before.join(' '), fields: [], reserved: [] };
        if (file.messages.some((x) => x.name === msg.name)) fail('message defined twice');
        file.messages.push(msg);
        if (!m[2]) block = { kind: 'message', msg };
      } else fail('not supported at top level');
      continue;
    }
    if (code === '}') {
      block = undefined;
      pendingComment = [];
      continue;
    }
    if (block.kind === 'service') {
      m = new RegExp(`^rpc\\s+(${IDENT})\\s*\\(\\s*(${IDENT})\\s*\\)\\s*returns\\s*\\(\\s*(${IDENT})\\s*\\)\\s*;$`).exec(code);
      if (!m) fail('only unary rpcs are supported');
      file.rpcs.push({ name: m![1]!, request: m![2]!, reply: m![3]! });
      continue;
    }
    const msg = block.msg;
    const notes = [...pendingComment, comment].join(' ');
    pendingComment = [];
    if ((m = /^reserved\s+([\d\s,]+);$/.exec(code))) {
      msg.reserved.push(...m[1]!.split(',').map((x) => Number(x.trim())));
      continue;
    }
    m = new RegExp(`^(?:(optional|repeated)\\s+)?(?:map\\s*<\\s*(${IDENT})\\s*,\\s*(${IDENT})\\s*>|(${IDENT}))\\s+(${IDENT})\\s*=\\s*(\\d+)\\s*;$`).exec(code);
    if (!m) fail('not a supported field');
    const [, mod, mapKey, mapValue, type, name, num] = m!;
    if (mapKey !== undefined && (mapKey !== 'string' || mapValue !== 'string' || mod)) fail('only map<string, string> is supported');
    const label: FieldLabel = mapKey !== undefined ? 'map' : mod === 'optional' ? 'optional' : mod === 'repeated' ? 'repeated' : 'single';
    const f: ProtoField = { number: Number(num), name: name!, type: mapKey !== undefined ? 'string' : type!, label, rules: parseRules(notes, n), doc: notes.trim(), line: n };
    if (f.number < 1 || f.number > 536870911 || (f.number >= 19000 && f.number <= 19999)) fail('field number out of range');
    if (msg.fields.some((x) => x.number === f.number) || msg.reserved.includes(f.number)) fail(`field number ${f.number} used twice or reserved`);
    if (msg.fields.some((x) => x.name === f.name)) fail(`field name ${f.name} used twice`);
    if (label === 'repeated' && SCALARS.includes(f.type) && f.type !== 'string') fail('repeated numeric fields (packed) are not supported');
    if (label === 'optional' && !SCALARS.includes(f.type)) fail('optional is for scalars (message fields have presence already)');
    msg.fields.push(f);
  }
  if (block) throw new ProtoParseError(`unterminated ${block.kind}`);
  if (!file.package || !file.service) throw new ProtoParseError('no package or no service');
  const names = new Set(file.messages.map((x) => x.name));
  for (const msg of file.messages) {
    for (const f of msg.fields) {
      if (!SCALARS.includes(f.type) && !names.has(f.type)) throw new ProtoParseError(`line ${f.line}: ${msg.name}.${f.name}: unknown type ${f.type}`);
      const isString = f.type === 'string';
      if (f.rules.required && (SCALARS.includes(f.type) || f.label !== 'single')) throw new ProtoParseError(`line ${f.line}: @required is for single message fields`);
      if ((f.rules.len || f.rules.pattern) && !isString) throw new ProtoParseError(`line ${f.line}: @len / @pattern are for strings`);
      if (f.rules.items && f.label !== 'repeated' && f.label !== 'map') throw new ProtoParseError(`line ${f.line}: @items is for repeated fields and maps`);
      if ((f.rules.keyLen || f.rules.keyPattern) && f.label !== 'map') throw new ProtoParseError(`line ${f.line}: @key_* is for maps`);
    }
  }
  for (const r of file.rpcs) for (const t of [r.request, r.reply]) if (!names.has(t)) throw new ProtoParseError(`rpc ${r.name}: unknown message ${t}`);
  return file;
}
