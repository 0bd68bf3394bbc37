// Rootfs snapshots that one test file's fetch made, lent to the bundles of later files in the same
// run (bun test runs every file in one process). Bootstrapping arm64 under qemu takes minutes, and
// three files need the same two bases; each file still makes them itself when it runs first, and
// lent files are the ones fetch would make (their names carry the snapshot key).
import { copyFileSync, linkSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./tmp";

const kept = new Map<string, string>();
let store: string | undefined;

const rootfsDir = (bundle: string) => join(bundle, "rootfs");

function place(from: string, to: string) {
  try {
    linkSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
    copyFileSync(from, to);
  }
}

/** Put every snapshot kept so far into the bundle, before its fetch. */
export function lendSnapshots(bundle: string): string[] {
  mkdirSync(rootfsDir(bundle), { recursive: true });
  const have = new Set(readdirSync(rootfsDir(bundle)));
  const lent = [...kept].filter(([name]) => !have.has(name));
  for (const [name, path] of lent) place(path, join(rootfsDir(bundle), name));
  return lent.map(([name]) => name);
}

/** Keep the bundle's snapshots (and their sha256 sidecars) for later files, after its fetch. */
export function keepSnapshots(bundle: string): void {
  store ??= tempDir("shared-snapshots");
  for (const name of readdirSync(rootfsDir(bundle))) {
    if (kept.has(name) || !/\.tar\.(zst|gz)(\.sha256)?$/.test(name)) continue;
    place(join(rootfsDir(bundle), name), join(store, name));
    kept.set(name, join(store, name));
  }
}
