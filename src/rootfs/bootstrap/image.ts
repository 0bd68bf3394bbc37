// The image method: the rootfs comes from an OCI image (a registry, an oci-layout dir or an
// oci-archive), its layers unpacked into the staging dir. The image's digest is recorded inside
// the rootfs, so a later run can tell what the machine was made from.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { registryOptions } from "../../config/client-options";
import type { Resolved } from "../../config/resolve";
import { ConfigError } from "../../errors";
import type { TaskContext } from "../../engine/task";
import { writeFileAtomic } from "../../fs/atomic";
import { resolveInside } from "../../fs/inside";
import { cacheLayout, holdsImage, localImage } from "../../oci/pull";
import { parseImageRef, type ImageRef } from "../../oci/ref";

export interface ImageSource {
  /** the reference as configured */
  image: string;
  ref: ImageRef;
}

/** Inside the rootfs, beside the install manifest. */
export const IMAGE_RECORD = "var/lib/kube-rootfs/image.json";

export interface ImageRecord {
  image: string;
  digest: string;
  layers: string[];
}

export function imageSource(bootstrap: { image?: string }): ImageSource {
  if (!bootstrap.image) throw new ConfigError("bootstrap.image: required with bootstrap.method image (--bootstrap-image REF)");
  return { image: bootstrap.image, ref: parseImageRef(bootstrap.image) };
}

/** Pull (or read) the image and unpack it into `staging`; resolves to its record. */
export async function unpackImage(src: ImageSource, goal: Resolved, staging: string, ctx: TaskContext): Promise<ImageRecord> {
  const started = performance.now();
  const image = await localImage(src.ref, src.image, { arch: goal.arch, cacheDir: goal.cacheDir, offline: goal.offline, registry: registryOptions(goal, ctx.signal) });
  try {
    ctx.log.info("image resolved", { image: src.image, digest: image.digest, layers: image.manifest.layers.length, seconds: seconds(started) });
    // Loaded here: node:stream and node:zlib would cost every other run's start-up.
    const { unpackLayers } = await import("../../oci/unpack-layers");
    await unpackLayers(image.layout, image.manifest.layers, staging, src.image);
  } finally {
    image.cleanup();
  }
  const record: ImageRecord = { image: src.image, digest: image.digest, layers: image.manifest.layers.map((l) => l.digest) };
  await writeFileAtomic(resolveInside(staging, IMAGE_RECORD), JSON.stringify(record, null, 2) + "\n");
  return record;
}

const seconds = (since: number) => Math.round(performance.now() - since) / 1000;

export function readImageRecord(machineDir: string): ImageRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(machineDir, IMAGE_RECORD), "utf8")) as ImageRecord;
  } catch {
    return undefined;
  }
}

/** What an offline run lacks for this image, or undefined (local layouts and archives are checked when read). */
export function offlineImageMissing(src: ImageSource, cacheDir: string): string | undefined {
  if (src.ref.kind !== "registry") return undefined;
  const cache = cacheLayout(cacheDir);
  return holdsImage(cache, src.ref) ? undefined : `image ${src.image} (pull it once online into ${cache.dir})`;
}
