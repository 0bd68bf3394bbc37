// Layers applied onto a rootfs: whiteouts only hide lower layers, compressed and plain layers,
// and every entry that would land outside the rootfs refused (as the artifact unpacker does).
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ImageLayout } from "../../src/oci/layout";
import { MEDIA, type Descriptor } from "../../src/oci/media";
import { readTar } from "../../src/oci/tar-reader";
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

  test("xattrs from PAX headers are set, except SELinux labels (the host's policy)", async () => {
    const { layout, root } = setup();
    const l1 = await layer(layout, { "usr/bin/tool": "x" }, "gzip", [
      "--format=posix", "--pax-option=SCHILY.xattr.user.origin:=image", "--pax-option=SCHILY.xattr.security.selinux:=system_u:object_r:bin_t:s0",
    ]);
    await unpackLayers(layout, [l1], root, "img");
    const attrs = Bun.spawnSync(["getfattr", "--absolute-names", "--dump", "--match=-", join(root, "usr/bin/tool")]).stdout.toString();
    expect(attrs).toContain('user.origin="image"');
    expect(attrs).not.toContain("selinux");
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

  test("a directory an earlier entry of the same layer made, replaced by a symlink out, is not written through", async () => {
    const { layout, root } = setup();
    const outside = tempDir("oci-outside");
    // One tar holding dir/, dir/a, then dir as a symlink out, then dir/planted (tar --append).
    const [t1, t2, t3] = [tempDir("oci-t1"), tempDir("oci-t2"), tempDir("oci-t3")];
    mkdirSync(join(t1, "dir"));
    writeFileSync(join(t1, "dir/a"), "a");
    symlinkSync(`../../../../../../..${outside}`, join(t2, "dir"));
    mkdirSync(join(t3, "dir"));
    writeFileSync(join(t3, "dir/planted"), "x");
    const file = join(tempDir("oci-tar"), "layer.tar");
    for (const [mode, dir, what] of [["--create", t1, "dir"], ["--append", t2, "dir"], ["--append", t3, "dir/planted"]] as const) {
      expect(Bun.spawnSync(["tar", mode, `--file=${file}`, `--directory=${dir}`, what]).exitCode).toBe(0);
    }
    await layout.init();
    const bytes = readFileSync(file);
    const digest = await layout.putBytes(bytes);
    const err = await unpackLayers(layout, [{ mediaType: MEDIA.ociLayer, digest, size: bytes.byteLength }], root, "img").catch((e: Error) => e);
    expect(String(err)).toContain("entry dir/planted:");
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

/** Bytes in odd-sized chunks, so headers and bodies straddle chunk boundaries. */
async function* chunks(bytes: Uint8Array) {
  for (let off = 0; off < bytes.length; off += 777) yield bytes.subarray(off, off + 777);
}

describe("readTar", () => {
  const longPath = `${"d".repeat(60)}/${"e".repeat(60)}/${"f".repeat(70)}`;
  async function entriesOf(format: string) {
    const tree = tempDir("oci-tar");
    mkdirSync(join(tree, dirname(longPath)), { recursive: true });
    writeFileSync(join(tree, longPath), "long\n");
    Bun.spawnSync(["setcap", "cap_net_raw+ep", join(tree, longPath)]);
    symlinkSync(longPath, join(tree, "link-with-a-long-target"));
    const tar = Bun.spawnSync(["tar", "--create", "--file=-", `--format=${format}`, "--xattrs", "--xattrs-include=*", `--directory=${tree}`, "."], { stdout: "pipe" });
    const out: Array<{ path: string; type: string; linkpath: string; xattrs: string[]; body: string }> = [];
    for await (const e of readTar(chunks(new Uint8Array(tar.stdout)))) {
      let body = "";
      for await (const c of e.body()) body += Buffer.from(c).toString();
      out.push({ path: e.path, type: e.type, linkpath: e.linkpath, xattrs: [...e.xattrs].map(([k, v]) => `${k}=${v.toString("hex")}`), body });
    }
    return out;
  }

  test("PAX: long paths and link targets, binary xattr values", async () => {
    const entries = await entriesOf("posix");
    const file = entries.find((e) => e.path === `./${longPath}`);
    expect(file).toMatchObject({ type: "file", body: "long\n" });
    // cap_net_raw+ep as the kernel stores it: version 2, effective, permitted bit 13.
    expect(file!.xattrs).toEqual(["security.capability=0100000200200000000000000000000000000000"]);
    expect(entries.find((e) => e.path === "./link-with-a-long-target")).toMatchObject({ type: "symlink", linkpath: longPath });
  });

  test("GNU: long names and long link targets", async () => {
    const entries = await entriesOf("gnu");
    expect(entries.find((e) => e.path === `./${longPath}`)?.body).toBe("long\n");
    expect(entries.find((e) => e.path === "./link-with-a-long-target")?.linkpath).toBe(longPath);
  });

  test("a stream that is not a tar is an error", async () => {
    const garbage = new Uint8Array(1024).fill(7);
    const read = async () => {
      for await (const _ of readTar(chunks(garbage)));
    };
    expect(read()).rejects.toThrow("bad header checksum");
  });
});
