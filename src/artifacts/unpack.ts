// Staging into the rootfs, on the byte worker's thread as the bytes arrive: a single binary is
// written beside its final place; of a tar.gz, inflated and parsed on the fly, the wanted entries
// are. Nothing is renamed into place here; see install.ts.
import { closeSync, fdatasync, fsync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
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
  /** All bytes are in (`sha256` is theirs): flush, check, and return what was staged. */
  end(sha256: string): Promise<StagedFile[]>;
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

/**
 * Bytes a staged file may hold unsynced before it starts their write-back in the background: by
 * its close, little is left for the fsync to wait for, which would otherwise write the whole file.
 */
const WRITEBACK_BYTES = 16 << 20;

const syncData = (fd: number) => new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));

/** One staged output file: written as chunks come, hashed on the way unless its hash is known. */
class StagedWriter {
  readonly temp: string;
  private fd: number;
  private hasher?: Bun.CryptoHasher;
  size = 0;
  private unsynced = 0;
  /** the background write-back under way, and the error one met (reported once per file by the kernel, so kept) */
  private syncing?: Promise<void>;
  private syncError?: unknown;
  constructor(readonly rel: string, readonly final: string, hashed = true) {
    this.temp = tempPathFor(final);
    if (hashed) this.hasher = new Bun.CryptoHasher("sha256");
    try {
      this.fd = openSync(this.temp, "wx", 0o600);
    } catch (err) {
      throw ioError(`write ${final}`, err);
    }
  }
  write(chunk: Uint8Array) {
    writeAll(this.fd, chunk, this.final);
    this.hasher?.update(chunk);
    this.size += chunk.byteLength;
    this.unsynced += chunk.byteLength;
    if (this.unsynced >= WRITEBACK_BYTES && !this.syncing) {
      this.unsynced = 0;
      this.syncing = syncData(this.fd)
        .catch((err) => void (this.syncError ??= err))
        .finally(() => (this.syncing = undefined));
    }
  }
  /** fsync in the thread pool, so other downloads go on meanwhile. `sha256`: the file's, when it was not hashed here. */
  async close(sha256 = ""): Promise<StagedFile> {
    const fd = this.fd;
    this.fd = -1;
    try {
      await this.syncing;
      if (this.syncError) throw this.syncError;
      await new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
    } catch (err) {
      throw ioError(`write ${this.final}`, err);
    } finally {
      closeSync(fd);
    }
    return { rel: this.rel, final: this.final, temp: this.temp, sha256: this.hasher?.digest("hex") ?? sha256, size: this.size };
  }
  discard() {
    const fd = this.fd;
    this.fd = -1;
    // A write-back still under way keeps its descriptor until it is done, so it never syncs a file opened after.
    if (fd >= 0) void (this.syncing ?? Promise.resolve()).finally(() => closeSync(fd));
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

/** An unpacker for a single binary: its bytes are the file (so their sha256 is its, not computed twice). */
export function fileUnpacker(payload: Extract<Payload, { kind: "file" }>, t: UnpackTarget): Unpacker {
  const writer = new StagedWriter(`${t.dir}/${payload.installAs}`, join(installDir(t), payload.installAs), false);
  return {
    write: (chunk) => writer.write(chunk),
    async end(sha256) {
      try {
        return [await writer.close(sha256)];
      } catch (err) {
        removeQuietly(writer.temp);
        throw err;
      }
    },
    discard: () => writer.discard(),
  };
}

const EXTRACT_RATIO = 4;
const REGULAR = new Set(["File", "OldFile", "ContiguousFile"]);

let tar: typeof import("tar") | undefined;

/** node-tar loads when an archive is first unpacked: a re-run that installs nothing never pays its start-up. */
export async function loadTar(): Promise<void> {
  tar ??= await import("tar");
}

/** The unpacker for an asset's payload; call loadTar() first for an archive. */
export const unpackerFor = (payload: Payload, t: UnpackTarget): Unpacker => (payload.kind === "archive" ? archiveUnpacker(payload, t) : fileUnpacker(payload, t));

/** An unpacker for a tar.gz, which the tar parser inflates itself as it is written; call loadTar() first. */
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
      if (failure) return;
      extracted += chunk.byteLength;
      // Room for honest compression, none for a gzip bomb.
      if (extracted > EXTRACT_RATIO * t.maxBytes) return void fail(`extracted data over ${EXTRACT_RATIO}× the ${t.maxBytes}-byte cap`);
      writer.write(chunk);
    });
  };
  if (!tar) throw new Error("archiveUnpacker: loadTar() was not awaited");
  const parser = new tar.Parser({ strict: true, onReadEntry: onEntry });
  const ended = new Promise<void>((resolve) => {
    parser.on("end", resolve);
    parser.on("error", (err: Error) => (fail(`not a valid tar.gz (${err.message})`), resolve()));
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
      parser.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      if (failure) throw failure;
    },
    async end() {
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
