// Snapshots: the key, fidelity of snapshot + restore on a synthetic tree (ownership, modes,
// symlinks, hardlinks, device nodes, file capabilities), and the tarball method's sha256 pin.
// Runs as root with the real GNU tar, zstd, gzip, mknod and setcap.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { chmodSync, chownSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serveDir } from "../helpers/mirror";
import type { BootstrapPlan } from "../../src/rootfs/bootstrap/plan";
import { createSnapshot, detectCompression, readSidecar, restoreSnapshot, snapshotKey, snapshotPath } from "../../src/rootfs/bootstrap/snapshot";
import { runSource } from "../helpers/binary";
import { sandboxImageArgs } from "../helpers/sandbox-registry";

const PLAN: BootstrapPlan = {
  tool: "debootstrap", suite: "bookworm", distro: "debian", arch: "amd64", mirror: "http://mirror.test/debian",
  components: ["main"], include: ["systemd", "dbus"], keyring: "/k.gpg",
};

describe("snapshot key", () => {
  test("same bootstrap, same key, whatever the order of packages or the keyring", () => {
    expect(snapshotKey({ ...PLAN, include: ["dbus", "systemd", "dbus"], keyring: "/other.gpg" })).toBe(snapshotKey(PLAN));
  });
  test("suite, arch, mirror, packages, components and tool each change it", () => {
    const variants: Partial<BootstrapPlan>[] = [
      { suite: "trixie" }, { arch: "arm64" }, { mirror: "http://other.test/debian" }, { include: ["systemd"] },
      { components: ["main", "contrib"] }, { tool: "mmdebstrap" },
    ];
    const keys = variants.map((v) => snapshotKey({ ...PLAN, ...v }));
    expect(new Set([snapshotKey(PLAN), ...keys]).size).toBe(variants.length + 1);
  });
  test("the file name says what it is", () => {
    expect(snapshotPath("/c", PLAN, "zstd")).toMatch(/^\/c\/rootfs\/bookworm-amd64-[0-9a-f]{16}\.tar\.zst$/);
  });
});

const sh = (...argv: string[]) => {
  const r = spawnSync(argv, { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
  return r.stdout.toString();
};

/** Everything about a tree that a rootfs needs kept, one line per entry. */
function describeTree(root: string): string[] {
  const lines: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const p = join(rel, name);
      const st = lstatSync(join(root, p));
      const kind = st.isSymbolicLink() ? `-> ${readlinkSync(join(root, p))}` : st.isCharacterDevice() || st.isBlockDevice() ? `dev ${st.rdev}` : "";
      lines.push(`${p} ${(st.mode & 0o177777).toString(8)} ${st.uid}:${st.gid} nlink=${st.nlink} ${kind}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(".");
  return lines;
}

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), "kube-rootfs-snapshot-"))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function syntheticRootfs(root: string) {
  mkdirSync(join(root, "usr/bin"), { recursive: true });
  mkdirSync(join(root, "tmp"), { mode: 0o1777 });
  chmodSync(join(root, "tmp"), 0o1777);
  mkdirSync(join(root, "dev"));
  mkdirSync(join(root, "home/user"), { recursive: true });
  chownSync(join(root, "home/user"), 1000, 1000);
  writeFileSync(join(root, "usr/bin/ping"), "#!/bin/sh\n");
  chmodSync(join(root, "usr/bin/ping"), 0o755);
  writeFileSync(join(root, "usr/bin/su"), "setuid");
  chmodSync(join(root, "usr/bin/su"), 0o4755);
  writeFileSync(join(root, "home/user/owned"), "x");
  chownSync(join(root, "home/user/owned"), 54321, 65000); // ids with no name on this host
  writeFileSync(join(root, "usr/bin/perl"), "perl");
  linkSync(join(root, "usr/bin/perl"), join(root, "usr/bin/perl5.36"));
  symlinkSync("usr/bin", join(root, "bin"));
  symlinkSync("/dev/null", join(root, "usr/bin/dangling-abs"));
  sh("mknod", "-m", "0666", join(root, "dev/null"), "c", "1", "3");
  sh("mknod", "-m", "0660", join(root, "dev/loop0"), "b", "7", "0");
  sh("mkfifo", join(root, "dev/initctl"));
  sh("setcap", "cap_net_raw+ep", join(root, "usr/bin/ping"));
  sh("setfattr", "-n", "user.kube-rootfs", "-v", "kept", join(root, "usr/bin/perl"));
}

describe("snapshot and restore", () => {
  for (const compression of ["zstd", "gzip"] as const) {
    test(`${compression}: ownership, modes, links, devices and file capabilities survive`, async () => {
      const src = join(dir, `src-${compression}`);
      const out = join(dir, `out-${compression}`);
      mkdirSync(src);
      mkdirSync(out);
      syntheticRootfs(src);
      const file = join(dir, "cache", "rootfs", `t.${compression === "zstd" ? "tar.zst" : "tar.gz"}`);
      const log = join(dir, "snapshot.log");
      const signal = new AbortController().signal;
      const sha = await createSnapshot(src, file, log, signal, compression);
      expect(readSidecar(file)).toBe(sha);
      expect(detectCompression(file)).toBe(compression);
      expect(lstatSync(join(dir, "cache", "rootfs")).mode & 0o777).toBe(0o700);
      expect(lstatSync(file).mode & 0o777).toBe(0o600);

      await restoreSnapshot(file, out, log, signal);
      expect(describeTree(out)).toEqual(describeTree(src));
      expect(lstatSync(join(out, "usr/bin/perl")).ino).toBe(lstatSync(join(out, "usr/bin/perl5.36")).ino);
      expect(sh("getcap", join(out, "usr/bin/ping"))).toContain("cap_net_raw=ep");
      expect(sh("getfattr", "--only-values", "-n", "user.kube-rootfs", join(out, "usr/bin/perl"))).toBe("kept");
      expect(readdirSync(join(dir, "cache", "rootfs")).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    });
  }
});

describe("bootstrap.method tarball", () => {
  let tarball: string;
  let sha: string;
  const args = (name: string, source: string, sha256: string) => [
    "provision", "--machine", name, "--machine-dir", join(dir, "machines", name), "--cache-dir", join(dir, "tcache"),
    "--nspawn-config-file", join(dir, `${name}.nspawn`), "--service-override-file", join(dir, `${name}.conf`),
    "--bootstrap-method", "tarball", "--bootstrap-tarball", source, "--bootstrap-sha256", sha256, "--skip-phases", "install", ...sandbox,
  ];
  let sandbox: string[];
  beforeAll(async () => {
    sandbox = await sandboxImageArgs();
    const src = join(dir, "tsrc");
    mkdirSync(src);
    syntheticRootfs(src);
    tarball = join(dir, "given", "base.tar.zst");
    sha = await createSnapshot(src, tarball, join(dir, "t.log"), new AbortController().signal, "zstd");
  });

  test("a right sha256 restores it; asked for, the run's marks time the restore and the flush apart", async () => {
    const r = await runSource(args("t1", `file://${tarball}`, sha), { KUBE_ROOTFS_TIMINGS: "1" });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('"msg":"restored from tarball"');
    expect(sh("getcap", join(dir, "machines/t1/usr/bin/ping"))).toContain("cap_net_raw=ep");
    const { timings } = JSON.parse(r.stderr) as { timings: Record<string, number> };
    const names = Object.keys(timings);
    expect(names.indexOf("readiness")).toBeLessThan(names.indexOf("restored"));
    expect(names.indexOf("restored") + 1).toBe(names.indexOf("flushed"));
    expect(names.indexOf("flushed")).toBeLessThan(names.indexOf("workspace"));
    expect(timings.flushed).toBeGreaterThanOrEqual(timings.restored!);
  });

  test("a wrong sha256 names both hashes and leaves nothing behind", async () => {
    const wrong = "0".repeat(64);
    const r = await runSource(args("t2", tarball, wrong));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`sha256 mismatch for bootstrap.tarball ${tarball}: expected ${wrong}, got ${sha}`);
    expect(existsSync(join(dir, "machines/t2"))).toBe(false);
    expect(readdirSync(join(dir, "machines")).filter((n) => n.startsWith("t2"))).toEqual([]);
  });

  test("over http, a wrong sha256 removes the download too", async () => {
    const served = await serveDir(join(dir, "given"));
    try {
      const wrong = "f".repeat(64);
      const r = await runSource(args("t3", `${served.url}/base.tar.zst`, wrong));
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`expected ${wrong}, got ${sha}`);
      expect(readdirSync(join(dir, "machines")).filter((n) => n.startsWith("t3"))).toEqual([]);
      expect(readdirSync(join(dir, "tcache", "rootfs"))).toEqual([]);
    } finally {
      served.stop();
    }
  });

  test("sha256 is required, before anything is touched", async () => {
    const r = await runSource(args("t4", tarball, sha).filter((a, i, all) => a !== "--bootstrap-sha256" && all[i - 1] !== "--bootstrap-sha256"));
    expect(r.code).toBe(2); // a usage error: the schema requires it with the tarball method
    expect(existsSync(join(dir, "machines/t4"))).toBe(false);
    expect(r.stderr).toContain("bootstrap.sha256: required with bootstrap.method tarball");
  });
});

test("a snapshot's recorded sha256 is its content's", async () => {
  const file = join(dir, "given", "base.tar.zst");
  const hex = new Bun.CryptoHasher("sha256").update(readFileSync(file)).digest("hex");
  expect(readSidecar(file)).toBe(hex);
});
