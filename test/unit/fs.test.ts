import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { symlinkAtomic, writeFileAtomic } from "../../src/fs/atomic";
import { OutsideRootError, readableInside, resolveInside } from "../../src/fs/inside";

let root: string;
let outside: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "kube-rootfs-root-"));
  outside = mkdtempSync(join(tmpdir(), "kube-rootfs-outside-"));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe("readableInside", () => {
  test("follows the file's own links inside the rootfs: an absolute one as the machine sees it, a relative one beside it", () => {
    mkdirSync(join(root, "var/lib/kubelet/pki"), { recursive: true });
    writeFileSync(join(root, "var/lib/kubelet/pki/kubelet-client-2026.pem"), "pem\n");
    symlinkSync("/var/lib/kubelet/pki/kubelet-client-2026.pem", join(root, "var/lib/kubelet/pki/kubelet-client-current.pem"));
    symlinkSync("kubelet-client-current.pem", join(root, "var/lib/kubelet/pki/client.pem"));
    expect(readableInside(root, "var/lib/kubelet/pki/kubelet-client-current.pem")).toBe(join(root, "var/lib/kubelet/pki/kubelet-client-2026.pem"));
    expect(readableInside(root, "var/lib/kubelet/pki/client.pem")).toBe(join(root, "var/lib/kubelet/pki/kubelet-client-2026.pem"));
    // resolveInside, for writes, leaves the last link alone
    expect(resolveInside(root, "var/lib/kubelet/pki/kubelet-client-current.pem")).toBe(join(root, "var/lib/kubelet/pki/kubelet-client-current.pem"));
  });

  test("a link that leads out of the rootfs or loops is refused; a missing file is named as it is", () => {
    symlinkSync("../../../etc/shadow", join(root, "out.pem"));
    symlinkSync("loop.pem", join(root, "loop.pem"));
    expect(() => readableInside(root, "out.pem")).toThrow(OutsideRootError);
    expect(() => readableInside(root, "loop.pem")).toThrow(OutsideRootError);
    expect(readableInside(root, "missing.pem")).toBe(join(root, "missing.pem"));
  });
});

describe("resolveInside", () => {
  test("plain and missing paths stay under the root", () => {
    mkdirSync(join(root, "etc"));
    expect(resolveInside(root, "etc/hostname")).toBe(join(root, "etc/hostname"));
    expect(resolveInside(root, "opt/cni/bin/bridge")).toBe(join(root, "opt/cni/bin/bridge"));
  });

  test("refuses .. and absolute paths", () => {
    expect(() => resolveInside(root, "../etc/passwd")).toThrow(OutsideRootError);
    expect(() => resolveInside(root, "etc/../../x")).toThrow(OutsideRootError);
    expect(() => resolveInside(root, "/etc/hostname")).toThrow(OutsideRootError);
  });

  test("follows merged-usr style relative links inside the rootfs", () => {
    mkdirSync(join(root, "usr/lib"), { recursive: true });
    symlinkSync("usr/lib", join(root, "lib"));
    expect(resolveInside(root, "lib/modules-load.d/x.conf")).toBe(join(root, "usr/lib/modules-load.d/x.conf"));
  });

  test("absolute links resolve as the machine sees them (var/run -> /run)", () => {
    mkdirSync(join(root, "run"));
    mkdirSync(join(root, "var"));
    symlinkSync("/run", join(root, "var/run"));
    expect(resolveInside(root, "var/run/x")).toBe(join(root, "run/x"));
  });

  test("refuses etc -> /etc and links that climb out", () => {
    symlinkSync("/etc", join(root, "etc"));
    expect(() => resolveInside(root, "etc/hostname")).toThrow(/loops or leads out/);
    mkdirSync(join(root, "opt"));
    symlinkSync("../../../../../..", join(root, "opt/up"));
    expect(() => resolveInside(root, "opt/up/etc/hostname")).toThrow(/leads out of the rootfs/);
    symlinkSync(outside, join(root, "away"));
    // an absolute link is re-rooted: it names <root><outside>, never the host's directory
    expect(resolveInside(root, "away/file")).toBe(join(root, outside, "file"));
  });

  test("the last component is not followed", () => {
    mkdirSync(join(root, "etc"));
    symlinkSync("/etc/passwd", join(root, "etc/resolv.conf"));
    expect(resolveInside(root, "etc/resolv.conf")).toBe(join(root, "etc/resolv.conf"));
  });
});

describe("writeFileAtomic", () => {
  test("writes with the mode, then reports unchanged without touching the file", async () => {
    const p = join(root, "a/b/file");
    expect(await writeFileAtomic(p, "hello\n", 0o600)).toBe("written");
    expect((statSync(p).mode & 0o777).toString(8)).toBe("600");
    const before = statSync(p).mtimeMs;
    expect(await writeFileAtomic(p, "hello\n", 0o600)).toBe("unchanged");
    expect(statSync(p).mtimeMs).toBe(before);
    expect(await writeFileAtomic(p, "hello\n", 0o644)).toBe("written");
    expect(readdirSync(join(root, "a/b"))).toEqual(["file"]);
  });

  test("replaces a symlink instead of writing through it", async () => {
    const victim = join(outside, "victim");
    writeFileSync(victim, "keep");
    symlinkSync(victim, join(root, "resolv.conf"));
    await writeFileAtomic(join(root, "resolv.conf"), "nameserver 1.1.1.1\n");
    expect(readFileSync(victim, "utf8")).toBe("keep");
    expect(lstatSync(join(root, "resolv.conf")).isFile()).toBe(true);
  });

  test("a failed write names the path and leaves no temp file", async () => {
    writeFileSync(join(root, "notadir"), "");
    await expect(writeFileAtomic(join(root, "notadir/x"), "x")).rejects.toThrow(`write ${root}/notadir/x: a parent is not a directory`);
    mkdirSync(join(root, "dir"));
    await expect(writeFileAtomic(join(root, "dir"), "x")).rejects.toThrow(`write ${root}/dir: is a directory`);
    expect(readdirSync(root).sort()).toEqual(["dir", "notadir"]);
  });
});

describe("symlinkAtomic", () => {
  test("creates, keeps, and replaces a link", async () => {
    const p = join(root, "etc/systemd/system/systemd-resolved.service");
    expect(await symlinkAtomic(p, "/dev/null")).toBe("written");
    expect(await symlinkAtomic(p, "/dev/null")).toBe("unchanged");
    expect(readlinkSync(p)).toBe("/dev/null");
    rmSync(p);
    writeFileSync(p, "[Unit]\n");
    expect(await symlinkAtomic(p, "/dev/null")).toBe("written");
    expect(readlinkSync(p)).toBe("/dev/null");
    expect(existsSync(join(root, "etc/systemd/system"))).toBe(true);
  });
});
