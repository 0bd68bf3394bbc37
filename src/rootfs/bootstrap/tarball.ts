// The tarball method's source: a local path or file:// URL is used in place; an http(s) URL is
// streamed to a temp file in the cache, hashed in the same pass, and kept only if it matches.
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, RunError, errorMessage } from "../../errors";
import { ioError, removeQuietly, tempPathFor } from "../../fs/atomic";
import { verifySnapshot } from "./snapshot";

export interface TarballSource {
  tarball: string;
  sha256: string;
}

/** The tarball and its pin from the goal, or a usage error naming the missing field. */
export function tarballSource(bootstrap: { tarball?: string; sha256?: string }): TarballSource {
  if (!bootstrap.tarball) throw new ConfigError("bootstrap.tarball: required with bootstrap.method tarball (--bootstrap-tarball PATH|URL)");
  if (!bootstrap.sha256) throw new ConfigError("bootstrap.sha256: required with bootstrap.method tarball (--bootstrap-sha256 HEX)");
  return { tarball: bootstrap.tarball, sha256: bootstrap.sha256 };
}

const isHttp = (s: string) => /^https?:\/\//.test(s);

/**
 * A verified local file holding the tarball. `cleanup` removes what this call downloaded.
 * A mismatch removes the download and throws naming both hashes.
 */
export async function fetchTarball(src: TarballSource, cacheDir: string, offline: boolean, signal: AbortSignal): Promise<{ file: string; cleanup(): void }> {
  if (!isHttp(src.tarball)) {
    const file = src.tarball.startsWith("file:") ? fileURLToPath(src.tarball) : src.tarball;
    await verifySnapshot(file, src.sha256, `bootstrap.tarball ${src.tarball}`);
    return { file, cleanup() {} };
  }
  if (offline) throw new RunError(`bootstrap.tarball ${src.tarball}: offline, and the tarball is a URL; give a local path`);
  const dir = join(cacheDir, "rootfs");
  const tmp = tempPathFor(join(dir, "download"));
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const got = await download(src.tarball, tmp, signal);
    if (got !== src.sha256) throw new RunError(`bootstrap.tarball ${src.tarball}: sha256 mismatch: expected ${src.sha256}, got ${got}`);
  } catch (err) {
    removeQuietly(tmp);
    throw err;
  }
  return { file: tmp, cleanup: () => removeQuietly(tmp) };
}

/** Stream a URL to a file; resolves to its sha256. */
async function download(url: string, file: string, signal: AbortSignal): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { signal });
  } catch (err) {
    if (signal.aborted) throw err;
    throw new RunError(`bootstrap.tarball ${url}: ${errorMessage(err)}`);
  }
  if (!res.ok || !res.body) throw new RunError(`bootstrap.tarball ${url}: HTTP ${res.status}`);
  const hash = new Bun.CryptoHasher("sha256");
  let fd: number;
  try {
    fd = openSync(file, "wx", 0o600);
  } catch (err) {
    throw ioError(`write ${file}`, err);
  }
  try {
    for await (const chunk of res.body) {
      hash.update(chunk);
      for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off);
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}
