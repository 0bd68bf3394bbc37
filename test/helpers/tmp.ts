// Temp dirs for tests, all removed once the whole run is over (test/setup.ts): bun test does not
// run exit handlers, and a suite that provisions dozens of machines must not fill the disk.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mountsUnder } from "../../src/fs/tree";

const made: string[] = [];

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `kube-rootfs-${prefix}-`));
  made.push(dir);
  return dir;
}

/** Remove a test's tree; a test that failed half-way may have left a tmpfs mounted below it: never delete through it. */
export function removeDir(dir: string) {
  for (const m of mountsUnder(dir)) Bun.spawnSync(["umount", "--lazy", m]);
  rmSync(dir, { recursive: true, force: true });
}

export function removeTempDirs() {
  made.splice(0).forEach(removeDir);
}
