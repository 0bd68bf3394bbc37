// upgrade, rollback and status switching real machines through a real systemd, in a nested host
// (test/helpers/nested-host.ts: systemd as PID 1, the slots kube1 and kube2 as nspawn inside
// nspawn, in the nested host's own /var/lib/machines). The compiled binary runs inside; the
// bound mirror serves two Kubernetes versions and a containerd that cannot run.
// Relies on this host's limits: a cgroup v1 host, so the machines inside run Debian's containerd
// 1.6 (the mirror's containerd is the host's) in a nested host booted with
// SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1.
// The tests run in order: each starts from the node the one before left.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compiledBinary, events, type RunResult } from "../helpers/binary";
import { combinedTestMirror } from "../helpers/mirror";
import { nestedHost, type NestedHost } from "../helpers/nested-host";
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

/** The identity a joined kubelet leaves (without kubeconfigs: with join material, health would wait for kubelet, which is a stand-in here). */
const IDENTITY = {
  "var/lib/kubelet/pki/kubelet-client-2026-12-01-10-00-00.pem": "client cert and key\n",
  "var/lib/kubelet/pki/kubelet.crt": "serving cert\n",
  "etc/kubernetes/pki/ca.crt": "cluster CA\n",
  "etc/machine-id": "0123456789abcdef0123456789abcdef\n",
};

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
  host = await nestedHost({ name: "sl-host", bin, mirrorDir: mirror.dir, packages: ["strace"] });
  const t = performance.now();
  ok(await kubeRootfs("provision", "--machine", "kube1", ...host.provisionArgs, "--kubernetes-version", OLD), "provision kube1");
  for (const [rel, content] of Object.entries(IDENTITY)) {
    mkdirSync(join(slotDir("kube1"), rel, ".."), { recursive: true });
    writeFileSync(join(slotDir("kube1"), rel), content);
  }
  chmodSync(join(slotDir("kube1"), "var/lib/kubelet/pki/kubelet-client-2026-12-01-10-00-00.pem"), 0o600);
  symlinkSync("/var/lib/kubelet/pki/kubelet-client-2026-12-01-10-00-00.pem", join(slotDir("kube1"), "var/lib/kubelet/pki/kubelet-client-current.pem"));
  ok(await kubeRootfs("start", "--machine", "kube1", "--timeout", "120"), "start kube1");
  console.log(`kube1 provisioned and started: ${secs(t)}`);
}, 420_000);

afterAll(async () => {
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
    for (const rel of Object.keys(IDENTITY)) expect(readFileSync(join(slotDir("kube2"), rel))).toEqual(readFileSync(join(slotDir("kube1"), rel)));
    expect((await sh("readlink", "/var/lib/machines/kube2/var/lib/kubelet/pki/kubelet-client-current.pem")).stdout.trim()).toBe("/var/lib/kubelet/pki/kubelet-client-2026-12-01-10-00-00.pem");

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
 * written (writes: 1 provision, 2 stop-old, 3 start-new, 4 health, 5 record, 6 the final one).
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
    { name: "before the final record write", at: { beforeRecordWrite: 6 }, step: "record" },
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

/** Wait until a transient unit inside has ended. */
async function untilInactive(unit: string) {
  for (let i = 0; i < 1200; i++) {
    if (!["active", "activating", "deactivating"].includes(await unitState("is-active", unit))) return;
    await Bun.sleep(100);
  }
  throw new Error(`${unit} still runs after 120s`);
}
