// One image as an OCI archive (a tar of an image layout: oci-layout, index.json, its blobs), the
// form `ctr images import` reads. Written by this code alone (ustar, fixed owner and mtime), so
// the same image gives the same bytes, streamed blob by blob (each re-hashed against its digest
// on the way: a corrupt cache never reaches a machine), atomically.
import { closeSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { RunError } from "../errors";
import { ioError, removeQuietly, sweepStaleTemps, tempPathFor, writeAll } from "../fs/atomic";
import type { ImageLayout } from "./layout";
import { REF_NAME } from "./layout";
import { MEDIA, type Descriptor, type ImageManifest } from "./media";

/** The annotation containerd takes an imported image's name from. */
const CONTAINERD_NAME = "io.containerd.image.name";
const BLOCK = 512;

interface Entry {
  name: string;
  size: number;
  /** the bytes, or the blob file they are streamed from */
  content: Uint8Array | string;
  /** a blob's digest, checked as it is copied */
  digest?: string;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

/** A ustar header for a regular file or (size 0, name ending in /) a directory. */
function header(name: string, size: number): Uint8Array {
  const h = Buffer.alloc(BLOCK);
  const dir = name.endsWith("/");
  h.write(name, 0, 100, "ascii");
  h.write(octal(dir ? 0o755 : 0o644, 8), 100, "ascii");
  h.write(octal(0, 8), 108, "ascii");
  h.write(octal(0, 8), 116, "ascii");
  h.write(octal(size, 12), 124, "ascii");
  h.write(octal(0, 12), 136, "ascii");
  h.write("        ", 148, "ascii");
  h.write(dir ? "5" : "0", 156, "ascii");
  h.write("ustar\0", 257, "ascii");
  h.write("00", 263, "ascii");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + " ", 148, "ascii");
  return h;
}

const padded = (size: number) => Math.ceil(size / BLOCK) * BLOCK;

/** The files of the archive, in order: the layout skeleton, then every blob of the image. */
function entries(layout: ImageLayout, name: string, manifestDesc: Descriptor, manifest: ImageManifest): Entry[] {
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA.ociIndex,
    manifests: [{ ...manifestDesc, annotations: { [CONTAINERD_NAME]: name, [REF_NAME]: name } }],
  });
  const text = (n: string, s: string) => ({ name: n, size: Buffer.byteLength(s), content: Buffer.from(s) });
  const dir = (n: string) => ({ name: n, size: 0, content: new Uint8Array() });
  const blobs = [manifestDesc, manifest.config, ...manifest.layers].filter((d, i, all) => all.findIndex((e) => e.digest === d.digest) === i);
  return [
    text("oci-layout", '{"imageLayoutVersion":"1.0.0"}'),
    text("index.json", index),
    dir("blobs/"),
    dir("blobs/sha256/"),
    ...blobs.map((d) => ({ name: `blobs/sha256/${d.digest.slice("sha256:".length)}`, size: d.size, content: layout.blobPath(d.digest), digest: d.digest })),
  ];
}

/** The archive's size in bytes, known without writing it. */
export function archiveSize(layout: ImageLayout, name: string, manifestDesc: Descriptor, manifest: ImageManifest): number {
  return entries(layout, name, manifestDesc, manifest).reduce((n, e) => n + BLOCK + padded(e.size), 0) + 2 * BLOCK;
}

/**
 * Write the image (one platform manifest of `layout`, named `name` for containerd) to `path`
 * through a temp file; resolves to the archive's sha256.
 */
export function writeImageArchive(path: string, layout: ImageLayout, name: string, manifestDesc: Descriptor, manifest: ImageManifest): string {
  const hash = new Bun.CryptoHasher("sha256");
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  sweepStaleTemps(dirname(path));
  const temp = tempPathFor(path);
  let fd = -1;
  try {
    fd = openSync(temp, "wx", 0o644);
    const put = (bytes: Uint8Array) => {
      hash.update(bytes);
      writeAll(fd, bytes, temp);
    };
    const buffer = Buffer.alloc(1 << 20);
    for (const e of entries(layout, name, manifestDesc, manifest)) {
      put(header(e.name, e.size));
      if (typeof e.content === "string") {
        if (statSync(e.content).size !== e.size) throw new RunError(`image layout ${layout.dir}: blob ${e.digest} is not ${e.size} bytes as its descriptor says`);
        const blob = new Bun.CryptoHasher("sha256");
        const src = openSync(e.content, "r");
        try {
          for (let n; (n = readSync(src, buffer, 0, buffer.length, null)) > 0; ) {
            blob.update(buffer.subarray(0, n));
            put(buffer.subarray(0, n));
          }
        } finally {
          closeSync(src);
        }
        const got = `sha256:${blob.digest("hex")}`;
        if (got !== e.digest) throw new RunError(`image layout ${layout.dir}: blob ${e.digest} holds ${got} (corrupt)`);
      } else put(e.content);
      put(new Uint8Array(padded(e.size) - e.size));
    }
    put(new Uint8Array(2 * BLOCK));
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(temp, path);
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    removeQuietly(temp);
    throw err instanceof RunError ? err : ioError(`write image archive ${path}`, err);
  }
  return hash.digest("hex");
}
