// The test API server (test/helpers/test-apiserver.ts) answered as kube-apiserver answers: Debian
// trixie's real kubectl 1.32 (scripts/setup.sh unpacks it) lists nodes, cordons, drains through
// the Eviction API past DaemonSet and mirror pods, retries a budget's 429 until its timeout, and
// is refused without a client certificate or with a kubelet's.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { run } from "../helpers/binary";
import { KUBECTL, startTestApiServer, type TestApiServer } from "../helpers/test-apiserver";
import { tempDir } from "../helpers/tmp";

setDefaultTimeout(30_000);

let api: TestApiServer;
let admin: string;
const home = tempDir("kubectl-home");
const kubectl = (kubeconfig: string, ...args: string[]) => run([KUBECTL, "--kubeconfig", kubeconfig, ...args], { HOME: home });

beforeAll(async () => {
  api = await startTestApiServer({ podGraceMs: 300 });
  admin = api.kubeconfig({ cn: "node-updater", org: "kube-rootfs:node-updaters" });
  api.addNode("node1", { kubeletVersion: "v1.33.1" });
  api.addNode("node2", { ready: false, kubeletVersion: "v1.32.4" });
  api.addDaemonSet("kube-system", "kube-proxy");
  api.addPod({ namespace: "kube-system", name: "kube-proxy-x1", nodeName: "node1", owner: { kind: "DaemonSet", name: "kube-proxy" } });
  api.addPod({ namespace: "kube-system", name: "etcd-node1", nodeName: "node1", mirror: true });
  api.addPod({ namespace: "default", name: "web-1", nodeName: "node1", owner: { kind: "ReplicaSet", name: "web-6d4f" }, labels: { app: "web" } });
  api.addPod({ namespace: "default", name: "cache-1", nodeName: "node1", owner: { kind: "ReplicaSet", name: "cache-7c9" }, emptyDir: true });
  api.addPod({ namespace: "default", name: "web-2", nodeName: "node2", owner: { kind: "ReplicaSet", name: "web-6d4f" }, labels: { app: "web" } });
});

afterAll(async () => {
  await api?.stop();
});

describe("the real kubectl against the test API server", () => {
  test("kubectl get nodes prints each node's readiness and kubelet version", async () => {
    const r = await kubectl(admin, "get", "nodes");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split("\n").map((l) => l.split(/\s+/));
    expect(rows[0]).toEqual(["NAME", "STATUS", "ROLES", "AGE", "VERSION"]);
    expect(rows.slice(1).map((c) => [c[0], c[1], c[4]])).toEqual([["node1", "Ready", "v1.33.1"], ["node2", "NotReady", "v1.32.4"]]);
  });

  test("kubectl cordon patches spec.unschedulable, and get nodes shows it", async () => {
    const r = await kubectl(admin, "cordon", "node1");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("node/node1 cordoned\n");
    expect(api.node("node1").spec.unschedulable).toBe(true);
    const patch = api.requests.findLast((q) => q.method === "PATCH")!;
    expect(patch).toMatchObject({ path: "/api/v1/nodes/node1", contentType: "application/strategic-merge-patch+json", body: { spec: { unschedulable: true } }, user: "node-updater" });
    expect((await kubectl(admin, "get", "nodes", "node1")).stdout).toContain("Ready,SchedulingDisabled");
  });

  test("kubectl drain evicts every pod but the DaemonSet's and the mirror pod, and waits until they are gone", async () => {
    const from = api.requests.length;
    const r = await kubectl(admin, "drain", "node1", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=30s");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("node/node1 drained");
    expect(r.stderr).toContain("ignoring DaemonSet-managed Pods: kube-system/kube-proxy-x1");
    const evicted = api.requests.slice(from).filter((q) => q.method === "POST").map((q) => q.path).sort();
    expect(evicted).toEqual(["/api/v1/namespaces/default/pods/cache-1/eviction", "/api/v1/namespaces/default/pods/web-1/eviction"]);
    expect(api.podNames("node1").sort()).toEqual(["kube-system/etcd-node1", "kube-system/kube-proxy-x1"]);
  });

  test("a pod its budget protects gets 429 and kubectl drain retries it until its timeout", async () => {
    api.addPod({ namespace: "default", name: "db-0", nodeName: "node1", owner: { kind: "StatefulSet", name: "db" }, labels: { app: "db" } });
    api.addBudget({ namespace: "default", name: "db", matchLabels: { app: "db" }, disruptionsAllowed: 0, desiredHealthy: 1, currentHealthy: 1 });
    const from = api.requests.length;
    const r = await kubectl(admin, "drain", "node1", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=7s");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`error when evicting pods/"db-0" -n "default" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget.`);
    expect(r.stderr).toContain(`error when evicting pods/"db-0" -n "default": global timeout reached: 7s`);
    const tries = api.requests.slice(from).filter((q) => q.path.endsWith("/db-0/eviction"));
    expect(tries.length).toBeGreaterThanOrEqual(2);
    expect(tries.every((q) => q.status === 429)).toBe(true);
    expect(api.podNames("node1")).toContain("default/db-0");
  });

  test("kubectl uncordon clears spec.unschedulable", async () => {
    expect((await kubectl(admin, "uncordon", "node1")).stdout).toBe("node/node1 uncordoned\n");
    expect(api.node("node1").spec.unschedulable).toBeUndefined();
    expect(api.requests.findLast((q) => q.method === "PATCH")?.body).toEqual({ spec: { unschedulable: null } });
  });

  test("a kubeconfig with file paths works as well as one with the data inline", async () => {
    const files = api.kubeconfig({ cn: "node-updater-files" }, "files");
    expect((await kubectl(files, "get", "nodes", "node2", "-o", "jsonpath={.status.nodeInfo.kubeletVersion}")).stdout).toBe("v1.32.4");
  });

  test("a kubelet's identity reads its own Node and nothing else", async () => {
    const kubelet = api.kubeconfig({ cn: "system:node:node1", org: "system:nodes" });
    expect((await kubectl(kubelet, "get", "nodes", "node1", "-o", "name")).stdout).toBe("node/node1\n");
    const other = await kubectl(kubelet, "get", "nodes", "node2");
    expect(other.code).toBe(1);
    expect(other.stderr).toContain("Forbidden");
    const cordon = await kubectl(kubelet, "cordon", "node1");
    // kubectl cordon says so but exits 0 (as it does against kube-apiserver's 403).
    expect(cordon.stderr).toBe(`error: unable to cordon node "node1": User "system:node:node1" cannot PATCH /api/v1/nodes/node1: a node may only read its own Node object\n`);
    expect(api.node("node1").spec.unschedulable).toBeUndefined();
  });

  test("a client without a certificate is unauthorized", async () => {
    const res = await fetch(`${api.url}/api/v1/nodes`, { tls: { ca: await Bun.file(api.caFile).text() } });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ kind: "Status", reason: "Unauthorized", code: 401 });
  });
});
