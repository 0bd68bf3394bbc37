// Atomic install of staged files: mode, rename over the old file, fsync the directory; files
// an earlier version installed and this one does not are removed.
import { chmodSync, lstatSync, renameSync } from "node:fs";
import { dirname } from "node:path";
import { fsyncDir, ioError, removeQuietly } from "../fs/atomic";
import { resolveInside } from "../fs/inside";
import type { InstalledFile } from "./manifest";
import type { StagedFile } from "./unpack";

const EXECUTABLE = 0o755;

export async function installStaged(root: string, staged: StagedFile[], previous: InstalledFile[] = []): Promise<InstalledFile[]> {
  const installed = staged.map((f) => {
    try {
      chmodSync(f.temp, EXECUTABLE);
      renameSync(f.temp, f.final);
      const st = lstatSync(f.final);
      return { path: f.rel, sha256: f.sha256, size: st.size, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtimeMs };
    } catch (err) {
      throw ioError(`install ${f.final}`, err);
    }
  });
  const kept = new Set(installed.map((f) => f.path));
  for (const old of previous) if (!kept.has(old.path)) removeQuietly(resolveInside(root, old.path));
  await Promise.all([...new Set(staged.map((f) => dirname(f.final)))].map(fsyncDir));
  return installed;
}
