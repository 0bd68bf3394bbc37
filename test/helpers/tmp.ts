// Temp dirs for tests, all removed once the whole run is over (test/setup.ts): bun test does not
// run exit handlers, and a suite that provisions dozens of machines must not fill the disk.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mountsUnder } from "../../src/rootfs/bootstrap/staging";

const made: string[] = [];

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `kube-rootfs-${prefix}-`));
  made.push(dir);
  return dir;
}

export function removeTempDirs() {
  for (const dir of made.splice(0)) {
    // A test that failed half-way may have left a tmpfs mounted below: never delete through it.
    for (const m of mountsUnder(dir)) Bun.spawnSync(["umount", "--lazy", m]);
    rmSync(dir, { recursive: true, force: true });
  }
}
