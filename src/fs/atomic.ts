// Atomic, idempotent writes: temp file in the target's directory, fsync, rename, fsync the
// directory. A file whose content, mode and owner already match is left alone. The fsyncs run on the
// thread pool: on a journalling filesystem they can wait for a lot of other data, and the
// downloads running beside them must not stall meanwhile.
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, symlinkSync, unlinkSync, writeSync } from "node:fs";
import { open } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { RunError } from "../errors";
import { isAlive } from "./pid";

export type WriteResult = "written" | "unchanged";

/** The mode configuration files are written with (the .nspawn, the drop-in, the OS files, resolv.conf). */
export const FILE_MODE = 0o644;

/** The owner a file written by this process gets (provision runs as root: 0:0). */
export const writerOwner = () => ({ uid: process.geteuid!(), gid: process.getegid!() });

export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.kube-rootfs-${process.pid}-${Math.random().toString(36).slice(2, 8)}.tmp`);
}

const TEMP = /\.kube-rootfs-(\d+)-[a-z0-9]+\.tmp$/;

/** Remove temp files that a killed run (its pid gone) left in dir; a live run's are left alone. */
export function sweepStaleTemps(dir: string) {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = TEMP.exec(name)?.[1];
    if (pid && !isAlive(Number(pid))) removeQuietly(join(dir, name));
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function fileMatches(path: string, content: Buffer, mode: number): boolean {
  try {
    const st = lstatSync(path);
    const owner = writerOwner();
    if (!st.isFile() || st.size !== content.length || (st.mode & 0o7777) !== mode || st.uid !== owner.uid || st.gid !== owner.gid) return false;
    return readFileSync(path).equals(content);
  } catch {
    return false;
  }
}

/** Would writing `content` to `path` change anything? */
export function needsWrite(path: string, content: string | Uint8Array, mode = FILE_MODE): boolean {
  return !fileMatches(path, Buffer.from(content), mode);
}

export async function writeFileAtomic(path: string, content: string | Uint8Array, mode = FILE_MODE): Promise<WriteResult> {
  const data = Buffer.from(content);
  const dir = dirname(path);
  sweepStaleTemps(dir);
  if (fileMatches(path, data, mode)) return "unchanged";
  const tmp = tempPathFor(path);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const handle = await open(tmp, "wx", mode);
    try {
      await handle.writeFile(data);
      await handle.chmod(mode); // open's mode is filtered by the umask
      await handle.sync();
    } finally {
      await handle.close();
    }
    renameSync(tmp, path);
    await fsyncDir(dir);
  } catch (err) {
    removeQuietly(tmp);
    throw ioError(`write ${path}`, err);
  }
  return "written";
}

export async function symlinkAtomic(path: string, target: string): Promise<WriteResult> {
  sweepStaleTemps(dirname(path));
  try {
    const st = lstatSync(path);
    if (st.isSymbolicLink() && readlinkSync(path) === target) return "unchanged";
    if (st.isDirectory()) throw new RunError(`${path}: is a directory, expected a symlink to ${target}`);
  } catch (err) {
    if (err instanceof RunError) throw err;
  }
  const dir = dirname(path);
  const tmp = tempPathFor(path);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    symlinkSync(target, tmp);
    renameSync(tmp, path);
    await fsyncDir(dir);
  } catch (err) {
    removeQuietly(tmp);
    throw ioError(`link ${path}`, err);
  }
  return "written";
}

/** Write a whole chunk; a disk error (ENOSPC, EROFS) names the file and is never retried. */
export function writeAll(fd: number, chunk: Uint8Array, path: string) {
  try {
    let off = 0;
    while (off < chunk.byteLength) off += writeSync(fd, chunk, off);
  } catch (err) {
    throw ioError(`write ${path}`, err);
  }
}

/** Remove a temp file if it is there; the error being reported matters more than this one. */
export function removeQuietly(path: string) {
  try {
    unlinkSync(path);
  } catch {
    // already gone, or its directory never existed
  }
}

/** One clear line for a filesystem error: what was being done, and the errno in words. */
export function ioError(what: string, err: unknown): RunError {
  const e = err as NodeJS.ErrnoException;
  const why: Record<string, string> = {
    ENOSPC: "no space left on device",
    EROFS: "read-only file system",
    EACCES: "permission denied",
    EPERM: "operation not permitted",
    EDQUOT: "disk quota exceeded",
    ENOTDIR: "a parent is not a directory",
    EISDIR: "is a directory",
    EEXIST: "a parent is not a directory",
  };
  return new RunError(`${what}: ${(e?.code && why[e.code]) ?? e?.message ?? String(err)}`);
}
