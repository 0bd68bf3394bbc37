// Nodes: one node as the API server sees it (Ready and since when, the last heartbeat, the
// kubelet version, cordoned or not), and cordon/uncordon as kubectl does them: a strategic merge
// patch of spec.unschedulable.
import type { KubeClient } from "./client";

export interface NodeView {
  name: string;
  /** the Ready condition's status: True, False or Unknown */
  ready: string;
  /** when Ready last changed */
  readySince?: string;
  /** the Ready condition's lastHeartbeatTime */
  heartbeat?: string;
  /** why not Ready, in the kubelet's words */
  reason?: string;
  /** status.nodeInfo.kubeletVersion without its v */
  kubeletVersion: string;
  unschedulable: boolean;
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
}

/** The view of a Node object. */
export function nodeView(node: any): NodeView {
  const ready = ((node?.status?.conditions ?? []) as Condition[]).find((c) => c.type === "Ready");
  return {
    name: node?.metadata?.name ?? "",
    ready: ready?.status ?? "Unknown",
    ...(ready?.lastTransitionTime ? { readySince: ready.lastTransitionTime } : {}),
    ...(ready?.lastHeartbeatTime ? { heartbeat: ready.lastHeartbeatTime } : {}),
    ...(ready && ready.status !== "True" ? { reason: [ready.reason, ready.message].filter(Boolean).join(": ") } : {}),
    kubeletVersion: String(node?.status?.nodeInfo?.kubeletVersion ?? "").replace(/^v/, ""),
    unschedulable: node?.spec?.unschedulable === true,
  };
}

const nodePath = (name: string) => `/api/v1/nodes/${encodeURIComponent(name)}`;

/** The node, or undefined when the API server has none of that name. */
export async function getNode(c: KubeClient, name: string, signal?: AbortSignal): Promise<NodeView | undefined> {
  const r = await c.request("GET", nodePath(name), { expect: [404], signal });
  return r.status === 404 ? undefined : nodeView(r.body);
}

/** Cordon (true) or uncordon (false), as kubectl cordon/uncordon patch it. */
export async function setUnschedulable(c: KubeClient, name: string, value: boolean, signal?: AbortSignal): Promise<NodeView> {
  const body = { spec: { unschedulable: value ? true : null } };
  const r = await c.request("PATCH", nodePath(name), { body, contentType: "application/strategic-merge-patch+json", signal });
  return nodeView(r.body);
}
