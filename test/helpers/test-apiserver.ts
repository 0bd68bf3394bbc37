// A test API server: not a cluster, not kube-apiserver, but an HTTPS server on 127.0.0.1 that
// speaks the subset of the Kubernetes API that node updates use, the way kube-apiserver answers
// it (checked against the real kubectl in test/e2e/test-apiserver.test.ts):
//   - TLS with client-certificate authentication against a CA made here with openssl (no
//     certificate: 401), and the Node authorizer's rule for kubelets: an identity in
//     system:nodes may read its own Node and nothing else (403);
//   - legacy discovery (/version, /api, /api/v1, /apis, /apis/{group}/{version});
//   - nodes get, list (Table too, as kubectl get asks) and patch (merge and strategic-merge
//     patches of metadata and spec; status is the test's to drive);
//   - pods get and list, by namespace or across all, with fieldSelector spec.nodeName;
//   - daemonsets get (kubectl drain checks that a pod's DaemonSet exists);
//   - the Eviction subresource (policy/v1): a PodDisruptionBudget verdict (201, or 429 with
//     kube-apiserver's body), then the pod deleted after a grace;
//   - poddisruptionbudgets list.
// Every request is recorded (method, path, query, body, user) so tests assert the order of
// cordon, evictions and uncordon against what happened to the machines.
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeCertificates } from "./registry";
import { tempDir } from "./tmp";

/** Debian trixie's kubectl 1.32, as scripts/setup.sh unpacks it: the second client. */
export const KUBECTL = "/var/cache/kube-rootfs-test/kubectl/usr/bin/kubectl";

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** the parsed JSON body, for writes */
  body?: unknown;
  contentType?: string;
  /** the client certificate's CN ("" without one) */
  user: string;
  status: number;
  at: number;
}

export interface NodeState {
  ready: boolean;
  kubeletVersion: string;
  /** ISO time of the Ready condition's last heartbeat */
  heartbeat: string;
  unschedulable?: boolean;
}

export interface TestPod {
  namespace: string;
  name: string;
  nodeName: string;
  /** owner kind: DaemonSet, ReplicaSet, StatefulSet, … (none: a bare pod) */
  owner?: { kind: string; name: string };
  /** a static pod's mirror (kubelet's kubernetes.io/config.mirror annotation) */
  mirror?: boolean;
  emptyDir?: boolean;
  labels?: Record<string, string>;
  phase?: string;
}

export interface TestBudget {
  namespace: string;
  name: string;
  matchLabels: Record<string, string>;
  /** evictions it allows before it blocks (each one allowed uses one up) */
  disruptionsAllowed: number;
  desiredHealthy: number;
  currentHealthy: number;
}

export interface Identity {
  /** the certificate's CN: system:node:NAME for a kubelet */
  cn: string;
  /** its O: system:nodes for a kubelet */
  org?: string;
}

export interface TestApiServer {
  url: string;
  /** the CA that signed the server's and the clients' certificates (PEM file) */
  caFile: string;
  requests: RecordedRequest[];
  /** A client certificate and key signed by the CA for `who`, as PEM files. */
  clientCertificate(who: Identity): { cert: string; key: string };
  /** A kubeconfig for `who`: the CA and the client certificate inline (data) or as paths (files). */
  kubeconfig(who: Identity, form?: "data" | "files"): string;
  addNode(name: string, state: Partial<NodeState>): void;
  /** The node as the API serves it. */
  node(name: string): Record<string, any>;
  setNode(name: string, state: Partial<NodeState>): void;
  addPod(pod: TestPod): void;
  /** The pods that still exist, as ns/name. */
  podNames(nodeName?: string): string[];
  addDaemonSet(namespace: string, name: string): void;
  addBudget(b: TestBudget): void;
  /** Requests that changed something or evicted, as "METHOD path" lines, in order. */
  writes(): string[];
  stop(): Promise<void>;
}

export interface TestApiServerOptions {
  /** how long an evicted pod takes to be gone (its containers' graceful stop) */
  podGraceMs?: number;
  /**
   * Listen on this unix socket instead of 127.0.0.1 (reached from another network namespace
   * through test/helpers/tcp-forward.ts); `url` is then that forward's, `https://127.0.0.1:<forwardPort>`.
   */
  unixSocket?: { path: string; forwardPort: number };
}

let serial = 0;
const rv = () => String(++serial);
const now = () => new Date().toISOString();

function openssl(argv: string[]) {
  const r = Bun.spawnSync(["openssl", ...argv], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${argv.join(" ")}: ${r.stderr.toString()}`);
}

/** kube-apiserver's Status object. */
const status = (code: number, reason: string, message: string, details?: Record<string, unknown>) => ({
  kind: "Status", apiVersion: "v1", metadata: {}, status: code < 300 ? "Success" : "Failure", message, reason, ...(details ? { details } : {}), code,
});

/** RFC 7386 merge patch: null deletes, objects merge, anything else replaces. */
function mergePatch(target: any, patch: any): any {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out = target && typeof target === "object" && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const age = (created: string) => `${Math.max(0, Math.round((Date.now() - Date.parse(created)) / 1000))}s`;

function nodeRow(n: any) {
  const ready = n.status.conditions.find((c: any) => c.type === "Ready")?.status === "True";
  const st = [ready ? "Ready" : "NotReady", ...(n.spec.unschedulable ? ["SchedulingDisabled"] : [])].join(",");
  return {
    cells: [n.metadata.name, st, "<none>", age(n.metadata.creationTimestamp), n.status.nodeInfo.kubeletVersion],
    object: { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: n.metadata },
  };
}

/** kube-apiserver's Table for nodes, as kubectl get asks for it. */
function nodeTable(nodes: any[]) {
  const col = (name: string, format = "") => ({ name, type: "string", format, description: "", priority: 0 });
  return {
    kind: "Table", apiVersion: "meta.k8s.io/v1", metadata: { resourceVersion: String(serial) },
    columnDefinitions: [col("Name", "name"), col("Status"), col("Roles"), col("Age"), col("Version")],
    rows: nodes.map(nodeRow),
  };
}

const RESOURCES = {
  v1: [
    { name: "nodes", singularName: "node", namespaced: false, kind: "Node", verbs: ["get", "list", "patch"], shortNames: ["no"] },
    { name: "pods", singularName: "pod", namespaced: true, kind: "Pod", verbs: ["get", "list"], shortNames: ["po"] },
    { name: "pods/eviction", singularName: "", namespaced: true, group: "policy", version: "v1", kind: "Eviction", verbs: ["create"] },
  ],
  "policy/v1": [{ name: "poddisruptionbudgets", singularName: "poddisruptionbudget", namespaced: true, kind: "PodDisruptionBudget", verbs: ["get", "list"], shortNames: ["pdb"] }],
  "apps/v1": [{ name: "daemonsets", singularName: "daemonset", namespaced: true, kind: "DaemonSet", verbs: ["get", "list"], shortNames: ["ds"] }],
};

export async function startTestApiServer(opts: TestApiServerOptions = {}): Promise<TestApiServer> {
  const dir = tempDir("test-apiserver");
  const certs = makeCertificates(dir);
  const caKey = join(dir, "ca.key");
  const podGraceMs = opts.podGraceMs ?? 200;
  const requests: RecordedRequest[] = [];
  const nodes = new Map<string, any>();
  const pods = new Map<string, any>();
  const daemonSets = new Map<string, any>();
  const budgets: TestBudget[] = [];
  const timers = new Set<Timer>();
  const sockets = new Set<TLSSocket>();

  const podObject = (p: TestPod) => ({
    kind: "Pod", apiVersion: "v1",
    metadata: {
      name: p.name, namespace: p.namespace, uid: crypto.randomUUID(), resourceVersion: rv(), creationTimestamp: now(), labels: p.labels ?? {},
      ...(p.mirror ? { annotations: { "kubernetes.io/config.mirror": "0123456789abcdef" } } : {}),
      ...(p.owner ? { ownerReferences: [{ apiVersion: "apps/v1", kind: p.owner.kind, name: p.owner.name, uid: crypto.randomUUID(), controller: true }] } : {}),
    },
    spec: {
      nodeName: p.nodeName, terminationGracePeriodSeconds: 30,
      containers: [{ name: "main", image: "registry.example/app:1" }],
      ...(p.emptyDir ? { volumes: [{ name: "scratch", emptyDir: {} }] } : {}),
    },
    status: { phase: p.phase ?? "Running" },
  });

  const fieldMatch = (pod: any, selector: string | undefined) => {
    if (!selector) return true;
    return selector.split(",").every((term) => {
      const m = /^([\w.]+)(==|=|!=)(.*)$/.exec(term);
      if (!m) return false;
      const value = m[1] === "spec.nodeName" ? pod.spec.nodeName : m[1] === "metadata.namespace" ? pod.metadata.namespace : m[1] === "metadata.name" ? pod.metadata.name : m[1] === "status.phase" ? pod.status.phase : undefined;
      return m[2] === "!=" ? value !== m[3] : value === m[3];
    });
  };

  /** The eviction verdict, as kube-apiserver's eviction REST gives it. */
  function evict(ns: string, name: string): [number, unknown] {
    const pod = pods.get(`${ns}/${name}`);
    if (!pod) return [404, status(404, "NotFound", `pods "${name}" not found`, { name, kind: "pods" })];
    if (pod.metadata.deletionTimestamp) return [201, status(201, "", "")];
    const labels = pod.metadata.labels ?? {};
    const budget = budgets.find((b) => b.namespace === ns && Object.entries(b.matchLabels).every(([k, v]) => labels[k] === v));
    if (budget) {
      if (budget.disruptionsAllowed <= 0) {
        return [429, status(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.", {
          causes: [{ reason: "DisruptionBudget", message: `The disruption budget ${budget.name} needs ${budget.desiredHealthy} healthy pods and has ${budget.currentHealthy} currently` }],
        })];
      }
      budget.disruptionsAllowed--;
    }
    pod.metadata.deletionTimestamp = now();
    pod.metadata.deletionGracePeriodSeconds = 30;
    pod.metadata.resourceVersion = rv();
    const t = setTimeout(() => {
      timers.delete(t);
      pods.delete(`${ns}/${name}`);
    }, podGraceMs);
    timers.add(t);
    return [201, status(201, "", "")];
  }

  /** What the Node authorizer allows a kubelet (of what this server serves): discovery, and its own Node, read. */
  function forbidden(who: { cn: string; org: string }, method: string, path: string): string | undefined {
    if (who.org !== "system:nodes") return undefined;
    const self = who.cn.replace(/^system:node:/, "");
    const discovery = /^\/(version|api|api\/v1|apis|apis\/[a-z.]+\/v1)\/?$/.test(path);
    if (method === "GET" && (discovery || path === `/api/v1/nodes/${self}`)) return undefined;
    return `User "${who.cn}" cannot ${method} ${path}: a node may only read its own Node object`;
  }

  function route(method: string, path: string, query: Record<string, string>, body: any, accept: string, contentType: string): [number, unknown] {
    const p = path.replace(/\/+$/, "") || "/";
    const table = accept.includes("as=Table");
    if (method === "GET" && p === "/version") return [200, { major: "1", minor: "32", gitVersion: "v1.32.0-test-apiserver", platform: "linux/amd64" }];
    if (method === "GET" && p === "/api") return [200, { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1" }] }];
    if (method === "GET" && p === "/api/v1") return [200, { kind: "APIResourceList", groupVersion: "v1", resources: RESOURCES.v1 }];
    if (method === "GET" && p === "/apis") {
      const group = (name: string) => ({ name, versions: [{ groupVersion: `${name}/v1`, version: "v1" }], preferredVersion: { groupVersion: `${name}/v1`, version: "v1" } });
      return [200, { kind: "APIGroupList", apiVersion: "v1", groups: [group("apps"), group("policy")] }];
    }
    const gv = /^\/apis\/(apps|policy)\/v1$/.exec(p);
    if (method === "GET" && gv) return [200, { kind: "APIResourceList", apiVersion: "v1", groupVersion: `${gv[1]}/v1`, resources: RESOURCES[`${gv[1]}/v1` as "apps/v1"] }];

    if (p === "/api/v1/nodes" && method === "GET") {
      const all = [...nodes.values()];
      return [200, table ? nodeTable(all) : { kind: "NodeList", apiVersion: "v1", metadata: { resourceVersion: String(serial) }, items: all }];
    }
    const nodePath = /^\/api\/v1\/nodes\/([^/]+)$/.exec(p);
    if (nodePath) {
      const n = nodes.get(nodePath[1]!);
      if (!n) return [404, status(404, "NotFound", `nodes "${nodePath[1]}" not found`, { name: nodePath[1], kind: "nodes" })];
      if (method === "GET") return [200, table ? nodeTable([n]) : n];
      if (method === "PATCH") {
        if (!["application/merge-patch+json", "application/strategic-merge-patch+json"].includes(contentType)) {
          return [415, status(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json`)];
        }
        if (body === undefined || typeof body !== "object") return [400, status(400, "BadRequest", "the patch is not a JSON object")];
        const { metadata, spec } = body as { metadata?: unknown; spec?: unknown };
        if (metadata !== undefined) n.metadata = mergePatch(n.metadata, metadata);
        if (spec !== undefined) n.spec = mergePatch(n.spec, spec);
        n.metadata.resourceVersion = rv();
        return [200, n];
      }
    }

    const podList = /^\/api\/v1(?:\/namespaces\/([^/]+))?\/pods$/.exec(p);
    if (podList && method === "GET") {
      const items = [...pods.values()].filter((x) => (!podList[1] || x.metadata.namespace === podList[1]) && fieldMatch(x, query.fieldSelector));
      return [200, { kind: "PodList", apiVersion: "v1", metadata: { resourceVersion: String(serial) }, items }];
    }
    const podPath = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)(\/eviction)?$/.exec(p);
    if (podPath) {
      const [, ns, name, eviction] = podPath;
      if (eviction && method === "POST") {
        const b = body as { apiVersion?: string; kind?: string; metadata?: { name?: string } } | undefined;
        if (b?.kind !== "Eviction" || !["policy/v1", "policy/v1beta1"].includes(b.apiVersion ?? "")) return [400, status(400, "BadRequest", "expected an Eviction of policy/v1")];
        if (b.metadata?.name !== name) return [400, status(400, "BadRequest", `name in URL does not match name in Eviction object`)];
        return evict(ns!, name!);
      }
      if (!eviction && method === "GET") {
        const pod = pods.get(`${ns}/${name}`);
        return pod ? [200, pod] : [404, status(404, "NotFound", `pods "${name}" not found`, { name, kind: "pods" })];
      }
    }
    const ds = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/daemonsets\/([^/]+)$/.exec(p);
    if (ds && method === "GET") {
      const d = daemonSets.get(`${ds[1]}/${ds[2]}`);
      return d ? [200, d] : [404, status(404, "NotFound", `daemonsets.apps "${ds[2]}" not found`, { name: ds[2], group: "apps", kind: "daemonsets" })];
    }
    const pdbs = /^\/apis\/policy\/v1(?:\/namespaces\/([^/]+))?\/poddisruptionbudgets$/.exec(p);
    if (pdbs && method === "GET") {
      const items = budgets.filter((b) => !pdbs[1] || b.namespace === pdbs[1]).map((b) => ({
        kind: "PodDisruptionBudget", apiVersion: "policy/v1", metadata: { name: b.name, namespace: b.namespace },
        spec: { selector: { matchLabels: b.matchLabels } }, status: { disruptionsAllowed: b.disruptionsAllowed, desiredHealthy: b.desiredHealthy, currentHealthy: b.currentHealthy },
      }));
      return [200, { kind: "PodDisruptionBudgetList", apiVersion: "policy/v1", metadata: {}, items }];
    }
    return [404, status(404, "NotFound", "the server could not find the requested resource")];
  }

  const http = createHttpServer(async (req: IncomingMessage, res: ServerResponse) => {
    const sock = req.socket as TLSSocket & { peer?: { cn: string; org: string } };
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const contentType = (req.headers["content-type"] ?? "").split(";")[0]!.trim();
    let body: unknown;
    let code: number;
    let answer: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const who = sock.peer ?? { cn: "", org: "" };
    const denied = who.cn ? forbidden(who, req.method ?? "GET", url.pathname) : undefined;
    if (!who.cn) [code, answer] = [401, status(401, "Unauthorized", "Unauthorized")];
    else if (denied) [code, answer] = [403, status(403, "Forbidden", denied)];
    else [code, answer] = route(req.method ?? "GET", url.pathname, Object.fromEntries(url.searchParams), body, String(req.headers.accept ?? ""), contentType);
    requests.push({ method: req.method ?? "GET", path: url.pathname, query: Object.fromEntries(url.searchParams), ...(text ? { body, contentType } : {}), user: who.cn, status: code, at: performance.now() });
    res.writeHead(code, { "content-type": "application/json" });
    res.end(JSON.stringify(answer));
  });

  const tls = createTlsServer(
    { key: readFileSync(certs.key), cert: readFileSync(certs.cert), ca: readFileSync(certs.ca), requestCert: true, rejectUnauthorized: false },
    (sock) => {
      // Authentication happens at the handshake: a verified certificate's CN and O are the user.
      const c = sock.authorized ? sock.getPeerCertificate() : undefined;
      const subject = c?.subject as { CN?: string; O?: string } | undefined;
      (sock as TLSSocket & { peer?: { cn: string; org: string } }).peer = subject?.CN ? { cn: subject.CN, org: subject.O ?? "" } : undefined;
      sockets.add(sock);
      sock.on("close", () => sockets.delete(sock));
      http.emit("connection", sock);
    },
  );
  const unix = opts.unixSocket;
  await new Promise<void>((resolve) => (unix ? tls.listen(unix.path, resolve) : tls.listen(0, "127.0.0.1", resolve)));
  const url = `https://127.0.0.1:${unix ? unix.forwardPort : (tls.address() as { port: number }).port}`;

  const clientCertificate = (who: Identity) => {
    const slug = who.cn.replace(/[^\w.-]/g, "_");
    const f = (ext: string) => join(dir, `${slug}.${ext}`);
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", `${who.org ? `/O=${who.org}` : ""}/CN=${who.cn}`, "-keyout", f("key"), "-out", f("csr")]);
    writeFileSync(f("ext"), "extendedKeyUsage=clientAuth\n");
    openssl(["x509", "-req", "-in", f("csr"), "-CA", certs.ca, "-CAkey", caKey, "-CAcreateserial", "-days", "2", "-extfile", f("ext"), "-out", f("pem")]);
    return { cert: f("pem"), key: f("key") };
  };

  const setNode = (name: string, s: Partial<NodeState>) => {
    const n = nodes.get(name);
    if (!n) throw new Error(`test API server: no node ${name}`);
    const ready = n.status.conditions[0];
    if (s.ready !== undefined && (ready.status === "True") !== s.ready) {
      ready.status = s.ready ? "True" : "False";
      ready.reason = s.ready ? "KubeletReady" : "KubeletNotReady";
      ready.message = s.ready ? "kubelet is posting ready status" : "container runtime network not ready";
      ready.lastTransitionTime = now();
    }
    if (s.heartbeat) ready.lastHeartbeatTime = s.heartbeat;
    if (s.kubeletVersion) n.status.nodeInfo.kubeletVersion = s.kubeletVersion;
    if (s.unschedulable !== undefined) n.spec = s.unschedulable ? { ...n.spec, unschedulable: true } : Object.fromEntries(Object.entries(n.spec).filter(([k]) => k !== "unschedulable"));
    n.metadata.resourceVersion = rv();
  };

  return {
    url,
    caFile: certs.ca,
    requests,
    clientCertificate,
    kubeconfig(who, form = "data") {
      const { cert, key } = clientCertificate(who);
      const b64 = (f: string) => readFileSync(f).toString("base64");
      const user = form === "data"
        ? [`    client-certificate-data: ${b64(cert)}`, `    client-key-data: ${b64(key)}`]
        : [`    client-certificate: ${cert}`, `    client-key: ${key}`];
      const cluster = form === "data" ? `    certificate-authority-data: ${b64(certs.ca)}` : `    certificate-authority: ${certs.ca}`;
      const file = join(dir, `${who.cn.replace(/[^\w.-]/g, "_")}-${form}.kubeconfig`);
      writeFileSync(file, ["apiVersion: v1", "kind: Config", "clusters:", "- name: test", "  cluster:", `    server: ${url}`, cluster, "contexts:", "- name: test", "  context: {cluster: test, user: test}", "current-context: test", "users:", "- name: test", "  user:", ...user, ""].join("\n"));
      return file;
    },
    addNode(name, s) {
      nodes.set(name, {
        kind: "Node", apiVersion: "v1",
        metadata: { name, uid: crypto.randomUUID(), resourceVersion: rv(), creationTimestamp: now(), labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux" } },
        spec: {},
        status: {
          conditions: [{ type: "Ready", status: "Unknown", reason: "NodeStatusNeverUpdated", message: "", lastHeartbeatTime: now(), lastTransitionTime: now() }],
          nodeInfo: { kubeletVersion: "v0.0.0", containerRuntimeVersion: "containerd://1.6.20", operatingSystem: "linux", architecture: "amd64" },
          addresses: [{ type: "Hostname", address: name }],
        },
      });
      setNode(name, { ready: true, kubeletVersion: "v1.33.1", heartbeat: now(), ...s });
    },
    node: (name) => structuredClone(nodes.get(name)),
    setNode,
    addPod(pod) {
      pods.set(`${pod.namespace}/${pod.name}`, podObject(pod));
    },
    podNames: (nodeName) => [...pods.values()].filter((x) => !nodeName || x.spec.nodeName === nodeName).map((x) => `${x.metadata.namespace}/${x.metadata.name}`),
    addDaemonSet(namespace, name) {
      daemonSets.set(`${namespace}/${name}`, { kind: "DaemonSet", apiVersion: "apps/v1", metadata: { name, namespace, uid: crypto.randomUUID() }, spec: {}, status: {} });
    },
    addBudget: (b) => void budgets.push(b),
    writes: () => requests.filter((r) => r.method !== "GET").map((r) => `${r.method} ${r.path}`),
    async stop() {
      for (const t of timers) clearTimeout(t);
      // kubectl keeps its connections open: close would wait for them.
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((resolve) => tls.close(() => resolve()));
    },
  };
}
