// Bootstrap: the argument arrays (Debian, and Ubuntu on a Debian host), the keyring error,
// the staging dir and its leftovers, and a failing debootstrap whose log is quoted.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HostFacts } from "../../src/host/facts";
import { resolveGoal, type Resolved } from "../../src/config/resolve";
import { GoalSchema, type GoalInput } from "../../src/config/schema";
import { bootstrapPlan, debootstrapArgv, lookupKeyring, mmdebstrapArgv, SCRIPTS_DIR } from "../../src/rootfs/bootstrap/plan";
import { mountsUnder } from "../../src/fs/tree";
import { freshStagingDir, leftoverStagingDirs, promote, stagingDirFor } from "../../src/rootfs/bootstrap/staging";
import { runLogged } from "../../src/rootfs/bootstrap/spawn";
import { runSource } from "../helpers/binary";

const FACTS: HostFacts = {
  arch: "amd64", hostname: "node1", kernel: "6.1.0-test", modules: false, devices: [],
  resolvConf: "/etc/resolv.conf",
};
const goalOf = (input: GoalInput): Resolved => resolveGoal(GoalSchema.parse(input), () => FACTS);
const has = (...paths: string[]) => (p: string) => paths.includes(p);

const UBUNTU_KEY = "/usr/share/keyrings/ubuntu-archive-keyring.gpg";
const DEBIAN_KEY = "/usr/share/keyrings/debian-archive-keyring.gpg";

describe("argument arrays", () => {
  test("Debian suite the host knows: no script, Debian keyring, signature checks forced", () => {
    const goal = goalOf({ bootstrap: { suite: "bookworm", mirror: "http://mirror.test/debian/", include: ["systemd", "dbus"] } });
    const plan = bootstrapPlan(goal, "debootstrap", has(DEBIAN_KEY, `${SCRIPTS_DIR}/bookworm`));
    expect(debootstrapArgv(plan, "/m/kube1.staging-1", "/c/debs/bookworm-amd64")).toEqual([
      "debootstrap", "--arch=amd64", "--variant=minbase", "--components=main", "--include=systemd,dbus",
      `--keyring=${DEBIAN_KEY}`, "--force-check-gpg", "--cache-dir=/c/debs/bookworm-amd64",
      "bookworm", "/m/kube1.staging-1", "http://mirror.test/debian",
    ]);
  });

  test("Ubuntu suite on a Debian host: the generic gutsy script and the Ubuntu keyring", () => {
    const goal = goalOf({ arch: "arm64", bootstrap: { suite: "noble", include: ["systemd"] } });
    const plan = bootstrapPlan(goal, "debootstrap", has(UBUNTU_KEY, DEBIAN_KEY));
    expect(debootstrapArgv(plan, "/t", "/d")).toEqual([
      "debootstrap", "--arch=arm64", "--variant=minbase", "--components=main,universe", "--include=systemd",
      `--keyring=${UBUNTU_KEY}`, "--force-check-gpg", "--cache-dir=/d",
      "noble", "/t", "http://ports.ubuntu.com/ubuntu-ports", `${SCRIPTS_DIR}/gutsy`,
    ]);
  });

  test("a configured keyring wins over the usual paths", () => {
    const goal = goalOf({ bootstrap: { suite: "noble", keyring: "/srv/keys/ubuntu.gpg" } });
    const plan = bootstrapPlan(goal, "debootstrap", has("/srv/keys/ubuntu.gpg", UBUNTU_KEY));
    expect(debootstrapArgv(plan, "/t", "/d")).toContain("--keyring=/srv/keys/ubuntu.gpg");
  });

  test("no Ubuntu keyring: one line saying what to install or pass, and no arguments", () => {
    const goal = goalOf({ bootstrap: { suite: "noble" } });
    const plan = bootstrapPlan(goal, "debootstrap", has(DEBIAN_KEY));
    expect(plan.keyring).toBeUndefined();
    expect(() => debootstrapArgv(plan, "/t", "/d")).toThrow(/^no Ubuntu archive keyring for suite noble .*install ubuntu-keyring .*or pass --bootstrap-keyring FILE$/);
    expect(lookupKeyring("noble", "/missing.gpg", has()).problem).toBe("bootstrap.keyring /missing.gpg does not exist");
  });

  test("mmdebstrap: same contract, .deb cache synced in and out by its hooks", () => {
    const goal = goalOf({ bootstrap: { suite: "noble", mirror: "http://mirror.test/ubuntu", components: ["main"], include: ["systemd"] } });
    const plan = bootstrapPlan(goal, "mmdebstrap", has(UBUNTU_KEY));
    expect(mmdebstrapArgv(plan, "/t", "/c/debs/noble-amd64")).toEqual([
      "mmdebstrap", "--mode=root", "--format=directory", "--variant=minbase", "--arch=amd64", "--components=main",
      "--include=systemd", `--keyring=${UBUNTU_KEY}`, "--skip=essential/unlink",
      '--setup-hook=mkdir -p "$1"/var/cache/apt/archives/', "--setup-hook=sync-in /c/debs/noble-amd64 /var/cache/apt/archives/",
      "--customize-hook=sync-out /var/cache/apt/archives /c/debs/noble-amd64", "noble", "/t", "http://mirror.test/ubuntu",
    ]);
    expect(() => mmdebstrapArgv(plan, "/t", "/c c/debs")).toThrow(/whitespace/);
  });
});

describe("staging dir", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "kube-rootfs-staging-"))));
  afterEach(() => {
    for (const m of mountsUnder(dir)) spawnSync(["umount", "--lazy", m]);
    rmSync(dir, { recursive: true, force: true });
  });

  test("leftovers of earlier runs are removed, mounts inside them detached first", () => {
    const machine = join(dir, "kube1");
    const old = stagingDirFor(machine, 424242);
    mkdirSync(join(old, "proc"), { recursive: true });
    writeFileSync(join(old, "half-written"), "x");
    expect(spawnSync(["mount", "-t", "tmpfs", "tmpfs", join(old, "proc")]).exitCode).toBe(0);
    writeFileSync(join(old, "proc", "inside-mount"), "x");
    mkdirSync(join(dir, "kube1.staging-notapid")); // not ours: left alone
    mkdirSync(join(dir, "kube10.staging-7")); // another machine's: left alone

    const { dir: fresh, removed } = freshStagingDir(machine);
    expect(removed).toEqual([old]);
    expect(existsSync(old)).toBe(false);
    expect(mountsUnder(dir)).toEqual([]);
    expect(fresh).toBe(`${machine}.staging-${process.pid}`);
    expect(readdirSync(fresh)).toEqual([]);
    expect(leftoverStagingDirs(machine)).toEqual([fresh]);
    expect(existsSync(join(dir, "kube1.staging-notapid"))).toBe(true);
    expect(existsSync(join(dir, "kube10.staging-7"))).toBe(true);
  });

  test("promote renames into place, replacing an empty machine dir", async () => {
    const machine = join(dir, "kube1");
    mkdirSync(machine);
    const { dir: staging } = freshStagingDir(machine);
    writeFileSync(join(staging, "marker"), "x");
    const ino = statSync(staging).ino;
    await promote(staging, machine);
    expect(statSync(machine).ino).toBe(ino);
    expect(existsSync(staging)).toBe(false);
  });

  test("promote flushes the staged tree before the rename: a flush that fails moves nothing", async () => {
    const machine = join(dir, "kube1");
    const gone = join(dir, "kube1.staging-1");
    await expect(promote(gone, machine)).rejects.toThrow(`flush ${gone} to disk: sync exited 1: `);
    expect(existsSync(machine)).toBe(false);
  });

  test("mount points are read from mountinfo, escapes decoded, deepest first", () => {
    const info = [
      "1 0 8:1 / / rw - ext4 /dev/vda rw",
      "2 1 0:5 / /m/kube1.staging-9 rw - tmpfs x rw",
      "3 2 0:6 / /m/kube1.staging-9/proc rw - proc proc rw",
      "4 1 0:7 / /m/kube1.staging-90 rw - tmpfs x rw",
      "5 2 0:8 / /m/kube1.staging-9/a\\040b rw - tmpfs x rw",
    ].join("\n");
    expect(mountsUnder("/m/kube1.staging-9", info)).toEqual(["/m/kube1.staging-9/proc", "/m/kube1.staging-9/a b", "/m/kube1.staging-9"]);
  });
});

describe("runLogged", () => {
  test("an abort stops the tool and every child it started", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kube-rootfs-spawn-"));
    try {
      const log = join(dir, "tool.log");
      const controller = new AbortController();
      // A tool that starts a child of its own and ignores nothing: like debootstrap running dpkg.
      const running = runLogged(["sh", "-c", "echo started; sleep 300 & echo child $!; wait"], log, controller.signal);
      await Bun.sleep(300);
      const child = Number(/child (\d+)/.exec(readFileSync(log, "utf8"))?.[1]);
      expect(child).toBeGreaterThan(0);
      controller.abort();
      await expect(running).rejects.toThrow(/cancelled/);
      expect(existsSync(`/proc/${child}`) && !readFileSync(`/proc/${child}/stat`, "utf8").split(" ")[2]!.startsWith("Z")).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 20_000);
});

describe("a failing debootstrap", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "kube-rootfs-badmirror-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const closedPort = () =>
    new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });

  test("names its log file, quotes its last lines, leaves no machine dir and no staging dir", async () => {
    const port = await closedPort();
    const machineDir = join(dir, "kube1");
    const r = await runSource([
      "provision", "--machine", "badmirror-test", "--machine-dir", machineDir, "--cache-dir", join(dir, "cache"), "--bootstrap-suite", "bookworm",
      "--bootstrap-tool", "debootstrap", "--bootstrap-mirror", `http://127.0.0.1:${port}/debian`, "--nspawn-config-file", join(dir, "k.nspawn"),
      "--service-override-file", join(dir, "o.conf"), "--skip-phases", "install",
    ]);
    expect(r.code).toBe(1);
    const log = join(dir, "cache", "logs", "badmirror-test-bootstrap.log");
    expect(r.stderr).toContain(`debootstrap failed (exit 1); log ${log}, ending: `);
    expect(r.stderr).toMatch(/Failed getting release file|Connection refused|couldn't download/i);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(readdirSync(dir).sort()).toEqual(["cache"]);
    expect(statSync(join(dir, "cache", "debs", "bookworm-amd64")).mode & 0o777).toBe(0o700);
  }, 60_000);
});
