/**
 * CNI results. One internal form (the 1.1.0 superset) is parsed from any version we speak (an IPAM
 * delegate's answer, a runtime's prevResult) and printed in the version the configuration asked for:
 *
 *   1.1.0         interfaces {name, mac, mtu, sandbox, socketPath, pciID}; routes may carry mtu, advmss,
 *                 priority, table, scope
 *   1.0.0         interfaces {name, mac, sandbox}; ips {address, gateway, interface}; routes {dst, gw}
 *   0.3.x, 0.4.0  as 1.0.0, and every ip has "version": "4" or "6"
 *
 * ADD's result joins the agent's interfaces and the IPAM's addresses and routes.
 */
import { isIP } from 'node:net';
import * as z from 'zod/mini';
import type { InterfaceMsg } from '../contract/types.js';
import { CNI_CODES, CniError } from './errors.js';
import { atLeast } from './version.js';

export interface CniInterface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}
export interface CniIpConfig {
  address: string;
  gateway?: string;
  /** Index into interfaces. */
  interface?: number;
}
export interface CniRoute {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}
export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}
export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIpConfig[];
  routes?: CniRoute[];
  dns?: CniDns;
}

// ---------------------------------------------------------------------------------------------------------
// Addresses

/** "10.1.0.5/24" or "fd00::5/64": an address and a prefix length that fits its family. */
export function isCidr(s: string): boolean {
  const slash = s.lastIndexOf('/');
  if (slash < 0) return false;
  const fam = isIP(s.slice(0, slash));
  const len = s.slice(slash + 1);
  if (fam === 0 || !/^\d{1,3}$/.test(len)) return false;
  return Number(len) <= (fam === 4 ? 32 : 128);
}

export function ipFamily(cidrOrIp: string): '4' | '6' {
  return cidrOrIp.includes(':') ? '6' : '4';
}

// ---------------------------------------------------------------------------------------------------------
// Parsing (any version we speak)

// zod/mini (the same checks and messages as classic zod, much cheaper to build in a process started per pod)
const cidr = z.string({ error: 'expected a string' }).check(z.refine(isCidr, { error: 'expected an address with prefix length, e.g. 10.1.0.5/24' }));
const ip = z.string({ error: 'expected a string' }).check(z.refine((s: string) => isIP(s) !== 0, { error: 'expected an IP address' }));
const uint = z.number({ error: 'expected a number' }).check(z.refine((n: number) => Number.isSafeInteger(n), { error: 'expected an integer' }), z.nonnegative({ error: 'must not be negative' }));
const str = (): z.ZodMiniString => z.string({ error: 'expected a string' });

const interfaceSchema = z.looseObject(
  {
    name: z.string({ error: 'expected a string' }),
    mac: z.optional(str()),
    mtu: z.optional(uint),
    sandbox: z.optional(str()),
    socketPath: z.optional(str()),
    pciID: z.optional(str()),
  },
  { error: 'expected an object' },
);
const ipSchema = z.looseObject(
  {
    version: z.optional(z.enum(['4', '6'], { error: 'expected "4" or "6"' })),
    address: cidr,
    gateway: z.optional(ip),
    interface: z.optional(uint),
  },
  { error: 'expected an object' },
);
const routeSchema = z.looseObject(
  {
    dst: cidr,
    gw: z.optional(ip),
    mtu: z.optional(uint),
    advmss: z.optional(uint),
    priority: z.optional(uint),
    table: z.optional(uint),
    scope: z.optional(uint),
  },
  { error: 'expected an object' },
);
const dnsSchema = z.looseObject(
  {
    nameservers: z.optional(z.array(z.string())),
    domain: z.optional(z.string()),
    search: z.optional(z.array(z.string())),
    options: z.optional(z.array(z.string())),
  },
  { error: 'expected an object' },
);

export const resultSchema = z
  .looseObject(
    {
      cniVersion: z.optional(str()),
      interfaces: z.optional(z.array(interfaceSchema, { error: 'expected a list' })),
      ips: z.optional(z.array(ipSchema, { error: 'expected a list' })),
      routes: z.optional(z.array(routeSchema, { error: 'expected a list' })),
      dns: z.optional(dnsSchema),
    },
    { error: 'expected an object' },
  )
  .check(
    z.superRefine((r, ctx) => {
      const n = r.interfaces?.length ?? 0;
      r.ips?.forEach((x, i) => {
        if (x.interface !== undefined && x.interface >= n) {
          ctx.addIssue({ code: 'custom', path: ['ips', i, 'interface'], message: `index ${x.interface} but there are ${n} interfaces`, input: x.interface });
        }
      });
    }),
  );

function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out;
}

const definedOnly = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

/**
 * Parses a result (any version we speak) into the internal form. `what` names it in errors
 * ("prevResult", "ipam host-local result"); `code` is what a malformed one is (7 for a configuration's
 * prevResult, 999 for a delegate's answer).
 */
export function parseResult(raw: unknown, fallbackVersion: string, what: string, code: number = CNI_CODES.invalidNetworkConfig): CniResult {
  const r = resultSchema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${what}${i.path.length ? `.${fieldPath(i.path)}` : ''}: ${i.message}`);
    const prefix = code === CNI_CODES.invalidNetworkConfig ? 'invalid network configuration: ' : '';
    throw new CniError(code, `${prefix}${issues[0]}`, issues.length > 1 ? issues.join('; ') : '');
  }
  const d = r.data;
  const out: CniResult = { cniVersion: d.cniVersion ?? fallbackVersion };
  if (d.interfaces) out.interfaces = d.interfaces.map((i) => definedOnly({ name: i.name, mac: i.mac, mtu: i.mtu, sandbox: i.sandbox, socketPath: i.socketPath, pciID: i.pciID }));
  if (d.ips) out.ips = d.ips.map((x) => definedOnly({ address: x.address, gateway: x.gateway, interface: x.interface }));
  if (d.routes) out.routes = d.routes.map((x) => definedOnly({ dst: x.dst, gw: x.gw, mtu: x.mtu, advmss: x.advmss, priority: x.priority, table: x.table, scope: x.scope }));
  if (d.dns) {
    const dns = definedOnly({ nameservers: d.dns.nameservers, domain: d.dns.domain, search: d.dns.search, options: d.dns.options });
    if (!isEmptyDns(dns)) out.dns = dns;
  }
  return out;
}

export function isEmptyDns(dns: CniDns | undefined): boolean {
  return !dns || (!dns.nameservers?.length && !dns.domain && !dns.search?.length && !dns.options?.length);
}

// ---------------------------------------------------------------------------------------------------------
// Printing in a version

/** The JSON object of `res` for `version` (fields that version does not have are left out). */
export function formatResult(res: CniResult, version: string): Record<string, unknown> {
  const v11 = atLeast(version, '1.1.0');
  const v10 = atLeast(version, '1.0.0');
  const out: Record<string, unknown> = { cniVersion: version };
  if (res.interfaces?.length) {
    out['interfaces'] = res.interfaces.map((i) =>
      definedOnly(
        v11
          ? { name: i.name, mac: i.mac, mtu: i.mtu, sandbox: i.sandbox, socketPath: i.socketPath, pciID: i.pciID }
          : { name: i.name, mac: i.mac, sandbox: i.sandbox },
      ),
    );
  }
  out['ips'] = (res.ips ?? []).map((x) =>
    definedOnly(v10 ? { address: x.address, gateway: x.gateway, interface: x.interface } : { version: ipFamily(x.address), address: x.address, gateway: x.gateway, interface: x.interface }),
  );
  if (res.routes?.length) {
    out['routes'] = res.routes.map((r) =>
      definedOnly(v11 ? { dst: r.dst, gw: r.gw, mtu: r.mtu, advmss: r.advmss, priority: r.priority, table: r.table, scope: r.scope } : { dst: r.dst, gw: r.gw }),
    );
  }
  if (!isEmptyDns(res.dns)) out['dns'] = res.dns;
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// ADD's result

/**
 * ADD's result: the agent's interfaces (what it made), the IPAM's ips on the pod's interface and the
 * IPAM's routes, DNS from the IPAM, or else from the configuration. The IPAM's gateway is not reported: a
 * vpp-cni pod routes through its device (VPP is the next hop), no gateway address is configured in it.
 */
export function buildAddResult(agent: readonly InterfaceMsg[], ipam: CniResult, confDns: CniDns | undefined, ifName: string, cniVersion: string): CniResult {
  const interfaces = agent.map((i) => definedOnly({ name: i.name, mac: i.mac, mtu: i.mtu, sandbox: i.sandbox || undefined, socketPath: i.socket_path }));
  let podIdx = interfaces.findIndex((i) => i.name === ifName && i.sandbox);
  if (podIdx < 0) podIdx = interfaces.findIndex((i) => i.sandbox);
  const ips = (ipam.ips ?? []).map((x) => definedOnly({ address: x.address, interface: podIdx >= 0 ? podIdx : undefined }));
  const out: CniResult = { cniVersion, interfaces, ips, routes: ipam.routes ?? [] };
  const dns = !isEmptyDns(ipam.dns) ? ipam.dns : !isEmptyDns(confDns) ? confDns : undefined;
  if (dns) out.dns = dns;
  return out;
}
