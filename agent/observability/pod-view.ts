/**
 * The per-pod troubleshooting view behind `vpp-cnictl pods` and `vpp-cnictl pod <ns>/<name>`: what the
 * agent made for each pod (from its attachment records), what VPP says about those objects now, the
 * Linux side inside the pod's netns, and the pod's last errors.
 */
import type { VppApi } from '../vpp/api.js';
import { listAfPackets } from '../vpp/af-packet.js';
import { interfaceByIndex, showInterface } from '../vpp/interface.js';
import { listMemifs } from '../vpp/memif.js';
import { listPblClients } from '../vpp/pbl.js';
import type { CtlAttachment, CtlInterfaceMode, CtlLinuxCommand, CtlPodDetail, CtlPodList, CtlPodSummary, CtlVppInterface } from '../../contract/ctl-api.js';
import { run } from '../linux/exec.js';
import type { PodRef } from '../pod/attachment.js';
import type { AttachmentRecord } from '../pod/record.js';
import type { PodInfo } from '../pod-info/source.js';
import type { InterfaceModeStatus } from '../pod/interface-mode.js';
import { formatPortRange } from '../pod/pbl-update.js';
import type { PodErrorLog } from './pod-errors.js';

export const COUNTERS_NOTE =
  "VPP keeps interface counters in its stats segment, not in the binary API: numbers need the stats socket (/run/vpp/stats.sock, e.g. vpp_get_stats). Shown here: what `show interface` prints through cli_inband.";

/** The Linux commands run inside a pod's netns (argument arrays; nsenter --net=<netns> -- ...). */
export const LINUX_COMMANDS: readonly (readonly string[])[] = [
  ['ip', '-br', 'addr'],
  ['ip', 'route'],
  ['ip', '-6', 'route'],
  ['ss', '-xl'],
];

export interface PodViewDeps {
  nodeName: string;
  records: () => readonly AttachmentRecord[];
  errors: PodErrorLog;
  vpp: VppApi & { readonly state: string };
  notReady: () => string | undefined;
  /** The node's eth0 mode (PodNetwork.interfaceMode.status()). */
  interfaceMode: () => InterfaceModeStatus;
  isNetns: (path: string) => Promise<boolean>;
  /** The node's pods as the pod source lists them (pods with no attachment are shown too). */
  nodePods?: () => readonly PodInfo[];
  commandTimeoutMs?: number;
  nsenter?: string;
}

function attachmentView(r: AttachmentRecord): CtlAttachment {
  const o = r.objects;
  const a: CtlAttachment = {
    containerId: r.containerId,
    ifName: r.ifName,
    kind: r.kind,
    netns: r.netns,
    ips: r.ips.map((i) => i.address),
    createdAt: r.createdAt,
    pbl: o.pbl.map((p) => ({ ip: p.ip, id: p.id })),
    pblPorts: (o.memif?.ports ?? []).map(formatPortRange),
  };
  if (o.tun) a.tun = { swIfIndex: o.tun.swIfIndex, hostIfName: o.tun.hostIfName, l2: o.tun.l2, ...(o.tun.hostMac ? { podMac: o.tun.hostMac } : {}), rx: o.tun.spec.rx, tx: o.tun.spec.tx, rxqsz: o.tun.spec.rxqsz, txqsz: o.tun.spec.txqsz };
  if (o.veth) {
    const v = o.veth;
    a.veth = {
      swIfIndex: v.swIfIndex,
      vppIfName: `host-${v.hostIfName}`,
      hostIfName: v.hostIfName,
      podIfName: v.podIfName,
      podMac: v.podMac,
      vppMac: v.vppMac,
      l2: v.l2,
      rx: v.spec.rx,
      tx: v.spec.tx,
      rxqsz: v.spec.rxqsz,
      txqsz: v.spec.txqsz,
    };
  }
  if (o.memif) {
    const m = o.memif;
    a.memif = { swIfIndex: m.swIfIndex, mode: m.mode, socket: m.socketName, socketFilename: m.socketFilename, l2: m.l2, rx: m.spec.rx, tx: m.spec.tx, rxqsz: m.spec.rxqsz, txqsz: m.spec.txqsz };
  }
  if (o.vcl) a.vcl = { namespaceId: o.vcl.namespaceId, socket: o.vcl.socketName, loopSwIfIndex: o.vcl.loopSwIfIndex };
  if (o.dummy) a.dummy = o.dummy;
  return a;
}

export class PodView {
  constructor(private readonly d: PodViewDeps) {}

  private summary(pod: PodRef, recs: AttachmentRecord[], hostNetwork?: boolean): CtlPodSummary {
    const errors = this.d.errors.errorsOf(pod.namespace, pod.name);
    const s: CtlPodSummary = { namespace: pod.namespace, name: pod.name, attachments: recs.map(attachmentView), errorCount: errors.length };
    if (hostNetwork) s.hostNetwork = true;
    const uid = pod.uid ?? recs.find((r) => r.pod.uid)?.pod.uid;
    if (uid) s.uid = uid;
    if (errors.length) s.lastError = errors[errors.length - 1]!;
    return s;
  }

  private byPod(): Map<string, { pod: PodRef; recs: AttachmentRecord[]; hostNetwork?: boolean }> {
    const m = new Map<string, { pod: PodRef; recs: AttachmentRecord[]; hostNetwork?: boolean }>();
    for (const r of this.d.records()) {
      const k = `${r.pod.namespace}/${r.pod.name}`;
      const cur = m.get(k) ?? { pod: r.pod, recs: [] };
      cur.recs.push(r);
      m.set(k, cur);
    }
    for (const p of this.d.errors.pods()) {
      const k = `${p.namespace}/${p.name}`;
      if (!m.has(k)) m.set(k, { pod: p, recs: [] });
    }
    for (const p of this.d.nodePods?.() ?? []) {
      const k = `${p.namespace}/${p.name}`;
      const cur = m.get(k);
      if (cur) {
        if (p.hostNetwork) cur.hostNetwork = true;
      } else {
        m.set(k, { pod: { namespace: p.namespace, name: p.name, ...(p.uid ? { uid: p.uid } : {}) }, recs: [], ...(p.hostNetwork ? { hostNetwork: true } : {}) });
      }
    }
    return m;
  }

  list(): CtlPodList {
    const why = this.d.notReady();
    const pods = [...this.byPod().values()]
      .map((v) => this.summary(v.pod, v.recs, v.hostNetwork))
      .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
    const out: CtlPodList = { node: this.d.nodeName, vpp: this.d.vpp.state, ready: !why, interfaceMode: this.interfaceMode(), pods };
    if (why) out.notReadyReason = why;
    return out;
  }

  private interfaceMode(): CtlInterfaceMode {
    const s = this.d.interfaceMode();
    const m: CtlInterfaceMode = { setting: s.setting, mode: s.mode };
    if (s.fallback) m.fallback = { reason: s.fallback.reason, pod: s.fallback.pod, at: s.fallback.at };
    return m;
  }

  /** Undefined when the agent knows nothing of the pod. */
  async detail(namespace: string, name: string): Promise<CtlPodDetail | undefined> {
    const entry = this.byPod().get(`${namespace}/${name}`);
    if (!entry) return undefined;
    const base = this.summary(entry.pod, entry.recs, entry.hostNetwork);
    const detail: CtlPodDetail = { ...base, vpp: [], pblClients: [], countersNote: COUNTERS_NOTE, linux: [], errors: this.d.errors.errorsOf(namespace, name) };
    const [vppPart, linux] = await Promise.all([this.vppView(entry.recs), this.linuxView(entry.recs)]);
    Object.assign(detail, vppPart);
    detail.linux = linux;
    return detail;
  }

  private async vppView(recs: AttachmentRecord[]): Promise<Pick<CtlPodDetail, 'vpp' | 'pblClients' | 'vppError'>> {
    const wanted: { swIfIndex: number; role: string }[] = [];
    for (const r of recs) {
      if (r.objects.tun) wanted.push({ swIfIndex: r.objects.tun.swIfIndex, role: `${r.ifName}: ${r.objects.tun.l2 ? 'tap' : 'tun'}` });
      if (r.objects.veth) wanted.push({ swIfIndex: r.objects.veth.swIfIndex, role: `${r.ifName}: veth` });
      if (r.objects.memif) wanted.push({ swIfIndex: r.objects.memif.swIfIndex, role: `${r.ifName}: memif (${r.objects.memif.mode})` });
      if (r.objects.vcl) wanted.push({ swIfIndex: r.objects.vcl.loopSwIfIndex, role: `${r.ifName}: VCL loopback` });
    }
    const pblIds = recs.flatMap((r) => r.objects.pbl);
    const st = this.d.vpp.state;
    if (st !== 'connected' && st !== 'not-responding') {
      return {
        vpp: wanted.map((w) => ({ ...w, present: false, error: 'VPP not connected' })),
        pblClients: pblIds.map((p) => ({ id: p.id, ip: p.ip, present: false })),
        vppError: `VPP API not connected (${st})`,
      };
    }
    try {
      const memifs = recs.some((r) => r.objects.memif) ? await listMemifs(this.d.vpp) : [];
      const afPackets = recs.some((r) => r.objects.veth) ? await listAfPackets(this.d.vpp) : [];
      const vpp: CtlVppInterface[] = [];
      for (const w of wanted) {
        const v: CtlVppInterface = { swIfIndex: w.swIfIndex, role: w.role, present: false };
        const d = await interfaceByIndex(this.d.vpp, w.swIfIndex);
        if (d) {
          v.present = true;
          v.name = d.name;
          v.tag = d.tag;
          v.adminUp = d.adminUp;
          v.linkUp = d.linkUp;
          v.mtu = d.mtu;
          if (d.mac && d.mac !== '00:00:00:00:00:00') v.mac = d.mac;
          const m = memifs.find((x) => x.swIfIndex === w.swIfIndex);
          if (m) v.memif = { role: m.role, mode: m.mode, socketId: m.socketId, ringSize: m.ringSize, bufferSize: m.bufferSize, connected: m.connected };
          const af = afPackets.find((x) => x.swIfIndex === w.swIfIndex);
          if (af) v.afPacket = { hostIfName: af.hostIfName };
          try {
            v.cli = (await showInterface(this.d.vpp, d.name)).trimEnd();
          } catch (e) {
            v.error = `show interface: ${(e as Error).message}`;
          }
        }
        vpp.push(v);
      }
      const clients = pblIds.length ? new Set((await listPblClients(this.d.vpp)).map((c) => c.id)) : new Set<number>();
      return { vpp, pblClients: pblIds.map((p) => ({ id: p.id, ip: p.ip, present: clients.has(p.id) })) };
    } catch (e) {
      return { vpp: wanted.map((w) => ({ ...w, present: false })), pblClients: pblIds.map((p) => ({ id: p.id, ip: p.ip, present: false })), vppError: (e as Error).message };
    }
  }

  private async linuxView(recs: AttachmentRecord[]): Promise<CtlPodDetail['linux']> {
    const out: CtlPodDetail['linux'] = [];
    for (const netns of [...new Set(recs.map((r) => r.netns))]) {
      if (!(await this.d.isNetns(netns))) {
        out.push({ netns, commands: [{ command: [], error: `network namespace ${netns} does not exist` }] });
        continue;
      }
      const commands = await Promise.all(
        LINUX_COMMANDS.map(async (c): Promise<CtlLinuxCommand> => {
          try {
            const output = await run(this.d.nsenter ?? 'nsenter', [`--net=${netns}`, '--', ...c], { timeoutMs: this.d.commandTimeoutMs ?? 3000 });
            return { command: [...c], output: output.trimEnd() };
          } catch (e) {
            return { command: [...c], error: (e as Error).message };
          }
        }),
      );
      out.push({ netns, commands });
    }
    return out;
  }
}
