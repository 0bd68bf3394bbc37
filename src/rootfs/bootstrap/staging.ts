// A rootfs is built in a staging dir beside the machine dir and renamed into place only when
// complete, so a crash never leaves a half-made machine dir that a later run mistakes for done.
// Staging dirs of earlier runs are never trusted: they are unmounted and removed.
import { spawnSync } from "bun";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { RunError } from "../../errors";
import { fsyncDir, ioError } from "../../fs/atomic";

const MARK = ".staging-";

export const stagingDirFor = (machineDir: string, pid = process.pid) => `${machineDir}${MARK}${pid}`;

/** Staging dirs of earlier runs for this machine dir (the machine lock rules out a live one). */
export function leftoverStagingDirs(machineDir: string): string[] {
  const prefix = basename(machineDir) + MARK;
  try {
    return readdirSync(dirname(machineDir))
      .filter((n) => n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length)))
      .map((n) => join(dirname(machineDir), n));
  } catch {
    return [];
  }
}

/** Mount points at or under `dir`, deepest first (a killed bootstrap leaves its /proc, /sys). */
export function mountsUnder(dir: string, mountinfo = readFileSync("/proc/self/mountinfo", "utf8")): string[] {
  // Field 5 is the mount point, with space, tab, newline and backslash octal-escaped.
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return mountinfo
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m): m is string => m !== undefined)
    .map(unescape)
    .filter((m) => m === dir || m.startsWith(dir + "/"))
    .sort((a, b) => b.length - a.length);
}

/** Remove a tree, first detaching any mount inside it so the removal never reaches the host. */
export function removeTree(dir: string): void {
  for (const m of mountsUnder(dir)) {
    const r = spawnSync(["umount", "--lazy", m], { stderr: "pipe" });
    if (r.exitCode !== 0) throw new RunError(`unmount ${m} before removing ${dir}: ${r.stderr.toString().trim()}`);
  }
  if (mountsUnder(dir).length) throw new RunError(`remove ${dir}: still has mounts inside`);
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    throw ioError(`remove ${dir}`, err);
  }
}

/** A fresh, empty staging dir for this run, after removing every leftover. */
export function freshStagingDir(machineDir: string): { dir: string; removed: string[] } {
  const removed = leftoverStagingDirs(machineDir);
  removed.forEach(removeTree);
  const dir = stagingDirFor(machineDir);
  try {
    mkdirSync(dirname(machineDir), { recursive: true, mode: 0o755 });
    mkdirSync(dir, { mode: 0o755 });
  } catch (err) {
    throw ioError(`create staging dir ${dir}`, err);
  }
  return { dir, removed };
}

/**
 * Rename the finished staging dir into place (rename(2) replaces an empty machine dir). Its
 * contents are flushed first (syncfs of its filesystem): a power loss right after the rename
 * must not leave a machine dir that later runs trust with files that never reached the disk.
 */
export async function promote(staging: string, machineDir: string): Promise<void> {
  const sync = Bun.spawn(["sync", "--file-system", staging], { stdout: "ignore", stderr: "pipe" });
  const [code, stderr] = await Promise.all([sync.exited, new Response(sync.stderr).text()]);
  if (code !== 0) throw new RunError(`flush ${staging} to disk: sync exited ${code}: ${stderr.trim()}`);
  try {
    renameSync(staging, machineDir);
    await fsyncDir(dirname(machineDir));
  } catch (err) {
    throw ioError(`move ${staging} into place as ${machineDir}`, err);
  }
}
