// Resolving images to local blobs: an index's platform pick, the cache as an OCI layout that
// works offline, and oci-archive sources, against Debian's docker-registry and skopeo.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Limit } from "../../src/http/limit";
import type { Arch } from "../../src/config/schema";
import { MEDIA, sha256Digest, type Descriptor } from "../../src/oci/media";
import { pickPlatform } from "../../src/oci/platform";
import { cacheLayout, localImage } from "../../src/oci/pull";
import { parseImageRef } from "../../src/oci/ref";
import { Registry, type RegistryOptions } from "../../src/oci/registry";
import { unpackLayers } from "../../src/oci/unpack-layers";
import { startRegistry, type TestRegistry } from "../helpers/registry";
import { offlineMissing } from "../../src/readiness/offline";
import { decideWorkspace } from "../../src/rootfs/decision";
import { testGoal } from "../helpers/goal";
import { tempDir } from "../helpers/tmp";

const registryOptions: RegistryOptions = {
  signal: new AbortController().signal, limit: new Limit(2), attempts: 2, stallMs: 5000, totalMs: 30000,
  maxBytes: 1 << 30, credentials: () => undefined, insecure: [],
};
const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));
const desc = (mediaType: string, bytes: Uint8Array, platform?: Descriptor["platform"]): Descriptor => ({ mediaType, digest: sha256Digest(bytes), size: bytes.byteLength, ...(platform ? { platform } : {}) });

let registry: TestRegistry;
const manifests: Partial<Record<Arch, string>> = {};

/** One single-layer image per arch under pull/multi:v1, tied by an OCI index. */
async function pushMultiArch(reg: Registry) {
  const index: Descriptor[] = [];
  for (const [arch, variant] of [["amd64", undefined], ["arm64", "v8"]] as const) {
    const layer = Bun.gzipSync(new Uint8Array(Bun.spawnSync(["tar", "--create", "--file=-", "--directory=/etc", "hostname"], { stdout: "pipe" }).stdout));
    const config = enc({ architecture: arch, os: "linux", variant, rootfs: { type: "layers", diff_ids: [] } });
    for (const b of [layer, config]) await reg.uploadBlob("pull/multi", sha256Digest(b), () => b, b.byteLength);
    const manifest = enc({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: desc(MEDIA.ociConfig, config), layers: [desc(MEDIA.ociLayerGzip, layer)] });
    manifests[arch] = await reg.putManifest("pull/multi", sha256Digest(manifest), MEDIA.ociManifest, manifest);
    index.push(desc(MEDIA.ociManifest, manifest, { os: "linux", architecture: arch, ...(variant ? { variant } : {}) }));
  }
  await reg.putManifest("pull/multi", "v1", MEDIA.ociIndex, enc({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: index }));
}

beforeAll(async () => {
  registry = await startRegistry();
  await pushMultiArch(new Registry(registry.host, registryOptions));
});
afterAll(() => registry?.stop());

describe("platform pick", () => {
  test("linux/<arch>, arm64 only as v8 or without variant", () => {
    const d = (architecture: string, variant?: string): Descriptor => ({ mediaType: MEDIA.ociManifest, digest: architecture + (variant ?? ""), size: 1, platform: { os: "linux", architecture, variant } });
    expect(pickPlatform([d("arm", "v7"), d("arm64", "v7"), d("arm64", "v8")], "arm64")?.digest).toBe("arm64v8");
    expect(pickPlatform([d("arm64")], "arm64")?.digest).toBe("arm64");
    expect(pickPlatform([d("arm64", "v8")], "amd64")).toBeUndefined();
  });
});

describe("localImage", () => {
  test("an index pulls only this arch's blobs into the cache layout, which then serves --offline", async () => {
    const cacheDir = tempDir("oci-cache");
    const ref = parseImageRef(`${registry.host}/pull/multi:v1`);
    const opts = { arch: "arm64" as const, cacheDir, offline: false, registry: registryOptions };
    const image = await localImage(ref, "img", opts);
    expect(image.digest).toBe(manifests.arm64!);
    const blobs = readdirSync(join(cacheDir, "oci", "blobs", "sha256"));
    expect(blobs).not.toContain(manifests.amd64!.slice(7));
    expect(cacheLayout(cacheDir).resolve(`${registry.host}/pull/multi:v1`)?.mediaType).toBe(MEDIA.ociIndex);

    const offline = await localImage(ref, "img", { ...opts, offline: true, registry: { ...registryOptions, insecure: [] } });
    expect(offline.digest).toBe(manifests.arm64!);
    const byDigest = await localImage(parseImageRef(`${registry.host}/pull/multi@${manifests.arm64}`), "img", { ...opts, offline: true });
    expect(byDigest.digest).toBe(manifests.arm64!);
    const otherArch = await localImage(ref, "img", { ...opts, arch: "amd64", offline: true }).catch((e: Error) => e);
    expect(String(otherArch)).toContain("is not in the offline cache");
    const unknown = await localImage(parseImageRef(`${registry.host}/pull/other:v1`), "img2", { ...opts, offline: true }).catch((e: Error) => e);
    expect(String(unknown)).toContain(`image img2: offline, and the cache ${cacheDir}/oci holds no image named ${registry.host}/pull/other:v1`);
  });

  test("provision --offline lists a registry image the cache lacks, and not once it is pulled", async () => {
    const goal = testGoal({ arch: "arm64", offline: true, skipPhases: ["install"], bootstrap: { method: "image", image: `${registry.host}/pull/multi:v1` } });
    expect(offlineMissing(goal, [], [], decideWorkspace(goal))).toEqual([`image ${registry.host}/pull/multi:v1 (pull it once online into ${goal.cacheDir}/oci)`]);
    await localImage(parseImageRef(goal.bootstrap.image!), "img", { arch: "arm64", cacheDir: goal.cacheDir, offline: false, registry: registryOptions });
    expect(offlineMissing(goal, [], [], decideWorkspace(goal))).toEqual([]);
  });

  test("an index without this arch names the platforms it has", async () => {
    const tagged = `${registry.host}/pull/multi:v1`;
    const reg = new Registry(registry.host, registryOptions);
    const amd64Only = enc({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [{ mediaType: MEDIA.ociManifest, digest: manifests.amd64, size: (await reg.getManifest("pull/multi", manifests.amd64!)).bytes.byteLength, platform: { os: "linux", architecture: "amd64" } }] });
    await reg.putManifest("pull/multi", "amd64-only", MEDIA.ociIndex, amd64Only);
    const err = await localImage(parseImageRef(tagged.replace(":v1", ":amd64-only")), "img", { arch: "arm64", cacheDir: tempDir("oci-cache"), offline: false, registry: registryOptions }).catch((e: Error) => e);
    expect(String(err)).toContain("image img has no linux/arm64 manifest (it has linux/amd64)");
  });

  test("Docker schema 2 images (manifest and gzip layer media types) are read too", async () => {
    const copy = Bun.spawnSync(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false", "--override-arch", "arm64", "--format", "v2s2", `docker://${registry.host}/pull/multi:v1`, `docker://${registry.host}/pull/docker:v1`], { stderr: "pipe" });
    expect(copy.stderr.toString()).toBe("");
    const image = await localImage(parseImageRef(`${registry.host}/pull/docker:v1`), "img", { arch: "arm64", cacheDir: tempDir("oci-cache"), offline: false, registry: registryOptions });
    const manifest = image.layout.readJSON<{ mediaType: string }>({ mediaType: "", digest: image.digest, size: 0 });
    expect(manifest.mediaType).toBe(MEDIA.dockerManifest);
    expect(image.manifest.layers.map((l) => l.mediaType)).toEqual([MEDIA.dockerLayerGzip]);
    const root = tempDir("oci-root");
    await unpackLayers(image.layout, image.manifest.layers, root, "img");
    expect(readdirSync(root)).toEqual(["hostname"]);
  });

  test("an oci-archive written by skopeo is read from a temp layout removed afterwards", async () => {
    const dir = tempDir("oci-archive");
    const file = join(dir, "image.tar");
    const copy = Bun.spawnSync(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--override-arch", "arm64", `docker://${registry.host}/pull/multi:v1`, `oci-archive:${file}:rootfs`], { stderr: "pipe" });
    expect(copy.stderr.toString()).toBe("");
    const cacheDir = tempDir("oci-cache");
    const image = await localImage(parseImageRef(`oci-archive:${file}:rootfs`), "img", { arch: "arm64", cacheDir, offline: true, registry: registryOptions });
    expect(image.digest).toBe(manifests.arm64!);
    expect(existsSync(image.layout.dir)).toBe(true);
    image.cleanup();
    expect(existsSync(image.layout.dir)).toBe(false);
  });
});
