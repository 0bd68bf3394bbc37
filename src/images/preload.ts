// Container images pre-loaded into the machine: which ones (the sandbox image, always, and the
// goal's `images`), and each one's platform manifest with every blob in `<cacheDir>/images`
// (an OCI image layout shared by all images): read from there when it holds them, else pulled.
import { statSync } from "node:fs";
import { join } from "node:path";
import { registryOptions } from "../config/client-options";
import type { Resolved } from "../config/resolve";
import { RunError, withContext } from "../errors";
import { ImageLayout } from "../oci/layout";
import { MEDIA, type Descriptor, type ImageManifest } from "../oci/media";
import { holdsImage, localImage } from "../oci/pull";
import { formatRegistryRef, parseRegistryRef, type RegistryRef } from "../oci/ref";

export const imagesLayout = (cacheDir: string) => new ImageLayout(join(cacheDir, "images"));

/**
 * The images to pre-load, once each: the sandbox image always (no pod starts without it, so a
 * node never depends on reaching its registry for the first one), then the goal's `images`.
 */
export const preloadImages = (goal: Pick<Resolved, "images" | "runtime">): string[] => [...new Set([goal.runtime.sandboxImage, ...goal.images])];

export interface PreloadImage {
  /** the reference as configured */
  image: string;
  /** containerd's name for it, the reference made explicit: docker.io/library/… */
  name: string;
  /** the platform manifest */
  desc: Descriptor;
  manifest: ImageManifest;
}

/** The reference an image is taken by: its platform manifest's digest when --lock pins one. */
function pinnedRef(goal: Pick<Resolved, "imagePins">, image: string): RegistryRef {
  const ref = parseRegistryRef(image);
  const pin = goal.imagePins?.[image];
  return pin ? { ...ref, tag: undefined, digest: pin } : ref;
}

/** The layout holds what `image` names, or the digest pinned for it (blobs are checked when read). */
export const holdsPreload = (goal: Pick<Resolved, "imagePins">, layout: ImageLayout, image: string) => holdsImage(layout, pinnedRef(goal, image));

/**
 * The image's manifest for `arch` with every blob in the layout: from the layout when it holds
 * them all (no request), else pulled from its registry (unless offline: then the error says what
 * lacks). With --lock, the manifest the lock pins for this arch is the one taken.
 */
export function ensureImage(goal: Resolved, image: string, signal: AbortSignal): Promise<PreloadImage> {
  const setting = image === goal.runtime.sandboxImage ? " (runtime.sandboxImage)" : "";
  return preloadImage(goal, image, signal).catch((err: unknown) => Promise.reject(withContext(`image ${image}${setting}`, err)));
}

async function preloadImage(goal: Resolved, image: string, signal: AbortSignal): Promise<PreloadImage> {
  const arch = goal.arch;
  const ref = pinnedRef(goal, image);
  const layout = imagesLayout(goal.cacheDir);
  const opts = { arch, cacheDir: goal.cacheDir, registry: registryOptions(goal, signal), layout };
  const held = holdsImage(layout, ref);
  if (goal.offline && !held) throw new RunError(`offline, and ${layout.dir} does not hold it (kube-rootfs fetch on a connected machine)`);
  let local;
  if (held) {
    local = await localImage(ref, image, { ...opts, offline: true }).catch((err: unknown) => {
      if (goal.offline) throw err;
      return undefined; // another arch's blobs, or a blob gone: the registry has them
    });
  }
  local ??= await localImage(ref, image, { ...opts, offline: false });
  const desc: Descriptor = {
    mediaType: local.manifest.mediaType ?? MEDIA.ociManifest,
    digest: local.digest,
    size: statSync(layout.blobPath(local.digest)).size,
    platform: { os: "linux", architecture: arch, ...(arch === "arm64" ? { variant: "v8" } : {}) },
  };
  return { image, name: formatRegistryRef(parseRegistryRef(image)), desc, manifest: local.manifest };
}
