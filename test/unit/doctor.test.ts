// Readiness and doctor: every precondition against injected host facts, chosen from the one
// workspace decision and the phases left after --skip-phases; the blockers listed together;
// and the real commands on this host.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { HostFacts } from "../../src/host/facts";
import { resolveGoal, type Resolved } from "../../src/config/resolve";
import { GoalSchema, type GoalInput } from "../../src/config/schema";
import { doctorChecks } from "../../src/doctor";
import { NotReady } from "../../src/errors";
import { provisionPlan } from "../../src/provision";
import { imagePushChecks, readinessChecks, readinessTask, scratchChecks, type Needs } from "../../src/readiness";
import { formatReport, runChecks, type Check, type CheckResult } from "../../src/readiness/check";
import { cgroupCheck } from "../../src/readiness/checks";
import type { HostProbe } from "../../src/host/probe";
import { decideWorkspace, type WorkspaceDecision } from "../../src/rootfs/decision";
import { runSource } from "../helpers/binary";
import { defaultHostRoot } from "../helpers/fake-host";
import { runLogged, tempDir } from "../helpers/goal";

const FACTS: HostFacts = {
  arch: "amd64", hostname: "node1", kernel: "6.1.0-test", modules: false, devices: [],
  resolvConf: "/etc/resolv.conf", mmdebstrap: true,
};
const goalOf = (input: GoalInput = {}): Resolved =>
  resolveGoal(
    GoalSchema.parse({ machineDir: "/nonexistent-rd/kube1", cacheDir: "/nonexistent-rd/cache", bootstrap: { suite: "bookworm" }, gpu: { mode: "none" }, host: { root: defaultHostRoot() }, ...input }),
    () => FACTS,
  );

/** What a machine that boots needs of the host beside cgroups: each kernel setting (the fake host has br_netfilter loaded), and swap. */
const HOST_CHECKS = [
  ...["vm.overcommit_memory", "vm.panic_on_oom", "kernel.panic", "kernel.panic_on_oops", "kernel.keys.root_maxkeys", "kernel.keys.root_maxbytes"],
  ...["net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables", "net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.rp_filter"],
  ...["fs.inotify.max_user_instances", "fs.inotify.max_user_watches"],
].map((k) => `sysctl ${k}`).concat("swap", "ports", "docker", "forward policy", "host kubelet");

const GiB = 1024 ** 3;
const healthy = (): HostProbe => ({
  uid: () => 0,
  which: (cmd) => `/usr/bin/${cmd}`,
  read: () => undefined,
  exists: (p) => ["/lib/modules/6.1.0-test", "/usr/share/keyrings/debian-archive-keyring.gpg", "/usr/share/keyrings/ubuntu-archive-keyring.gpg"].includes(p),
  kernel: () => "6.1.0-test",
  hostArch: () => "x64",
  cgroups: () => ({ layout: "cgroup2", controllers: ["cpu", "memory", "pids"] }),
  freeBytes: () => 50 * GiB,
  reach: async () => undefined,
});

const provisionNeeds = (goal: Resolved, workspace: WorkspaceDecision): Needs => ({ ...provisionPlan(goal).needs(), workspace: () => workspace });
const bootstrapping = (goal: Resolved) => decideWorkspace(goal, (p) => healthy().exists(p));

async function statusOf(checks: Check[], host: HostProbe) {
  return Object.fromEntries((await runChecks(checks, host)).map((r) => [r.name, r]));
}

describe("running the checks", () => {
  test("a check that waits on a process starts before the others, and every report keeps its place", async () => {
    const started: string[] = [];
    const check = (name: string, waits = false): Check => ({
      name,
      ...(waits ? { waits } : {}),
      run: () => {
        started.push(name);
        return waits ? Bun.sleep(5).then(() => ({ status: "ok", message: name })) : { status: "ok", message: name };
      },
    });
    const reports = await runChecks([check("root"), check("ports"), check("forward policy", true), check("host kubelet")], healthy());
    expect(started).toEqual(["forward policy", "root", "ports", "host kubelet"]);
    expect(reports.map((r) => `${r.name}: ${r.message}`)).toEqual(["root: root", "ports: ports", "forward policy: forward policy", "host kubelet: host kubelet"]);
  });

  test("the firewall's forward policy is read by a check that waits", async () => {
    const goal = goalOf();
    const forward = readinessChecks(goal, provisionNeeds(goal, { kind: "present" })).filter((c) => c.waits);
    expect(forward.map((c) => c.name)).toEqual(["forward policy"]);
  });
});

describe("readiness checks follow the workspace decision", () => {
  test("a bootstrap on a healthy host: every check ok", async () => {
    const goal = goalOf();
    const reports = await runChecks(readinessChecks(goal, provisionNeeds(goal, bootstrapping(goal))), healthy());
    expect(reports.map((r) => r.name)).toEqual(["root", "tools", "archive keyring", "binfmt", "machine dir space", "cache dir space", "cgroups", ...HOST_CHECKS]);
    expect(reports.filter((r) => r.status !== "ok").map(formatReport)).toEqual([]);
    expect(reports[1]!.message).toBe("mmdebstrap, mount, chroot, tar, sync, umount, zstd present");
  });

  test("a present rootfs or a created machine dir need root and what the host gives the machine (cgroups only warn)", async () => {
    const goal = goalOf();
    for (const kind of ["present", "create"] as const) {
      const reports = await runChecks(readinessChecks(goal, provisionNeeds(goal, { kind })), healthy());
      expect(reports.map((r) => r.name)).toEqual(["root", "cgroups", ...HOST_CHECKS]);
    }
  });

  test("each problem is named with its fix; cgroups only warn", async () => {
    const host: HostProbe = {
      ...healthy(),
      uid: () => 1000,
      which: (cmd) => (cmd === "mmdebstrap" ? null : `/usr/bin/${cmd}`),
      exists: () => false,
      cgroups: () => ({ layout: "legacy", controllers: [] }),
      freeBytes: (p) => (p.endsWith("/cache") ? 0.5 * GiB : 2 * GiB),
    };
    const goal = goalOf({ bootstrap: { suite: "noble" } });
    const r = await statusOf(readinessChecks(goal, provisionNeeds(goal, bootstrapping(goal))), host);
    expect(r["root"]).toMatchObject({ status: "fail", message: "running as uid 1000", fix: "run as root (sudo kube-rootfs …)" });
    expect(r["tools"]).toMatchObject({ status: "fail", message: "mmdebstrap not found: bootstraps the rootfs", fix: "apt-get install mmdebstrap" });
    expect(r["archive keyring"]!.status).toBe("fail");
    expect(r["archive keyring"]!.fix).toContain("install ubuntu-keyring");
    expect(r["cgroups"]!.status).toBe("warn");
    expect(r["machine dir space"]!.status).toBe("warn");
    expect(r["cache dir space"]!.status).toBe("fail");
  });

  test("restores need tar (and zstd for a .zst snapshot), never a keyring", async () => {
    const tarballGoal = (tarball: string) => goalOf({ bootstrap: { method: "tarball", tarball, sha256: "a".repeat(64) } });
    const noZstd = { ...healthy(), which: (cmd: string) => (cmd === "zstd" ? null : `/usr/bin/${cmd}`) };
    const tarballTools = async (goal: Resolved) => (await statusOf(readinessChecks(goal, provisionNeeds(goal, decideWorkspace(goal))), noZstd))["tools"];
    // a URL's compression is known once downloaded: only a warning; a local .zst needs zstd
    expect(await tarballTools(tarballGoal("https://files.example/base.tar.zst"))).toMatchObject({ status: "warn", message: "zstd not found: a zstd-compressed tarball cannot be restored" });
    expect(await tarballTools(tarballGoal("/srv/base.tar.zst"))).toMatchObject({ status: "fail", message: "zstd not found: decompresses the tarball /srv/base.tar.zst" });
    expect((await tarballTools(tarballGoal("/srv/base.tar.gz")))!.status).toBe("ok");
    const goal = tarballGoal("/srv/base.tar.zst");
    expect((await statusOf(readinessChecks(goal, provisionNeeds(goal, decideWorkspace(goal))), noZstd))["archive keyring"]).toBeUndefined();
    const plan = (bootstrapping(goalOf()) as Extract<WorkspaceDecision, { kind: "bootstrap" }>).plan;
    const snapshot = await statusOf(readinessChecks(goal, provisionNeeds(goal, { kind: "snapshot", file: "/c/rootfs/x.tar.zst", plan })), noZstd);
    expect(snapshot["tools"]).toMatchObject({ status: "fail", message: "zstd not found: decompresses the snapshot /c/rootfs/x.tar.zst" });
    const imageGoal = goalOf({ bootstrap: { method: "image", image: "registry.example/rootfs:1" } });
    const image = await statusOf(readinessChecks(imageGoal, provisionNeeds(imageGoal, decideWorkspace(imageGoal))), { ...healthy(), which: (c) => (c === "setfattr" ? null : `/usr/bin/${c}`) });
    expect(image["tools"]).toMatchObject({
      status: "fail",
      message: "setfattr not found: sets the layers' extended attributes (file capabilities among them)",
      fix: "apt-get install attr",
    });
    expect(image["archive keyring"]).toBeUndefined();
  });

  // Every path, each command it runs taken away in turn: the blocker names it, why, and its package.
  test("each command a path runs is checked: a missing one blocks, named with its package", async () => {
    const packages: Record<string, string> = { setfattr: "attr", umount: "mount", chroot: "coreutils", sync: "coreutils", mknod: "coreutils" };
    const plan = (arch: "amd64" | "arm64") => (bootstrapping(goalOf({ arch })) as Extract<WorkspaceDecision, { kind: "bootstrap" }>).plan;
    const paths: Array<[string, GoalInput, WorkspaceDecision | undefined, string[]]> = [
      ["debootstrap amd64", { bootstrap: { suite: "bookworm", tool: "debootstrap" } }, undefined, ["debootstrap", "gpgv", "wget", "mount", "chroot", "tar", "sync", "umount"]],
      ["mmdebstrap amd64", {}, undefined, ["mmdebstrap", "mount", "chroot", "tar", "sync", "umount"]],
      ["mmdebstrap arm64", { arch: "arm64" }, undefined, ["mmdebstrap", "arch-test", "mount", "chroot", "tar", "sync", "umount"]],
      ["snapshot", {}, { kind: "snapshot", file: "/c/rootfs/x.tar.zst", plan: plan("amd64") }, ["tar", "zstd", "sync", "umount"]],
      ["image", { bootstrap: { method: "image", image: "registry.example/rootfs:1" } }, undefined, ["setfattr", "mknod", "sync", "umount"]],
    ];
    for (const [path, input, decision, cmds] of paths) {
      const goal = goalOf(input);
      const checks = readinessChecks(goal, provisionNeeds(goal, decision ?? bootstrapping(goal)));
      const all = (await statusOf(checks, healthy()))["tools"]!;
      expect([path, all.status]).toEqual([path, "ok"]);
      expect([path, all.message.replace(/, zstd present$| present$/, "")]).toEqual([path, cmds.filter((c) => c !== "zstd" || path === "snapshot").join(", ")]);
      for (const cmd of cmds) {
        const r = (await statusOf(checks, { ...healthy(), which: (c) => (c === cmd ? null : `/usr/bin/${c}`) }))["tools"]!;
        expect([path, r.status, r.fix]).toEqual([path, "fail", `apt-get install ${packages[cmd] ?? cmd}`]);
        expect(r.message).toStartWith(`${cmd} not found: `);
      }
    }
    // arch-test is a foreign bootstrap's alone, and the blocker says so
    const arm = goalOf({ arch: "arm64" });
    const r = (await statusOf(readinessChecks(arm, provisionNeeds(arm, bootstrapping(arm))), { ...healthy(), which: (c) => (c === "arch-test" ? null : `/usr/bin/${c}`) }))["tools"]!;
    expect(r.message).toBe("arch-test not found: mmdebstrap needs it to bootstrap another architecture (arm64 on an amd64 host)");
  });

  test("fetch --with-rootfs and image push check each arch's tools, the host's own checks once", async () => {
    const goals = [goalOf(), goalOf({ arch: "arm64" })];
    const host = { ...healthy(), which: (c: string) => (c === "arch-test" ? null : `/usr/bin/${c}`) };
    const reports = await runChecks(imagePushChecks(goals), host);
    expect(reports.map((r) => `${r.name} ${r.status}`)).toEqual([
      "root ok", "tools ok", "archive keyring ok", "binfmt ok", "machine dir space ok", "cache dir space ok", "tools fail", "binfmt fail",
    ]);
    expect(reports[6]!.message).toStartWith("arch-test not found");
    const fetched = await runChecks(scratchChecks(goals, (g) => ({ root: true, workspace: () => bootstrapping(g), artifacts: [], images: [], boots: false })), host);
    expect(fetched.filter((r) => r.name === "tools").map((r) => r.status)).toEqual(["ok", "fail"]);
  });

  test("a foreign arch bootstrap needs its binfmt handler, and says how to get it", async () => {
    const goal = goalOf({ arch: "arm64" });
    const checks = readinessChecks(goal, provisionNeeds(goal, bootstrapping(goal)));
    expect((await statusOf(checks, healthy()))["binfmt"]).toMatchObject({
      status: "fail",
      fix: "apt-get install qemu-user-static binfmt-support; mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; update-binfmts --enable qemu-aarch64",
    });
    const files: Record<string, string> = { "/proc/sys/fs/binfmt_misc/status": "enabled\n", "/proc/sys/fs/binfmt_misc/qemu-aarch64": "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n" };
    const withQemu = { ...healthy(), read: (p: string) => files[p] };
    expect((await statusOf(checks, withQemu))["binfmt"]).toMatchObject({ status: "ok", message: "arm64 on an amd64 host, through the qemu-aarch64 binfmt handler" });
  });

  test("offline: every missing item of the cache in one blocker", async () => {
    const goal = goalOf({ offline: true });
    const r = await statusOf(readinessChecks(goal, provisionNeeds(goal, bootstrapping(goal))), healthy());
    expect(r["offline cache"]!.status).toBe("fail");
    for (const item of ["kubelet 1.33.1 amd64", "containerd 2.0.4 amd64", "cni 1.5.1 amd64", "rootfs snapshot for bookworm/amd64", "image registry.k8s.io/pause:3.10"]) {
      expect(r["offline cache"]!.message).toContain(item);
    }
  });

  test("an undecidable workspace is one blocker beside the others", async () => {
    const goal = goalOf();
    const needs: Needs = { root: true, workspace: () => ({ kind: "unreadable", problem: "read machine dir /m: permission denied" }), artifacts: [], images: [], boots: false };
    const r = await statusOf(readinessChecks(goal, needs), { ...healthy(), uid: () => 65534 });
    expect(Object.keys(r)).toEqual(["root", "workspace"]);
    expect(r["workspace"]).toMatchObject({ status: "fail", message: "read machine dir /m: permission denied" });
  });
  test("cgroups: without cpu, memory and pids to delegate, kubelet does not start at all (a warning, never a failure)", async () => {
    const cgroupOn = (cgroups: ReturnType<HostProbe["cgroups"]>) => cgroupCheck.run({ ...healthy(), cgroups: () => cgroups }) as CheckResult;
    const fix = "boot the host with the unified cgroup hierarchy (kernel parameter systemd.unified_cgroup_hierarchy=1): a working node needs a cgroup v2 host";
    expect(cgroupOn({ layout: "hybrid", controllers: [] })).toEqual({
      status: "warn",
      message: "hybrid cgroups: /sys/fs/cgroup/unified has no controllers, so kubelet cannot create its QoS cgroups in the machine and will not start at all (the rootfs can still be built)",
      fix,
    });
    const legacy = cgroupOn({ layout: "legacy", controllers: [] });
    expect(legacy).toMatchObject({ status: "warn", fix });
    expect(legacy.message).toStartWith("/sys/fs/cgroup is cgroup v1, so");
    const noMemory = cgroupOn({ layout: "cgroup2", controllers: ["cpu", "pids"] });
    expect(noMemory).toMatchObject({ status: "warn", fix });
    expect(noMemory.message).toStartWith("the cgroup v2 hierarchy has no memory controller, so");
    expect(cgroupOn({ layout: "cgroup2", controllers: ["cpu", "memory"] }).message).toStartWith("the cgroup v2 hierarchy has no pids controller, so");
    expect(cgroupOn({ layout: "cgroup2", controllers: ["cpu", "memory", "pids"] })).toEqual({ status: "ok", message: "unified cgroup hierarchy (controllers: cpu memory pids)" });
  });
});

describe("the readiness phase", () => {
  test("lists every blocker at once; warnings are logged and do not block", async () => {
    const host = { ...healthy(), uid: () => 1000, cgroups: () => ({ layout: "legacy" as const, controllers: [] }), which: (cmd: string) => (cmd === "mmdebstrap" ? null : `/usr/bin/${cmd}`) };
    const goal = goalOf();
    const err = await runLogged(readinessTask(() => readinessChecks(goal, provisionNeeds(goal, bootstrapping(goal))), host)).catch((e) => e);
    expect(err).toBeInstanceOf(NotReady);
    expect(err.lines).toEqual([
      "root: running as uid 1000 (fix: run as root (sudo kube-rootfs …))",
      "tools: mmdebstrap not found: bootstraps the rootfs (fix: apt-get install mmdebstrap)",
    ]);
    const warned = await runLogged(readinessTask(() => readinessChecks(goal, provisionNeeds(goal, { kind: "present" })), { ...healthy(), cgroups: () => ({ layout: "legacy" as const, controllers: [] }) }));
    expect(warned.outcome).toBe("skipped");
    expect(warned.events.find((e) => e.level === "warn")?.msg).toStartWith("cgroups: /sys/fs/cgroup is cgroup v1, so kubelet cannot create its QoS cgroups in the machine and will not start at all");
  });

  test("what is checked follows --skip-phases", () => {
    const dir = tempDir("rd-skip");
    const plan = (skip: string[]) => provisionPlan(goalOf({ machineDir: join(dir, "m"), cacheDir: join(dir, "c"), skipPhases: skip }));
    expect(plan([]).needs().workspace?.()).toMatchObject({ kind: "bootstrap" });
    expect(plan(["workspace"]).needs().workspace).toBeUndefined();
    expect(plan(["ensure-workspace"]).needs().workspace).toBeUndefined();
    expect(plan(["kube", "cni"]).needs().artifacts.map((a) => a.entry.name)).toEqual(["containerd", "runc"]);
    expect(plan(["install"]).needs().artifacts).toEqual([]);
  });
});

describe("doctor", () => {
  test("provision's readiness list, then the host-wide checks", async () => {
    const goal = goalOf();
    const r = await runChecks(doctorChecks(goal), { ...healthy(), reach: async () => "Connection refused" });
    expect(r.map((x) => x.name)).toEqual(["root", "tools", "archive keyring", "binfmt", "machine dir space", "cache dir space", "cgroups", ...HOST_CHECKS, "systemd-nspawn", "kernel modules", "bootstrap mirror"]);
    expect(r.at(-1)).toMatchObject({ status: "fail", message: "http://deb.debian.org/debian/dists/bookworm/Release: Connection refused" });
  });

  test("offline: the mirror is not contacted", async () => {
    let asked = false;
    const host = { ...healthy(), reach: async () => ((asked = true), "unreachable") };
    const r = await runChecks(doctorChecks(goalOf({ offline: true })), host);
    expect(r.find((x) => x.name === "bootstrap mirror")!.status).toBe("ok");
    expect(asked).toBe(false);
  });
});

test("provision stops before touching anything, listing the blocker after the plan", async () => {
  const dir = `/tmp/kube-rootfs-rd-preflight-${process.pid}`;
  const r = await runSource([
    "provision", "--machine", "rd-preflight", "--machine-dir", `${dir}/kube1`, "--cache-dir", `${dir}/cache`, "--bootstrap-suite", "noble",
    "--bootstrap-keyring", "/nonexistent/ubuntu.gpg", "--nspawn-config-file", `${dir}/k.nspawn`,
    "--service-override-file", `${dir}/o.conf`, "--skip-phases", "install", "--log-format", "json",
  ]);
  expect(r.code).toBe(1);
  expect(r.stderr.trim()).toBe("kube-rootfs: readiness: archive keyring: bootstrap.keyring /nonexistent/ubuntu.gpg does not exist (fix: pass an existing --bootstrap-keyring FILE)");
  expect(r.stdout).not.toContain("ensure-workspace");
  expect(await Bun.file(dir).exists()).toBe(false);
});

test("doctor on this host names the missing /lib/modules", async () => {
  const kernel = (await Bun.file("/proc/sys/kernel/osrelease").text()).trim();
  const r = await runSource(["doctor", "--offline", "--log-format", "pretty"]);
  const hasModules = await Bun.file(`/lib/modules/${kernel}/modules.dep`).exists();
  if (!hasModules) expect(r.stdout).toContain(`warn  kernel modules: /lib/modules/${kernel} missing`);
  expect(r.stdout).toMatch(/^ok {4}root: running as root$/m);
  expect(r.stdout).toMatch(/^(ok|warn) {2,4}cgroups: /m);
  // This machine kind is a hybrid cgroup host: doctor says what that means for pods.
  if (!(await Bun.file("/sys/fs/cgroup/cgroup.controllers").exists())) expect(r.stdout).toContain("kubelet cannot create its QoS cgroups in the machine and will not start at all");
  expect(r.code).toBe(r.stdout.includes("\nfail") || r.stdout.startsWith("fail") ? 1 : 0);
});
