// doctor: every check against injected host facts, the preflight provision runs, and the real
// command on this host (which has no /lib/modules).
import { describe, expect, test } from "bun:test";
import type { HostFacts } from "../../src/config/host";
import { resolveGoal, type Resolved } from "../../src/config/resolve";
import { GoalSchema, type GoalInput } from "../../src/config/schema";
import { ALL_CHECKS, formatReport, requirePreflight, runChecks, type HostProbe } from "../../src/doctor";
import { RunError } from "../../src/errors";
import { runSource } from "../helpers/binary";

const FACTS: HostFacts = {
  arch: "amd64", hostname: "node1", kernel: "6.1.0-test", modules: false, devices: [],
  gpuDevices: [], gpuLibraries: [], resolvConf: "/etc/resolv.conf",
};
const goalOf = (input: GoalInput = {}): Resolved => resolveGoal(GoalSchema.parse({ bootstrap: { suite: "bookworm" }, ...input }), () => FACTS);

const GiB = 1024 ** 3;
const healthy = (): HostProbe => ({
  uid: () => 0,
  which: (cmd) => `/usr/bin/${cmd}`,
  exists: (p) => ["/lib/modules/6.1.0-test", "/usr/share/keyrings/debian-archive-keyring.gpg", "/usr/share/keyrings/ubuntu-archive-keyring.gpg"].includes(p),
  kernel: () => "6.1.0-test",
  hostArch: () => "x64",
  cgroupFs: () => "cgroup2",
  freeBytes: () => 50 * GiB,
  reach: async () => undefined,
  read: () => undefined,
});

async function statusOf(goal: Resolved, host: HostProbe) {
  return Object.fromEntries((await runChecks(ALL_CHECKS, goal, host)).map((r) => [r.name, r]));
}

describe("checks", () => {
  test("a healthy host: every check ok", async () => {
    const reports = await runChecks(ALL_CHECKS, goalOf(), healthy());
    expect(reports.map((r) => r.name)).toEqual([
      "root", "systemd-nspawn", "bootstrap tool", "archive keyring", "kernel modules", "cgroup v2",
      "machine dir space", "cache dir space", "arch", "bootstrap mirror",
    ]);
    expect(reports.filter((r) => r.status !== "ok").map(formatReport)).toEqual([]);
  });

  test("each problem is named with its fix", async () => {
    const host: HostProbe = {
      ...healthy(),
      uid: () => 1000,
      which: (cmd) => (["machinectl", "debootstrap"].includes(cmd) ? null : `/usr/bin/${cmd}`),
      exists: () => false,
      cgroupFs: () => "legacy",
      freeBytes: (p) => (p.startsWith("/var/cache") ? 0.5 * GiB : 2 * GiB),
      reach: async () => "Connection refused",
    };
    const r = await statusOf(goalOf({ bootstrap: { suite: "noble" } }), host);
    expect(r["root"]).toMatchObject({ status: "fail", fix: "run as root (sudo kube-rootfs …)" });
    expect(r["systemd-nspawn"]).toMatchObject({ status: "fail", message: "machinectl not found", fix: "apt-get install systemd-container" });
    expect(r["bootstrap tool"]).toMatchObject({ status: "fail", fix: "apt-get install debootstrap" });
    expect(r["archive keyring"]!.status).toBe("fail");
    expect(r["archive keyring"]!.fix).toContain("install ubuntu-keyring");
    expect(r["kernel modules"]).toMatchObject({ status: "warn" });
    expect(r["kernel modules"]!.message).toStartWith("/lib/modules/6.1.0-test missing");
    expect(r["cgroup v2"]!.status).toBe("warn");
    expect(r["machine dir space"]!.status).toBe("warn");
    expect(r["cache dir space"]!.status).toBe("fail");
    expect(r["bootstrap mirror"]).toMatchObject({ status: "fail", message: "http://archive.ubuntu.com/ubuntu/dists/noble/Release: Connection refused" });
  });

  test("what a method needs: mmdebstrap, tarball (tar only), image (setfattr), none (nothing)", async () => {
    const host = { ...healthy(), which: (cmd: string) => (cmd === "tar" ? "/usr/bin/tar" : null) };
    expect((await statusOf(goalOf({ bootstrap: { method: "mmdebstrap" } }), host))["bootstrap tool"]!.message).toBe("mmdebstrap not found (bootstrap.method mmdebstrap)");
    const tarball = await statusOf(goalOf({ bootstrap: { method: "tarball", tarball: "/srv/base.tar.zst", sha256: "a".repeat(64) } }), host);
    expect(tarball["bootstrap tool"]!.status).toBe("warn"); // no zstd: gzip
    expect(tarball["archive keyring"]!.status).toBe("ok");
    expect(tarball["bootstrap mirror"]!.status).toBe("ok");
    expect((await statusOf(goalOf({ bootstrap: { method: "none" } }), host))["bootstrap tool"]!.status).toBe("ok");
    const image = await statusOf(goalOf({ bootstrap: { method: "image", image: "registry.example/rootfs:1" } }), host);
    expect(image["bootstrap tool"]).toMatchObject({ status: "fail", message: "setfattr not found (bootstrap.method image)", fix: "apt-get install attr" });
    expect(image["archive keyring"]!.status).toBe("ok");
  });

  test("offline: the mirror is not contacted", async () => {
    let asked = false;
    const host = { ...healthy(), reach: async () => ((asked = true), "unreachable") };
    expect((await statusOf(goalOf({ offline: true }), host))["bootstrap mirror"]!.status).toBe("ok");
    expect(asked).toBe(false);
  });

  test("a foreign arch needs its binfmt handler, and says how to get it", async () => {
    const goal = goalOf({ arch: "arm64" });
    expect((await statusOf(goal, healthy()))["arch"]).toMatchObject({
      status: "fail",
      fix: "apt-get install qemu-user-static binfmt-support; mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; update-binfmts --enable qemu-aarch64",
    });
    const files: Record<string, string> = { "/proc/sys/fs/binfmt_misc/status": "enabled\n", "/proc/sys/fs/binfmt_misc/qemu-aarch64": "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n" };
    const withQemu = { ...healthy(), read: (p: string) => files[p] };
    expect((await statusOf(goal, withQemu))["arch"]).toMatchObject({ status: "ok", message: "arm64 on an amd64 host, through the qemu-aarch64 binfmt handler" });
  });
});

describe("preflight", () => {
  test("stops with the failing lines only", async () => {
    const host = { ...healthy(), uid: () => 1000, which: (cmd: string) => (cmd === "debootstrap" ? null : `/usr/bin/${cmd}`) };
    const err = await requirePreflight(goalOf(), true, host).catch((e) => e);
    expect(err).toBeInstanceOf(RunError);
    expect(err.message).toBe(
      "preflight: fail  root: running as uid 1000 (fix: run as root (sudo kube-rootfs …)); fail  bootstrap tool: debootstrap not found (bootstrap.method debootstrap) (fix: apt-get install debootstrap)",
    );
  });

  test("a restore needs no keyring", async () => {
    const host = { ...healthy(), exists: () => false };
    await expect(requirePreflight(goalOf({ bootstrap: { suite: "noble" } }), false, host)).resolves.toBeArray();
    await expect(requirePreflight(goalOf({ bootstrap: { suite: "noble" } }), true, host)).rejects.toThrow(/no Ubuntu archive keyring/);
  });

  test("provision stops before touching anything, with doctor's line", async () => {
    const dir = `/tmp/kube-rootfs-preflight-${process.pid}`;
    const r = await runSource([
      "provision", "--machine", "preflight-test", "--machine-dir", `${dir}/kube1`, "--cache-dir", `${dir}/cache`, "--bootstrap-suite", "noble",
      "--bootstrap-keyring", "/nonexistent/ubuntu.gpg", "--nspawn-config-file", `${dir}/k.nspawn`,
      "--service-override-file", `${dir}/o.conf`, "--skip-phases", "install",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      "kube-rootfs: ensure-workspace: preflight: fail  archive keyring: bootstrap.keyring /nonexistent/ubuntu.gpg does not exist (fix: pass an existing --bootstrap-keyring FILE)",
    );
    expect(await Bun.file(dir).exists()).toBe(false);
  });
});

test("doctor on this host names the missing /lib/modules", async () => {
  const kernel = (await Bun.file("/proc/sys/kernel/osrelease").text()).trim();
  const r = await runSource(["doctor", "--bootstrap-suite", "bookworm", "--offline", "--log-format", "pretty"]);
  const hasModules = await Bun.file(`/lib/modules/${kernel}/modules.dep`).exists();
  if (!hasModules) expect(r.stdout).toContain(`warn  kernel modules: /lib/modules/${kernel} missing`);
  expect(r.stdout).toMatch(/^ok {4}root: running as root$/m);
  expect(r.stdout.trim().split("\n")).toHaveLength(ALL_CHECKS.length);
  expect(r.code).toBe(r.stdout.includes("\nfail") || r.stdout.startsWith("fail") ? 1 : 0);
});
