// Resolve an image reference to one platform's manifest with every blob on local disk: a
// registry image is pulled into the cache's image layout (skipping blobs it holds); an
// oci-layout is read in place; an oci-archive is unpacked into a temp layout first.
import { existsSync, mkdirSync, mkdtempSync, statSync } from "node:fs";
import { join } from "node:path";
import { RunError } from "../errors";
import { ioError } from "../fs/atomic";
import { removeTree } from "../fs/tree";
import type { Arch } from "../host/arch";
import { ImageLayout } from "./layout";
import { INDEX_TYPES, MANIFEST_TYPES, type Descriptor, type ImageIndex, type ImageManifest } from "./media";
import { pickPlatform, platformsOf } from "./platform";
import { formatRegistryRef, type ImageRef, type RegistryRef } from "./ref";
import { Registry, type RegistryOptions } from "./registry";

export interface LocalImage {
  /** the reference as given, for messages */
  source: string;
  layout: ImageLayout;
  /** the platform manifest's digest: what the machine records */
  digest: string;
  manifest: ImageManifest;
  /** removes a temp layout (oci-archive) */
  cleanup(): void;
}

export interface PullOptions {
  arch: Arch;
  cacheDir: string;
  offline: boolean;
  registry: RegistryOptions;
  /** where registry images are kept (default the cache's layout) */
  layout?: ImageLayout;
}

export const cacheLayout = (cacheDir: string) => new ImageLayout(join(cacheDir, "oci"));

interface Source {
  name: string;
  layout: ImageLayout;
  /** bring a blob into the layout (a no-op for a local layout) */
  fetch(desc: Descriptor): Promise<void>;
}

/** Descend from the named descriptor to this arch's image manifest. */
async function platformManifest(top: Descriptor, src: Source, arch: Arch): Promise<{ desc: Descriptor; manifest: ImageManifest }> {
  await src.fetch(top);
  if (INDEX_TYPES.includes(top.mediaType)) {
    const index = src.layout.readJSON<ImageIndex>(top);
    const picked = pickPlatform(index.manifests, arch);
    if (!picked) throw new RunError(`image ${src.name} has no linux/${arch} manifest (it has ${platformsOf(index.manifests)})`);
    return platformManifest(picked, src, arch);
  }
  if (!MANIFEST_TYPES.includes(top.mediaType)) throw new RunError(`image ${src.name}: unsupported manifest type ${top.mediaType}`);
  const manifest = src.layout.readJSON<ImageManifest>(top);
  await src.fetch(manifest.config);
  const config = src.layout.readJSON<{ architecture?: string; os?: string }>(manifest.config);
  if (config.os !== "linux" || config.architecture !== arch) throw new RunError(`image ${src.name} is ${config.os}/${config.architecture}, the machine is linux/${arch}`);
  // In parallel: the registry options' limit bounds the downloads in flight.
  await Promise.all(manifest.layers.map((layer) => src.fetch(layer)));
  return { desc: top, manifest };
}

/** A source whose blobs must all be on disk already. */
const onDisk = (layout: ImageLayout, source: string, where: string): Source => ({
  name: source,
  layout,
  async fetch(d) {
    if (!layout.has(d)) throw new RunError(`image ${source}: blob ${d.digest} is not in ${where} ${layout.dir}`);
  },
});

async function fromLayout(layout: ImageLayout, name: string | undefined, source: string, arch: Arch): Promise<{ digest: string; manifest: ImageManifest }> {
  const top = layout.resolve(name);
  if (!top) throw new RunError(`image ${source}: ${name ? `no image named ${name}` : "no image"} in ${layout.dir}`);
  const { desc, manifest } = await platformManifest(top, onDisk(layout, source, "the image layout"), arch);
  return { digest: desc.digest, manifest };
}

async function fromRegistry(ref: RegistryRef, source: string, opts: PullOptions): Promise<{ digest: string; manifest: ImageManifest }> {
  const cache = opts.layout ?? cacheLayout(opts.cacheDir);
  const name = formatRegistryRef(ref);
  if (opts.offline) {
    // Offline, a tag is what the cache last pulled under that name; a digest is its blob.
    const top = ref.digest ? cachedDescriptor(cache, ref.digest) : cache.resolve(name);
    if (!top) throw new RunError(`image ${source}: offline, and the cache ${cache.dir} holds no image named ${name}`);
    const { desc, manifest } = await platformManifest(top, onDisk(cache, source, "the offline cache"), opts.arch);
    return { digest: desc.digest, manifest };
  }
  await cache.init();
  const registry = new Registry(ref.host, opts.registry);
  const top = await registry.getManifest(ref.repo, ref.digest ?? ref.tag!);
  await cache.putBytes(top.bytes);
  const topDesc: Descriptor = { mediaType: top.mediaType, digest: top.digest, size: top.bytes.byteLength };
  const src: Source = {
    name: source,
    layout: cache,
    async fetch(d) {
      if (cache.has(d)) return;
      if (INDEX_TYPES.includes(d.mediaType) || MANIFEST_TYPES.includes(d.mediaType)) {
        const m = await registry.getManifest(ref.repo, d.digest);
        await cache.putBytes(m.bytes);
      } else {
        await cache.storeBlob(d, `registry ${ref.host}`, (sink) => registry.fetchBlob(ref.repo, d, sink));
      }
    },
  };
  const { desc, manifest } = await platformManifest(topDesc, src, opts.arch);
  await cache.tag(name, topDesc);
  return { digest: desc.digest, manifest };
}

/** The layout holds the image's top manifest or index under its name or digest (its blobs are checked when read). */
export function holdsImage(layout: ImageLayout, ref: RegistryRef): boolean {
  if (ref.digest) return existsSync(layout.blobPath(ref.digest));
  return existsSync(join(layout.dir, "index.json")) && layout.resolve(formatRegistryRef(ref)) !== undefined;
}

/** The descriptor of a cached manifest or index known only by digest (an offline pull by digest). */
function cachedDescriptor(layout: ImageLayout, digest: string): Descriptor | undefined {
  if (!existsSync(layout.blobPath(digest))) return undefined;
  const size = statSync(layout.blobPath(digest)).size;
  const doc = layout.readJSON<{ mediaType?: string; manifests?: unknown }>({ mediaType: "", digest, size });
  return { mediaType: doc.mediaType ?? (doc.manifests ? INDEX_TYPES[0]! : MANIFEST_TYPES[0]!), digest, size };
}

function unpackArchive(file: string, cacheDir: string): string {
  const parent = join(cacheDir, "tmp");
  let dir: string;
  try {
    mkdirSync(parent, { recursive: true, mode: 0o700 });
    dir = mkdtempSync(join(parent, "oci-archive-"));
  } catch (err) {
    throw ioError(`create a temp dir in ${parent}`, err);
  }
  const r = Bun.spawnSync(["tar", "-x", "-f", file, "-C", dir, "--no-same-owner"], { stderr: "pipe" });
  if (r.exitCode !== 0) {
    removeTree(dir);
    throw new RunError(`oci-archive ${file}: not a readable tar (${r.stderr.toString().trim().split("\n")[0]})`);
  }
  return dir;
}

export async function localImage(ref: ImageRef, source: string, opts: PullOptions): Promise<LocalImage> {
  if (ref.kind === "registry") return { source, layout: opts.layout ?? cacheLayout(opts.cacheDir), ...(await fromRegistry(ref, source, opts)), cleanup() {} };
  if (ref.kind === "layout") return { source, layout: new ImageLayout(ref.dir), ...(await fromLayout(new ImageLayout(ref.dir), ref.tag, source, opts.arch)), cleanup() {} };
  const dir = unpackArchive(ref.file, opts.cacheDir);
  try {
    const layout = new ImageLayout(dir);
    return { source, layout, ...(await fromLayout(layout, ref.tag, source, opts.arch)), cleanup: () => removeTree(dir) };
  } catch (err) {
    removeTree(dir);
    throw err;
  }
}
