/**
 * The pod-interface layer: turns an attachment request (netns, interface name, IPs from IPAM,
 * annotations, config) into VPP and Linux state, checks it, and removes it again.
 *
 * ADD runs as one transaction: any failure undoes every earlier step. DEL removes everything ADD made,
 * tolerates objects that are already gone (and a netns that is gone), and reports what it could not remove.
 */
import type { VppApiError } from '../../vpp-api/client/index.js';
import * as ip from '../../vpp-api/generated/ip.js';
import * as ipn from '../../vpp-api/generated/ip_neighbor.js';
import { AddressFamily } from '../../vpp-api/generated/ip_types.js';
import * as pbl from '../../vpp-api/generated/pbl.js';
import { NetnsGoneError } from '../linux/netns.js';
import { parsePodAnnotations, type PodAnnotations } from './annotations.js';
import {
  describeAttachment,
  ipOf,
  isV6,
  type AttachRequest,
  type AttachResult,
  type AttachmentKind,
  type AttachmentRecord,
  type MadeObjects,
} from './attachment.js';
import { resolveSpec, type InterfaceSpec } from './interface-spec.js';
import { checkPodLink } from './linux-side.js';
import { StepError, transact, type StepHook } from './transaction.js';
import { deleteTolerant, delNeighbor, delRoute } from './vpp-ops.js';
import type { CheckProblem, DriverContext } from './drivers/context.js';
import { checkMemif, createMemif, deleteMemif, type MemifPlan } from './drivers/memif.js';
import { checkTun, createTun, deleteTun, VhostNetUnavailableError } from './drivers/tun.js';
import { checkVeth, createVeth, deleteVeth } from './drivers/veth.js';
import { isVhostNetFailure, PodInterfaceModeState } from './interface-mode.js';
import { checkVcl, createVcl, deleteVcl } from './drivers/vcl.js';

export class PodRequestError extends Error {
  override readonly name = 'PodRequestError';
}

export interface AttachPlan {
  /** `tun` or `veth` (the node's interface mode at planning time) for a main interface; `memif-multinet`. */
  kind: AttachmentKind;
  annotations: PodAnnotations;
  /** Main interface spec (tun/veth) or multinet memif spec. */
  spec: InterfaceSpec;
  pblMemif?: MemifPlan;
  vcl: boolean;
}

export interface PodNetworkOptions {
  /** The pod's main interface: PBL memif and VCL attach to it. */
  primaryIfName?: string;
  /** Called before every step (tests inject failures). */
  stepHook?: StepHook;
  /** The node's eth0 mode state (default: a new one from cfg.interfaceMode). */
  interfaceMode?: PodInterfaceModeState;
}

export class DeleteIncompleteError extends Error {
  override readonly name = 'DeleteIncompleteError';
  constructor(
    readonly pod: string,
    readonly failures: string[],
  ) {
    super(`${pod}: delete incomplete: ${failures.join('; ')}`);
  }
}

export class PodNetwork {
  private readonly primary: string;
  /** tun or veth for eth0, and auto mode's switch. */
  readonly interfaceMode: PodInterfaceModeState;

  constructor(
    private readonly ctx: DriverContext,
    private readonly opts: PodNetworkOptions = {},
  ) {
    this.primary = opts.primaryIfName ?? 'eth0';
    this.interfaceMode = opts.interfaceMode ?? new PodInterfaceModeState(ctx.cfg.interfaceMode ?? 'auto', ctx.log);
  }

  /** Validates the request and its annotations; throws InvalidAnnotationError or PodRequestError. */
  plan(req: AttachRequest): AttachPlan {
    const { gates } = this.ctx.cfg;
    const ann = parsePodAnnotations(req.annotations, gates, this.ctx.cfg.limits);
    const label = describeAttachment(req);
    if (req.ips.length === 0) throw new PodRequestError(`${label}: no IP addresses (IPAM returned none)`);
    for (const a of req.ips) {
      if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(a.address)) throw new PodRequestError(`${label}: IP "${a.address}" is not an address/prefix-length`);
    }
    if (req.ifName.startsWith('memif')) {
      const missing = (['multinetEnabled', 'memifEnabled'] as const).filter((g) => !gates[g]);
      if (missing.length > 0) {
        throw new PodRequestError(`${label}: interface ${req.ifName} is a multinet memif, which is disabled on this node (feature gate ${missing.join(' and ')} is false)`);
      }
      return { kind: 'memif-multinet', annotations: ann, spec: resolveSpec(ann.interfacesSpec[req.ifName], this.ctx.cfg, false), vcl: false };
    }
    const plan: AttachPlan = { kind: this.interfaceMode.mode, annotations: ann, spec: resolveSpec(ann.interfacesSpec[req.ifName], this.ctx.cfg, true), vcl: false };
    if (req.ifName === this.primary) {
      if (ann.memifPorts) plan.pblMemif = { mode: 'pbl', spec: resolveSpec(ann.memifSpec, this.ctx.cfg, false), ports: ann.memifPorts };
      plan.vcl = ann.vcl;
    }
    return plan;
  }

  /** Creates the attachment. On failure everything done is undone and a StepError is thrown. */
  async add(req: AttachRequest, plan: AttachPlan = this.plan(req)): Promise<AttachmentRecord> {
    const label = describeAttachment(req);
    const made: MadeObjects = { pbl: [], routes: [], neighbors: [] };
    return transact(label, this.ctx.log, this.opts.stepHook, async (tx) => {
      await tx.step('netns check', async () => {
        if (!(await this.ctx.netns.isNetns(req.netns))) throw new NetnsGoneError(req.netns);
      });
      let kind = plan.kind;
      if (kind === 'tun') {
        try {
          await createTun(this.ctx, tx, req, plan.spec, made);
        } catch (e) {
          // auto mode: VPP refused the tap for lack of vhost-net and made nothing (tap_create_if frees
          // all it opened); the transaction goes on with a veth, and so does every later pod.
          if (!(e instanceof StepError) || !isVhostNetFailure(e)) throw e;
          if (!this.interfaceMode.fallBack(e.cause.message, label, req.pod)) {
            // Not in auto mode: the error says which setting avoids it.
            throw new StepError(e.pod, e.step, new VhostNetUnavailableError(e.cause as VppApiError, true));
          }
          kind = 'veth';
          await createVeth(this.ctx, tx, req, plan.spec, made);
        }
      } else if (kind === 'veth') {
        await createVeth(this.ctx, tx, req, plan.spec, made);
      }
      if (kind !== 'memif-multinet') {
        if (plan.pblMemif) await createMemif(this.ctx, tx, req, plan.pblMemif, made);
        if (plan.vcl) await createVcl(this.ctx, tx, req, made);
      } else {
        await createMemif(this.ctx, tx, req, { mode: 'multinet', spec: plan.spec }, made);
      }
      const result = await tx.step('result', () => this.result(req, made));
      return {
        containerId: req.containerId,
        ifName: req.ifName,
        netns: req.netns,
        pod: req.pod,
        kind,
        ...(req.network !== undefined ? { network: req.network } : {}),
        ips: req.ips,
        routes: req.routes,
        objects: made,
        result,
        ...(Object.keys(req.annotations).length > 0 ? { annotations: { ...req.annotations } } : {}),
        createdAt: new Date().toISOString(),
      };
    });
  }

  /** Built from what was made (no extra round trip into the pod netns on the ADD path). */
  private result(req: AttachRequest, made: MadeObjects): Promise<AttachResult> {
    const main: AttachResult['interfaces'][number] = { name: req.ifName, sandbox: req.netns };
    if (made.tun?.hostMac) main.mac = made.tun.hostMac;
    if (made.veth) main.mac = made.veth.podMac;
    if (made.tun || made.veth) main.mtu = this.ctx.cfg.mtu;
    const interfaces: AttachResult['interfaces'] = [main];
    const isMain = !!(made.tun || made.veth);
    if (isMain && made.memif) {
      interfaces.push({ name: `memif-${req.ifName}`, sandbox: req.netns, socketPath: made.memif.socketName });
    }
    if (!isMain && made.memif) main.socketPath = made.memif.socketName;
    return Promise.resolve({
      interfaces,
      // No gateway: the pod routes through its device (VPP is the next hop); IPAM's gateway address is not used.
      ips: req.ips.map((a) => ({ address: a.address, interface: 0 })),
      routes: req.routes,
    });
  }

  /** Removes everything the record says was made. Idempotent; throws DeleteIncompleteError listing what failed. */
  async del(rec: AttachmentRecord): Promise<void> {
    const o = rec.objects;
    const failures: string[] = [];
    const attempt = async (what: string, fn: () => Promise<void>): Promise<void> => {
      try {
        await fn();
      } catch (e) {
        failures.push(`${what}: ${(e as Error).message}`);
      }
    };
    for (const p of o.pbl) await attempt(`pbl client ${p.id}`, () => deleteTolerant(() => this.ctx.vpp.request(pbl.pbl_client_del, { id: p.id })));
    for (const n of o.neighbors) await attempt(`neighbor ${n.ip}`, () => delNeighbor(this.ctx.vpp, n));
    for (const r of o.routes) await attempt(`route ${r.prefix}`, () => delRoute(this.ctx.vpp, r));
    if (o.vcl) {
      const v = o.vcl;
      await attempt(`app namespace ${v.namespaceId}`, () => deleteVcl(this.ctx, v));
    }
    if (o.memif) {
      const m = o.memif;
      await attempt(`memif ${m.swIfIndex}`, () => deleteMemif(this.ctx, rec.netns, m, o.dummy));
    }
    if (o.tun) {
      const t = o.tun;
      await attempt(`tap ${t.swIfIndex}`, () => deleteTun(this.ctx, t));
    }
    if (o.veth) {
      const v = o.veth;
      await attempt(`af_packet host-${v.hostIfName} and veth ${v.hostIfName}`, () => deleteVeth(this.ctx, v));
    }
    if (failures.length > 0) throw new DeleteIncompleteError(describeAttachment(rec), failures);
  }

  /** Compares VPP and Linux with the record; returns the differences (empty when healthy). */
  async check(rec: AttachmentRecord): Promise<CheckProblem[]> {
    const out: CheckProblem[] = [];
    if (!(await this.ctx.netns.isNetns(rec.netns))) return [{ object: rec.netns, problem: 'network namespace is gone' }];
    const ips = rec.ips.map((a) => ipOf(a.address));
    const o = rec.objects;
    if (o.tun) out.push(...(await checkTun(this.ctx, rec.netns, o.tun, ips)));
    if (o.veth) out.push(...(await checkVeth(this.ctx, rec.netns, o.veth, ips)));
    if (o.memif) out.push(...(await checkMemif(this.ctx, o.memif, o.pbl.map((p) => p.id))));
    if (o.vcl) out.push(...(await checkVcl(this.ctx, o.vcl)));
    if (o.dummy) out.push(...(await checkPodLink(this.ctx.netns, rec.netns, o.dummy, ips)));
    for (const fam of [false, true]) {
      const want = o.routes.filter((r) => isV6(r.prefix) === fam);
      const have = want.length === 0 ? [] : await this.ctx.vpp.dumpAll(ip.ip_route_dump, { table: { table_id: 0, is_ip6: fam } });
      for (const r of want) {
        const hit = have.find((h) => h.route.prefix === r.prefix && h.route.paths.some((p) => p.sw_if_index === r.swIfIndex));
        if (!hit) out.push({ object: `route ${r.prefix}`, problem: `missing in table ${r.tableId} (via sw_if_index ${r.swIfIndex})` });
      }
      // Pinned pod addresses (TAP, veth, L2 memif), one dump per interface and family.
      for (const sw of new Set(o.neighbors.filter((n) => isV6(n.ip) === fam).map((n) => n.swIfIndex))) {
        const nbs = await this.ctx.vpp.dumpAll(ipn.ip_neighbor_dump, { sw_if_index: sw, af: fam ? AddressFamily.ADDRESS_IP6 : AddressFamily.ADDRESS_IP4 });
        for (const n of o.neighbors.filter((x) => x.swIfIndex === sw && isV6(x.ip) === fam)) {
          const hit = nbs.find((h) => h.neighbor.ip_address === n.ip);
          if (!hit) out.push({ object: `neighbor ${n.ip}`, problem: `missing on sw_if_index ${sw}` });
          else if (hit.neighbor.mac_address !== n.mac) out.push({ object: `neighbor ${n.ip}`, problem: `MAC is ${hit.neighbor.mac_address}, expected ${n.mac}` });
        }
      }
    }
    return out;
  }
}
