/**
 * Owner tags on VPP objects. VPP tags are string[64] (63 bytes), so a tag carries a short container id,
 * the interface name and the object kind in a fixed, parseable prefix, then the pod (namespace/name),
 * truncated if it must be: `vcni:<cid12>:<ifname>:<kind>:<namespace>/<name>`.
 * A sweep recognises our objects by the `vcni:` prefix and never touches anything else.
 */
export const TAG_PREFIX = 'vcni:';
export const TAG_MAX = 63;
export const TAG_KINDS = ['tun', 'veth', 'memif', 'mmif', 'vcl', 'loop'] as const;
export type TagKind = (typeof TAG_KINDS)[number];

export interface TagOwner {
  containerId: string;
  ifName: string;
  podNamespace: string;
  podName: string;
}

export interface ParsedTag {
  cid: string;
  ifName: string;
  kind: TagKind;
  pod: string;
}

/** First 12 characters of the container id (as `docker ps` shows it). */
export function shortContainerId(id: string): string {
  return id.slice(0, 12);
}

export function makeTag(owner: TagOwner, kind: TagKind): string {
  const tag = `${TAG_PREFIX}${shortContainerId(owner.containerId)}:${owner.ifName}:${kind}:${owner.podNamespace}/${owner.podName}`;
  return Buffer.byteLength(tag) <= TAG_MAX ? tag : Buffer.from(tag).subarray(0, TAG_MAX).toString('utf8').replace(/\uFFFD$/, '');
}

export function parseTag(tag: string): ParsedTag | undefined {
  if (!tag.startsWith(TAG_PREFIX)) return undefined;
  const [cid, ifName, kind, ...rest] = tag.slice(TAG_PREFIX.length).split(':');
  if (!cid || !ifName || !kind || !(TAG_KINDS as readonly string[]).includes(kind)) return undefined;
  return { cid, ifName, kind: kind as TagKind, pod: rest.join(':') };
}

/** True when `tag` belongs to the attachment (container, interface). */
export function tagOwnedBy(tag: string, containerId: string, ifName: string): boolean {
  const t = parseTag(tag);
  return !!t && t.cid === shortContainerId(containerId) && t.ifName === ifName;
}
