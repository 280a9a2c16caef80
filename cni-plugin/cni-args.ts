/**
 * CNI_ARGS: "K=V;K=V" pairs (spec: alphanumeric key-value pairs separated by semicolons). The keys the
 * Kubernetes runtimes send are known; any other key is rejected unless IgnoreUnknown is set (1/true), as
 * the CNI conventions ask. Zod-free: parsed by the skel before any command module is loaded.
 */
import { CNI_CODES, CniError } from './errors.js';

export interface CniArgs {
  K8S_POD_NAMESPACE?: string;
  K8S_POD_NAME?: string;
  K8S_POD_UID?: string;
  K8S_POD_INFRA_CONTAINER_ID?: string;
  IgnoreUnknown: boolean;
  /** Keys this plugin does not know, kept when IgnoreUnknown allowed them. */
  unknown: Record<string, string>;
}

export const KNOWN_CNI_ARGS = ['K8S_POD_NAMESPACE', 'K8S_POD_NAME', 'K8S_POD_UID', 'K8S_POD_INFRA_CONTAINER_ID'] as const;
type KnownKey = (typeof KNOWN_CNI_ARGS)[number];

function bad(msg: string, details = ''): CniError {
  return new CniError(CNI_CODES.invalidEnvironment, `CNI_ARGS: ${msg}`, details);
}

function parseBool(key: string, v: string): boolean {
  const l = v.toLowerCase();
  if (l === '1' || l === 'true') return true;
  if (l === '0' || l === 'false') return false;
  throw bad(`${key}=${v}: expected 1, 0, true or false`);
}

/** Parses CNI_ARGS; throws CniError 4 naming the pair or key at fault. Empty segments (";;") are skipped. */
export function parseCniArgs(raw: string | undefined): CniArgs {
  const out: CniArgs = { IgnoreUnknown: false, unknown: {} };
  if (!raw) return out;
  const pairs: [string, string][] = [];
  for (const seg of raw.split(';')) {
    if (seg === '') continue;
    const parts = seg.split('=');
    if (parts.length !== 2 || parts[0] === '') throw bad(`invalid pair ${JSON.stringify(seg)}: expected KEY=VALUE`);
    pairs.push([parts[0]!, parts[1]!]);
  }
  for (const [k, v] of pairs) if (k === 'IgnoreUnknown') out.IgnoreUnknown = parseBool(k, v);
  for (const [k, v] of pairs) {
    if (k === 'IgnoreUnknown') continue;
    if ((KNOWN_CNI_ARGS as readonly string[]).includes(k)) out[k as KnownKey] = v;
    else if (out.IgnoreUnknown) out.unknown[k] = v;
    else throw bad(`unknown key ${JSON.stringify(k)}`, `known keys: ${KNOWN_CNI_ARGS.join(', ')}; add IgnoreUnknown=1 to pass others`);
  }
  return out;
}
