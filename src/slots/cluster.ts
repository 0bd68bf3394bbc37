// The switch's cluster steps on a real API server (src/kube): which credentials (the goal's
// cluster.kubeconfig, else the node's own kubelet.conf inside the active slot, read-only, else
// none: a node that has not joined), the node's name, cordon, a drain with kubectl drain's
// behaviour, and the Ready gate: Ready=True, a heartbeat since the switch began, and the kubelet
// version the slot installed.
import { existsSync } from "node:fs";
import type { Resolved } from "../config/resolve";
import type { TaskLog } from "../engine/log";
import { RunError } from "../errors";
import { readableInside } from "../fs/inside";
import { hostRel } from "../fs/target";
import { KubeClient } from "../kube/client";
import { drain, planDrain, type DrainPlan } from "../kube/drain";
import { readKubeconfig } from "../kube/kubeconfig";
import { getNode, setUnschedulable, type NodeView } from "../kube/nodes";
import { podName } from "../kube/pods";
import { KUBECONFIG } from "../runtime/templates/kubelet";
import type { ClusterActions } from "./switch";

export const DEFAULT_DRAIN_TIMEOUT_S = 300;
const READY_POLL_MS = 1_000;

/** How the node reaches its cluster, or why it does not. */
export type ClusterAccess = { client: KubeClient; node: string; drains: boolean; via: string } | { client?: undefined; why: string };

/** The node's name: kubelet registers the machine's hostname, lowercased. */
export const nodeNameOf = (goal: Resolved) => goal.hostname.toLowerCase();

/** The kubelet version a slot runs: what its goal installed. */
export const kubeletVersionOf = (goal: Resolved) => goal.downloads.kubelet.version ?? goal.versions.kubernetes;

/**
 * The credentials for the cluster steps: `kubeconfig` (cordon and drain unless `noDrain`), else
 * the active slot's kubelet.conf (its paths are inside that rootfs; a kubelet may only read its
 * own Node), else none.
 */
export function clusterAccess(kubeconfig: string | undefined, active: Resolved, noDrain: boolean): ClusterAccess {
  const node = nodeNameOf(active);
  if (kubeconfig) return { client: new KubeClient(readKubeconfig(kubeconfig)), node, drains: !noDrain, via: kubeconfig };
  const inside = (p: string) => readableInside(active.machineDir, hostRel(p));
  if (!existsSync(inside(KUBECONFIG))) return { why: `${active.machine} has no ${KUBECONFIG} (the node has not joined a cluster): no cluster steps` };
  return { client: new KubeClient(readKubeconfig(KUBECONFIG, { pathOf: inside })), node, drains: false, via: `${KUBECONFIG} in ${active.machine}` };
}

/** Why the node is not yet what the Ready gate wants, or undefined when it is. */
export function notReadyWhy(n: NodeView | undefined, node: string, version: string, since: Date): string | undefined {
  if (!n) return `the API server has no node ${node}`;
  if (n.ready !== "True") return `node ${node} is Ready=${n.ready}${n.reason ? ` (${n.reason})` : ""}`;
  // Heartbeats have whole seconds: one in the second the switch began may be the old kubelet's.
  if (!n.heartbeat || Date.parse(n.heartbeat) <= Math.floor(since.getTime() / 1000) * 1000) return `node ${node} has sent no heartbeat since the switch began (last ${n.heartbeat ?? "never"})`;
  if (n.kubeletVersion !== version) return `node ${node} reports kubelet ${n.kubeletVersion}, not ${version}`;
  return undefined;
}

export interface ClusterStepOptions {
  drainTimeoutMs: number;
  /** how long the node gets to be Ready after its machine is healthy */
  readyTimeoutMs: number;
  signal: AbortSignal;
  log: TaskLog;
  goalOf(slot: string): Resolved;
}

export function clusterActions(access: Extract<ClusterAccess, { client: KubeClient }>, o: ClusterStepOptions): ClusterActions {
  const { client, node } = access;
  const mustGet = async () => {
    const n = await getNode(client, node, o.signal);
    if (!n) throw new RunError(`the API server (${client.where}) has no node ${node}`);
    return n;
  };
  return {
    node,
    drains: access.drains,
    unschedulable: async () => (await mustGet()).unschedulable,
    async cordon() {
      await setUnschedulable(client, node, true, o.signal);
      o.log.info(`node ${node} cordoned`, { node });
    },
    async uncordon() {
      await setUnschedulable(client, node, false, o.signal);
      o.log.info(`node ${node} uncordoned`, { node });
    },
    async drain() {
      const plan = await planDrain(client, node, o.signal);
      o.log.info(`draining node ${node}: ${plan.evict.length} pods to evict`, drainFields(plan));
      const t = performance.now();
      await drain(client, plan, {
        timeoutMs: o.drainTimeoutMs,
        signal: o.signal,
        onEvicted: (p) => o.log.debug(`evicted ${podName(p)}`, { pod: podName(p) }),
        onBlocked: (p, why) => o.log.info(`${podName(p)} not evicted yet: ${why}; retrying`, { pod: podName(p), why }),
      });
      o.log.info(`node ${node} drained`, { node, evicted: plan.evict.length, ms: Math.round(performance.now() - t) });
    },
    async ready(slot, since) {
      const version = kubeletVersionOf(o.goalOf(slot));
      const deadline = performance.now() + o.readyTimeoutMs;
      let why: string | undefined;
      for (;;) {
        why = notReadyWhy(await getNode(client, node, o.signal), node, version, since);
        if (!why) break;
        if (performance.now() >= deadline) throw new RunError(`${why} after ${o.readyTimeoutMs / 1000}s`);
        await Bun.sleep(READY_POLL_MS);
      }
      o.log.info(`node ${node} is Ready at ${version}`, { node, slot, version });
    },
  };
}

/** A drain plan as log fields: what goes, what stays and why. */
export const drainFields = (plan: DrainPlan) => ({
  evict: plan.evict.map(podName),
  kept: plan.kept.map((k) => `${podName(k.pod)} (${k.why === "mirror" ? "mirror pod" : "DaemonSet"})`),
});
