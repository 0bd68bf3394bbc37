// Pods on a node and their eviction through the Eviction API (policy/v1), so that the API server
// applies every PodDisruptionBudget: 201 evicted, 404 already gone, 429 refused by a budget.
import type { ApiStatus, KubeClient } from "./client";

export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
  /** the controller's kind and name (DaemonSet, ReplicaSet, …) */
  controller?: { kind: string; name: string };
  /** a static pod's mirror: kubelet owns it, the API cannot evict it */
  mirror: boolean;
  emptyDir: boolean;
  phase: string;
}

export const podName = (p: Pick<PodRef, "namespace" | "name">) => `${p.namespace}/${p.name}`;

function podRef(pod: any): PodRef {
  const owner = ((pod.metadata?.ownerReferences ?? []) as Array<{ kind: string; name: string; controller?: boolean }>).find((o) => o.controller);
  return {
    namespace: pod.metadata.namespace,
    name: pod.metadata.name,
    uid: pod.metadata.uid ?? "",
    ...(owner ? { controller: { kind: owner.kind, name: owner.name } } : {}),
    mirror: pod.metadata.annotations?.["kubernetes.io/config.mirror"] !== undefined,
    emptyDir: ((pod.spec?.volumes ?? []) as Array<{ emptyDir?: unknown }>).some((v) => v.emptyDir !== undefined),
    phase: pod.status?.phase ?? "Unknown",
  };
}

/** Every pod bound to `node`, in every namespace. */
export async function podsOn(c: KubeClient, node: string, signal?: AbortSignal): Promise<PodRef[]> {
  const body = await c.get(`/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${node}`)}`, { signal });
  return ((body?.items ?? []) as unknown[]).map(podRef);
}

const podPath = (p: Pick<PodRef, "namespace" | "name">) => `/api/v1/namespaces/${encodeURIComponent(p.namespace)}/pods/${encodeURIComponent(p.name)}`;

export type Eviction = { result: "evicted" } | { result: "gone" } | { result: "blocked"; why: string };

/** Ask the API server to evict `pod`; a budget's refusal comes back with its words. */
export async function evict(c: KubeClient, pod: PodRef, signal?: AbortSignal): Promise<Eviction> {
  const body = { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: pod.name, namespace: pod.namespace } };
  const r = await c.request<ApiStatus>("POST", `${podPath(pod)}/eviction`, { body, expect: [404, 429], signal });
  if (r.status === 404) return { result: "gone" };
  if (r.status === 429) {
    const budget = r.body?.details?.causes?.find((x) => x.reason === "DisruptionBudget")?.message;
    return { result: "blocked", why: budget ?? r.body?.message ?? "too many requests" };
  }
  return { result: "evicted" };
}

/** Whether the pod is gone (deleted, or replaced by another of the same name). */
export async function podGone(c: KubeClient, pod: PodRef, signal?: AbortSignal): Promise<boolean> {
  const r = await c.request("GET", podPath(pod), { expect: [404], signal });
  return r.status === 404 || (r.body?.metadata?.uid ?? "") !== pod.uid;
}

/** Whether a DaemonSet exists (kubectl drain evicts a pod whose DaemonSet is gone, like any other). */
export async function daemonSetExists(c: KubeClient, namespace: string, name: string, signal?: AbortSignal): Promise<boolean> {
  const r = await c.request("GET", `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/daemonsets/${encodeURIComponent(name)}`, { expect: [404], signal });
  return r.status !== 404;
}
