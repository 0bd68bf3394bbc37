// OCI and Docker v2 media types, and the shapes of the JSON documents this client reads.

export const MEDIA = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

export const INDEX_TYPES: readonly string[] = [MEDIA.ociIndex, MEDIA.dockerList];
export const MANIFEST_TYPES: readonly string[] = [MEDIA.ociManifest, MEDIA.dockerManifest];

/** What a manifest GET accepts: an index or a single image, OCI or Docker. */
export const MANIFEST_ACCEPT = [...INDEX_TYPES, ...MANIFEST_TYPES].join(", ");

export type LayerCompression = "gzip" | "zstd" | "none";

/** A layer's compression from its media type; undefined for a type that is not a layer. */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  if (mediaType === MEDIA.ociLayer || mediaType === "application/vnd.oci.image.layer.nondistributable.v1.tar") return "none";
  if (mediaType.endsWith("tar+gzip") || mediaType === MEDIA.dockerLayerGzip) return "gzip";
  if (mediaType.endsWith("tar+zstd")) return "zstd";
  return undefined;
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export const DIGEST = /^sha256:[0-9a-f]{64}$/;

export const sha256Digest = (bytes: Uint8Array | string) => `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`;
