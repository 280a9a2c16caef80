/**
 * How a veth pair of ours is named and marked: the host end is `vcni` + 11 hex digits derived from the
 * attachment, and its ifalias carries the owner tag, the full container id and the pod netns — so a sweep
 * or a rebuild finds and judges it without a record.
 */
import { createHash } from 'node:crypto';
import { shortContainerId, tagOwnedBy } from '../tags.js';

export const VETH_HOST_PREFIX = 'vcni';
const HOST_NAME_RE = /^vcni[0-9a-f]{11}$/;

/** The host end's name: `vcni` + 11 hex digits of a hash of (12-character container id, interface name). */
export function vethHostName(containerId: string, ifName: string): string {
  const h = createHash('sha256').update(`${shortContainerId(containerId)}/${ifName}`).digest('hex');
  return `${VETH_HOST_PREFIX}${h.slice(0, 11)}`;
}

/** True for names our veth driver gives host ends. */
export function isVethHostName(name: string): boolean {
  return HOST_NAME_RE.test(name);
}

/**
 * ifalias of a host end: the owner tag, the full container id (the tag holds 12 characters of it, and so
 * does the derivation of the name: two containers sharing them must not take each other's pair), then the
 * pod netns, last (`<tag>,cid=<container id>,netns=<path>`).
 */
export function vethAlias(tag: string, containerId: string, netns: string): string {
  return `${tag},cid=${containerId},netns=${netns}`;
}

/** The tag, container id and netns an ifalias carries (undefined when it is not one of ours). */
export function parseVethAlias(alias: string): { tag: string; cid?: string; netns?: string } | undefined {
  if (!alias.startsWith('vcni:')) return undefined;
  const n = alias.indexOf(',netns=');
  const head = n < 0 ? alias : alias.slice(0, n);
  const c = head.indexOf(',cid=');
  const out: { tag: string; cid?: string; netns?: string } = { tag: c < 0 ? head : head.slice(0, c) };
  if (c >= 0) out.cid = head.slice(c + ',cid='.length);
  if (n >= 0) out.netns = alias.slice(n + ',netns='.length);
  return out;
}

/**
 * True when an ifalias names the attachment (container, interface): its tag's owner, and its full container
 * id when it carries one — equal, or starting with a record's 12-character id (a record rebuilt from tags).
 */
export function vethAliasOwnedBy(alias: string, containerId: string, ifName: string): boolean {
  const a = parseVethAlias(alias);
  if (!a || !tagOwnedBy(a.tag, containerId, ifName)) return false;
  return a.cid === undefined || a.cid === containerId || (containerId.length < a.cid.length && a.cid.startsWith(containerId));
}
