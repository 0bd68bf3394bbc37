// The install manifest inside the rootfs: what each artifact installed, so a re-run can skip
// in milliseconds (size + mtime) without executing binaries of maybe another architecture,
// and verify can re-hash. It is written last: a crash leaves "not installed", never
// "installed but corrupt".
import { lstatSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import type { ArtifactName } from "../config/schema";
import { RunError } from "../errors";
import { sweepStaleTemps, writeFileAtomic } from "../fs/atomic";
import { resolveInside } from "../fs/inside";
import { stableJSON } from "../stable-json";

export const MANIFEST = "var/lib/kube-rootfs/manifest.json";

export interface InstalledFile {
  path: string;
  sha256: string;
  size: number;
  mode: number;
  mtime: number;
}

export interface InstalledArtifact {
  version: string;
  arch: string;
  source: string;
  sha256: string;
  files: InstalledFile[];
}

export type Manifest = Partial<Record<ArtifactName, InstalledArtifact>>;

export function readManifest(root: string): Manifest {
  const path = resolveInside(root, MANIFEST);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new RunError(`read ${path}: ${(err as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as { artifacts?: Manifest };
    return parsed.artifacts ?? {};
  } catch {
    // A manifest we cannot read promises nothing: everything is installed again.
    return {};
  }
}

const pending = new Map<string, Promise<unknown>>();

/** Read-modify-write the manifest; concurrent tasks of one run are serialised per rootfs. */
export function updateManifest(root: string, change: (m: Manifest) => void | Promise<void>): Promise<void> {
  const prev = pending.get(root) ?? Promise.resolve();
  const next = prev.catch(() => {}).then(async () => {
    const manifest = readManifest(root);
    await change(manifest);
    const path = resolveInside(root, MANIFEST);
    sweepStaleTemps(dirname(path));
    await writeFileAtomic(path, stableJSON({ schema: 1, artifacts: manifest }));
  });
  pending.set(root, next);
  return next;
}

/** Is the recorded install still in place (every file with its size and mtime)? */
export function filesIntact(root: string, files: InstalledFile[]): boolean {
  return files.every((f) => {
    try {
      const st = lstatSync(resolveInside(root, f.path));
      return st.isFile() && st.size === f.size && st.mtimeMs === f.mtime && (st.mode & 0o7777) === f.mode;
    } catch {
      return false;
    }
  });
}
