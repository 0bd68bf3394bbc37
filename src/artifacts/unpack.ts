// Staging into the rootfs: the wanted entries of a tar.gz are written beside their final place
// as the bytes arrive (inflated and parsed on the fly, on the byte worker's thread); a single
// binary is copied from the verified cache file in the kernel. Nothing is renamed into place
// here; see install.ts.
import { closeSync, constants, fsync, mkdirSync, openSync } from "node:fs";
import { copyFile, open } from "node:fs/promises";
import { join } from "node:path";
import type { Gunzip } from "minizlib";
import type { ReadEntry } from "tar";
import { RunError } from "../errors";
import { ioError, removeQuietly, sweepStaleTemps, tempPathFor, writeAll } from "../fs/atomic";
import { resolveInside } from "../fs/inside";
import type { Payload } from "./catalog";

/** The bytes themselves are bad (not a transfer problem): never kept, never retried. */
export class BadContent extends RunError {}

export interface StagedFile {
  /** path inside the rootfs, e.g. usr/local/bin/kubelet */
  rel: string;
  final: string;
  temp: string;
  sha256: string;
  size: number;
}

export interface Unpacker {
  /** The next bytes; throws once the archive is known bad. */
  write(chunk: Uint8Array): void;
  /** All bytes are in: flush, check, and return what was staged. */
  end(): Promise<StagedFile[]>;
  /** Remove everything staged so far. */
  discard(): void;
}

export interface UnpackTarget {
  root: string;
  /** install directory inside the rootfs */
  dir: string;
  /** names it what a bad archive gets blamed on */
  source: string;
  maxBytes: number;
}

/** One staged output file: written as chunks come, hashed on the way. */
class StagedWriter {
  readonly temp: string;
  private fd: number;
  private hasher = new Bun.CryptoHasher("sha256");
  size = 0;
  constructor(readonly rel: string, readonly final: string) {
    this.temp = tempPathFor(final);
    try {
      this.fd = openSync(this.temp, "wx", 0o600);
    } catch (err) {
      throw ioError(`write ${final}`, err);
    }
  }
  write(chunk: Uint8Array) {
    writeAll(this.fd, chunk, this.final);
    this.hasher.update(chunk);
    this.size += chunk.byteLength;
  }
  /** fsync in the thread pool, so other downloads go on meanwhile. */
  async close(): Promise<StagedFile> {
    const fd = this.fd;
    this.fd = -1;
    try {
      await new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
    } catch (err) {
      throw ioError(`write ${this.final}`, err);
    } finally {
      closeSync(fd);
    }
    return { rel: this.rel, final: this.final, temp: this.temp, sha256: this.hasher.digest("hex"), size: this.size };
  }
  discard() {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    removeQuietly(this.temp);
  }
}

function installDir(t: UnpackTarget): string {
  const dir = resolveInside(t.root, t.dir);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
  } catch (err) {
    throw ioError(`create ${dir}`, err);
  }
  sweepStaleTemps(dir);
  return dir;
}

/** Copy a verified single-binary asset to a staged temp file in its install directory. */
export async function stageCopy(source: string, name: string, t: UnpackTarget, sha256: string): Promise<StagedFile> {
  const final = join(installDir(t), name);
  const temp = tempPathFor(final);
  try {
    await copyFile(source, temp, constants.COPYFILE_EXCL);
    const handle = await open(temp, "r+");
    try {
      await handle.sync();
      return { rel: `${t.dir}/${name}`, final, temp, sha256, size: (await handle.stat()).size };
    } finally {
      await handle.close();
    }
  } catch (err) {
    removeQuietly(temp);
    throw ioError(`write ${final}`, err);
  }
}

const EXTRACT_RATIO = 4;
const REGULAR = new Set(["File", "OldFile", "ContiguousFile"]);

/**
 * What the inflater hands the tar parser at a time. node-tar inflates in 16 KiB pieces, and each
 * piece costs a round through the parser and an event per entry: in 256 KiB ones an archive costs
 * its byte worker about a quarter less CPU.
 */
const INFLATE_CHUNK = 256 * 1024;

let tar: typeof import("tar") | undefined;
let zlib: typeof import("minizlib") | undefined;

/** node-tar and its inflater load when an archive is first unpacked: a re-run that installs nothing never pays their start-up. */
export async function loadTar(): Promise<void> {
  [tar, zlib] = await Promise.all([tar ?? import("tar"), zlib ?? import("minizlib")]);
}

/** The inflater an archive goes through ahead of the tar parser; call loadTar() first. */
export function archiveInflater(): Gunzip {
  if (!zlib) throw new Error("archiveInflater: loadTar() was not awaited");
  // minizlib hands its options on to node:zlib, whose chunkSize its types leave out.
  return new zlib.Gunzip({ chunkSize: INFLATE_CHUNK } as ConstructorParameters<typeof zlib.Gunzip>[0]);
}

/** An unpacker for a tar.gz: inflated as it is written, then parsed; call loadTar() first. */
export function archiveUnpacker(payload: Extract<Payload, { kind: "archive" }>, t: UnpackTarget): Unpacker {
  const dir = installDir(t);
  const staged = new Map<string, StagedWriter>();
  const done: StagedFile[] = [];
  let failure: Error | undefined;
  let extracted = 0;
  const fail = (msg: string) => (failure ??= new BadContent(`archive ${t.source}: ${msg}`));

  const onEntry = (entry: ReadEntry) => {
    const path = entry.path;
    if (failure) return entry.resume();
    if (path.startsWith("/") || path.split("/").includes("..")) return fail(`unsafe entry path ${path}`), entry.resume();
    if (entry.type === "Directory") return entry.resume();
    if (!REGULAR.has(entry.type)) return fail(`entry ${path} is a ${entry.type}; only regular files and directories are accepted`), entry.resume();
    if ((entry.size ?? 0) > t.maxBytes) return fail(`entry ${path} is ${entry.size} bytes, over the ${t.maxBytes}-byte cap`), entry.resume();
    const name = payload.pick(path);
    if (!name) return entry.resume();
    staged.get(name)?.discard();
    const writer = new StagedWriter(`${t.dir}/${name}`, join(dir, name));
    staged.set(name, writer);
    entry.on("data", (chunk: Buffer) => {
      if (!failure) writer.write(chunk);
    });
  };
  if (!tar) throw new Error("archiveUnpacker: loadTar() was not awaited");
  const parser = new tar.Parser({ strict: true, onReadEntry: onEntry });
  const gunzip = archiveInflater();
  gunzip.on("data", (chunk: Buffer) => {
    if (failure || archiveEnded) return;
    extracted += chunk.byteLength;
    // Room for honest compression, none for a gzip bomb.
    if (extracted > EXTRACT_RATIO * t.maxBytes) return void fail(`extracted data over ${EXTRACT_RATIO}× the ${t.maxBytes}-byte cap`);
    parser.write(chunk);
  });
  // After the end-of-archive blocks nothing more is read, as GNU tar reads nothing more: node-tar
  // would keep appending whatever follows to one buffer, and a run of zeros that compresses to
  // kilobytes (under the download cap) would cost minutes. The sha256 still covers every byte.
  let archiveEnded = false;
  parser.on("eof", () => {
    archiveEnded = true;
    parser.abort(new Error("the archive has ended"));
  });
  const ended = new Promise<void>((resolve) => {
    parser.on("end", resolve);
    // After the end the parser is aborted on purpose: that error, and any of the rest, is no
    // failure. The inflater's (not gzip, or cut short) ends the unpacking too: the parser never would.
    const invalid = (err: unknown) => (archiveEnded || fail(`not a valid tar.gz (${(err as Error).message})`), resolve());
    parser.on("error", invalid);
    gunzip.on("error", invalid);
  });

  const discard = () => {
    fail("discarded");
    for (const w of staged.values()) w.discard();
    staged.clear();
    for (const f of done) removeQuietly(f.temp);
    done.length = 0;
  };
  return {
    write(chunk) {
      if (failure) throw failure;
      if (archiveEnded) return;
      gunzip.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      if (failure) throw failure;
    },
    async end() {
      if (!archiveEnded && !failure) gunzip.end();
      parser.end();
      await ended;
      if (!failure) {
        const missing = payload.required.filter((n) => !staged.has(n));
        if (missing.length) fail(`missing ${missing.join(", ")}`);
      }
      if (failure) {
        discard();
        throw failure;
      }
      const writers = [...staged.values()];
      staged.clear();
      const closed = await Promise.allSettled(writers.map((w) => w.close()));
      for (const c of closed) if (c.status === "fulfilled") done.push(c.value);
      const failed = closed.find((c) => c.status === "rejected");
      if (failed) {
        writers.forEach((w) => removeQuietly(w.temp));
        throw failed.reason;
      }
      return done;
    },
    discard,
  };
}
