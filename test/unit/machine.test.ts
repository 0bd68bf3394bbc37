// start, stop and remove as data: the host-systemd check, every systemctl/machinectl call, the
// removal rule, the boot-path check, and spotting a systemd-nspawn on a dir through /proc.
import { describe, expect, test } from "bun:test";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { timeoutMs } from "../../src/cli/args";
import { removalProblems, systemDirProblem } from "../../src/machine/guard";
import { nspawnDir, nspawnsOn } from "../../src/host/processes";
import { bootProblem } from "../../src/machine/start";
import { crashLooping, noSystemd, parseShow, systemd, unitOf } from "../../src/machine/systemd";
import { tempDir, testGoal } from "../helpers/goal";

describe("the host's systemd", () => {
  test("systemd as PID 1 with /run/systemd/system: usable", () => {
    expect(noSystemd("start", { runDir: true, pid1: "systemd" })).toBeUndefined();
  });

  test("anything else: one line naming what was found and what to do", () => {
    expect(noSystemd("start", { runDir: false, pid1: "process_api" })).toBe(
      "start: the host has no running systemd (PID 1 is process_api, /run/systemd/system is missing); run it on a host booted with systemd, or boot the machine by hand with systemd-nspawn --boot",
    );
    // systemd installed but another init running (a container started with /sbin/init elsewhere)
    expect(noSystemd("stop", { runDir: true, pid1: "init" })).toContain("(PID 1 is init, /run/systemd/system exists)");
  });
});

describe("systemctl and machinectl calls", () => {
  test("each is an argument array on systemd-nspawn@<machine>.service or the machine", () => {
    expect(unitOf("kube1")).toBe("systemd-nspawn@kube1.service");
    expect(Object.fromEntries(Object.entries(systemd).map(([k, f]) => [k, (f as (m: string, unit: string) => string[])("kube1", "containerd.service")]))).toEqual({
      machineState: ["machinectl", "show", "kube1", "--property=State", "--value"],
      unitState: ["systemctl", "show", "systemd-nspawn@kube1.service", "--property=ActiveState", "--value"],
      enable: ["systemctl", "enable", "systemd-nspawn@kube1.service"],
      disable: ["systemctl", "disable", "systemd-nspawn@kube1.service"],
      start: ["systemctl", "start", "systemd-nspawn@kube1.service"],
      stopNoBlock: ["systemctl", "stop", "--no-block", "systemd-nspawn@kube1.service"],
      kill: ["machinectl", "kill", "--signal=SIGKILL", "kube1"],
      poweroff: ["systemctl", "-M", "kube1", "poweroff"],
      signalPoweroff: ["machinectl", "poweroff", "kube1"],
      terminate: ["machinectl", "terminate", "kube1"],
      resetFailed: ["systemctl", "reset-failed", "systemd-nspawn@kube1.service"],
      daemonReload: ["systemctl", "daemon-reload"],
      systemState: ["systemctl", "-M", "kube1", "is-system-running"],
      systemStateWhenBooted: ["systemctl", "-M", "kube1", "is-system-running", "--wait"],
      isEnabled: ["systemctl", "is-enabled", "systemd-nspawn@kube1.service"],
      mainPid: ["systemctl", "show", "systemd-nspawn@kube1.service", "--property=MainPID", "--value"],
      failedUnits: ["systemctl", "-M", "kube1", "list-units", "--state=failed", "--plain", "--no-legend", "--no-pager"],
      serviceState: ["systemctl", "-M", "kube1", "show", "containerd.service", "--property=LoadState,ActiveState,Result,NRestarts"],
    });
  });

  test("a unit that keeps exiting under Restart= counts as failed after two restarts, not while it is active", () => {
    expect(crashLooping({ ActiveState: "activating", NRestarts: "2" })).toBe(true);
    expect(crashLooping({ ActiveState: "activating", NRestarts: "1" })).toBe(false);
    expect(crashLooping({ ActiveState: "active", NRestarts: "5" })).toBe(false);
    expect(crashLooping({ ActiveState: "activating" })).toBe(false);
  });

  test("systemctl show output parses to a record", () => {
    expect(parseShow("LoadState=loaded\nActiveState=active\n")).toEqual({ LoadState: "loaded", ActiveState: "active" });
    expect(parseShow("LoadState=not-found\nActiveState=inactive")).toEqual({ LoadState: "not-found", ActiveState: "inactive" });
  });
});

describe("--timeout", () => {
  test("seconds, default when absent", () => {
    expect(timeoutMs(undefined, 120)).toBe(120_000);
    expect(timeoutMs("30", 120)).toBe(30_000);
    expect(timeoutMs("1.5", 120)).toBe(1500);
  });
  test("anything else is a usage error naming the value", () => {
    for (const bad of ["0", "-5", "abc", "", "10s"]) expect(() => timeoutMs(bad, 60)).toThrow(`--timeout: expected seconds greater than 0, got ${bad}`);
  });
});

describe("what remove may delete", () => {
  test("never /, a top-level dir, an OS tree or a shared parent", () => {
    expect(systemDirProblem("/")).toBe("is /");
    expect(systemDirProblem("/srv")).toBe("is a top-level directory");
    expect(systemDirProblem("/var/lib/machines/../..")).toBe("is a top-level directory");
    expect(systemDirProblem("/usr/local/kube1")).toBe("is inside /usr, which the host's OS owns");
    expect(systemDirProblem("/etc/kube1")).toBe("is inside /etc, which the host's OS owns");
    expect(systemDirProblem("/var/lib/machines")).toBe("is a directory the host shares between machines");
    expect(systemDirProblem("/var/cache")).toBe("is a directory the host shares between machines");
    expect(systemDirProblem("/var/lib/machines/kube1")).toBeUndefined();
    expect(systemDirProblem("/srv/rootfs/node")).toBeUndefined();
  });

  const goal = (machineDir: string, cacheDir = "/var/cache/kube-rootfs") => testGoal({ machine: "kube1", machineDir, cacheDir });
  const noLinks = () => false;

  test("the default dir, or a dir ending in the machine's name, is removable", () => {
    expect(removalProblems({ goal: goal("/var/lib/machines/kube1"), dirOnCommandLine: false, purgeCache: false }, noLinks)).toEqual([]);
    expect(removalProblems({ goal: goal("/srv/machines/kube1"), dirOnCommandLine: false, purgeCache: true }, noLinks)).toEqual([]);
  });

  test("another dir only when named on the command line", () => {
    expect(removalProblems({ goal: goal("/srv/rootfs"), dirOnCommandLine: false, purgeCache: false }, noLinks)).toEqual([
      "machine dir /srv/rootfs does not end in the machine's name kube1; name it on the command line (--machine-dir /srv/rootfs) to remove it",
    ]);
    expect(removalProblems({ goal: goal("/srv/rootfs"), dirOnCommandLine: true, purgeCache: false }, noLinks)).toEqual([]);
  });

  test("/ and system dirs even when named on the command line; symlinks never", () => {
    expect(removalProblems({ goal: goal("/"), dirOnCommandLine: true, purgeCache: false }, noLinks)).toEqual(["machine dir / is /; refusing to remove it"]);
    expect(removalProblems({ goal: goal("/usr/lib/kube1"), dirOnCommandLine: true, purgeCache: false }, noLinks)[0]).toContain("inside /usr");
    expect(removalProblems({ goal: goal("/var/lib/machines/kube1"), dirOnCommandLine: false, purgeCache: false }, () => true)).toEqual([
      "machine dir /var/lib/machines/kube1 is a symlink; remove the directory it points to by naming it with --machine-dir",
    ]);
  });

  test("the kept cache must not be inside the machine dir; a purged cache must not be a system dir", () => {
    expect(removalProblems({ goal: goal("/srv/kube1", "/srv/kube1/cache"), dirOnCommandLine: false, purgeCache: false }, noLinks)).toEqual([
      "cache dir /srv/kube1/cache is inside machine dir /srv/kube1; move the cache or add --purge-cache",
    ]);
    expect(removalProblems({ goal: goal("/srv/kube1", "/var/cache"), dirOnCommandLine: false, purgeCache: true }, noLinks)).toEqual([
      "cache dir /var/cache is a directory the host shares between machines; refusing to purge it",
    ]);
  });
});

describe("systemd-nspawn@ boots the goal's machine", () => {
  const g = testGoal({ machine: "kube1", machineDir: "/var/lib/machines/kube1", nspawnConfigFile: "/etc/systemd/nspawn/kube1.nspawn" });
  const all = () => true;
  const same = (p: string) => p;

  test("the default paths: nothing in the way", () => expect(bootProblem(g, all, same)).toBeUndefined());

  test("not provisioned", () => {
    expect(bootProblem(g, (p) => p !== g.machineDir, same)).toBe("machine dir /var/lib/machines/kube1 does not exist; run kube-rootfs provision first");
    expect(bootProblem(g, (p) => p !== g.nspawnConfigFile, same)).toBe("/etc/systemd/nspawn/kube1.nspawn does not exist; run kube-rootfs provision first");
  });

  test("a dir elsewhere is fine through a link in /var/lib/machines, else named with the fix", () => {
    const elsewhere = testGoal({ machine: "kube1", machineDir: "/srv/kube1", nspawnConfigFile: "/etc/systemd/nspawn/kube1.nspawn" });
    expect(bootProblem(elsewhere, all, (p) => (p === "/var/lib/machines/kube1" ? "/srv/kube1" : p))).toBeUndefined();
    expect(bootProblem(elsewhere, all, same)).toBe(
      "systemd-nspawn@kube1.service boots /var/lib/machines/kube1, not /srv/kube1; link it there (ln -s /srv/kube1 /var/lib/machines/kube1) or provision with the default machine dir",
    );
  });

  test("settings outside the dirs nspawn reads", () => {
    const odd = testGoal({ machine: "kube1", machineDir: "/var/lib/machines/kube1", nspawnConfigFile: "/srv/kube1.nspawn" });
    expect(bootProblem(odd, all, same)).toBe("systemd-nspawn reads kube1.nspawn from /etc/systemd/nspawn or /run/systemd/nspawn, not /srv");
  });
});

describe("a systemd-nspawn running on a dir", () => {
  test("its command line names the dir (-D, --directory) or the machine image (-M)", () => {
    expect(nspawnDir(["systemd-nspawn", "--boot", "-D", "/srv/m1", "-M", "x"])).toBe("/srv/m1");
    expect(nspawnDir(["/usr/bin/systemd-nspawn", "--directory=/srv/m1/"])).toBe("/srv/m1");
    expect(nspawnDir(["systemd-nspawn", "-D/srv/m1"])).toBe("/srv/m1");
    expect(nspawnDir(["systemd-nspawn", "--quiet", "--keep-unit", "--boot", "--machine=kube1"])).toBe("/var/lib/machines/kube1");
    expect(nspawnDir(["systemd-nspawn", "-M", "kube1"])).toBe("/var/lib/machines/kube1");
    expect(nspawnDir(["bash", "-D", "/srv/m1"])).toBeUndefined();
    expect(nspawnDir(["systemd-nspawn", "--image=/x.raw"])).toBeUndefined();
  });

  test("found in a /proc tree, also through a symlinked dir", () => {
    const proc = tempDir("proc");
    const dirs = tempDir("dirs");
    mkdirSync(join(dirs, "m1"));
    symlinkSync(join(dirs, "m1"), join(dirs, "link"));
    const cmdline = (pid: number, argv: string[]) => {
      mkdirSync(join(proc, String(pid)));
      writeFileSync(join(proc, String(pid), "cmdline"), argv.join("\0") + "\0");
    };
    cmdline(10, ["systemd-nspawn", "-D", join(dirs, "link"), "--boot"]);
    cmdline(11, ["systemd-nspawn", "-D", join(dirs, "other")]);
    cmdline(12, ["sleep", "1"]);
    mkdirSync(join(proc, "self"));
    expect(nspawnsOn(join(dirs, "m1"), proc)).toEqual([10]);
    expect(nspawnsOn(join(dirs, "m2"), proc)).toEqual([]);
  });
});
