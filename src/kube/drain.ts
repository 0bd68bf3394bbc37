// Drain a node as `kubectl drain --ignore-daemonsets --delete-emptydir-data --force` does it:
// mirror pods and the pods of an existing DaemonSet stay (kubelet and the DaemonSet controller
// own them); every other pod, emptyDir or not, controlled or bare, is evicted through the
// Eviction API, all at once; a budget's 429 is retried every 5 s and an evicted pod is waited for
// until it is gone, all within one timeout. A timeout names the pods still there and the
// budgets that held them.
import { RunError } from "../errors";
import { sleep } from "../engine/task";
import type { KubeClient } from "./client";
import { daemonSetExists, evict, podGone, podName, podsOn, type PodRef } from "./pods";

/** kubectl drain's pause before it asks again after a 429, and between looks for a deleted pod. */
export const EVICTION_RETRY_MS = 5_000;
export const DELETE_POLL_MS = 1_000;

export interface DrainPlan {
  evict: PodRef[];
  /** what stays, and why */
  kept: Array<{ pod: PodRef; why: "mirror" | "DaemonSet" }>;
}

/** Which pods a drain evicts; `daemonSets` says which DaemonSets (ns/name) exist. */
export function drainPlan(pods: PodRef[], daemonSets: ReadonlySet<string>): DrainPlan {
  const plan: DrainPlan = { evict: [], kept: [] };
  for (const pod of pods) {
    if (pod.mirror) plan.kept.push({ pod, why: "mirror" });
    else if (pod.controller?.kind === "DaemonSet" && daemonSets.has(`${pod.namespace}/${pod.controller.name}`)) plan.kept.push({ pod, why: "DaemonSet" });
    else plan.evict.push(pod);
  }
  return plan;
}

/** What a drain would do now: the pods on the node, sorted into evicted and kept. */
export async function planDrain(c: KubeClient, node: string, signal?: AbortSignal): Promise<DrainPlan> {
  const pods = await podsOn(c, node, signal);
  const owners = new Set(pods.filter((p) => !p.mirror && p.controller?.kind === "DaemonSet").map((p) => `${p.namespace}/${p.controller!.name}`));
  const existing = new Set<string>();
  for (const ds of owners) {
    const [ns, name] = ds.split("/") as [string, string];
    if (await daemonSetExists(c, ns, name, signal)) existing.add(ds);
  }
  return drainPlan(pods, existing);
}

/** The drain ran out of time; the node still has `left` (ns/name → the budget's words, if one refused it). */
export class DrainTimedOut extends RunError {
  override name = "DrainTimedOut";
  constructor(
    readonly left: Map<string, string | undefined>,
    seconds: number,
  ) {
    const pods = [...left].map(([pod, why]) => (why ? `${pod} (${why})` : pod));
    super(`the drain did not finish within ${seconds}s: ${left.size} pod${left.size === 1 ? "" : "s"} still on the node: ${pods.join(", ")}`);
  }
}

export interface DrainOptions {
  timeoutMs: number;
  signal: AbortSignal;
  /** one pod was evicted, or a budget refused it for now */
  onEvicted?(pod: PodRef): void;
  onBlocked?(pod: PodRef, why: string): void;
  retryMs?: number;
  pollMs?: number;
}

/** Evict the plan's pods and wait until they are gone; throws DrainTimedOut at the deadline. */
export async function drain(c: KubeClient, plan: DrainPlan, o: DrainOptions): Promise<string[]> {
  const timeout = AbortSignal.timeout(o.timeoutMs);
  // A pod that cannot be evicted for another reason than its budget ends the others' waits.
  const broken = new AbortController();
  const signal = AbortSignal.any([o.signal, timeout, broken.signal]);
  const left = new Map<string, string | undefined>(plan.evict.map((p) => [podName(p), undefined]));

  async function one(pod: PodRef): Promise<void> {
    for (;;) {
      const e = await evict(c, pod, signal);
      if (e.result === "gone") break;
      if (e.result === "evicted") {
        o.onEvicted?.(pod);
        while (!(await podGone(c, pod, signal))) await sleep(o.pollMs ?? DELETE_POLL_MS, signal);
        break;
      }
      left.set(podName(pod), e.why);
      o.onBlocked?.(pod, e.why);
      await sleep(o.retryMs ?? EVICTION_RETRY_MS, signal);
    }
    left.delete(podName(pod));
  }

  let failure: unknown;
  await Promise.all(
    plan.evict.map((pod) =>
      one(pod).catch((err) => {
        if (signal.aborted) return; // the timeout, the caller's cancel, or another pod's failure
        failure ??= err;
        broken.abort();
      }),
    ),
  );
  if (o.signal.aborted) throw o.signal.reason;
  if (failure) throw failure;
  if (left.size) throw new DrainTimedOut(left, o.timeoutMs / 1000);
  return plan.evict.map(podName);
}
