// status: what a fleet tool polls. Per slot: there or not, running, enabled, the node or not, what
// its saved goal installed and on what base, and verify's verdict; the node healthy or not.
import { lstatSync } from "node:fs";
import type { Resolved } from "../config/resolve";
import { errorMessage } from "../errors";
import { initFacts, noSystemd } from "../machine/systemd";
import { readImageRecord } from "../rootfs/bootstrap/image";
import { verifyMachine } from "../verify";
import { slotFacts, slotGoal } from "./goals";
import { healthNow } from "./health";
import { getNode, type NodeView } from "../kube/nodes";
import { clusterAccess, kubeletVersionOf } from "./cluster";
import { readRecord, type Switch } from "./record";
import { activeSlot, type Slots } from "./which";

export interface SlotStatus {
  name: string;
  exists: boolean;
  running: boolean;
  enabled: boolean;
  active: boolean;
  /** the active slot only: healthy now, and why not */
  healthy?: boolean;
  why?: string;
  kubernetes?: string;
  containerd?: string;
  runc?: string;
  cni?: string;
  base?: string;
  /** verify's drift count (undefined: no rootfs, or verify could not read it) */
  drift?: number;
  driftError?: string;
}

/** The node as the API server sees it (status asks when the node has credentials). */
export interface ClusterView {
  node: string;
  /** which credentials asked */
  via: string;
  /** undefined: the API server has no such node, or could not be asked (error) */
  seen?: NodeView;
  error?: string;
}

export interface HostStatus {
  active: string | null;
  previous: string | null;
  /** an interrupted upgrade or rollback the next one finishes or undoes */
  switch: Switch | null;
  healthy: boolean;
  why?: string;
  slots: SlotStatus[];
  cluster?: ClusterView;
}

/** What the machine was made from: the image and digest it was unpacked from, the snapshot, or the suite. */
export function baseOf(goal: Resolved): string {
  const b = goal.bootstrap;
  if (b.method === "image") {
    const rec = readImageRecord(goal.machineDir);
    return rec ? `image ${rec.image}@${rec.digest}` : `image ${b.image}`;
  }
  if (b.method === "tarball") return `tarball ${b.tarball}${b.sha256 ? ` (sha256 ${b.sha256})` : ""}`;
  if (b.method === "none") return "brought by the user (bootstrap none)";
  return `${b.suite} ${goal.arch} from ${b.mirror ?? "the default mirror"}`;
}

/** The host's systemd enables a machine with this link (systemctl enable, offline or not). */
const enabledLink = (slot: string) => `/etc/systemd/system/machines.target.wants/systemd-nspawn@${slot}.service`;

async function slotStatus(slot: string, active: string | null): Promise<SlotStatus> {
  const s: SlotStatus = {
    name: slot,
    exists: slotFacts.exists(slot),
    running: slotFacts.running(slot),
    enabled: lstatSync(enabledLink(slot), { throwIfNoEntry: false }) !== undefined,
    active: slot === active,
  };
  if (!s.exists) return s;
  const goal = slotGoal(slot);
  Object.assign(s, { kubernetes: goal.versions.kubernetes, containerd: goal.versions.containerd, runc: goal.versions.runc, cni: goal.versions.cni, base: baseOf(goal) });
  try {
    s.drift = (await verifyMachine(goal)).length;
  } catch (err) {
    s.driftError = errorMessage(err);
  }
  if (s.active) {
    const verdict = !s.running ? { healthy: false as const, why: "not running" } : noSystemd("status", initFacts()) ? { healthy: false as const, why: "the host has no running systemd to ask" } : await healthNow(goal);
    s.healthy = verdict.healthy;
    if (!verdict.healthy) s.why = verdict.why;
  }
  return s;
}

/** The active slot's node as the API server sees it; undefined when it has no credentials. */
async function clusterView(active: string, kubeconfig: string | undefined): Promise<ClusterView | undefined> {
  const goal = slotGoal(active);
  let access;
  try {
    access = clusterAccess(kubeconfig ?? goal.cluster.kubeconfig, goal, true);
  } catch (err) {
    return { node: goal.hostname.toLowerCase(), via: kubeconfig ?? "kubelet.conf", error: errorMessage(err) };
  }
  if (!access.client) return undefined;
  try {
    const seen = await getNode(access.client, access.node);
    return { node: access.node, via: access.via, ...(seen ? { seen } : { error: `the API server has no node ${access.node}` }) };
  } catch (err) {
    return { node: access.node, via: access.via, error: errorMessage(err) };
  }
}

/** Where the cluster disagrees with the host about the node, or undefined. */
export function clusterDisagrees(c: ClusterView, version: string | undefined, rec: { switch: Switch | null } | undefined): string | undefined {
  if (!c.seen) return c.error ? `the cluster cannot confirm node ${c.node}: ${c.error}` : undefined;
  const n = c.seen;
  if (n.ready !== "True") return `the cluster says node ${c.node} is Ready=${n.ready}${n.reason ? ` (${n.reason})` : ""}`;
  if (version && n.kubeletVersion !== version) return `the cluster sees kubelet ${n.kubeletVersion} on node ${c.node}, the active slot runs ${version}`;
  const sw = rec?.switch;
  if (n.unschedulable && sw?.cluster && !sw.cluster.wasUnschedulable) return `node ${c.node} is cordoned by an unfinished ${sw.kind}; the next upgrade or rollback uncordons it`;
  return undefined;
}

export async function hostStatus(slots: Slots, recordPath: string, kubeconfig?: string): Promise<HostStatus> {
  const rec = readRecord(recordPath);
  let active: string | null = null;
  let why: string | undefined;
  try {
    active = activeSlot(rec, slots, slotFacts, recordPath);
  } catch (err) {
    why = errorMessage(err);
  }
  const each = await Promise.all(slots.map((s) => slotStatus(s, active)));
  const node = each.find((s) => s.active);
  if (!why && rec?.switch) why = `an interrupted ${rec.switch.kind} from ${rec.switch.from} to ${rec.switch.to} stopped at ${rec.switch.step}; the next upgrade or rollback finishes or undoes it`;
  if (!why && node && !node.healthy) why = `${node.name} is the node but ${node.why}`;
  const running = each.filter((s) => s.running).map((s) => s.name);
  if (!why && running.length > 1) why = `both ${running.join(" and ")} run`;
  const cluster = active && node?.exists ? await clusterView(active, kubeconfig) : undefined;
  const disagree = cluster && clusterDisagrees(cluster, node?.exists ? kubeletVersionOf(slotGoal(node.name)) : undefined, rec);
  if (!why && disagree) why = disagree;
  return { active, previous: rec?.previous ?? null, switch: rec?.switch ?? null, healthy: why === undefined, ...(why ? { why } : {}), slots: each, ...(cluster ? { cluster } : {}) };
}
