// kube-rootfs.lock: per artifact and arch the version, the path in the bundle, size and sha256,
// per arch the rootfs snapshot, and per pre-loaded image and arch its platform manifest's digest.
// JSON with sorted keys, so it diffs well. With --lock, every artifact's sha256 comes from it and
// beats any checksum file.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Resolved } from "../config/resolve";
import type { ArtifactName } from "../config/schema";
import { ConfigError } from "../errors";
import { writeFileAtomic } from "../fs/atomic";
import { CATALOG } from "../artifacts/catalog";
import { artifactVersion } from "../artifacts/plan";
import { preloadImages } from "../images/preload";
import { stableJSON } from "../stable-json";

export const LOCK_FILE = "kube-rootfs.lock";

export interface LockedFile {
  path: string;
  size: number;
  sha256: string;
}

export interface LockedArtifact extends LockedFile {
  version: string;
}

export interface LockedRootfs extends LockedFile {
  key: string;
  suite: string;
}

/**
 * An image for one arch: its platform manifest (what the machine imports, and what names every
 * blob fetch --check re-hashes), not the index, which changes when the registry adds an arch.
 */
export interface LockedImage {
  digest: string;
  size: number;
}

export interface Lock {
  schema: 1;
  artifacts: Partial<Record<ArtifactName, Record<string, LockedArtifact>>>;
  rootfs: Record<string, LockedRootfs>;
  /** image reference → arch → its platform manifest */
  images: Record<string, Record<string, LockedImage>>;
}

export const emptyLock = (): Lock => ({ schema: 1, artifacts: {}, rootfs: {}, images: {} });

export function readLock(path: string): Lock {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`lock ${path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  try {
    const lock = JSON.parse(text) as Lock;
    if (lock.schema !== 1 || typeof lock.artifacts !== "object") throw new Error("not a kube-rootfs lock (schema 1)");
    return { ...lock, rootfs: lock.rootfs ?? {}, images: lock.images ?? {} };
  } catch (err) {
    throw new ConfigError(`lock ${path}: ${(err as Error).message}`);
  }
}

export async function writeLock(path: string, lock: Lock): Promise<void> {
  await writeFileAtomic(path, stableJSON(lock));
}

/** Merge what one fetch produced over an existing lock (other arches and versions are kept). */
export function mergeLock(base: Lock, add: Lock): Lock {
  const artifacts = { ...base.artifacts };
  for (const [name, byArch] of Object.entries(add.artifacts) as Array<[ArtifactName, Record<string, LockedArtifact>]>) {
    artifacts[name] = { ...artifacts[name], ...byArch };
  }
  const images = { ...base.images };
  for (const [image, byArch] of Object.entries(add.images)) images[image] = { ...images[image], ...byArch };
  return { schema: 1, artifacts, rootfs: { ...base.rootfs, ...add.rootfs }, images };
}

/** Merge `add` into the lock file at `path` (created when missing). */
export async function mergeIntoLockFile(path: string, add: Lock): Promise<void> {
  await writeLock(path, mergeLock(existsSync(path) ? readLock(path) : emptyLock(), add));
}

/**
 * Pin every artifact of the goal to the lock's sha256, and every image it pre-loads to the lock's
 * digest. A lock without the artifact or image, at another version, or disagreeing with a sha256
 * pinned in the goal is a config error, listing each.
 */
export function applyLock(goal: Resolved, lock: Lock, lockPath: string): Resolved {
  const problems: string[] = [];
  const downloads = { ...goal.downloads };
  for (const entry of Object.values(CATALOG)) {
    const dl = goal.downloads[entry.name];
    const version = artifactVersion(goal, entry);
    const locked = lock.artifacts[entry.name]?.[goal.arch];
    if (!locked) problems.push(`lock ${lockPath}: no ${entry.name} for ${goal.arch}`);
    else if (locked.version !== version) problems.push(`lock ${lockPath}: ${entry.name} ${goal.arch} is ${locked.version}, the goal asks for ${version}`);
    else if (dl.sha256 && dl.sha256 !== locked.sha256) problems.push(`downloads.${entry.name}.sha256 ${dl.sha256} disagrees with lock ${lockPath} (${locked.sha256})`);
    else downloads[entry.name] = { ...dl, sha256: locked.sha256 };
  }
  const imagePins: Record<string, string> = {};
  for (const image of preloadImages(goal)) {
    const locked = lock.images[image]?.[goal.arch];
    if (!locked) problems.push(`lock ${lockPath}: no image ${image} for ${goal.arch}`);
    else imagePins[image] = locked.digest;
  }
  if (problems.length) throw new ConfigError(problems[0]!, problems);
  return { ...goal, downloads, imagePins };
}

/** The goal with its --lock applied, if it names one (a relative path is taken from the cwd). */
export const withLock = (goal: Resolved): Resolved => {
  if (!goal.lock) return goal;
  const path = resolve(goal.lock);
  return applyLock(goal, readLock(path), path);
};
