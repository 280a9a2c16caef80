/**
 * The pod-interface layer: turns an attachment request (netns, interface name, IPs from IPAM,
 * annotations, config) into VPP and Linux state, checks it, and removes it again.
 *
 * ADD runs as one transaction: any failure undoes every earlier step. DEL removes everything ADD made,
 * tolerates objects that are already gone (and a netns that is gone), and reports what it could not remove.
 */
import { NetnsGoneError } from '../linux/netns.js';
import type { VppApiError } from '../vpp/api.js';
import { VhostNetUnavailableError } from '../vpp/tap.js';
import { parsePodAnnotations, type PodAnnotations } from './annotations.js';
import { describeAttachment, ipOf, type AttachRequest, type AttachResult, type AttachmentKind } from './attachment.js';
import { isVhostNetFailure, PodInterfaceModeState } from './interface-mode.js';
import { resolveSpec, type InterfaceSpec } from './interface-spec.js';
import type { CheckProblem, DriverContext } from './kinds/context.js';
import { podKindRegistry, type PodKindRegistry } from './kinds/index.js';
import { podOwner, type PodKindContext, type SharedObjects } from './kinds/kind.js';
import { memifKind, type MemifPlan } from './kinds/memif.js';
import { tunKind } from './kinds/tun.js';
import { vclKind } from './kinds/vcl.js';
import { vethKind } from './kinds/veth.js';
import { sourceCheckKind } from './isolation/source-check-kind.js';
import type { PodInterfaceRef } from './isolation/plan.js';
import type { AttachmentRecord, MadeObjects } from './record.js';
import { StepError, transact, type StepHook } from './transaction.js';

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
  /** The kinds DEL, CHECK and adoption walk (default: the pod kinds). */
  kinds?: PodKindRegistry;
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
  readonly kinds: PodKindRegistry;

  constructor(
    private readonly ctx: DriverContext,
    private readonly opts: PodNetworkOptions = {},
  ) {
    this.primary = opts.primaryIfName ?? 'eth0';
    this.interfaceMode = opts.interfaceMode ?? new PodInterfaceModeState(ctx.cfg.interfaceMode ?? 'auto', ctx.log);
    this.kinds = opts.kinds ?? podKindRegistry();
  }

  /** What the kinds get for one attachment: the driver context, its owner (built once), netns and addresses. */
  contextFor(r: { containerId: string; ifName: string; pod: AttachRequest['pod']; netns: string; ips: readonly { address: string }[] }): PodKindContext {
    return { ...this.ctx, attachment: { owner: podOwner(r), netns: r.netns, ips: r.ips.map((a) => ipOf(a.address)) } };
  }

  /** Validates the request and its annotations; throws InvalidAnnotationError or PodRequestError. */
  plan(req: AttachRequest): AttachPlan {
    const { gates } = this.ctx.cfg;
    const ann = parsePodAnnotations(req.annotations, gates, this.ctx.cfg.limits, { primaryIfName: this.primary });
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
    const ctx = this.contextFor(req);
    const shared: SharedObjects = { routes: [], neighbors: [], pbl: [] };
    return transact(label, this.ctx.log, this.opts.stepHook, async (tx) => {
      await tx.step('netns check', async () => {
        if (!(await this.ctx.netns.isNetns(req.netns))) throw new NetnsGoneError(req.netns);
      });
      const made: Omit<MadeObjects, keyof SharedObjects> = {};
      let kind = plan.kind;
      if (kind === 'tun') {
        try {
          made.tun = await tunKind.create(ctx, tx, { req, shared, spec: plan.spec });
        } catch (e) {
          // auto mode: VPP refused the tap for lack of vhost-net and made nothing (tap_create_if frees
          // all it opened); the transaction goes on with a veth, and so does every later pod.
          if (!(e instanceof StepError) || !isVhostNetFailure(e)) throw e;
          if (!this.interfaceMode.fallBack(e.cause.message, label, req.pod)) {
            // Not in auto mode: the error says which setting avoids it.
            throw new StepError(e.pod, e.step, new VhostNetUnavailableError(e.cause as VppApiError, true));
          }
          kind = 'veth';
          made.veth = await vethKind.create(ctx, tx, { req, shared, spec: plan.spec });
        }
      } else if (kind === 'veth') {
        made.veth = await vethKind.create(ctx, tx, { req, shared, spec: plan.spec });
      }
      if (kind !== 'memif-multinet') {
        if (plan.pblMemif) made.memif = await memifKind.create(ctx, tx, { req, shared, plan: plan.pblMemif });
        if (plan.vcl) made.vcl = await vclKind.create(ctx, tx, { req, shared });
      } else {
        made.memif = await memifKind.create(ctx, tx, { req, shared, plan: { mode: 'multinet', spec: plan.spec } });
      }
      // Source checks on every interface of the attachment: the pod sends only from its addresses and AllowedSourcePrefixes.
      const interfaces: PodInterfaceRef[] = [];
      if (made.tun) interfaces.push({ swIfIndex: made.tun.swIfIndex, ethernet: made.tun.l2, name: 'tap' });
      if (made.veth) interfaces.push({ swIfIndex: made.veth.swIfIndex, ethernet: true, name: 'af_packet' });
      if (made.memif) interfaces.push({ swIfIndex: made.memif.swIfIndex, ethernet: made.memif.l2, name: 'memif' });
      made.sourceCheck = await sourceCheckKind.create(ctx, tx, { req, shared, interfaces, allowedPrefixes: plan.annotations.allowedSourcePrefixes });
      // Kinds the plan does not know, when the request wants them.
      const extra: Record<string, unknown> = {};
      for (const k of this.kinds.all()) {
        const wanted = k.select?.(req, ctx);
        if (wanted !== undefined) extra[k.name] = await k.create(ctx, tx, { ...wanted, req, shared, interfaces });
      }
      const objects: MadeObjects = { ...extra, ...made, ...shared };
      const result = await tx.step('result', () => this.result(req, objects));
      return {
        containerId: req.containerId,
        ifName: req.ifName,
        netns: req.netns,
        pod: req.pod,
        kind,
        ...(req.network !== undefined ? { network: req.network } : {}),
        ips: req.ips,
        routes: req.routes,
        objects,
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

  /**
   * Removes everything the record says was made: every kind's slice, through the kind's one delete path,
   * newest kind first (what hangs off an interface before it). Idempotent; throws DeleteIncompleteError
   * listing what failed.
   */
  async del(rec: AttachmentRecord): Promise<void> {
    const failures = await this.kinds.deleteAll(this.contextFor(rec), rec.objects);
    if (failures.length > 0) throw new DeleteIncompleteError(describeAttachment(rec), failures);
  }

  /** Compares VPP and Linux with the record, kind by kind; returns the differences (empty when healthy). */
  async check(rec: AttachmentRecord): Promise<CheckProblem[]> {
    if (!(await this.ctx.netns.isNetns(rec.netns))) return [{ object: rec.netns, problem: 'network namespace is gone' }];
    const ctx = this.contextFor(rec);
    const desired = { req: { ...rec, annotations: rec.annotations ?? {} }, shared: rec.objects };
    const out: CheckProblem[] = [];
    const objects: Readonly<Record<string, unknown>> = rec.objects;
    for (const k of this.kinds.all()) {
      const slice = objects[k.name];
      if (slice !== undefined) out.push(...(await k.check(ctx, slice, desired)));
    }
    return out;
  }
}
