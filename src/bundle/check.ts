// fetch --check: a carried-in bundle against its lock: every file present, its size and sha256,
// each artifact's checksum file agreeing, and every blob of each pre-loaded image hashing to its
// digest. Returns every problem, one line each.
import { existsSync, statSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { CATALOG } from "../artifacts/catalog";
import { parseChecksum } from "../artifacts/checksum";
import { sha256File } from "../fs/hash";
import { checksumFor } from "../artifacts/plan";
import type { ArtifactName } from "../config/schema";
import { ConfigError } from "../errors";
import type { ImageManifest } from "../oci/media";
import { imagesLayout } from "../images/preload";
import { LOCK_FILE, readLock, type Lock, type LockedFile, type LockedImage } from "./lock";

async function checkFile(bundle: string, what: string, f: LockedFile): Promise<string | undefined> {
  const path = join(bundle, f.path);
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return `${what}: ${f.path} is missing`;
  }
  if (size !== f.size) return `${what}: ${f.path} is ${size} bytes, the lock says ${f.size}`;
  const sha = await sha256File(path);
  return sha === f.sha256 ? undefined : `${what}: ${f.path} has sha256 ${sha}, the lock says ${f.sha256}`;
}

/** The platform manifest and every blob it names, each re-hashed against its digest. */
async function checkImage(bundle: string, what: string, locked: LockedImage): Promise<string[]> {
  const layout = imagesLayout(bundle);
  let manifest: ImageManifest;
  try {
    manifest = layout.readJSON<ImageManifest>({ mediaType: "", ...locked });
  } catch (err) {
    return [`${what}: manifest ${locked.digest}: ${(err as Error).message}`];
  }
  const blobs = [manifest.config, ...manifest.layers];
  const problems = await Promise.all(
    blobs.map((d) => checkFile(bundle, `${what} blob`, { path: relative(bundle, layout.blobPath(d.digest)), size: d.size, sha256: d.digest.slice("sha256:".length) })),
  );
  return problems.filter((p) => p !== undefined);
}

export async function checkBundle(bundle: string, lock: Lock): Promise<{ problems: string[]; checked: number }> {
  const problems: string[] = [];
  let checked = 0;
  for (const [name, byArch] of Object.entries(lock.artifacts) as Array<[ArtifactName, Record<string, LockedFile & { version: string }>]>) {
    const entry = CATALOG[name];
    for (const [arch, f] of Object.entries(byArch)) {
      const what = `${name} ${f.version} ${arch}`;
      checked++;
      const bad = await checkFile(bundle, what, f);
      if (bad) problems.push(bad);
      const sums = checksumFor(entry, f.path);
      const text = await Bun.file(join(bundle, sums)).text().catch(() => undefined);
      if (text === undefined) problems.push(`${what}: checksum file ${sums} is missing`);
      else {
        try {
          const hex = parseChecksum(text, entry, basename(f.path), sums);
          if (hex !== f.sha256) problems.push(`${what}: checksum file ${sums} says ${hex}, the lock says ${f.sha256}`);
        } catch (err) {
          problems.push(`${what}: ${(err as Error).message}`);
        }
      }
    }
  }
  for (const [arch, f] of Object.entries(lock.rootfs)) {
    checked++;
    const bad = await checkFile(bundle, `rootfs ${f.suite} ${arch}`, f);
    if (bad) problems.push(bad);
  }
  for (const [image, byArch] of Object.entries(lock.images)) {
    for (const [arch, locked] of Object.entries(byArch)) {
      checked++;
      problems.push(...(await checkImage(bundle, `image ${image} ${arch}`, locked)));
    }
  }
  return { problems, checked };
}

/** fetch --check: the bundle against `lock` (--lock), else against the lock inside it. */
export async function checkBundleLock(bundle: string, lock: string | undefined): Promise<{ problems: string[]; checked: number; source: string }> {
  const source = lock ? resolve(lock) : join(bundle, LOCK_FILE);
  if (!existsSync(source)) throw new ConfigError(`fetch --check: ${source} not found (a bundle made by kube-rootfs fetch has one)`);
  return { ...(await checkBundle(bundle, readLock(source))), source };
}
