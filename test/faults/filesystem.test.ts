// Filesystem faults: a full disk and a read-only target, on real tmpfs mounts (the suite runs
// as root). Each fails with lines naming the path and the cause, leaves nothing partial, and
// converges once the filesystem is fixed.
import { afterAll, afterEach, expect, setDefaultTimeout } from "bun:test";
import { mkdirSync } from "node:fs";
import { faultTest } from "./fault-test";
import { cleanMirror, stopCleanMirror, expectCleanFailure, expectConverges, leftovers, newMachine, provision, dropMachines } from "./harness";

afterEach(dropMachines);
setDefaultTimeout(180_000);
const mounts: string[] = [];
afterAll(async () => {
  for (const m of mounts) Bun.spawnSync(["umount", "-l", m]);
  await stopCleanMirror();
});

function sh(...cmd: string[]) {
  const r = Bun.spawnSync(cmd, { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
}

function tmpfs(path: string, size: string) {
  mkdirSync(path, { recursive: true });
  sh("mount", "-t", "tmpfs", "-o", `size=${size}`, "tmpfs", path);
  mounts.push(path);
}

faultTest("fs-full", async () => {
  const { url } = await cleanMirror();
  // A rootfs with room for the OS files but not for containerd and runc.
  const rootCase = newMachine();
  tmpfs(rootCase.root, "12m");
  expectCleanFailure(await provision(rootCase, url, ["--skip-phases", "kube,cni"]), rootCase, new RegExp(`^kube-rootfs: cri: .*write ${rootCase.root}/usr/local/bin/[\\w-]+: no space left on device`));
  sh("mount", "-o", "remount,size=512m", rootCase.root);
  await expectConverges(rootCase);

  // A cache too small for the downloads.
  const cacheCase = newMachine();
  tmpfs(cacheCase.cache, "12m");
  expectCleanFailure(await provision(cacheCase, url, ["--skip-phases", "kube,cni"]), cacheCase, new RegExp(`^kube-rootfs: cri: .*write ${cacheCase.cache}/[\\w./-]+: no space left on device`));
  sh("mount", "-o", "remount,size=512m", cacheCase.cache);
  await expectConverges(cacheCase);
});

faultTest("fs-readonly", async () => {
  const { url } = await cleanMirror();
  const m = newMachine();
  tmpfs(m.root, "256m");
  sh("mount", "-o", "remount,ro", m.root);
  const r = await provision(m, url);
  expect(r.code).toBe(1);
  const lines = r.stderr.trim().split("\n");
  // Every task that writes fails on its own, each with one line naming its path.
  expect(lines.length).toBeGreaterThanOrEqual(1);
  for (const line of lines) expect(line).toMatch(new RegExp(`^kube-rootfs: [\\w-]+: .*${m.root}.*: read-only file system`));
  expect(leftovers(m.cache)).toEqual([]);
  sh("mount", "-o", "remount,rw", m.root);
  await expectConverges(m);
});
