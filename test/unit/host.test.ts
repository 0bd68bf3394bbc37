// The host task against a fake host root (/proc/sys, /proc/swaps and /etc under a temp dir): what
// it writes, what it sets in the running kernel, what it leaves alone, the swap paths per
// Kubernetes version, host.sysctls false as blockers, and the host manifest.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { GoalInput } from "../../src/config/schema";
import { readSysctl, sysctlPath } from "../../src/host/sysctl";
import { activeSwaps, fstabSwapLines } from "../../src/host/swap";
import { hostDrift } from "../../src/hostprep/drift";
import { readHostManifest, recordMachine } from "../../src/hostprep/manifest";
import { SYSCTL_FILE } from "../../src/hostprep/settings";
import { FSTAB_BACKUP, SWAP_COMMENT, uncommentSwapLines } from "../../src/hostprep/swap";
import { hostTask } from "../../src/hostprep/task";
import { readinessChecks } from "../../src/readiness";
import { runChecks } from "../../src/readiness/check";
import { realHost } from "../../src/host/probe";
import { provisionPlan } from "../../src/provision";
import { runtimeFiles } from "../../src/runtime/files";
import { events, runSource } from "../helpers/binary";
import { fakeHostRoot, type FakeHostOptions } from "../helpers/fake-host";
import { runLogged, tempDir, testGoal } from "../helpers/goal";

const goalOn = (root: string, input: GoalInput = {}) => testGoal({ ...input, host: { root, ...input.host } });
const sysctlFile = (root: string) => readFileSync(join(root, SYSCTL_FILE), "utf8");
const setEvents = (events: Array<{ msg: string; fields?: Record<string, unknown> }>, msg = "set") => events.filter((e) => e.msg === msg).map((e) => e.fields);

/** The readiness reports of a provision of this goal, by name. */
async function readiness(input: GoalInput, host: FakeHostOptions = {}) {
  const goal = goalOn(fakeHostRoot(host), input);
  const reports = await runChecks(readinessChecks(goal, provisionPlan(goal).needs()), realHost);
  return Object.fromEntries(reports.map((r) => [r.name, r]));
}

describe("kernel settings", () => {
  test("a stock host: the file holds every setting, and only the values that differ are set in the running kernel", async () => {
    const root = fakeHostRoot();
    const { outcome, events } = await runLogged(hostTask(goalOn(root)));
    expect(outcome).toBe("completed");
    const file = sysctlFile(root);
    for (const line of [
      "vm.overcommit_memory = 1", "vm.panic_on_oom = 0", "kernel.panic = 10", "kernel.panic_on_oops = 1",
      "kernel.keys.root_maxkeys = 1000000", "kernel.keys.root_maxbytes = 25000000", "net.ipv4.ip_forward = 1",
      "-net.bridge.bridge-nf-call-iptables = 1", "-net.bridge.bridge-nf-call-ip6tables = 1",
      "net.ipv4.conf.all.rp_filter = 0", "net.ipv4.conf.default.rp_filter = 0",
      "fs.inotify.max_user_instances = 8192", "fs.inotify.max_user_watches = 524288",
    ]) expect(file.split("\n")).toContain(line);
    expect(file).not.toContain("ipv6"); // no IPv6 in the goal
    expect(statSync(join(root, SYSCTL_FILE)).mode & 0o7777).toBe(0o644);
    // Each value that differed, and none that was right already (panic_on_oom, the keys limits, all.rp_filter).
    expect(setEvents(events)).toEqual([
      { key: "vm.overcommit_memory", from: "0", to: "1" },
      { key: "kernel.panic", from: "1", to: "10" },
      { key: "kernel.panic_on_oops", from: "0", to: "1" },
      { key: "net.ipv4.ip_forward", from: "0", to: "1" },
      { key: "net.bridge.bridge-nf-call-iptables", from: "0", to: "1" },
      { key: "net.bridge.bridge-nf-call-ip6tables", from: "0", to: "1" },
      { key: "net.ipv4.conf.default.rp_filter", from: "2", to: "0" },
      { key: "fs.inotify.max_user_instances", from: "128", to: "8192" },
      { key: "fs.inotify.max_user_watches", from: "65536", to: "524288" },
    ]);
    expect(readSysctl(root, "vm.overcommit_memory")).toBe("1");
    expect(readSysctl(root, "kernel.panic")).toBe("10");
    expect(readSysctl(root, "fs.inotify.max_user_watches")).toBe("524288");
    // A second run finds everything in place.
    const again = await runLogged(hostTask(goalOn(root)));
    expect(again.outcome).toBe("skipped");
    expect(setEvents(again.events)).toEqual([]);
  });

  test("inotify limits are at least ours: a higher value the host has is kept, in the file too", async () => {
    const root = fakeHostRoot({ sysctls: { "fs.inotify.max_user_watches": "1048576", "fs.inotify.max_user_instances": "8192" } });
    const { events } = await runLogged(hostTask(goalOn(root)));
    expect(sysctlFile(root)).toContain("fs.inotify.max_user_watches = 1048576\n");
    expect(setEvents(events).map((e) => e?.key)).not.toContain("fs.inotify.max_user_watches");
    expect(setEvents(events).map((e) => e?.key)).not.toContain("fs.inotify.max_user_instances");
    expect(readSysctl(root, "fs.inotify.max_user_watches")).toBe("1048576");
  });

  test("bridge netfilter only while br_netfilter is loaded; IPv6 forwarding only for an IPv6 cluster", async () => {
    const noBridge = fakeHostRoot({ sysctls: { "net.bridge.bridge-nf-call-iptables": undefined, "net.bridge.bridge-nf-call-ip6tables": undefined } });
    await runLogged(hostTask(goalOn(noBridge)));
    expect(sysctlFile(noBridge)).not.toContain("net.bridge");
    const v6 = fakeHostRoot();
    const { events } = await runLogged(hostTask(goalOn(v6, { kubelet: { clusterDNS: ["fd00::a"] } })));
    expect(sysctlFile(v6)).toContain("net.ipv6.conf.all.forwarding = 1\n");
    expect(setEvents(events)).toContainEqual({ key: "net.ipv6.conf.all.forwarding", from: "0", to: "1" });
  });

  test("a dry run names the file and each value it would set, and changes nothing", async () => {
    const root = fakeHostRoot();
    const { events } = await runLogged(hostTask(goalOn(root)), { dryRun: true });
    expect(events.find((e) => e.msg === "would write")?.fields).toEqual({ path: join(root, SYSCTL_FILE) });
    expect(setEvents(events, "would set")).toContainEqual({ key: "vm.overcommit_memory", from: "0", to: "1" });
    expect(existsSync(join(root, SYSCTL_FILE))).toBe(false);
    expect(readHostManifest(root)).toBeUndefined();
    expect(readSysctl(root, "vm.overcommit_memory")).toBe("0");
  });

  test("the host manifest records the file with its sha256 and the values the kernel was given", async () => {
    const root = fakeHostRoot();
    await runLogged(hostTask(goalOn(root)));
    const m = readHostManifest(root)!;
    const sha = new Bun.CryptoHasher("sha256").update(sysctlFile(root)).digest("hex");
    expect(m.files).toEqual([{ path: SYSCTL_FILE, sha256: sha, what: "kernel settings the node needs (sysctl.d)" }]);
    expect(m.sysctls).toContainEqual({ key: "kernel.panic", value: "10", rule: "exact" });
    expect(m.sysctls).toContainEqual({ key: "fs.inotify.max_user_watches", value: "524288", rule: "at-least" });
  });

  test("a machine recorded just so is left alone: no lock taken, nothing written; a changed one is rewritten", async () => {
    const root = fakeHostRoot();
    const kube1 = { name: "kube1", machineDir: "/var/lib/machines/kube1", nspawnConfigFile: "/etc/systemd/nspawn/kube1.nspawn", serviceOverrideFile: "/o.conf" };
    await recordMachine(root, kube1);
    const path = join(root, "var/lib/kube-rootfs/host.json");
    const first = statSync(path);
    // A lock left by a live process would hold up any update: a re-run never asks for it.
    writeFileSync(`${path}.lock`, String(process.ppid));
    await recordMachine(root, { ...kube1 });
    expect(statSync(path).ino).toBe(first.ino);
    rmSync(`${path}.lock`);
    await recordMachine(root, { ...kube1, machineDir: "/srv/kube1" });
    expect(statSync(path).ino).not.toBe(first.ino);
    expect(readHostManifest(root)!.machines).toEqual([{ ...kube1, machineDir: "/srv/kube1" }]);
  });

  test("a kernel without a setting the node needs fails the run naming it", async () => {
    const root = fakeHostRoot({ sysctls: { "kernel.panic_on_oops": undefined } });
    await expect(runLogged(hostTask(goalOn(root)))).rejects.toThrow(`host: the running kernel has no kernel.panic_on_oops (${root}/proc/sys/kernel/panic_on_oops)`);
  });
});

describe("readiness: per setting, what the host has and what will be written", () => {
  test("host.sysctls true: each says what the host has and what will be written; none blocks", async () => {
    const r = await readiness({});
    expect(r["sysctl vm.overcommit_memory"]).toMatchObject({ status: "ok", message: `the host has 0, the node needs 1: will write 1 to ${SYSCTL_FILE} and set it now` });
    expect(r["sysctl vm.panic_on_oom"]).toMatchObject({ status: "ok", message: "0 (the node needs 0)" });
    expect(r["sysctl fs.inotify.max_user_watches"]).toMatchObject({ status: "ok", message: `the host has 65536, the node needs at least 524288: will write 524288 to ${SYSCTL_FILE} and set it now` });
  });

  test("host.sysctls false: each value the host lacks is a blocker naming setting, expected value and fix; the task changes nothing", async () => {
    const r = await readiness({ host: { sysctls: false } });
    expect(r["sysctl kernel.panic"]).toEqual({
      name: "sysctl kernel.panic",
      status: "fail",
      message: "the host has 1, the node needs 10, and host.sysctls is false",
      fix: `echo 'kernel.panic = 10' >> ${SYSCTL_FILE} && sysctl --system, or let kube-rootfs set it (host.sysctls true)`,
    });
    expect(r["sysctl vm.panic_on_oom"]!.status).toBe("ok");
    const root = fakeHostRoot();
    expect((await runLogged(hostTask(goalOn(root, { host: { sysctls: false } })))).outcome).toBe("skipped");
    expect(existsSync(join(root, SYSCTL_FILE))).toBe(false);
    expect(readSysctl(root, "kernel.panic")).toBe("1");
  });

  test("with --skip-phases host a value the host lacks is a warning: kubelet will exit", async () => {
    const r = await readiness({ skipPhases: ["host"] });
    expect(r["sysctl kernel.panic"]).toMatchObject({ status: "warn", message: "the host has 1, the node needs 10, and the host task is skipped: kubelet will exit" });
  });
});

describe("swap", () => {
  const swapOn = { swaps: ["/swapfile                               file\t\t1048572\t\t0\t\t-2"] };
  const kubeletConfig = (input: GoalInput, host: FakeHostOptions) =>
    Bun.YAML.parse(runtimeFiles(goalOn(fakeHostRoot(host), input)).find((f) => f.name === "kubelet-config")!.content) as Record<string, unknown>;

  test("/proc/swaps and fstab are read as the kernel and mount write them", () => {
    expect(activeSwaps(fakeHostRoot({ swaps: ["/swap\\040file file 10 0 -2", "/dev/sda2 partition 10 0 -3"] }))).toEqual(["/swap file", "/dev/sda2"]);
    expect(fstabSwapLines("UUID=1 / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n# /old none swap sw 0 0\n")).toEqual([1]);
  });

  test("kept on Kubernetes 1.30 and later: failSwapOn false and swapBehavior NoSwap; without swap nothing changes", async () => {
    expect(kubeletConfig({ versions: { kubernetes: "1.30.0" } }, swapOn)).toMatchObject({ failSwapOn: false, memorySwap: { swapBehavior: "NoSwap" } });
    expect(kubeletConfig({ versions: { kubernetes: "1.33.1" } }, swapOn)).toMatchObject({ failSwapOn: false, memorySwap: { swapBehavior: "NoSwap" } });
    expect(kubeletConfig({ versions: { kubernetes: "1.33.1" } }, {}).failSwapOn).toBeUndefined();
    expect((await readiness({ versions: { kubernetes: "1.33.1" } }, swapOn)).swap).toMatchObject({ status: "ok" });
  });

  test("kept on Kubernetes before 1.30: a blocker with the fix, and the config is left as kubelet's default", async () => {
    expect(kubeletConfig({ versions: { kubernetes: "1.29.4" } }, swapOn).failSwapOn).toBeUndefined();
    expect((await readiness({ versions: { kubernetes: "1.29.4" } }, swapOn)).swap).toEqual({
      name: "swap",
      status: "fail",
      message: "active swap (/swapfile): kubelet 1.29.4 exits on a host with swap, and keeping pods off it (swapBehavior NoSwap) needs Kubernetes 1.30 or later",
      fix: "turn swap off with --host-swap off (or swapoff -a and comment the swap lines out of /etc/fstab), or use --kubernetes-version 1.30 or later",
    });
    expect((await readiness({ versions: { kubernetes: "1.29.4" }, host: { swap: "off" } }, swapOn)).swap!.status).toBe("ok");
  });

  test("off: the fstab's swap lines commented out, the original kept once, recorded; reset's un-commenting restores it", async () => {
    const fstab = "UUID=1 / ext4 defaults 0 1\n/swapfile none swap sw 0 0\nUUID=2 none swap sw 0 0\n";
    const root = fakeHostRoot({ fstab });
    const goal = goalOn(root, { host: { swap: "off", sysctls: false } });
    expect(kubeletConfig({ host: { swap: "off" } }, swapOn).failSwapOn).toBeUndefined();
    const { outcome } = await runLogged(hostTask(goal));
    expect(outcome).toBe("completed");
    const now = readFileSync(join(root, "etc/fstab"), "utf8");
    expect(now).toBe(`UUID=1 / ext4 defaults 0 1\n${SWAP_COMMENT}/swapfile none swap sw 0 0\n${SWAP_COMMENT}UUID=2 none swap sw 0 0\n`);
    expect(fstabSwapLines(now)).toEqual([]);
    expect(readFileSync(join(root, FSTAB_BACKUP), "utf8")).toBe(fstab);
    expect(readHostManifest(root)!.fstab).toEqual({ path: "/etc/fstab", backup: FSTAB_BACKUP, lines: ["/swapfile none swap sw 0 0", "UUID=2 none swap sw 0 0"] });
    expect((await runLogged(hostTask(goal))).outcome).toBe("skipped");
    expect(readFileSync(join(root, FSTAB_BACKUP), "utf8")).toBe(fstab);
    expect(uncommentSwapLines(now, readHostManifest(root)!.fstab!.lines)).toBe(fstab);
  });

  test("off with a swap area swapoff cannot turn off: the run fails naming it", async () => {
    const root = fakeHostRoot({ swaps: ["/nonexistent-swapfile file 10 0 -2"] });
    await expect(runLogged(hostTask(goalOn(root, { host: { swap: "off", sysctls: false } })))).rejects.toThrow(/^host\.swap off: swapoff \/nonexistent-swapfile failed \(exit \d+\)/);
  });
});

describe("verify: host drift", () => {
  test("a kernel value changed back, the file changed or removed, a swap line active again; a higher at-least value is fine", async () => {
    const root = fakeHostRoot({ fstab: "/swapfile none swap sw 0 0\n" });
    const goal = goalOn(root, { host: { swap: "off" } });
    await runLogged(hostTask(goal));
    expect(await hostDrift(goal)).toEqual([]);
    writeFileSync(sysctlPath(root, "kernel.panic"), "1\n");
    writeFileSync(sysctlPath(root, "fs.inotify.max_user_watches"), "1048576\n");
    writeFileSync(join(root, "etc/fstab"), "/swapfile none swap sw 0 0\n");
    writeFileSync(join(root, SYSCTL_FILE), "kernel.panic = 1\n");
    const sha = new Bun.CryptoHasher("sha256").update("kernel.panic = 1\n").digest("hex");
    const recorded = readHostManifest(root)!.files[0]!.sha256;
    expect(await hostDrift(goal)).toEqual([
      { path: join(root, SYSCTL_FILE), expected: `kernel settings the node needs (sysctl.d), sha256 ${recorded} as the last provision wrote it`, found: `changed (sha256 ${sha})` },
      { path: sysctlPath(root, "kernel.panic"), expected: "kernel.panic 10 in the running kernel", found: "1 (changed back)" },
      { path: join(root, "etc/fstab"), expected: "swap line commented out (host.swap off)", found: "active again: /swapfile none swap sw 0 0" },
    ]);
    rmSync(join(root, SYSCTL_FILE));
    expect((await hostDrift(goal))[0]).toMatchObject({ path: join(root, SYSCTL_FILE), found: "missing" });
  });

  test("verify exits 3 naming a setting changed back on the host; with --skip-phases host the host is not its business", async () => {
    const root = fakeHostRoot();
    const dir = tempDir("verify-host");
    const flags = [
      "--machine", "vh1", "--machine-dir", join(dir, "vh1"), "--nspawn-config-file", join(dir, "vh1.nspawn"), "--service-override-file", join(dir, "o.conf"),
      "--cache-dir", join(dir, "cache"), "--bootstrap-method", "none", "--gpu-mode", "none", "--host-root", root, "--log-format", "json",
    ];
    const provisioned = await runSource(["provision", ...flags, "--skip-phases", "kube,cri,cni,images"]);
    expect(provisioned.code).toBe(0);
    expect(events(provisioned.stdout).filter((e) => e.task === "host" && e.msg === "set").length).toBeGreaterThan(0);
    const verify = (...extra: string[]) => runSource(["verify", "--machine-dir", join(dir, "vh1"), "--host-root", root, "--log-format", "json", ...extra]);
    const clean = await verify();
    expect(events(clean.stdout).filter((e) => e.msg === "drift")).toEqual([]);
    expect(clean.code).toBe(0);
    writeFileSync(sysctlPath(root, "vm.overcommit_memory"), "0\n");
    const drifted = await verify();
    expect(drifted.code).toBe(3);
    expect(events(drifted.stdout).filter((e) => e.msg === "drift").map((e) => e.fields)).toEqual([
      { path: sysctlPath(root, "vm.overcommit_memory"), expected: "vm.overcommit_memory 1 in the running kernel", found: "0 (changed back)" },
    ]);
    const skipped = await verify("--skip-phases", "kube,cri,cni,images,host");
    expect(events(skipped.stdout).filter((e) => e.msg === "drift")).toEqual([]);
    expect(skipped.code).toBe(0);
  });
});
