/** CNI spec versions: the ones this plugin answers, the ones it can speak to a delegate, and their order. */

export const PLUGIN_NAME = 'vpp-cni';
/** Replaced by the release build if it wants to (the binary cannot read package.json at run time). */
export const PLUGIN_VERSION = '0.1.0';

/** Versions of the network configuration this plugin accepts (and prints results in). */
export const SUPPORTED_VERSIONS = ['0.4.0', '1.0.0', '1.1.0'] as const;
export type SupportedVersion = (typeof SUPPORTED_VERSIONS)[number];
export const CURRENT_VERSION: SupportedVersion = '1.1.0';

/**
 * Versions the plugin can speak to an IPAM delegate: the 0.3.x result has the same shape as 0.4.0
 * (ips with "version"), so an old delegate still works for ADD and DEL (CHECK needs 0.4.0, GC and STATUS 1.1.0).
 */
export const DELEGATE_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;

export function isSupportedVersion(v: unknown): v is SupportedVersion {
  return typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** Compares two "x.y.z" versions numerically (non-numeric parts count as 0). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((p) => Number.parseInt(p, 10) || 0);
  const pb = b.split('.').map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function atLeast(v: string, min: string): boolean {
  return compareVersions(v, min) >= 0;
}

/** The Go-style list the reference skel prints in its version errors: ["0.4.0" "1.0.0"]. */
export function quotedList(vs: readonly string[]): string {
  return `[${vs.map((v) => JSON.stringify(v)).join(' ')}]`;
}
