/**
 * The contract written once: the committed contract/generated/ is exactly what the generator makes from
 * cni-backend.proto; the generated zod schemas carry the proto's fields and validation tags; the parser
 * refuses what it does not support instead of guessing.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { GENERATED_DIR, PROTO_FILE, generateContract } from '../../contract/generator/generate.js';
import { ProtoParseError, parseProto } from '../../contract/generator/parse.js';
import * as zodGen from '../../contract/generated/cni-backend-zod.js';

const PROTO = readFileSync(join(process.cwd(), PROTO_FILE), 'utf8');

describe('contract generator', () => {
  test('committed contract/generated equals a fresh generation (npm run generate:contract)', () => {
    const fresh = generateContract(PROTO);
    expect(readdirSync(join(process.cwd(), GENERATED_DIR)).sort()).toEqual([...fresh.keys()].sort());
    for (const [name, text] of fresh) expect({ name, same: readFileSync(join(process.cwd(), GENERATED_DIR, name), 'utf8') === text }).toEqual({ name, same: true });
  });

  test('a changed proto changes the output (the comparison can fail)', () => {
    const changed = generateContract(PROTO.replace('string network_name = 4;', 'string network = 4;'));
    expect(changed.get('cni-backend.ts')).not.toBe(generateContract(PROTO).get('cni-backend.ts'));
  });

  test('every message has a zod schema with the proto\'s field names', () => {
    const root = protobuf.parse(PROTO, { keepCase: true }).root;
    const ns = root.lookup('vppcni.v1') as protobuf.Namespace;
    const schemas = zodGen as unknown as Record<string, { shape?: Record<string, unknown> } | undefined>;
    for (const t of ns.nestedArray.filter((x): x is protobuf.Type => x instanceof protobuf.Type)) {
      expect({ type: t.name, fields: Object.keys(schemas[`${t.name}Schema`]?.shape ?? { missing: 1 }) }).toEqual({ type: t.name, fields: t.fieldsArray.map((f) => f.name) });
    }
  });

  const okAttachment = { container_id: 'abc', if_name: 'eth0', netns: '/x', pod: null };
  test.each([
    ['container_id with a space', { ...okAttachment, container_id: 'a b' }, ['container_id'], 'expected letters, digits, _ . - (starting with a letter or digit)'],
    ['if_name too long', { ...okAttachment, if_name: 'x'.repeat(16) }, ['if_name'], 'at most 15 characters'],
    ['if_name ..', { ...okAttachment, if_name: '..' }, ['if_name'], 'expected an interface name without whitespace, / or :, not . or ..'],
    ['netns a number', { ...okAttachment, netns: 5 }, ['netns'], 'expected a string'],
    ['pod not a message', { ...okAttachment, pod: 'x' }, ['pod'], 'expected a PodRef message'],
  ])('Attachment: %s', (_n, value, path, message) => {
    const r = zodGen.AttachmentSchema.safeParse(value);
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]).toMatchObject({ path, message });
  });

  test('kinds: uint32 and int32 ranges, required messages, item bounds, map bounds', () => {
    expect(zodGen.CniErrorSchema.safeParse({ code: -1, msg: '', details: '' }).error?.issues[0]?.message).toBe('expected a uint32');
    expect(zodGen.CniErrorSchema.safeParse({ code: 2 ** 32, msg: '', details: '' }).success).toBe(false);
    expect(zodGen.CniErrorSchema.safeParse({ code: 1.5, msg: '', details: '' }).error?.issues[0]?.message).toBe('expected an integer');
    expect(zodGen.AddRequestSchema.safeParse({ attachment: null, ips: [{ address: '10.0.0.1/32' }], routes: [], network_name: '', annotations: null }).error?.issues[0]).toMatchObject({ path: ['attachment'], message: 'missing Attachment' });
    expect(zodGen.AddRequestSchema.safeParse({ attachment: okAttachment, ips: [], routes: [], network_name: '', annotations: null }).error?.issues[0]).toMatchObject({ path: ['ips'], message: 'at least 1 element' });
    const many = Object.fromEntries(Array.from({ length: 4097 }, (_, i) => [`k${i}`, 'v']));
    expect(zodGen.AnnotationsSchema.safeParse({ entries: many }).error?.issues[0]?.message).toBe('at most 4096 entries');
    expect(zodGen.AnnotationsSchema.safeParse({ entries: { '': 'v' } }).error?.issues[0]?.message).toBe('invalid key: must not be empty');
    expect(zodGen.AnnotationsSchema.safeParse({ entries: { k: 'x'.repeat(262145) } }).error?.issues[0]).toMatchObject({ path: ['entries', 'k'], message: 'at most 262144 characters' });
    expect(zodGen.AddRequestSchema.safeParse({ attachment: okAttachment, ips: [{ address: '10.0.0.1/32', gateway: '10.0.0.1' }], routes: [{ dst: '0.0.0.0/0' }], network_name: 'n', annotations: { entries: { a: 'b' } } }).success).toBe(true);
  });

  const head = 'syntax = "proto3";\npackage p;\nservice S {\n}\n';
  test.each([
    ['proto2', 'syntax = "proto2";', 'only proto3'],
    ['an enum', `${head}message A {\n  enum E { X = 0; }\n}`, 'not a supported field'],
    ['a map<string, int32>', `${head}message A {\n  map<string, int32> m = 1;\n}`, 'only map<string, string>'],
    ['a repeated number', `${head}message A {\n  repeated uint32 n = 1;\n}`, 'packed'],
    ['an unknown tag', `${head}message A {\n  string s = 1; // @bogus\n}`, 'unknown tag @bogus'],
    ['bounds upside down', `${head}message A {\n  string s = 1; // @len 5..2\n}`, 'MIN above MAX'],
    ['@len on a number', `${head}message A {\n  uint32 s = 1; // @len ..2\n}`, '@len / @pattern are for strings'],
    ['a field number twice', `${head}message A {\n  string s = 1;\n  string t = 1;\n}`, 'used twice'],
    ['a reserved number', `${head}message A {\n  reserved 2;\n  string t = 2;\n}`, 'used twice or reserved'],
    ['an unknown type', `${head}message A {\n  B b = 1;\n}`, 'unknown type B'],
    ['a streaming rpc', 'syntax = "proto3";\npackage p;\nservice S {\n  rpc X (stream A) returns (A);\n}\nmessage A {}', 'only unary rpcs'],
  ])('refuses %s', (_n, text, why) => {
    expect(() => parseProto(text)).toThrow(ProtoParseError);
    expect(() => parseProto(text)).toThrow(why);
  });
});
