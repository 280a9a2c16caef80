/** Loads the contract into grpc-js service definitions (no file access: the text is embedded). */
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { CNI_BACKEND_PROTO } from './proto.js';

export const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, arrays: true, objects: false, oneofs: false };

export function loadContract(): protoLoader.PackageDefinition {
  const root = protobuf.parse(CNI_BACKEND_PROTO, { keepCase: true }).root;
  return protoLoader.fromJSON(root.toJSON(), LOADER_OPTIONS);
}
