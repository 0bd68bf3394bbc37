// Removing a directory tree that may have file systems mounted inside it (a killed bootstrap
// leaves its /proc and /sys; a pull unpacks into a scratch dir): unmount first, so the removal
// never reaches the host through a mount.
import { spawnSync } from "bun";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { RunError } from "../errors";
import { ioError } from "./atomic";

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

/** Trees runs left beside `dir`, each named `<name of dir><mark><its pid>` (staging dirs, rootfs set aside). */
export function runTreesBeside(dir: string, mark: string): string[] {
  const prefix = basename(dir) + mark;
  try {
    return readdirSync(dirname(dir))
      .filter((n) => n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length)))
      .map((n) => join(dirname(dir), n));
  } catch {
    return [];
  }
}
