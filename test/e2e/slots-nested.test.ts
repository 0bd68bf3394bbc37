// upgrade, rollback and status switching real machines through a real systemd, in a nested host
// (test/helpers/nested-host.ts: systemd as PID 1, the slots kube1 and kube2 as nspawn inside
// nspawn, in the nested host's own /var/lib/machines). The compiled binary runs inside; the
// bound mirror serves two Kubernetes versions and a containerd that cannot run.
// Relies on this host's limits: a cgroup v1 host, so the machines inside run Debian's containerd
// 1.6 (the mirror's containerd is the host's) in a nested host booted with
// SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1. The node is joined (kubelet.conf and its client
// certificate): kubelet runs in the active slot because this machine's kernel, which the nested
// host and its slots share, was given the settings kubelet needs by the host task (realKernel).
// Its kubelet.conf names the test API server (test/helpers/test-apiserver.ts, not a cluster),
// reached from the nested host's network namespace on 127.0.0.1:6443 through
// test/helpers/tcp-forward.ts: every update's Ready gate reads the node there with the node's own
// credentials. The machines' kubelet is a stand-in that never registers, so the node's status is
// driven from here as a kubelet would post it: every half second, for the slot that runs, Ready
// (or not, as a test asks) with a fresh heartbeat and that slot's version.
// The tests run in order: each starts from the node the one before left.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compiledBinary, events, type RunResult } from "../helpers/binary";
import { combinedTestMirror } from "../helpers/mirror";
import { nestedHost, type NestedHost } from "../helpers/nested-host";
import { startTestApiServer, type TestApiServer } from "../helpers/test-apiserver";
import { tempDir } from "../helpers/tmp";

setDefaultTimeout(240_000);

const OLD = "1.33.1";
const NEW = "1.34.0";
/** A containerd release whose binary exits at once: a goal that can never become a healthy node. */
const BROKEN_CONTAINERD = "2.0.9";
const RECORD = "var/lib/kube-rootfs/slots.json";
const ARCH = process.arch === "arm64" ? "arm64" : "amd64";

let host: NestedHost;
const sh = (...argv: string[]) => host.sh(...argv);
const kubeRootfs = (...args: string[]) => host.kubeRootfs(...args);
const slotDir = (slot: string) => join(host.root, "var/lib/machines", slot);
const recordNow = () => JSON.parse(readFileSync(join(host.root, RECORD), "utf8"));
/** The node's slot: the record's, or kube1 before any update wrote one. */
const activeNow = (): string => (existsSync(join(host.root, RECORD)) ? recordNow().active : "kube1");
const unitState = async (verb: string, unit: string) => (await sh("systemctl", verb, unit)).stdout.trim();
const machineState = (slot: string) => unitState("is-active", `systemd-nspawn@${slot}.service`);
const running = async () => (await Promise.all(["kube1", "kube2"].map(async (s) => ((await machineState(s)) === "active" ? [s] : [])))).flat();
const secs = (from: number) => `${((performance.now() - from) / 1000).toFixed(1)}s`;

function ok(r: RunResult, what: string) {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr}\n${r.stdout.slice(-3000)}`);
}

/** kubelet's own answer, run in the slot's running machine. */
async function kubeletVersion(slot: string) {
  const r = await sh("systemd-run", "-M", slot, "--quiet", "--pipe", "--wait", "/usr/local/bin/kubelet", "--version");
  return r.stdout.trim();
}

/** status's last event; its exit code beside. */
async function status() {
  const r = await kubeRootfs("status");
  return { code: r.code, fields: events(r.stdout).at(-1)?.fields as { active: string; healthy: boolean; switch: { step: string } | null; slots: Array<Record<string, unknown>> } };
}

/** The client certificate a joined kubelet rotated to, and the link to it that its kubeconfig names. */
const CLIENT_PEM = "/var/lib/kubelet/pki/kubelet-client-2026-12-01-10-00-00.pem";
const CLIENT_CURRENT = "/var/lib/kubelet/pki/kubelet-client-current.pem";

/**
 * The identity a joined kubelet leaves: its kubeconfig as kubelet writes it after bootstrapping
 * (pkg/kubelet/certificate/bootstrap/bootstrap.go, writeKubeconfigFromBootstrapping), its client
 * certificate, its serving certificate, the cluster CA and a machine id. With the kubeconfig
 * there, health waits for kubelet: the mirror's stand-in, which starts only where kubelet would.
 */
function identity(api: TestApiServer, node: string): Record<string, string> {
  const ca = readFileSync(api.caFile, "utf8");
  const client = api.clientCertificate({ cn: `system:node:${node}`, org: "system:nodes" });
  return {
    "etc/kubernetes/kubelet.conf": [
      "apiVersion: v1",
      "clusters:",
      "- cluster:",
      `    certificate-authority-data: ${Buffer.from(ca).toString("base64")}`,
      `    server: ${api.url}`,
      "  name: default-cluster",
      "contexts:",
      "- context:",
      "    cluster: default-cluster",
      "    namespace: default",
      "    user: default-auth",
      "  name: default-context",
      "current-context: default-context",
      "kind: Config",
      "preferences: {}",
      "users:",
      "- name: default-auth",
      "  user:",
      `    client-certificate: ${CLIENT_CURRENT}`,
      `    client-key: ${CLIENT_CURRENT}`,
      "",
    ].join("\n"),
    // kubelet keeps its client certificate and key in one PEM file
    [CLIENT_PEM.slice(1)]: readFileSync(client.cert, "utf8") + readFileSync(client.key, "utf8"),
    "var/lib/kubelet/pki/kubelet.crt": "serving cert\n",
    "etc/kubernetes/pki/ca.crt": ca,
    "etc/machine-id": "0123456789abcdef0123456789abcdef\n",
  };
}
let IDENTITY: Record<string, string> = {};

const API_PORT = 6443;
let api: TestApiServer;
let forward: Bun.Subprocess<"ignore", "pipe", "inherit"> | undefined;
let reporting: Timer | undefined;
/** how the node's kubelet reports: Ready, NotReady, or Ready at the version it ran before */
let kubelet: "ready" | "not-ready" | "old-version" = "ready";
let node = "";
const versionOf = (slot: string) => (JSON.parse(readFileSync(join(slotDir(slot), "var/lib/kube-rootfs/goal.json"), "utf8")).goal.versions?.kubernetes as string | undefined) ?? OLD;

/** The test API server, its forward into the nested host, and the node's status posted as kubelet would. */
async function startApiServer() {
  node = host.name;
  const path = join(tempDir("apiserver-socket"), "api.sock");
  api = await startTestApiServer({ podGraceMs: 300, unixSocket: { path, forwardPort: API_PORT } });
  forward = Bun.spawn({ cmd: host.inNetwork([process.execPath, join(import.meta.dir, "../helpers/tcp-forward.ts"), `127.0.0.1:${API_PORT}`, path]), stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  const reader = forward.stdout.getReader();
  expect(new TextDecoder().decode((await reader.read()).value)).toContain("listening");
  reader.releaseLock();
  api.addNode(node, { kubeletVersion: `v${OLD}`, ready: false });
  let last = "";
  reporting = setInterval(async () => {
    const up = await running();
    if (up.length !== 1) return void api.setNode(node, { ready: false });
    const slot = up[0]!;
    const version = kubelet === "old-version" && last && last !== slot ? versionOf(last) : versionOf(slot);
    if (kubelet !== "old-version") last = slot;
    api.setNode(node, { ready: kubelet !== "not-ready", kubeletVersion: `v${version}`, heartbeat: new Date().toISOString() });
  }, 500);
}

/** kubelet in a slot's running machine: active, and never restarted since the machine started. */
async function kubeletRuns(slot: string) {
  const show = (await sh("systemctl", "-M", slot, "show", "kubelet.service", "-p", "ActiveState", "-p", "SubState", "-p", "NRestarts")).stdout;
  expect(show.trim().split("\n").sort()).toEqual(["ActiveState=active", "NRestarts=0", "SubState=running"]);
}

/** A containerd dir for the mirror whose containerd fails at once (the shim and ctr are the host's). */
function brokenContainerdDir(): string {
  const dir = tempDir("broken-containerd");
  writeFileSync(join(dir, "containerd"), "#!/bin/sh\necho 'containerd: this build does not run on this kernel' >&2\nexit 1\n");
  chmodSync(join(dir, "containerd"), 0o755);
  for (const b of ["containerd-shim-runc-v2", "ctr"]) symlinkSync(`/usr/bin/${b}`, join(dir, b));
  return dir;
}

beforeAll(async () => {
  const [bin, mirror] = await Promise.all([
    compiledBinary(),
    combinedTestMirror([
      { kubernetes: OLD, arch: [ARCH] },
      { kubernetes: NEW, arch: [ARCH] },
      { kubernetes: OLD, arch: [ARCH], containerd: BROKEN_CONTAINERD, containerdDir: brokenContainerdDir() },
    ]),
  ]);
  // strace: the crash tests kill upgrade at an exact point of its record writes.
  host = await nestedHost({ name: "sl-host", bin, mirrorDir: mirror.dir, packages: ["strace"], realKernel: true });
  await startApiServer();
  IDENTITY = identity(api, node);
  const t = performance.now();
  ok(await kubeRootfs("provision", "--machine", "kube1", ...host.provisionArgs, "--kubernetes-version", OLD), "provision kube1");
  for (const [rel, content] of Object.entries(IDENTITY)) {
    mkdirSync(join(slotDir("kube1"), rel, ".."), { recursive: true });
    writeFileSync(join(slotDir("kube1"), rel), content);
  }
  for (const secret of ["etc/kubernetes/kubelet.conf", CLIENT_PEM.slice(1)]) chmodSync(join(slotDir("kube1"), secret), 0o600);
  symlinkSync(CLIENT_PEM, join(slotDir("kube1"), CLIENT_CURRENT.slice(1)));
  ok(await kubeRootfs("start", "--machine", "kube1", "--timeout", "120"), "start kube1");
  await kubeletRuns("kube1");
  console.log(`kube1 provisioned and started: ${secs(t)}`);
}, 420_000);

afterAll(async () => {
  clearInterval(reporting);
  forward?.kill();
  await api?.stop();
  await host?.dispose();
}, 120_000);

describe("upgrade and rollback", () => {
  test("upgrade to another Kubernetes version: kube2 runs it with kube1's identity, kube1 stopped and disabled; status says so", async () => {
    const t = performance.now();
    const r = await kubeRootfs("upgrade", "--kubernetes-version", NEW, "--timeout", "120");
    console.log(`upgrade kube1 → kube2: ${secs(t)}`);
    ok(r, "upgrade");
    const last = events(r.stdout).at(-1)!;
    expect(last.msg).toBe("kube2 is active (was kube1)");
    expect(last.fields).toMatchObject({ active: "kube2", previous: "kube1" });
    expect(last.fields?.downtimeMs).toBeGreaterThan(0);

    expect(await running()).toEqual(["kube2"]);
    expect(await kubeletVersion("kube2")).toBe(`Kubernetes v${NEW}`);
    expect(await unitState("is-enabled", "systemd-nspawn@kube1.service")).toBe("disabled");
    expect(await unitState("is-enabled", "systemd-nspawn@kube2.service")).toBe("enabled");
    // Carried byte for byte, kubelet.conf among them; kubelet runs on it in kube2.
    for (const rel of Object.keys(IDENTITY)) expect(readFileSync(join(slotDir("kube2"), rel))).toEqual(readFileSync(join(slotDir("kube1"), rel)));
    expect(readFileSync(join(slotDir("kube2"), "etc/kubernetes/kubelet.conf"), "utf8")).toBe(IDENTITY["etc/kubernetes/kubelet.conf"]!);
    expect(statSync(join(slotDir("kube2"), "etc/kubernetes/kubelet.conf")).mode & 0o777).toBe(0o600);
    expect((await sh("readlink", `/var/lib/machines/kube2${CLIENT_CURRENT}`)).stdout.trim()).toBe(CLIENT_PEM);
    await kubeletRuns("kube2");

    const s = await status();
    expect(s.code).toBe(0);
    expect(s.fields).toMatchObject({ active: "kube2", previous: "kube1", switch: null, healthy: true });
    expect(s.fields.slots).toMatchObject([
      { name: "kube1", exists: true, running: false, active: false, enabled: false, kubernetes: OLD },
      { name: "kube2", exists: true, running: true, active: true, enabled: true, healthy: true, kubernetes: NEW },
    ]);
  });

  test("rollback: kube1 runs again with the old version, kube2 stopped", async () => {
    const t = performance.now();
    const r = await kubeRootfs("rollback", "--timeout", "120");
    console.log(`rollback kube2 → kube1: ${secs(t)}`);
    ok(r, "rollback");
    expect(events(r.stdout).at(-1)?.msg).toBe("kube1 is active (was kube2)");
    expect(await running()).toEqual(["kube1"]);
    expect(await kubeletVersion("kube1")).toBe(`Kubernetes v${OLD}`);
    await kubeletRuns("kube1");
    expect(recordNow()).toMatchObject({ active: "kube1", previous: "kube2", switch: null });
    expect((await status()).code).toBe(0);
  });

  test("an upgrade to a goal that cannot become a healthy node fails with one line, and the node is back on kube1", async () => {
    const t = performance.now();
    const r = await kubeRootfs("upgrade", "--containerd-version", BROKEN_CONTAINERD, "--timeout", "20");
    console.log(`failed upgrade and fall-back: ${secs(t)}`);
    expect(r.code).toBe(1);
    expect(await running()).toEqual(["kube1"]);
    expect(recordNow()).toMatchObject({ active: "kube1", switch: null });
    const s = await status();
    expect(s.code).toBe(0);
    expect(s.fields).toMatchObject({ active: "kube1", healthy: true });
    expect(r.stderr).toEndWith("; the node is back on kube1\n");
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toStartWith("kube-rootfs: upgrade: ");
  });

  test("a second upgrade while one runs fails at once, naming the first", async () => {
    expect((await sh("systemd-run", "--unit=sl-first", "--quiet", "kube-rootfs", "upgrade", "--kubernetes-version", NEW, "--log-format", "json")).code).toBe(0);
    const first = (await sh("systemctl", "show", "sl-first.service", "--property=MainPID", "--value")).stdout.trim();
    // The first takes the host lock first thing: the lock file appears with its pid in it.
    for (let i = 0; i < 200 && (await sh("cat", "/run/kube-rootfs/slots.lock")).stdout !== first; i++) await Bun.sleep(50);
    const t = performance.now();
    const second = await kubeRootfs("upgrade", "--kubernetes-version", NEW);
    console.log(`second upgrade refused in ${secs(t)}`);
    expect(second.code).toBe(1);
    expect(second.stderr).toBe(`kube-rootfs: upgrade: another upgrade or rollback (pid ${first}) is running (lock /run/kube-rootfs/slots.lock)\n`);
    await untilInactive("sl-first.service");
    // The first went on undisturbed: it switched the node.
    expect(recordNow()).toMatchObject({ active: "kube2", previous: "kube1", switch: null });
    expect(await running()).toEqual(["kube2"]);
  });
});

/**
 * Where a killed upgrade dies. `during: "provision"`: once the record says so (the idle slot's
 * provision takes seconds), by systemctl kill. `beforeRecordWrite: n`: strace sends SIGKILL
 * as the n-th record write begins, so step n-1's work is done and its record is the last one
 * written (writes: 1 provision, 2 stop-old, 3 start-new, 4 health, 5 ready (the node is joined: the
 * Ready gate reads it with its kubelet.conf; no cordon, as a kubelet may not), 6 record, 7 the final one).
 * strace traces upgrade's main thread alone (no -f: its children and threads run untraced, at
 * full speed), where each record write opens the record's dir once, to sweep stale temp files:
 * the n-th open of that dir is the n-th record write.
 */
type KillPoint = { during: "provision" } | { beforeRecordWrite: number };

async function killedUpgrade(unit: string, at: KillPoint) {
  const upgrade = ["kube-rootfs", "upgrade", "--timeout", "120", "--log-format", "json"];
  const argv = "during" in at ? upgrade : ["strace", "-qq", "-o", "/dev/null", "-P", "/var/lib/kube-rootfs", "-e", "trace=openat", "-e", `inject=openat:signal=KILL:when=${at.beforeRecordWrite}`, ...upgrade];
  expect((await sh("systemd-run", `--unit=${unit}`, "--quiet", ...argv)).code).toBe(0);
  if ("during" in at) {
    for (let i = 0; i < 600 && recordNow().switch?.step !== at.during; i++) await Bun.sleep(20);
    expect((await sh("systemctl", "kill", "-s", "KILL", unit)).code).toBe(0);
  }
  await untilInactive(unit);
  // It was killed, not done.
  expect(await unitState("is-active", unit)).toBe("failed");
  await sh("systemctl", "reset-failed", unit);
}

describe("an upgrade killed at each step: status reports it, the next upgrade converges", () => {
  const cases: Array<{ name: string; at: KillPoint; step: string }> = [
    { name: "during the idle slot's provision", at: { during: "provision" }, step: "provision" },
    { name: "after the stop of the old slot", at: { beforeRecordWrite: 3 }, step: "stop-old" },
    { name: "after the start of the new one", at: { beforeRecordWrite: 4 }, step: "start-new" },
    { name: "before the final record write", at: { beforeRecordWrite: 7 }, step: "record" },
  ];
  cases.forEach(({ name, at, step }, i) => {
    test(name, async () => {
      const from = recordNow().active as string;
      const t = performance.now();
      await killedUpgrade(`sl-crash${i}`, at);
      const rec = recordNow();
      expect(rec.switch).toMatchObject({ kind: "upgrade", from, step });
      // Never two nodes, whatever the kill left.
      expect((await running()).length).toBeLessThanOrEqual(1);

      const s = await status();
      expect(s.code).toBe(1);
      expect(s.fields.switch).toMatchObject({ step });

      ok(await kubeRootfs("upgrade", "--timeout", "120"), "the upgrade after the kill");
      const after = recordNow();
      expect(after.switch).toBeNull();
      expect(await running()).toEqual([after.active]);
      const healthy = await status();
      expect(healthy.code).toBe(0);
      expect(healthy.fields).toMatchObject({ active: after.active, healthy: true });
      console.log(`killed ${name} (record at ${step}), then converged on ${after.active}: ${secs(t)}`);
    });
  });
});

describe("graceful shutdown: the machine powers off through its own systemd, so kubelet's delay inhibitor holds it", () => {
  /** A delay inhibitor for `seconds` inside the slot, as kubelet takes one for its grace; resolves once logind lists it. */
  async function holdShutdown(slot: string, seconds: number) {
    ok(await sh("systemd-run", "-M", slot, "--unit=pods-stopping", "--quiet", "systemd-inhibit", "--mode=delay", "--what=shutdown", "--why=stopping pods", "sleep", String(seconds)), "inhibitor");
    for (let i = 0; i < 50; i++) {
      if ((await sh("systemd-run", "-M", slot, "--quiet", "--pipe", "--wait", "systemd-inhibit", "--list", "--no-legend")).stdout.includes("stopping pods")) return performance.now();
      await Bun.sleep(100);
    }
    throw new Error(`the inhibitor in ${slot} was never listed`);
  }
  const HELD = 8;

  test(`stop waits for the inhibitor (${HELD}s, beyond logind's default 5 s: the machine's logind drop-in allows the grace)`, async () => {
    const slot = activeNow();
    expect(readFileSync(join(slotDir(slot), "etc/systemd/logind.conf.d/10-kube-rootfs.conf"), "utf8")).toContain("InhibitDelayMaxSec=30\n");
    const held = await holdShutdown(slot, HELD);
    ok(await kubeRootfs("stop", "--machine", slot), "stop");
    const took = (performance.now() - held) / 1000;
    console.log(`stop with a ${HELD}s delay inhibitor: ${took.toFixed(1)}s`);
    expect(took).toBeGreaterThan(HELD - 0.5);
    expect(took).toBeLessThan(HELD + 15);
    expect(await running()).toEqual([]);
    ok(await kubeRootfs("start", "--machine", slot, "--timeout", "120"), "start again");
  });

  test("the signal path (machinectl poweroff, what stop did before) does not wait for it: the test above can fail", async () => {
    const slot = activeNow();
    const held = await holdShutdown(slot, HELD);
    ok(await sh("machinectl", "poweroff", slot), "machinectl poweroff");
    while ((await running()).includes(slot) && performance.now() - held < 30_000) await Bun.sleep(100);
    const took = (performance.now() - held) / 1000;
    console.log(`machinectl poweroff with a ${HELD}s delay inhibitor: ${took.toFixed(1)}s`);
    expect(took).toBeLessThan(HELD - 2);
    ok(await kubeRootfs("start", "--machine", slot, "--timeout", "120"), "start again");
  });

  test("the switch's stop of the old slot waits for it too (the idle slot staged first by --no-switch is not provisioned again)", async () => {
    const slot = activeNow();
    ok(await kubeRootfs("upgrade", "--no-switch"), "upgrade --no-switch");
    expect(recordNow()).toMatchObject({ active: slot, staged: slot === "kube1" ? "kube2" : "kube1" });
    await holdShutdown(slot, HELD);
    const r = await kubeRootfs("upgrade", "--timeout", "120");
    ok(r, "upgrade");
    expect(events(r.stdout).some((e) => e.msg.endsWith("is already provisioned with this goal (an earlier upgrade did not switch): not provisioning it again"))).toBe(true);
    const stopped = events(r.stdout).find((e) => e.msg === "stop-old completed");
    console.log(`the old slot's stop in the switch with a ${HELD}s delay inhibitor: ${((stopped?.duration ?? 0) / 1000).toFixed(1)}s`);
    expect(stopped?.duration).toBeGreaterThan((HELD - 1) * 1000);
    expect(await running()).toEqual([recordNow().active]);
  });
});

/** The cluster's steps with an updater's kubeconfig (cordon and drain) against the test API server. */
describe("the cluster's steps", () => {
  const KUBECONFIG_PATH = "/root/node-updater.kubeconfig";
  const withKubeconfig = (...args: string[]) => kubeRootfs(...args, "--kubeconfig", KUBECONFIG_PATH);
  /** The API's writes since `from`, as "PATCH cordon", "PATCH uncordon" and "evict ns/name". */
  const writesSince = (from: number) =>
    api.requests.slice(from).filter((r) => r.method !== "GET").map((r) =>
      r.method === "PATCH" ? `PATCH ${(r.body as { spec: { unschedulable: boolean | null } }).spec.unschedulable ? "cordon" : "uncordon"}` : `evict ${r.path.replace(/^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/eviction$/, "$1/$2")}`,
    );
  const workloads = () => {
    api.addDaemonSet("kube-system", "kube-proxy");
    api.addPod({ namespace: "kube-system", name: `kube-proxy-${node}`, nodeName: node, owner: { kind: "DaemonSet", name: "kube-proxy" } });
    api.addPod({ namespace: "kube-system", name: `static-web-${node}`, nodeName: node, mirror: true });
    for (const i of [1, 2, 3]) api.addPod({ namespace: "apps", name: `web-${i}`, nodeName: node, owner: { kind: "ReplicaSet", name: "web-5d8" } });
    api.addPod({ namespace: "apps", name: "cache-0", nodeName: node, owner: { kind: "StatefulSet", name: "cache" }, emptyDir: true });
  };

  beforeAll(() => {
    writeFileSync(join(host.root, KUBECONFIG_PATH.slice(1)), readFileSync(api.kubeconfig({ cn: "kube-rootfs:node-updater" })));
  });


  test("--dry-run lists the cluster steps: the node now, the cordon, the pods a drain would evict and keep, the Ready gate; nothing changes", async () => {
    workloads();
    const from = api.requests.length;
    const r = await withKubeconfig("upgrade", "--kubernetes-version", NEW, "--dry-run");
    ok(r, "upgrade --dry-run");
    const plan = events(r.stdout).find((e) => e.msg === "plan")!;
    expect(plan.fields?.steps).toEqual(["provision", "cordon", "drain", "stop-old", "carry identity", "start-new", "health", "ready", "uncordon", "record"]);
    const steps = events(r.stdout).find((e) => e.msg === "cluster steps")!;
    expect(steps.fields).toMatchObject({ node, cordon: "cordon, uncordon once Ready", ready: expect.stringContaining(`kubelet ${NEW}`) });
    expect((steps.fields!.drain as { evict: string[] }).evict.sort()).toEqual(["apps/cache-0", "apps/web-1", "apps/web-2", "apps/web-3"]);
    expect(writesSince(from)).toEqual([]);
  });

  test("a drained upgrade: cordon, every pod but the DaemonSet's and the mirror evicted before the old slot stops, Ready at the new version, then uncordon", async () => {
    const from = api.requests.length;
    const before = activeNow();
    const r = await withKubeconfig("upgrade", "--kubernetes-version", NEW, "--timeout", "120");
    ok(r, "drained upgrade");
    const ev = events(r.stdout).map((e) => e.msg);
    expect(ev.indexOf(`node ${node} drained`)).toBeLessThan(ev.indexOf("stop-old started"));
    expect(ev.indexOf(`node ${node} is Ready at ${NEW}`)).toBeLessThan(ev.indexOf(`node ${node} uncordoned`));
    const writes = writesSince(from);
    expect(writes[0]).toBe("PATCH cordon");
    expect(writes.slice(1, -1).sort()).toEqual(["evict apps/cache-0", "evict apps/web-1", "evict apps/web-2", "evict apps/web-3"]);
    expect(writes.at(-1)).toBe("PATCH uncordon");
    expect(api.podNames(node).sort()).toEqual([`kube-system/kube-proxy-${node}`, `kube-system/static-web-${node}`]);
    expect(await running()).toEqual([activeNow()]);
    expect(activeNow()).not.toBe(before);
    const s = await kubeRootfs("status", "--kubeconfig", KUBECONFIG_PATH);
    expect(s.code).toBe(0);
    expect(events(s.stdout).at(-1)?.fields?.cluster).toMatchObject({ node, seen: { ready: "True", kubeletVersion: NEW, unschedulable: false } });
  });

  test("a budget holds a pod past --drain-timeout: exit 1 naming it, the old slot running and untouched, the node uncordoned, the idle slot kept", async () => {
    api.addPod({ namespace: "db", name: "pg-0", nodeName: node, owner: { kind: "StatefulSet", name: "pg" }, labels: { app: "pg" } });
    const budget = { namespace: "db", name: "pg", matchLabels: { app: "pg" }, disruptionsAllowed: 0, desiredHealthy: 1, currentHealthy: 1 };
    api.addBudget(budget);
    const before = activeNow();
    const r = await withKubeconfig("upgrade", "--kubernetes-version", OLD, "--drain-timeout", "6", "--timeout", "120");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`kube-rootfs: upgrade: the drain did not finish within 6s: 1 pod still on the node: db/pg-0 (The disruption budget pg needs 1 healthy pods and has 1 currently); ${before} was not stopped; node ${node} uncordoned\n`);
    expect(await running()).toEqual([before]);
    expect(api.node(node).spec.unschedulable).toBeUndefined();
    expect(recordNow()).toMatchObject({ active: before, switch: null, staged: before === "kube1" ? "kube2" : "kube1" });
    // Retried, as kubectl drain retries a 429.
    expect(api.requests.filter((q) => q.path === "/api/v1/namespaces/db/pods/pg-0/eviction").length).toBeGreaterThanOrEqual(2);
    budget.disruptionsAllowed = 1;
  });

  test("NotReady after the switch: fall back; the old node is uncordoned once it is Ready again", async () => {
    const before = activeNow();
    kubelet = "not-ready";
    let stopped = false;
    const flip = setInterval(async () => {
      // The new slot never gets Ready; once the old one runs again its kubelet reports Ready.
      const up = await running();
      if (!up.includes(before)) stopped = true;
      else if (stopped) kubelet = "ready";
    }, 300);
    const r = await withKubeconfig("upgrade", "--kubernetes-version", OLD, "--timeout", "20").finally(() => clearInterval(flip));
    kubelet = "ready";
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^kube-rootfs: upgrade: node ${node} is Ready=False \\(KubeletNotReady: [^)]*\\) after 20s; the node is back on ${before}\\n$`));
    expect(await running()).toEqual([before]);
    expect(api.node(node).spec.unschedulable).toBeUndefined();
    expect(recordNow()).toMatchObject({ active: before, switch: null });
  });

  test("the API server reports the old kubelet version after the switch: fall back", async () => {
    const before = activeNow();
    kubelet = "old-version";
    const r = await withKubeconfig("upgrade", "--kubernetes-version", versionOf(before) === NEW ? OLD : NEW, "--timeout", "15");
    kubelet = "ready";
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`reports kubelet ${versionOf(before)}, not`);
    expect(r.stderr).toEndWith(`; the node is back on ${before}\n`);
    expect(await running()).toEqual([before]);
    expect(api.node(node).spec.unschedulable).toBeUndefined();
  });

  test("a node its operator cordoned stays cordoned after the update", async () => {
    api.setNode(node, { unschedulable: true });
    const from = api.requests.length;
    ok(await withKubeconfig("upgrade", "--timeout", "120"), "upgrade of a cordoned node");
    expect(writesSince(from).filter((w) => w.startsWith("PATCH"))).toEqual([]);
    expect(api.node(node).spec.unschedulable).toBe(true);
    api.setNode(node, { unschedulable: false });
  });

  test("status exits 1 while the cluster says NotReady, naming why", async () => {
    kubelet = "not-ready";
    await Bun.sleep(1500);
    const s = await kubeRootfs("status", "--kubeconfig", KUBECONFIG_PATH);
    kubelet = "ready";
    expect(s.code).toBe(1);
    expect(events(s.stdout).at(-1)?.msg).toMatch(new RegExp(`^not healthy: the cluster says node ${node} is Ready=False`));
  });

  test("killed mid-drain: status settles it, uncordoning the node", async () => {
    api.addPod({ namespace: "db", name: "queue-0", nodeName: node, owner: { kind: "StatefulSet", name: "queue" }, labels: { app: "queue" } });
    const budget = { namespace: "db", name: "queue", matchLabels: { app: "queue" }, disruptionsAllowed: 0, desiredHealthy: 1, currentHealthy: 1 };
    api.addBudget(budget);
    api.addPod({ namespace: "apps", name: "web-9", nodeName: node, owner: { kind: "ReplicaSet", name: "web-5d8" } });
    expect((await sh("systemd-run", "--unit=sl-drain-kill", "--quiet", "kube-rootfs", "upgrade", "--kubeconfig", KUBECONFIG_PATH, "--log-format", "json")).code).toBe(0);
    for (let i = 0; i < 600 && (!existsSync(join(host.root, RECORD)) || recordNow().switch?.step !== "drain"); i++) await Bun.sleep(50);
    await Bun.sleep(1000);
    expect((await sh("systemctl", "kill", "-s", "KILL", "sl-drain-kill")).code).toBe(0);
    await untilInactive("sl-drain-kill.service");
    await sh("systemctl", "reset-failed", "sl-drain-kill");
    expect(recordNow().switch).toMatchObject({ step: "drain", cluster: { node, wasUnschedulable: false } });
    expect(api.node(node).spec.unschedulable).toBe(true);
    // The old slot was never touched: status settles it, the node uncordoned.
    const s = await kubeRootfs("status", "--kubeconfig", KUBECONFIG_PATH);
    expect(events(s.stdout).find((e) => e.level === "warn")?.msg).toBe(`an interrupted upgrade stopped at drain, before ${activeNow()} was touched: clearing it and uncordoning node ${node}`);
    expect(s.code).toBe(0);
    expect(recordNow().switch).toBeNull();
    expect(api.node(node).spec.unschedulable).toBeUndefined();
    budget.disruptionsAllowed = 5;
  });

  test("killed right after the cordon: the next upgrade uncordons before it goes on", async () => {
    // Record writes: 1 provision, 2 cordon, 3 drain: killed as the third begins, the cordon is done.
    const unit = "sl-cordon-kill";
    const argv = ["strace", "-qq", "-o", "/dev/null", "-P", "/var/lib/kube-rootfs", "-e", "trace=openat", "-e", "inject=openat:signal=KILL:when=3", "kube-rootfs", "upgrade", "--kubeconfig", KUBECONFIG_PATH, "--log-format", "json"];
    expect((await sh("systemd-run", `--unit=${unit}`, "--quiet", ...argv)).code).toBe(0);
    await untilInactive(unit);
    await sh("systemctl", "reset-failed", unit);
    expect(recordNow().switch).toMatchObject({ step: "cordon" });
    expect(api.node(node).spec.unschedulable).toBe(true);
    const from = api.requests.length;
    ok(await withKubeconfig("upgrade", "--timeout", "120"), "the upgrade after the kill");
    expect(writesSince(from)[0]).toBe("PATCH uncordon");
    expect(api.node(node).spec.unschedulable).toBeUndefined();
    expect(recordNow().switch).toBeNull();
  });
});

/** Wait until a transient unit inside has ended. */
async function untilInactive(unit: string) {
  for (let i = 0; i < 1200; i++) {
    if (!["active", "activating", "deactivating"].includes(await unitState("is-active", unit))) return;
    await Bun.sleep(100);
  }
  throw new Error(`${unit} still runs after 120s`);
}
