/** cni-backend.proto → the generated modules (file name → text); pure, so a test can regenerate and compare. */
import { emitTypes, emitZod } from './emit.js';
import { parseProto } from './parse.js';

export const PROTO_FILE = 'contract/cni-backend.proto';
export const GENERATED_DIR = 'contract/generated';

export function generateContract(protoText: string): Map<string, string> {
  const file = parseProto(protoText);
  return new Map([
    ['cni-backend.ts', emitTypes(file, PROTO_FILE)],
    ['cni-backend-zod.ts', emitZod(file, PROTO_FILE)],
  ]);
}
