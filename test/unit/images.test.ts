// Pre-loaded images on disk: which images, the OCI archive per image, the import unit, the
// images task in a machine dir (idempotent, dry-run, a changed set), verify, the lock's images
// section, fetch --check of image blobs, and the offline readiness list. The registry and the
// boot are in test/e2e/images.test.ts.
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkBundle } from "../../src/bundle/check";
import { emptyLock, mergeLock, readLock, type Lock } from "../../src/bundle/lock";
import type { Resolved } from "../../src/config/resolve";
import { archiveSize, writeImageArchive } from "../../src/oci/archive";
import type { Descriptor } from "../../src/oci/media";
import { ensureImage, imagesLayout, preloadImages } from "../../src/images/preload";
import { offlineMissing } from "../../src/readiness/offline";
import { IMAGES_LINK, IMAGES_RECORD, IMAGES_UNIT_FILE, imagesTask, readImagesRecord } from "../../src/runtime/images";
import { importStamp, renderImagesUnit } from "../../src/runtime/templates/images";
import { imagesDrift } from "../../src/verify";
import { golden } from "../helpers/golden";
import { runLogged, tempDir, testGoal } from "../helpers/goal";
import { cacheHolding } from "../helpers/image-cache";

const SANDBOX = "127.0.0.1:5000/pause:3.10";
const APP = "127.0.0.1:5000/tools/busybox:1";
let cacheDir: string;

/** The test's busybox image in the cache's image layout under both names (as a fetch leaves it). */
beforeAll(async () => {
  cacheDir = await cacheHolding([SANDBOX, APP]);
});

const goalWith = (images: string[], extra: Partial<Parameters<typeof testGoal>[0]> = {}): Resolved =>
  testGoal({ cacheDir, offline: true, images, runtime: { sandboxImage: SANDBOX }, ...extra });

test("the sandbox image is always pre-loaded, first; then the listed images, each once", () => {
  expect(preloadImages(goalWith([]))).toEqual([SANDBOX]);
  expect(preloadImages(goalWith([], { offline: false }))).toEqual([SANDBOX]);
  expect(preloadImages(goalWith([APP, SANDBOX, APP]))).toEqual([SANDBOX, APP]);
});

test("images: a bad reference is a config error naming the field", () => {
  expect(() => testGoal({ images: ["Not An Image"] })).toThrow("images");
});

describe("the OCI archive of one image", () => {
  test("has the size computed beforehand, the same bytes every time, and blobs that hash to their names", async () => {
    const goal = goalWith([APP]);
    const img = await ensureImage(goal, APP, new AbortController().signal);
    const layout = imagesLayout(cacheDir);
    const dir = tempDir("archive");
    const a = join(dir, "a.tar");
    const sha = writeImageArchive(a, layout, img.name, img.desc, img.manifest);
    writeImageArchive(join(dir, "b.tar"), layout, img.name, img.desc, img.manifest);
    expect(readFileSync(a).equals(readFileSync(join(dir, "b.tar")))).toBe(true);
    expect(readFileSync(a).length).toBe(archiveSize(layout, img.name, img.desc, img.manifest));
    expect(sha).toBe(new Bun.CryptoHasher("sha256").update(readFileSync(a)).digest("hex"));

    // GNU tar reads it: the layout skeleton and the manifest, config and layer.
    const listed = Bun.spawnSync(["tar", "-tf", a]).stdout.toString().trim().split("\n");
    const blobs = [img.desc, img.manifest.config, ...img.manifest.layers].map((d) => `blobs/sha256/${d.digest.slice(7)}`);
    expect(listed).toEqual(["oci-layout", "index.json", "blobs/", "blobs/sha256/", ...blobs]);
    const out = join(dir, "x");
    mkdirSync(out);
    expect(Bun.spawnSync(["tar", "-xf", a, "-C", out]).exitCode).toBe(0);
    for (const b of blobs) expect(`sha256:${new Bun.CryptoHasher("sha256").update(readFileSync(join(out, b))).digest("hex")}`).toBe(`sha256:${b.slice(13)}`);
    const index = JSON.parse(readFileSync(join(out, "index.json"), "utf8")) as { manifests: Descriptor[] };
    expect(index.manifests).toEqual([{ ...img.desc, annotations: { "io.containerd.image.name": APP, "org.opencontainers.image.ref.name": APP } }]);
    expect(index.manifests[0]!.platform).toEqual({ os: "linux", architecture: "amd64" });
  });

  test("a blob that does not hash to its digest is refused, and no archive is left", async () => {
    const img = await ensureImage(goalWith([APP]), APP, new AbortController().signal);
    const layout = imagesLayout(cacheDir);
    const layer = layout.blobPath(img.manifest.layers[0]!.digest);
    const original = readFileSync(layer);
    const flipped = Buffer.from(original);
    flipped[100] = flipped[100]! ^ 1;
    writeFileSync(layer, flipped);
    const dir = tempDir("archive");
    try {
      expect(() => writeImageArchive(join(dir, "a.tar"), layout, img.name, img.desc, img.manifest)).toThrow(
        `image layout ${layout.dir}: blob ${img.manifest.layers[0]!.digest} holds sha256:${new Bun.CryptoHasher("sha256").update(flipped).digest("hex")} (corrupt)`,
      );
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      writeFileSync(layer, original);
    }
  });
});

test("the import unit: after containerd, before kubelet, once per set of archives", () => {
  golden("kube-rootfs-images.service", renderImagesUnit(["b.tar", "a.tar"]));
  expect(importStamp(["a.tar", "b.tar"])).toBe(importStamp(["b.tar", "a.tar"]));
  expect(importStamp(["a.tar"])).not.toBe(importStamp(["a.tar", "b.tar"]));
});

describe("the images task in a machine dir", () => {
  const machineDir = join(tempDir("images-root"), "rootfs");
  const goal = (images: string[]) => goalWith(images, { machineDir });
  const archives = () => readImagesRecord(machineDir)!.map((e) => e.archive);

  test("a dry run writes nothing", async () => {
    const { outcome, events } = await runLogged(imagesTask(goal([APP])), { dryRun: true });
    expect(outcome).toBe("completed");
    expect(events.filter((e) => e.msg === "would write").length).toBeGreaterThanOrEqual(4);
    expect(existsSync(machineDir)).toBe(false);
  });

  test("writes an archive per image, the unit, its link and the record; a second run changes nothing", async () => {
    expect((await runLogged(imagesTask(goal([APP])))).outcome).toBe("completed");
    const record = readImagesRecord(machineDir)!;
    expect(record.map((e) => e.image)).toEqual([SANDBOX, APP]);
    for (const e of record) expect(new Bun.CryptoHasher("sha256").update(readFileSync(join(machineDir, "var/lib/kube-rootfs/images", e.archive))).digest("hex")).toBe(e.sha256);
    expect(readFileSync(join(machineDir, IMAGES_UNIT_FILE), "utf8")).toBe(renderImagesUnit(archives()));
    expect(readlinkSync(join(machineDir, IMAGES_LINK.path))).toBe(IMAGES_LINK.target);
    expect(await imagesDrift(goal([APP]))).toEqual([]);
    expect((await runLogged(imagesTask(goal([APP])))).outcome).toBe("skipped");
  });

  test("verify re-hashes each archive and compares the set with the goal", async () => {
    const path = join(machineDir, "var/lib/kube-rootfs/images", archives()[1]!);
    const original = readFileSync(path);
    const flipped = Buffer.from(original);
    flipped[600] = flipped[600]! ^ 1;
    writeFileSync(path, flipped);
    expect((await imagesDrift(goal([APP]))).map((d) => d.path)).toEqual([path]);
    writeFileSync(path, original);
    expect((await imagesDrift(goal([]))).map((d) => d.path)).toContain(join(machineDir, IMAGES_RECORD));
  });

  test("a changed set: the dropped image's archive and the old stamp are removed; the sandbox image stays with no images listed", async () => {
    const old = archives();
    const stamp = join(machineDir, importStamp(old).slice(1));
    writeFileSync(stamp, ""); // as the unit leaves it after importing
    await runLogged(imagesTask(goal([SANDBOX])));
    expect(archives()).toEqual([old[0]!]);
    expect(existsSync(join(machineDir, "var/lib/kube-rootfs/images", old[1]!))).toBe(false);
    expect(existsSync(stamp)).toBe(false);
    expect(readFileSync(join(machineDir, IMAGES_UNIT_FILE), "utf8")).toContain(`ConditionPathExists=!${importStamp([old[0]!])}`);
    expect((await runLogged(imagesTask(goal([])))).outcome).toBe("skipped");
    expect(archives()).toEqual([old[0]!]);
    for (const rel of [IMAGES_UNIT_FILE, IMAGES_RECORD]) expect(existsSync(join(machineDir, rel))).toBe(true);
    expect(readlinkSync(join(machineDir, IMAGES_LINK.path))).toBe(IMAGES_LINK.target);
    expect(await imagesDrift(goal([]))).toEqual([]);
  });
});

describe("the lock and fetch --check", () => {
  test("images merge per reference and arch; a lock without images reads as none", () => {
    const a: Lock = { ...emptyLock(), images: { [APP]: { amd64: { digest: "sha256:a", size: 1 } } } };
    const b: Lock = { ...emptyLock(), images: { [APP]: { arm64: { digest: "sha256:b", size: 2 } }, [SANDBOX]: { amd64: { digest: "sha256:c", size: 3 } } } };
    expect(mergeLock(a, b).images).toEqual({ [APP]: { amd64: { digest: "sha256:a", size: 1 }, arm64: { digest: "sha256:b", size: 2 } }, [SANDBOX]: { amd64: { digest: "sha256:c", size: 3 } } });
    const file = join(tempDir("lock"), "kube-rootfs.lock");
    writeFileSync(file, JSON.stringify({ schema: 1, artifacts: {}, rootfs: {} }));
    expect(readLock(file).images).toEqual({});
  });

  test("every blob of a locked image is re-hashed; one flipped byte is named", async () => {
    const img = await ensureImage(goalWith([APP]), APP, new AbortController().signal);
    const lock: Lock = { ...emptyLock(), images: { [APP]: { amd64: { digest: img.desc.digest, size: img.desc.size } } } };
    expect(await checkBundle(cacheDir, lock)).toEqual({ problems: [], checked: 1 });
    const layer = imagesLayout(cacheDir).blobPath(img.manifest.layers[0]!.digest);
    const original = readFileSync(layer);
    const flipped = Buffer.from(original);
    flipped[100] = flipped[100]! ^ 1;
    writeFileSync(layer, flipped);
    try {
      const { problems } = await checkBundle(cacheDir, lock);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toStartWith(`image ${APP} amd64 blob: images/blobs/sha256/${img.manifest.layers[0]!.digest.slice(7)} has sha256 `);
    } finally {
      writeFileSync(layer, original);
    }
  });
});

test("pinned by --lock, an image is taken by its platform manifest's digest, under its own name", async () => {
  const signal = new AbortController().signal;
  const img = await ensureImage(goalWith([APP]), APP, signal);
  const pinned = await ensureImage({ ...goalWith([APP]), imagePins: { [APP]: img.desc.digest } }, APP, signal);
  expect([pinned.name, pinned.desc.digest]).toEqual([APP, img.desc.digest]);
  const other = `sha256:${"0".repeat(64)}`;
  await expect(ensureImage({ ...goalWith([APP]), imagePins: { [APP]: other } }, APP, signal)).rejects.toThrow(`image ${APP}: offline, and ${join(cacheDir, "images")} does not hold it`);
});

test("--offline readiness lists each image the cache lacks", () => {
  const goal = goalWith(["127.0.0.1:5000/missing:1"]);
  expect(offlineMissing(goal, [], preloadImages(goal), undefined)).toEqual([`image 127.0.0.1:5000/missing:1 (${join(cacheDir, "images")})`]);
});
