// The Kubernetes API client (src/kube) against the test API server (test/helpers/test-apiserver.ts,
// itself checked against the real kubectl): kubeconfig forms and refusals, nodes, evictions and
// the drain with kubectl drain's behaviour.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KubeClient } from "../../src/kube/client";
import { drain, DrainTimedOut, planDrain } from "../../src/kube/drain";
import { parseKubeconfig, readKubeconfig } from "../../src/kube/kubeconfig";
import { getNode, setUnschedulable } from "../../src/kube/nodes";
import { ConfigError, RunError } from "../../src/errors";
import { startTestApiServer, type TestApiServer } from "../helpers/test-apiserver";
import { tempDir } from "../helpers/tmp";

let api: TestApiServer;
let admin: KubeClient;
const signal = new AbortController().signal;

beforeAll(async () => {
  api = await startTestApiServer({ podGraceMs: 50 });
  admin = new KubeClient(readKubeconfig(api.kubeconfig({ cn: "node-updater" })));
});

afterAll(async () => {
  await api?.stop();
});

const errorOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected an error");
};

describe("kubeconfig", () => {
  const doc = (user: string, cluster = "    server: https://127.0.0.1:6443\n") =>
    `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n${cluster}contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\nusers:\n- name: u\n  user:\n${user}`;

  test("the data form and the file form give the same access", () => {
    const data = readKubeconfig(api.kubeconfig({ cn: "forms" }, "data"));
    const files = readKubeconfig(api.kubeconfig({ cn: "forms" }, "files"));
    expect(data.server).toBe(api.url);
    expect(data.ca).toBe(readFileSync(api.caFile, "utf8"));
    expect(files.ca).toBe(data.ca);
    expect(files.cert).toContain("-----BEGIN CERTIFICATE-----");
    expect(files.key).toContain("PRIVATE KEY-----");
    expect(data.user).toBe("test");
  });

  test("relative paths are the kubeconfig's directory's; pathOf maps paths named inside a rootfs", () => {
    const root = tempDir("kubeconfig-root");
    mkdirSync(join(root, "etc/kubernetes/pki"), { recursive: true });
    const { cert, key } = api.clientCertificate({ cn: "system:node:node1", org: "system:nodes" });
    writeFileSync(join(root, "etc/kubernetes/pki/ca.crt"), readFileSync(api.caFile));
    writeFileSync(join(root, "etc/kubernetes/pki/client.pem"), readFileSync(cert));
    writeFileSync(join(root, "etc/kubernetes/pki/client.key"), readFileSync(key));
    const text = doc("    client-certificate: pki/client.pem\n    client-key: /etc/kubernetes/pki/client.key\n", "    server: https://127.0.0.1:6443\n    certificate-authority: /etc/kubernetes/pki/ca.crt\n");
    writeFileSync(join(root, "etc/kubernetes/kubelet.conf"), text);
    const inside = readKubeconfig("/etc/kubernetes/kubelet.conf", { pathOf: (p) => join(root, p) });
    expect(inside.cert).toBe(readFileSync(cert, "utf8"));
    expect(inside.key).toBe(readFileSync(key, "utf8"));
    expect(inside.ca).toBe(readFileSync(api.caFile, "utf8"));
    // Read on the host as it is, the same file names the host's /etc/kubernetes/pki/ca.crt.
    expect(errorOf(() => readKubeconfig(join(root, "etc/kubernetes/kubelet.conf"))).message).toContain("cannot read certificate-authority /etc/kubernetes/pki/ca.crt: ENOENT");
  });

  test("an exec plugin is refused with one line naming the user entry", () => {
    const err = errorOf(() => parseKubeconfig(doc("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: aws\n"), "/root/.kube/config"));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe("kubeconfig /root/.kube/config: user u authenticates with an exec plugin, which kube-rootfs does not run; give a kubeconfig whose user has a client certificate (client-certificate-data and client-key-data) or a token");
  });

  test("each broken kubeconfig gets one line naming the entry", () => {
    const f = "/k";
    expect(errorOf(() => parseKubeconfig("a: [", f)).message).toStartWith("kubeconfig /k: not YAML: ");
    expect(errorOf(() => parseKubeconfig(doc("    token: t\n").replace("current-context: x", "current-context: y"), f)).message).toBe("kubeconfig /k: current-context y is not among its contexts");
    expect(errorOf(() => parseKubeconfig(doc("    token: t\n", "    server: 127.0.0.1:6443\n"), f)).message).toBe("kubeconfig /k: cluster c: server is not an http(s) URL: 127.0.0.1:6443");
    expect(errorOf(() => parseKubeconfig(doc("    client-certificate-data: bm90IHBlbQ==\n    client-key-data: bm90IHBlbQ==\n"), f)).message).toBe("kubeconfig /k: user u: client-certificate-data is not a base64 PEM block");
    expect(errorOf(() => parseKubeconfig(doc("    client-certificate: /nonexistent.pem\n    client-key: /k.key\n"), f)).message).toBe("kubeconfig /k: user u: cannot read client-certificate /nonexistent.pem: ENOENT");
    expect(errorOf(() => parseKubeconfig(doc("    username: admin\n"), f)).message).toBe("kubeconfig /k: user u has no client certificate and no token");
    expect(errorOf(() => readKubeconfig("/nonexistent/kubeconfig")).message).toBe("kubeconfig /nonexistent/kubeconfig: cannot read it: ENOENT");
  });
});

describe("the client", () => {
  test("reads a node: Ready, since when, its heartbeat and kubelet version; an unknown node is undefined", async () => {
    api.addNode("n1", { ready: true, kubeletVersion: "v1.33.1", heartbeat: "2026-12-04T10:00:00.000Z" });
    const n = await getNode(admin, "n1");
    expect(n).toMatchObject({ name: "n1", ready: "True", heartbeat: "2026-12-04T10:00:00.000Z", kubeletVersion: "1.33.1", unschedulable: false });
    expect(n?.readySince).toBeString();
    api.setNode("n1", { ready: false });
    expect(await getNode(admin, "n1")).toMatchObject({ ready: "False", reason: "KubeletNotReady: container runtime network not ready" });
    expect(await getNode(admin, "nope")).toBeUndefined();
  });

  test("cordon and uncordon are the patches kubectl sends", async () => {
    api.addNode("n2", {});
    expect((await setUnschedulable(admin, "n2", true)).unschedulable).toBe(true);
    expect((await setUnschedulable(admin, "n2", false)).unschedulable).toBe(false);
    const patches = api.requests.filter((r) => r.method === "PATCH" && r.path === "/api/v1/nodes/n2");
    expect(patches.map((r) => [r.contentType, r.body])).toEqual([
      ["application/strategic-merge-patch+json", { spec: { unschedulable: true } }],
      ["application/strategic-merge-patch+json", { spec: { unschedulable: null } }],
    ]);
  });

  test("a request the server refuses is one line with its reason and what to check", async () => {
    const kubelet = new KubeClient(readKubeconfig(api.kubeconfig({ cn: "system:node:n1", org: "system:nodes" })));
    expect((await getNode(kubelet, "n1"))?.name).toBe("n1");
    const err = await setUnschedulable(kubelet, "n1", true).catch((e) => e);
    expect(err).toBeInstanceOf(RunError);
    expect(err.message).toBe(`kube API PATCH /api/v1/nodes/n1 on ${api.url}: 403 User "system:node:n1" cannot PATCH /api/v1/nodes/n1: a node may only read its own Node object (user test in ${kubelet.access.source} lacks the RBAC for it)`);
  });

  test("a server whose certificate the kubeconfig's CA did not sign is refused", async () => {
    const other = await startTestApiServer();
    try {
      const access = { ...readKubeconfig(other.kubeconfig({ cn: "x" })), ca: readFileSync(api.caFile, "utf8") };
      const err = await getNode(new KubeClient(access), "n1").catch((e) => e);
      expect(err).toBeInstanceOf(RunError);
      expect(err.message).toStartWith(`kube API GET /api/v1/nodes/n1 on ${other.url}: `);
      expect(err.message).toEndWith(`(check the CA and client certificate of ${access.source})`);
    } finally {
      await other.stop();
    }
  });

  test("a server that does not answer in time is named", async () => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const access = { ...readKubeconfig(api.kubeconfig({ cn: "y" })), server: `https://127.0.0.1:${silent.port}` };
      const err = await getNode(new KubeClient(access, 300), "n1").catch((e) => e);
      expect(err.message).toBe(`kube API GET /api/v1/nodes/n1 on https://127.0.0.1:${silent.port}: no answer within 0.3s`);
    } finally {
      silent.stop(true);
    }
  });
});

describe("drain, as kubectl drain --ignore-daemonsets --delete-emptydir-data --force", () => {
  test("evicts every pod but mirror pods and those of an existing DaemonSet, and waits until they are gone", async () => {
    api.addNode("d1", {});
    api.addDaemonSet("kube-system", "kube-proxy");
    api.addPod({ namespace: "kube-system", name: "kube-proxy-a", nodeName: "d1", owner: { kind: "DaemonSet", name: "kube-proxy" } });
    api.addPod({ namespace: "kube-system", name: "orphan-ds-a", nodeName: "d1", owner: { kind: "DaemonSet", name: "deleted" } });
    api.addPod({ namespace: "kube-system", name: "etcd-d1", nodeName: "d1", mirror: true });
    api.addPod({ namespace: "default", name: "bare", nodeName: "d1" });
    api.addPod({ namespace: "default", name: "scratch", nodeName: "d1", owner: { kind: "ReplicaSet", name: "s" }, emptyDir: true });
    for (let i = 0; i < 20; i++) api.addPod({ namespace: "apps", name: `web-${i}`, nodeName: "d1", owner: { kind: "ReplicaSet", name: "web" } });
    api.addPod({ namespace: "default", name: "elsewhere", nodeName: "d2" });

    const plan = await planDrain(admin, "d1", signal);
    expect(plan.kept.map((k) => `${k.pod.name} ${k.why}`).sort()).toEqual(["etcd-d1 mirror", "kube-proxy-a DaemonSet"]);
    expect(plan.evict).toHaveLength(23);
    const evicted: string[] = [];
    const done = await drain(admin, plan, { timeoutMs: 20_000, signal, onEvicted: (p) => evicted.push(p.name), pollMs: 50 });
    expect(done).toHaveLength(23);
    expect(evicted.sort()).toEqual(plan.evict.map((p) => p.name).sort());
    expect(api.podNames("d1").sort()).toEqual(["kube-system/etcd-d1", "kube-system/kube-proxy-a"]);
    expect(api.podNames("d2")).toEqual(["default/elsewhere"]);
  });

  test("a budget's 429 is retried until it allows the eviction", async () => {
    api.addNode("d3", {});
    api.addPod({ namespace: "db", name: "db-0", nodeName: "d3", owner: { kind: "StatefulSet", name: "db" }, labels: { app: "db" } });
    const budget = { namespace: "db", name: "db-pdb", matchLabels: { app: "db" }, disruptionsAllowed: 0, desiredHealthy: 2, currentHealthy: 2 };
    api.addBudget(budget);
    const blocked: string[] = [];
    const plan = await planDrain(admin, "d3", signal);
    const running = drain(admin, plan, { timeoutMs: 10_000, signal, retryMs: 100, pollMs: 50, onBlocked: (p, why) => blocked.push(`${p.name}: ${why}`) });
    await Bun.sleep(350);
    budget.disruptionsAllowed = 1;
    expect(await running).toEqual(["db/db-0"]);
    expect(blocked.length).toBeGreaterThanOrEqual(3);
    expect(blocked[0]).toBe("db-0: The disruption budget db-pdb needs 2 healthy pods and has 2 currently");
  });

  test("at the timeout the drain stops, naming the pods still there and the budget that held each", async () => {
    api.addNode("d4", {});
    api.addPod({ namespace: "q", name: "queue-0", nodeName: "d4", owner: { kind: "StatefulSet", name: "queue" }, labels: { app: "queue" } });
    api.addPod({ namespace: "q", name: "free", nodeName: "d4", owner: { kind: "ReplicaSet", name: "free" } });
    api.addBudget({ namespace: "q", name: "queue", matchLabels: { app: "queue" }, disruptionsAllowed: 0, desiredHealthy: 3, currentHealthy: 3 });
    const err = await drain(admin, await planDrain(admin, "d4", signal), { timeoutMs: 600, signal, retryMs: 100, pollMs: 50 }).catch((e) => e);
    expect(err).toBeInstanceOf(DrainTimedOut);
    expect(err.message).toBe("the drain did not finish within 0.6s: 1 pod still on the node: q/queue-0 (The disruption budget queue needs 3 healthy pods and has 3 currently)");
    expect(api.podNames("d4")).toEqual(["q/queue-0"]);
  });

  test("an eviction the server refuses otherwise fails the drain at once", async () => {
    api.addNode("d5", {});
    api.addPod({ namespace: "x", name: "p", nodeName: "d5" });
    const kubelet = new KubeClient(readKubeconfig(api.kubeconfig({ cn: "system:node:d5", org: "system:nodes" })));
    const plan = await planDrain(admin, "d5", signal);
    const t = performance.now();
    const err = await drain(kubelet, plan, { timeoutMs: 10_000, signal }).catch((e) => e);
    expect(performance.now() - t).toBeLessThan(5_000);
    expect(err.message).toStartWith(`kube API POST /api/v1/namespaces/x/pods/p/eviction on ${api.url}: 403 `);
  });
});
