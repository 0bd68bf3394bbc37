// The install manifest inside the rootfs: what each artifact installed, so a re-run can skip
// in milliseconds (size + mtime) without executing binaries of maybe another architecture,
// and verify can re-hash. It is written last: a crash leaves "not installed", never
// "installed but corrupt".
import { lstatSync, readFileSync, readlinkSync } from "node:fs";
import { dirname } from "node:path";
import type { ArtifactName } from "../config/schema";
import { RunError } from "../errors";
import { sweepStaleTemps, writeFileAtomic } from "../fs/atomic";
import { notAFile, ownershipDrift, type Drift } from "../fs/drift";
import { sha256File } from "../fs/hash";
import { resolveInside } from "../fs/inside";
import { stableJSON } from "../stable-json";

export const MANIFEST = "var/lib/kube-rootfs/manifest.json";

export interface InstalledFile {
  path: string;
  sha256: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
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

/** What the goal wants of one artifact (an ArtifactPlan is one). */
export interface WantedArtifact {
  entry: { name: ArtifactName };
  version: string;
  arch: string;
  pinned?: string;
}

/**
 * The one rule for "installed and up to date", shared by the pipeline and verify: the manifest
 * records this version, arch and pin, and every file it installed is still a regular file with
 * its recorded mode, owner and content. Content is judged by size and mtime (`"stat"`: a re-run
 * reads no byte) or by re-hashing (`"sha256"`: verify). No drift means up to date.
 */
export async function installDrift(root: string, want: WantedArtifact, have: InstalledArtifact | undefined, content: "stat" | "sha256"): Promise<Drift[]> {
  const path = resolveInside(root, MANIFEST);
  const name = want.entry.name;
  const wanted = `${name} ${want.version} (${want.arch})`;
  if (!have) return [{ path, expected: `${wanted} installed`, found: "not installed" }];
  const drifts: Drift[] = [];
  if (have.version !== want.version || have.arch !== want.arch) drifts.push({ path, expected: wanted, found: `${name} ${have.version} (${have.arch})` });
  if (want.pinned && have.sha256 !== want.pinned) drifts.push({ path, expected: `${name} asset sha256 ${want.pinned}`, found: have.sha256 });
  for (const f of have.files) drifts.push(...(await fileDrift(root, f, content)));
  return drifts;
}

async function fileDrift(root: string, f: InstalledFile, content: "stat" | "sha256"): Promise<Drift[]> {
  const path = resolveInside(root, f.path);
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return [{ path, expected: `sha256 ${f.sha256}`, found: "missing" }];
  }
  const other = notAFile(st, () => readlinkSync(path));
  if (other) return [{ path, expected: "a regular file", found: other }];
  const drifts = ownershipDrift(path, st, f);
  if (content === "stat") {
    if (st.size !== f.size || st.mtimeMs !== f.mtime) drifts.push({ path, expected: `${f.size} bytes, mtime ${f.mtime}`, found: `${st.size} bytes, mtime ${st.mtimeMs}` });
  } else {
    const found = await sha256File(path);
    if (found !== f.sha256) drifts.push({ path, expected: `sha256 ${f.sha256}`, found: `sha256 ${found}` });
  }
  return drifts;
}
