// Rootfs snapshots: GNU tar piped through zstd (gzip when the host has no zstd), with a sha256
// beside. GNU tar because it keeps what a bootable rootfs needs and node-tar drops: xattrs
// (security.capability file capabilities), ACLs, device nodes, numeric ownership.
import { closeSync, mkdirSync, openSync, readFileSync, readSync, renameSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { abortError } from "../../engine/task";
import { RunError } from "../../errors";
import { fsyncDir, ioError, removeQuietly, sweepStaleTemps, tempPathFor, writeFileAtomic } from "../../fs/atomic";
import { sha256File, sha256Mismatch } from "../../fs/hash";
import { appendLog, openLog, toolFailed } from "./spawn";
import type { BootstrapPlan } from "./plan";

/** tar options shared by create and extract: everything a rootfs needs to boot the same. */
const TAR_KEEP = ["--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls"];

export type Compression = "zstd" | "gzip";

export const compressionOf = (which: (cmd: string) => string | null = Bun.which): Compression => (which("zstd") ? "zstd" : "gzip");

export const EXT: Record<Compression, string> = { zstd: "tar.zst", gzip: "tar.gz" };

/** The snapshot key: everything that changes what the bootstrap produces. */
export function snapshotKey(p: BootstrapPlan): string {
  const identity = {
    v: 1,
    tool: p.tool,
    suite: p.suite,
    arch: p.arch,
    mirror: p.mirror,
    components: [...p.components].sort(),
    include: [...new Set(p.include)].sort(),
  };
  return new Bun.CryptoHasher("sha256").update(JSON.stringify(identity)).digest("hex");
}

/** `<cache>/rootfs/<suite>-<arch>-<key prefix>.tar.zst`: readable, and unique per key. */
export function snapshotPath(cacheDir: string, p: BootstrapPlan, compression: Compression): string {
  return join(cacheDir, "rootfs", `${p.suite}-${p.arch}-${snapshotKey(p).slice(0, 16)}.${EXT[compression]}`);
}

/** The existing snapshot for this plan, whichever compression made it. */
export function findSnapshot(cacheDir: string, p: BootstrapPlan): string | undefined {
  return (["zstd", "gzip"] as const).map((c) => snapshotPath(cacheDir, p, c)).find((f) => readSidecar(f) !== undefined);
}

export const sidecarOf = (file: string) => `${file}.sha256`;

/** The sha256 recorded beside a snapshot (`hex  name`), or undefined when there is none. */
export function readSidecar(file: string): string | undefined {
  try {
    return /^[0-9a-f]{64}\b/.exec(readFileSync(sidecarOf(file), "utf8"))?.[0];
  } catch {
    return undefined;
  }
}

/** Compression of a file by its magic bytes, so a given tarball needs no particular name. */
export function detectCompression(file: string): Compression {
  const head = Buffer.alloc(4);
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    readSync(fd, head, 0, 4, 0);
  } catch (err) {
    throw ioError(`read ${file}`, err);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (head.readUInt32LE(0) === 0xfd2fb528) return "zstd";
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  throw new RunError(`${file}: not a zstd or gzip compressed tarball`);
}

/**
 * Run `producer | consumer` (argument arrays, no shell), stderr of both into the log. Both are
 * killed when the signal aborts; throws naming the log when either fails.
 */
async function pipeline(what: string, producer: string[], consumer: string[], io: { stdin?: string; stdout?: string }, logFile: string, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw abortError();
  appendLog(logFile, `\n# ${new Date().toISOString()} ${producer.join(" ")} | ${consumer.join(" ")}\n`);
  const log = openLog(logFile);
  const input = io.stdin ? openSync(io.stdin, "r") : "ignore";
  const output = io.stdout ? openSync(io.stdout, "wx", 0o600) : log;
  try {
    const a = Bun.spawn(producer, { stdin: input, stdout: "pipe", stderr: log });
    const b = Bun.spawn(consumer, { stdin: a.stdout, stdout: output, stderr: log });
    const onAbort = () => [a, b].forEach((p) => p.kill("SIGKILL"));
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      const [ca, cb] = await Promise.all([a.exited, b.exited]);
      if (signal.aborted) throw abortError();
      if (ca !== 0) throw toolFailed(`${what}: ${producer[0]}`, ca, logFile);
      if (cb !== 0) throw toolFailed(`${what}: ${consumer[0]}`, cb, logFile);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  } finally {
    closeSync(log);
    if (typeof input === "number") closeSync(input);
    if (output !== log) closeSync(output);
  }
}

export const compressor: Record<Compression, string[]> = { zstd: ["zstd", "-q", "-T0", "-c"], gzip: ["gzip", "-c"] };
export const decompressor: Record<Compression, string[]> = { zstd: ["zstd", "-q", "-d", "-c"], gzip: ["gzip", "-d", "-c"] };

/** Write a snapshot of `rootfs` to `file` (temp file + rename) and its sha256 beside it. */
export async function createSnapshot(rootfs: string, file: string, logFile: string, signal: AbortSignal, compression: Compression): Promise<string> {
  const dir = dirname(file);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 }); // a rootfs holds /etc/shadow
  } catch (err) {
    throw ioError(`create snapshot dir ${dir}`, err);
  }
  sweepStaleTemps(dir); // temp files of snapshots that killed runs left behind
  const tmp = tempPathFor(file);
  try {
    const tar = ["tar", "--create", "--file=-", `--directory=${rootfs}`, "--one-file-system", ...TAR_KEEP, "."];
    await pipeline("snapshot", tar, compressor[compression], { stdout: tmp }, logFile, signal);
    const sha = await sha256File(tmp);
    renameSync(tmp, file);
    await fsyncDir(dir);
    await writeFileAtomic(sidecarOf(file), `${sha}  ${basename(file)}\n`, 0o600);
    return sha;
  } catch (err) {
    removeQuietly(tmp);
    throw err;
  }
}

/** Check a snapshot's sha256 before anything is extracted from it. */
export async function verifySnapshot(file: string, expected: string, what = file): Promise<void> {
  const got = await sha256File(file);
  if (got !== expected.toLowerCase()) throw new RunError(sha256Mismatch(what, expected.toLowerCase(), got));
}

/** Extract a (verified) snapshot into an empty directory. */
export async function restoreSnapshot(file: string, into: string, logFile: string, signal: AbortSignal): Promise<void> {
  const tar = ["tar", "--extract", "--file=-", `--directory=${into}`, ...TAR_KEEP, "--preserve-permissions", "--same-owner"];
  await pipeline("restore", decompressor[detectCompression(file)], tar, { stdin: file }, logFile, signal);
}
