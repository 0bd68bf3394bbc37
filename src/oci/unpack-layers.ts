// Image layers applied in order onto a rootfs: each blob read from the local layout, its digest
// checked as it streams, decompressed (gzip, zstd or none) and its tar entries written with
// ownership, modes, xattrs, hardlinks and device nodes; whiteouts remove what lower layers made.
// Every path goes through resolveInside, so nothing lands outside the rootfs.
import { chmodSync, closeSync, createReadStream, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync, readdirSync, rmSync, symlinkSync, utimesSync } from "node:fs";
import { pipeline, Transform, type Readable } from "node:stream";
import { createGunzip, createZstdDecompress } from "node:zlib";
import { dirname, join } from "node:path";
import { RunError } from "../errors";
import { ioError, writeAll } from "../fs/atomic";
import { OutsideRootError, resolveInside, splitInside } from "../fs/inside";
import type { ImageLayout } from "./layout";
import { layerCompression, type Descriptor } from "./media";
import { readTar, TarError, type TarEntry } from "./tar-reader";

const OPAQUE = ".wh..wh..opq";
const WHITEOUT = ".wh.";
/** Room for honest compression, none for a decompression bomb. */
const EXPAND_RATIO = 8;
/** Large reads and decompressed chunks: per-chunk overhead, not bytes, dominates a rootfs unpack. */
const CHUNK = 1 << 18;

/** The layer's bytes, hashed as they are read and decompressed. */
function layerStream(layout: ImageLayout, desc: Descriptor, hasher: Bun.CryptoHasher): Readable {
  const compression = layerCompression(desc.mediaType);
  if (!compression) throw new RunError(`layer ${desc.digest}: unsupported media type ${desc.mediaType}`);
  const input = createReadStream(layout.blobPath(desc.digest), { highWaterMark: CHUNK });
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hasher.update(chunk);
      done(null, chunk);
    },
  });
  // Errors of any stage reach the last stream, where the reader sees them.
  if (compression === "none") return pipeline(input, hashing, () => {});
  return pipeline(input, hashing, compression === "gzip" ? createGunzip({ chunkSize: CHUNK }) : createZstdDecompress({ chunkSize: CHUNK }), () => {});
}

interface LayerState {
  root: string;
  /**
   * Host paths of parent directories already resolved inside the rootfs (and created), by
   * their path in the layer: most entries share a parent, so each is resolved once, not per
   * entry. Anything removed may have been one of them or on the way to one: then it is cleared.
   */
  parents: Map<string, string>;
  /** paths (normalized, inside the rootfs) this layer wrote: its own whiteouts never remove them */
  written: Set<string>;
  /** directory mtimes, set once every layer is in (writing inside a dir changes its mtime) */
  dirTimes: Map<string, number>;
  extracted: number;
  cap: number;
}

const normalize = (p: string) => splitInside(p).join("/");

function removeAll(path: string, s: LayerState) {
  s.parents.clear();
  try {
    rmSync(path, { recursive: true, force: true });
  } catch (err) {
    throw ioError(`remove ${path}`, err);
  }
}

function lstatOrUndefined(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

function whiteout(rel: string, name: string, s: LayerState) {
  const dir = dirname(rel) === "." ? "" : dirname(rel);
  if (name === OPAQUE) {
    const host = resolveInside(s.root, dir);
    for (const child of lstatOrUndefined(host)?.isDirectory() ? readdirSync(host) : []) {
      if (!s.written.has(dir ? `${dir}/${child}` : child)) removeAll(join(host, child), s);
    }
    return;
  }
  const target = (dir ? `${dir}/` : "") + name.slice(WHITEOUT.length);
  if (!s.written.has(target)) removeAll(resolveInside(s.root, target), s);
}

/** SELinux labels belong to the host's policy, not the image (and fail where SELinux is off). */
const HOST_OWNED_XATTRS = new Set(["security.selinux"]);

function setXattrs(host: string, xattrs: Map<string, Buffer>) {
  for (const [name, value] of xattrs) {
    if (HOST_OWNED_XATTRS.has(name)) continue;
    const r = Bun.spawnSync(["setfattr", "-h", "-n", name, "-v", `0x${value.toString("hex")}`, host], { stderr: "pipe" });
    if (r.exitCode !== 0) throw new RunError(`set xattr ${name} on ${host}: ${r.stderr.toString().trim()}`);
  }
}

function makeNode(host: string, e: TarEntry) {
  const argv = e.type === "fifo" ? ["mknod", host, "p"] : ["mknod", host, e.type === "char" ? "c" : "b", String(e.devmajor), String(e.devminor)];
  const r = Bun.spawnSync(argv, { stderr: "pipe" });
  if (r.exitCode !== 0) throw new RunError(`create device ${host}: ${r.stderr.toString().trim()}`);
}

/** The entry's host path, its parent directories made (as plain directories) where missing. */
function hostPath(rel: string, s: LayerState): string {
  const slash = rel.lastIndexOf("/");
  const parent = slash < 0 ? "" : rel.slice(0, slash);
  const name = rel.slice(slash + 1);
  const known = s.parents.get(parent);
  if (known !== undefined) return join(known, name);
  const host = resolveInside(s.root, rel);
  mkdirSync(dirname(host), { recursive: true, mode: 0o755 });
  s.parents.set(parent, dirname(host));
  return host;
}

const exists = (err: unknown) => (err as NodeJS.ErrnoException).code === "EEXIST";

/**
 * Create the entry at `host` by `make`; what a lower layer (or an earlier entry) left there is
 * removed first, except a directory where a directory goes, which is kept (its contents stay).
 */
function create(host: string, make: () => void, e: TarEntry, s: LayerState): void {
  try {
    return make();
  } catch (err) {
    if (!exists(err)) throw err;
  }
  if (e.type === "dir" && lstatOrUndefined(host)?.isDirectory()) return;
  removeAll(host, s);
  make();
}

/** A regular file: written, then owner, mode and times set through its descriptor. */
async function writeFile(host: string, e: TarEntry, s: LayerState) {
  let fd = -1;
  create(host, () => (fd = openSync(host, "wx", 0o600)), e, s);
  try {
    for await (const chunk of e.body()) {
      s.extracted += chunk.byteLength;
      if (s.extracted > s.cap) throw new RunError(`extracted data over ${EXPAND_RATIO}× the image's compressed size`);
      writeAll(fd, chunk, host);
    }
    fchownSync(fd, e.uid, e.gid);
    // After chown, which clears setuid bits.
    fchmodSync(fd, e.mode);
    futimesSync(fd, e.mtime, e.mtime);
  } finally {
    closeSync(fd);
  }
  // After chown, which drops file capabilities; setting an xattr leaves the mtime alone.
  setXattrs(host, e.xattrs);
}

async function applyEntry(e: TarEntry, s: LayerState) {
  const rel = normalize(e.path);
  if (!rel) return; // the rootfs itself
  const name = rel.slice(rel.lastIndexOf("/") + 1);
  if (name.startsWith(WHITEOUT)) return whiteout(rel, name, s);
  const host = hostPath(rel, s);
  s.written.add(rel);
  switch (e.type) {
    case "file":
      return writeFile(host, e, s);
    case "hardlink":
      // The target is a path inside the rootfs written by this or a lower layer; it shares metadata.
      return create(host, () => linkSync(resolveInside(s.root, normalize(e.linkpath)), host), e, s);
    case "dir":
      create(host, () => mkdirSync(host, { mode: 0o700 }), e, s);
      break;
    case "symlink":
      create(host, () => symlinkSync(e.linkpath, host), e, s);
      break;
    default:
      // mknod runs as a tool, so an existing path is looked for first (device nodes are few).
      if (lstatOrUndefined(host)) removeAll(host, s);
      makeNode(host, e);
  }
  lchownSync(host, e.uid, e.gid);
  // After chown, which clears setuid bits; a symlink's own mode is never used.
  if (e.type !== "symlink") chmodSync(host, e.mode);
  setXattrs(host, e.xattrs);
  if (e.type === "dir") s.dirTimes.set(host, e.mtime);
  else lutimesSync(host, e.mtime, e.mtime);
}

/** Apply the image's layers onto `root`, in order. Errors name the layer and the entry. */
export async function unpackLayers(layout: ImageLayout, layers: Descriptor[], root: string, source: string): Promise<void> {
  const dirTimes = new Map<string, number>();
  const cap = EXPAND_RATIO * Math.max(1 << 20, layers.reduce((n, l) => n + l.size, 0));
  let extracted = 0;
  for (const desc of layers) {
    const hasher = new Bun.CryptoHasher("sha256");
    const state: LayerState = { root, parents: new Map(), written: new Set(), dirTimes, extracted, cap };
    let current = "";
    try {
      for await (const entry of readTar(layerStream(layout, desc, hasher))) {
        current = entry.path;
        await applyEntry(entry, state);
      }
    } catch (err) {
      const what = `image ${source}: layer ${desc.digest}${current ? `, entry ${current}` : ""}`;
      if (err instanceof OutsideRootError) throw new RunError(`${what}: ${err.message}`);
      if (err instanceof TarError) throw new RunError(`${what}: not a valid layer tar (${err.message})`);
      if (err instanceof RunError) throw new RunError(`${what}: ${err.message}`);
      throw ioError(what, err);
    }
    extracted = state.extracted;
    const got = `sha256:${hasher.digest("hex")}`;
    if (got !== desc.digest) throw new RunError(`image ${source}: layer ${desc.digest} in ${layout.dir} holds ${got} (corrupt)`);
  }
  // Deepest first, so setting a child's time does not disturb its parent's afterwards; a later
  // layer's whiteout may have removed the directory.
  for (const [dir, mtime] of [...dirTimes].sort((a, b) => b[0].length - a[0].length)) {
    if (lstatOrUndefined(dir)?.isDirectory()) utimesSync(dir, mtime, mtime);
  }
}
