// The switch's cluster steps on the test API server (test/helpers/test-apiserver.ts): which
// credentials serve them, the Ready gate's verdicts, cordon, drain and uncordon as the switch
// calls them, and status's view of where the cluster disagrees with the host.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { jsonLogger, taskLog, type LogEvent } from "../../src/engine/log";
import { KubeClient } from "../../src/kube/client";
import { readKubeconfig } from "../../src/kube/kubeconfig";
import { nodeView, type NodeView } from "../../src/kube/nodes";
import { clusterAccess, clusterActions, notReadyWhy } from "../../src/slots/cluster";
import { settled, type SlotRecord } from "../../src/slots/record";
import { clusterDisagrees } from "../../src/slots/status";
import { switchSlots, type SlotActions } from "../../src/slots/switch";
import { testGoal } from "../helpers/goal";
import { startTestApiServer, type TestApiServer } from "../helpers/test-apiserver";

let api: TestApiServer;
let admin: string;
const signal = new AbortController().signal;
const events: LogEvent[] = [];
const log = taskLog({ ...jsonLogger(() => {}), event: (e) => void events.push(e) }, "upgrade");

beforeAll(async () => {
  api = await startTestApiServer({ podGraceMs: 20 });
  admin = api.kubeconfig({ cn: "node-updater" });
});

afterAll(async () => {
  await api?.stop();
});

const view = (v: Partial<NodeView>): NodeView => ({ name: "node1", ready: "True", heartbeat: "2026-12-04T10:00:05Z", kubeletVersion: "1.34.0", unschedulable: false, ...v });

describe("which credentials serve the cluster steps", () => {
  test("cluster.kubeconfig: cordon and drain, unless --no-drain; the node is the machine's hostname", () => {
    const goal = testGoal({ hostname: "Node-7" });
    const a = clusterAccess(admin, goal, false);
    expect(a).toMatchObject({ node: "node-7", drains: true, via: admin });
    expect(clusterAccess(admin, goal, true)).toMatchObject({ drains: false });
  });

  test("without it, the active slot's kubelet.conf, whose certificate paths are inside its rootfs: the Ready gate only", () => {
    const goal = testGoal({ hostname: "node-7" });
    const { cert, key } = api.clientCertificate({ cn: "system:node:node-7", org: "system:nodes" });
    mkdirSync(join(goal.machineDir, "etc/kubernetes/pki"), { recursive: true });
    mkdirSync(join(goal.machineDir, "var/lib/kubelet/pki"), { recursive: true });
    writeFileSync(join(goal.machineDir, "etc/kubernetes/pki/ca.crt"), readFileSync(api.caFile));
    writeFileSync(join(goal.machineDir, "var/lib/kubelet/pki/kubelet-client-current.pem"), readFileSync(cert, "utf8") + readFileSync(key, "utf8"));
    writeFileSync(
      join(goal.machineDir, "etc/kubernetes/kubelet.conf"),
      `apiVersion: v1\nkind: Config\nclusters:\n- name: default-cluster\n  cluster:\n    certificate-authority: /etc/kubernetes/pki/ca.crt\n    server: ${api.url}\ncontexts:\n- name: default-context\n  context: {cluster: default-cluster, namespace: default, user: default-auth}\ncurrent-context: default-context\nusers:\n- name: default-auth\n  user:\n    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem\n`,
    );
    const a = clusterAccess(undefined, goal, false);
    expect(a).toMatchObject({ node: "node-7", drains: false, via: `/etc/kubernetes/kubelet.conf in ${goal.machine}` });
    expect(a.client?.access.cert).toContain("BEGIN CERTIFICATE");
  });

  test("a node that has not joined: no cluster steps, and why", () => {
    const goal = testGoal();
    expect(clusterAccess(undefined, goal, false)).toEqual({ why: `${goal.machine} has no /etc/kubernetes/kubelet.conf (the node has not joined a cluster): no cluster steps` });
  });
});

describe("the Ready gate's verdict", () => {
  const since = new Date("2026-12-04T10:00:00.400Z");
  test("Ready, a heartbeat after the switch began, the slot's kubelet version: ready", () => {
    expect(notReadyWhy(view({}), "node1", "1.34.0", since)).toBeUndefined();
  });
  test("each way of not being ready is named", () => {
    expect(notReadyWhy(undefined, "node1", "1.34.0", since)).toBe("the API server has no node node1");
    expect(notReadyWhy(view({ ready: "False", reason: "KubeletNotReady: PLEG is not healthy" }), "node1", "1.34.0", since)).toBe("node node1 is Ready=False (KubeletNotReady: PLEG is not healthy)");
    // The second the switch began may hold the old kubelet's last heartbeat.
    expect(notReadyWhy(view({ heartbeat: "2026-12-04T10:00:00Z" }), "node1", "1.34.0", since)).toBe("node node1 has sent no heartbeat since the switch began (last 2026-12-04T10:00:00Z)");
    expect(notReadyWhy(view({ kubeletVersion: "1.33.1" }), "node1", "1.34.0", since)).toBe("node node1 reports kubelet 1.33.1, not 1.34.0");
  });
});

describe("the switch's cluster steps against the API server", () => {
  /** Machines that only record; starting `to` makes the test API server hear from its kubelet at `version`. */
  function machines(onStart: (slot: string) => void) {
    const calls: string[] = [];
    const records: SlotRecord[] = [];
    const a: SlotActions = {
      stop: async (s) => void calls.push(`stop ${s}`),
      carry: async () => {},
      start: async (s) => {
        calls.push(`start ${s}`);
        onStart(s);
      },
      healthy: async () => {},
      write: async (r) => void records.push(structuredClone(r)),
      stepStarted: () => {},
    };
    return { a, calls, records };
  }
  const goals: Record<string, ReturnType<typeof testGoal>> = { kube1: testGoal({ versions: { kubernetes: "1.33.1" } }), kube2: testGoal({ versions: { kubernetes: "1.34.0" } }) };
  const adminAccess = (node: string) => ({ client: new KubeClient(readKubeconfig(admin)), node, drains: true, via: admin });
  const opts = { drainTimeoutMs: 5_000, readyTimeoutMs: 4_000, signal, log, goalOf: (s: string) => goals[s]! };

  test("cordon, drain (requests before the old machine's stop), Ready at the new version, uncordon last", async () => {
    api.addNode("w1", { kubeletVersion: "v1.33.1" });
    for (let i = 0; i < 3; i++) api.addPod({ namespace: "apps", name: `web-${i}`, nodeName: "w1", owner: { kind: "ReplicaSet", name: "web" } });
    const m = machines(() => setTimeout(() => api.setNode("w1", { kubeletVersion: "v1.34.0", heartbeat: new Date(Date.now() + 1000).toISOString() }), 300));
    const from = api.requests.length;
    const c = clusterActions(adminAccess("w1"), opts);
    const done = await switchSlots(m.a, settled("kube1", null), "upgrade", "kube1", "kube2", c);
    expect(done).toEqual(settled("kube2", "kube1"));
    expect(api.podNames("w1")).toEqual([]);
    const writes = api.requests.slice(from).filter((r) => r.method !== "GET").map((r) => `${r.method} ${r.path.replace(/^\/api\/v1\/namespaces\/apps\/pods\//, "")}`);
    expect(writes.slice(0, 1)).toEqual(["PATCH /api/v1/nodes/w1"]);
    expect(writes.slice(1, 4).sort()).toEqual(["POST web-0/eviction", "POST web-1/eviction", "POST web-2/eviction"]);
    expect(writes.at(-1)).toBe("PATCH /api/v1/nodes/w1");
    expect(api.requests.findLast((r) => r.method === "PATCH")?.body).toEqual({ spec: { unschedulable: null } });
    expect(api.node("w1").spec.unschedulable).toBeUndefined();
  });

  test("the old kubelet version at the timeout: the switch falls back, and the node is uncordoned once the old one is Ready", async () => {
    api.addNode("w2", { kubeletVersion: "v1.33.1" });
    const m = machines((s) => s === "kube1" && setTimeout(() => api.setNode("w2", { heartbeat: new Date(Date.now() + 1000).toISOString() }), 200));
    const c = clusterActions(adminAccess("w2"), { ...opts, readyTimeoutMs: 1_500 });
    const err = await switchSlots(m.a, settled("kube1", null), "upgrade", "kube1", "kube2", c).catch((e) => e);
    expect(err.message).toBe("upgrade: node w2 reports kubelet 1.33.1, not 1.34.0 after 1.5s; the node is back on kube1");
    expect(m.calls).toEqual(["stop kube1", "start kube2", "stop kube2", "start kube1"]);
    expect(api.node("w2").spec.unschedulable).toBeUndefined();
  });

  test("a drain held by a budget until its timeout: the old machine is never stopped, the node uncordoned, the line names the pod and the budget", async () => {
    api.addNode("w3", {});
    api.addPod({ namespace: "db", name: "pg-0", nodeName: "w3", owner: { kind: "StatefulSet", name: "pg" }, labels: { app: "pg" } });
    api.addBudget({ namespace: "db", name: "pg", matchLabels: { app: "pg" }, disruptionsAllowed: 0, desiredHealthy: 1, currentHealthy: 1 });
    const m = machines(() => {});
    const c = clusterActions(adminAccess("w3"), { ...opts, drainTimeoutMs: 1_000 });
    const err = await switchSlots(m.a, settled("kube1", null), "upgrade", "kube1", "kube2", c).catch((e) => e);
    expect(err.message).toBe("upgrade: the drain did not finish within 1s: 1 pod still on the node: db/pg-0 (The disruption budget pg needs 1 healthy pods and has 1 currently); kube1 was not stopped; node w3 uncordoned");
    expect(m.calls).toEqual([]);
    expect(api.node("w3").spec.unschedulable).toBeUndefined();
    expect(events.some((e) => e.msg === "db/pg-0 not evicted yet: The disruption budget pg needs 1 healthy pods and has 1 currently; retrying")).toBe(true);
  });
});

describe("status: where the cluster disagrees with the host", () => {
  const seen = (v: Partial<NodeView>) => ({ node: "node1", via: "/k", seen: view(v) });
  test("Ready at the slot's version and schedulable: agreed", () => {
    expect(clusterDisagrees(seen({}), "1.34.0", undefined)).toBeUndefined();
    // An operator's cordon is the operator's business.
    expect(clusterDisagrees(seen({ unschedulable: true }), "1.34.0", undefined)).toBeUndefined();
  });
  test("NotReady, another version, a cordon an unfinished update left, an API server that cannot be asked", () => {
    expect(clusterDisagrees(seen({ ready: "Unknown", reason: "NodeStatusUnknown: Kubelet stopped posting node status." }), "1.34.0", undefined)).toBe(
      "the cluster says node node1 is Ready=Unknown (NodeStatusUnknown: Kubelet stopped posting node status.)",
    );
    expect(clusterDisagrees(seen({ kubeletVersion: "1.33.1" }), "1.34.0", undefined)).toBe("the cluster sees kubelet 1.33.1 on node node1, the active slot runs 1.34.0");
    const rec = { switch: { kind: "upgrade" as const, from: "kube1", to: "kube2", step: "drain" as const, at: "", cluster: { node: "node1", wasUnschedulable: false } } };
    expect(clusterDisagrees(seen({ unschedulable: true }), "1.34.0", rec)).toBe("node node1 is cordoned by an unfinished upgrade; the next upgrade or rollback uncordons it");
    expect(clusterDisagrees({ node: "node1", via: "/k", error: "kube API GET /api/v1/nodes/node1 on https://x: 403 forbidden" }, "1.34.0", undefined)).toBe(
      "the cluster cannot confirm node node1: kube API GET /api/v1/nodes/node1 on https://x: 403 forbidden",
    );
  });
  test("a Node object's view", () => {
    expect(nodeView({ metadata: { name: "n" }, spec: { unschedulable: true }, status: { nodeInfo: { kubeletVersion: "v1.34.0" }, conditions: [] } })).toEqual({ name: "n", ready: "Unknown", kubeletVersion: "1.34.0", unschedulable: true });
  });
});
