// Push built images to a registry: blobs the registry lacks, then each manifest, and for several
// arches an index that names them. The tag moves last, so a failed push never leaves the tag on
// a half-pushed image.
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { registryOptions } from "../config/client-options";
import type { Resolved } from "../config/resolve";
import type { Task } from "../engine/task";
import { ConfigError } from "../errors";
import { ensureSnapshot, rootfsSource } from "../rootfs/bootstrap";
import { readSidecar, verifySnapshot, type Compression } from "../rootfs/bootstrap/snapshot";
import { buildImage, imageIndex, type Doc, type Image } from "./build";
import type { Descriptor } from "../oci/media";
import { formatRegistryRef, type RegistryRef } from "../oci/ref";
import { Registry } from "../oci/registry";

export interface Pushed {
  /** the digest the tag now names: the index's for several arches, else the manifest's */
  digest: string;
  /** what was uploaded, what the registry had already */
  uploaded: string[];
  present: string[];
}

/** A push names a tag: a digest reference cannot be written to. */
export function pushTag(ref: RegistryRef): string {
  if (ref.digest || !ref.tag) throw new ConfigError(`image push ${formatRegistryRef(ref)}: give a tag (host/repo:tag), not a digest`);
  return ref.tag;
}

export async function pushImages(registry: Registry, ref: RegistryRef, images: Image[], onBlob?: (d: Descriptor, uploaded: boolean) => void): Promise<Pushed> {
  const tag = pushTag(ref);
  const uploaded: string[] = [];
  const present: string[] = [];
  const blob = async (d: Descriptor, body: () => Blob | Uint8Array) => {
    if (await registry.blobExists(ref.repo, d.digest)) {
      present.push(d.digest);
    } else {
      await registry.uploadBlob(ref.repo, d.digest, body, d.size);
      uploaded.push(d.digest);
    }
    onBlob?.(d, uploaded.includes(d.digest));
  };
  const put = (reference: string, d: Doc) => registry.putManifest(ref.repo, reference, d.descriptor.mediaType, d.bytes);

  for (const image of images) {
    await blob(image.layer, () => Bun.file(image.layer.file));
    await blob(image.config.descriptor, () => image.config.bytes);
  }
  if (images.length === 1) return { digest: await put(tag, images[0]!.manifest), uploaded, present };
  for (const image of images) await put(image.manifest.descriptor.digest, image.manifest);
  return { digest: await put(tag, imageIndex(images.map((i) => i.manifest.descriptor))), uploaded, present };
}

/**
 * Push the bootstrap snapshot of each goal's arch (bootstrapping it first when the cache has
 * none) as one image. `done` receives the pushed digest.
 */
export function imagePushTask(goals: Resolved[], ref: RegistryRef, compression: Compression, done: (p: Pushed) => void): Task {
  return {
    name: "image-push",
    async run(ctx) {
      pushTag(ref);
      const images: Image[] = [];
      const workDir = join(goals[0]!.cacheDir, `.image-push-${process.pid}`);
      try {
        // One arch after the other: bootstraps share the cache's scratch dir and the CPU.
        for (const goal of goals) {
          const snapshot = await ensureSnapshot(goal, rootfsSource(goal), ctx);
          if (ctx.dryRun || !snapshot) {
            ctx.log.info("would push", { arch: goal.arch, snapshot: snapshot?.file, ref: formatRegistryRef(ref), compression });
            continue;
          }
          await verifySnapshot(snapshot.file, readSidecar(snapshot.file) ?? "");
          mkdirSync(workDir, { recursive: true, mode: 0o700 });
          const started = performance.now();
          const image = await buildImage(goal.arch, snapshot.file, compression, workDir, ctx.signal);
          ctx.log.info("image built", { arch: goal.arch, snapshot: snapshot.file, layer: image.layer.digest, size: image.layer.size, diffID: image.layer.diffID, seconds: seconds(started) });
          images.push(image);
        }
        if (ctx.dryRun) return "skipped";
        const started = performance.now();
        const pushed = await pushImages(new Registry(ref.host, registryOptions(goals[0]!, ctx.signal)), ref, images, (d, uploaded) => ctx.log.info(uploaded ? "blob uploaded" : "blob present", { digest: d.digest, size: d.size }));
        ctx.log.info("pushed", { ref: formatRegistryRef(ref), digest: pushed.digest, arches: goals.map((g) => g.arch), seconds: seconds(started) });
        done(pushed);
        return pushed.uploaded.length ? "completed" : "skipped";
      } finally {
        rmSync(workDir, { recursive: true, force: true });
      }
    },
  };
}

const seconds = (since: number) => Math.round(performance.now() - since) / 1000;
