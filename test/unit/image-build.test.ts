// A snapshot as a one-layer OCI image: the documents (platform, diff_id, descriptors), and the
// layer streamed from a real GNU tar + zstd snapshot, reused as it is or transcoded to gzip,
// with both digests checked against what zstd and gzip themselves produce.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildImage, buildLayer, imageConfig, imageIndex, imageManifest, platformOf } from "../../src/images/build";
import { MEDIA, sha256Digest } from "../../src/oci/media";
import { createSnapshot } from "../../src/rootfs/bootstrap/snapshot";
import { removeDir, tempDir } from "../helpers/tmp";

const json = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes));
const DIFF = `sha256:${"d".repeat(64)}`;

describe("image documents", () => {
  test("arm64 is linux/arm64 variant v8; amd64 has no variant", () => {
    expect(platformOf("arm64")).toEqual({ architecture: "arm64", os: "linux", variant: "v8" });
    expect(platformOf("amd64")).toEqual({ architecture: "amd64", os: "linux" });
  });

  test("the config names the platform, the layer's diff_id and the creation time; its descriptor digests its bytes", () => {
    const config = imageConfig("arm64", DIFF, "2026-11-25T10:00:00.000Z");
    expect(json(config.bytes)).toMatchObject({ architecture: "arm64", os: "linux", variant: "v8", created: "2026-11-25T10:00:00.000Z", rootfs: { type: "layers", diff_ids: [DIFF] } });
    expect(config.descriptor).toEqual({ mediaType: MEDIA.ociConfig, digest: sha256Digest(config.bytes), size: config.bytes.byteLength });
  });

  test("manifest and index: schema 2, OCI media types, the index's entries carry their platform", () => {
    const config = imageConfig("amd64", DIFF, "2026-11-25T10:00:00.000Z");
    const layer = { mediaType: MEDIA.ociLayerZstd, digest: `sha256:${"a".repeat(64)}`, size: 42 };
    const amd = imageManifest("amd64", config.descriptor, layer);
    expect(json(amd.bytes)).toEqual({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: config.descriptor, layers: [layer] });
    const arm = imageManifest("arm64", imageConfig("arm64", DIFF, "2026-11-25T10:00:00.000Z").descriptor, layer);
    const index = json(imageIndex([amd.descriptor, arm.descriptor]).bytes);
    expect(index.mediaType).toBe(MEDIA.ociIndex);
    expect(index.manifests.map((m: { platform: unknown }) => m.platform)).toEqual([platformOf("amd64"), platformOf("arm64")]);
    expect(index.manifests[0].digest).toBe(sha256Digest(amd.bytes));
  });
});

describe("layer from a snapshot", () => {
  let dir: string;
  let snapshot: string;
  let tarDigest: string;

  beforeAll(async () => {
    dir = tempDir("xa-oci-build");
    const root = join(dir, "root");
    mkdirSync(join(root, "etc"), { recursive: true });
    writeFileSync(join(root, "etc", "hostname"), "node1\n");
    writeFileSync(join(root, "big"), Buffer.alloc(3 << 20, 7));
    snapshot = join(dir, "snap.tar.zst");
    await createSnapshot(root, snapshot, join(dir, "log"), new AbortController().signal, "zstd");
    tarDigest = sha256Digest(spawnSync(["zstd", "-d", "-c", snapshot]).stdout);
    mkdirSync(join(dir, "work"));
  });
  afterAll(() => removeDir(dir));

  test("zstd: the snapshot file is the blob; diff_id is the sha256 of its tar", async () => {
    const layer = await buildLayer(snapshot, "zstd", join(dir, "work"), new AbortController().signal);
    expect(layer).toMatchObject({ mediaType: MEDIA.ociLayerZstd, file: snapshot, diffID: tarDigest, size: Bun.file(snapshot).size });
    expect(layer.digest).toBe(sha256Digest(await Bun.file(snapshot).bytes()));
    expect(readdirSync(join(dir, "work"))).toEqual([]);
  });

  test("gzip: the tar is recompressed; the blob's digest and size are its own, its tar the same", async () => {
    const layer = await buildLayer(snapshot, "gzip", join(dir, "work"), new AbortController().signal);
    const blob = await Bun.file(layer.file).bytes();
    expect(layer).toMatchObject({ mediaType: MEDIA.ociLayerGzip, diffID: tarDigest, size: blob.byteLength, digest: sha256Digest(blob) });
    expect(sha256Digest(spawnSync(["gzip", "-d", "-c", layer.file]).stdout)).toBe(tarDigest);
  });

  test("the image's config dates it by the snapshot and names the layer's diff_id", async () => {
    const image = await buildImage("arm64", snapshot, "zstd", join(dir, "work"), new AbortController().signal);
    expect(json(image.config.bytes).created).toBe(new Date(Bun.file(snapshot).lastModified).toISOString());
    expect(json(image.config.bytes).rootfs.diff_ids).toEqual([tarDigest]);
    expect(json(image.manifest.bytes).layers[0].digest).toBe(image.layer.digest);
  });

  test("a corrupt snapshot fails naming the decompressor, and leaves no blob behind", async () => {
    const bad = join(dir, "bad.tar.zst");
    const bytes = await Bun.file(snapshot).bytes();
    writeFileSync(bad, Buffer.concat([bytes.subarray(0, 64), Buffer.alloc(4096, 1)]));
    const before = readdirSync(join(dir, "work"));
    await expect(buildLayer(bad, "gzip", join(dir, "work"), new AbortController().signal)).rejects.toThrow(/^zstd failed \(exit 1\)/);
    expect(readdirSync(join(dir, "work"))).toEqual(before);
  });
});
