// Layers applied onto a rootfs: whiteouts only hide lower layers, compressed and plain layers,
// and every entry that would land outside the rootfs refused (as the artifact unpacker does).
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ImageLayout } from "../../src/oci/layout";
import { MEDIA, type Descriptor } from "../../src/oci/media";
import { unpackLayers } from "../../src/oci/unpack-layers";
import { tempDir } from "../helpers/tmp";

type Compression = "none" | "gzip" | "zstd";
const MEDIA_OF: Record<Compression, string> = { none: MEDIA.ociLayer, gzip: MEDIA.ociLayerGzip, zstd: MEDIA.ociLayerZstd };

/** A layer from a tree description (path → content, or `-> target` for a symlink), made by GNU tar. */
async function layer(layout: ImageLayout, files: Record<string, string>, compression: Compression = "gzip", extra: string[] = []): Promise<Descriptor> {
  const tree = tempDir("oci-layer");
  for (const [rel, content] of Object.entries(files)) {
    const host = join(tree, rel);
    mkdirSync(dirname(host), { recursive: true });
    if (content.startsWith("-> ")) symlinkSync(content.slice(3), host);
    else if (rel.endsWith("/")) mkdirSync(host, { recursive: true });
    else writeFileSync(host, content);
  }
  const tar = Bun.spawnSync(["tar", "--create", "--file=-", `--directory=${tree}`, "--numeric-owner", ...extra, ...Object.keys(files).map((f) => f.replace(/\/$/, ""))], { stdout: "pipe", stderr: "pipe" });
  if (tar.exitCode !== 0) throw new Error(tar.stderr.toString());
  const plain = new Uint8Array(tar.stdout);
  const bytes = compression === "gzip" ? Bun.gzipSync(plain) : compression === "zstd" ? new Uint8Array(Bun.zstdCompressSync(plain)) : plain;
  await layout.init();
  const digest = await layout.putBytes(bytes);
  return { mediaType: MEDIA_OF[compression], digest, size: bytes.byteLength };
}

const setup = () => ({ layout: new ImageLayout(join(tempDir("oci-layout"), "oci")), root: tempDir("oci-root") });

describe("unpackLayers", () => {
  test("gzip, zstd and plain layers; whiteouts and opaque dirs hide lower layers only", async () => {
    const { layout, root } = setup();
    const l1 = await layer(layout, { "etc/motd": "hello\n", "usr/share/doc/a": "a", "usr/share/doc/b": "b", "keep/x": "x" }, "gzip");
    const l2 = await layer(layout, { "etc/.wh.motd": "", "usr/share/doc/new": "new", "usr/share/doc/.wh..wh..opq": "", "keep/.wh.y": "" }, "zstd");
    const l3 = await layer(layout, { "etc/motd": "back\n", "lib": "-> usr/lib" }, "none");
    await unpackLayers(layout, [l1, l2], root, "test");
    expect(existsSync(join(root, "etc/motd"))).toBe(false);
    expect(readdirSync(join(root, "usr/share/doc"))).toEqual(["new"]);
    expect(readdirSync(join(root, "keep"))).toEqual(["x"]);
    await unpackLayers(layout, [l3], root, "test");
    expect(readFileSync(join(root, "etc/motd"), "utf8")).toBe("back\n");
  });

  test("an entry through a symlink that leads out of the rootfs is refused, naming layer and entry", async () => {
    const { layout, root } = setup();
    const outside = tempDir("oci-outside");
    const l1 = await layer(layout, { evil: `-> ../../../../../../..${outside}` });
    const l2 = await layer(layout, { "evil/planted": "x" });
    const err = await unpackLayers(layout, [l1, l2], root, "img").catch((e: Error) => e);
    expect(String(err)).toContain(`image img: layer ${l2.digest}, entry evil/planted:`);
    expect(String(err)).toContain("leads out of the rootfs");
    expect(readdirSync(outside)).toEqual([]);
  });

  test("an absolute symlink is followed as the machine would: inside the rootfs", async () => {
    const { layout, root } = setup();
    const l1 = await layer(layout, { etc: "-> /usr/etc", "usr/etc/": "" });
    const l2 = await layer(layout, { "etc/hostname": "node\n" });
    await unpackLayers(layout, [l1, l2], root, "img");
    expect(readFileSync(join(root, "usr/etc/hostname"), "utf8")).toBe("node\n");
  });

  test("a .. entry is refused", async () => {
    const { layout, root } = setup();
    const dir = tempDir("oci-dotdot");
    mkdirSync(join(dir, "a"));
    writeFileSync(join(dir, "escape"), "x");
    const tar = Bun.spawnSync(["tar", "--create", "--file=-", `--directory=${join(dir, "a")}`, "--absolute-names", "../escape"], { stdout: "pipe" });
    await layout.init();
    const digest = await layout.putBytes(tar.stdout);
    const err = await unpackLayers(layout, [{ mediaType: MEDIA.ociLayer, digest, size: tar.stdout.byteLength }], root, "img").catch((e: Error) => e);
    expect(String(err)).toContain("path leaves the rootfs (..)");
    expect(readdirSync(root)).toEqual([]);
  });

  test("a layer whose bytes are not its digest is refused", async () => {
    const { layout, root } = setup();
    const l1 = await layer(layout, { "etc/motd": "hello\n" }, "none");
    const path = layout.blobPath(l1.digest);
    const bytes = readFileSync(path);
    bytes[bytes.length - 1]! ^= 1;
    writeFileSync(path, bytes);
    const err = await unpackLayers(layout, [l1], root, "img").catch((e: Error) => e);
    expect(String(err)).toContain(`image img: layer ${l1.digest} in ${layout.dir} holds sha256:`);
  });
});
