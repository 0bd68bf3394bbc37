// The tarball method's source: a local path or file:// URL is used in place; an http(s) URL is
// streamed to a temp file in the cache, hashed in the same pass, and kept only if it matches.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { downloadOptions } from "../../config/client-options";
import type { Resolved } from "../../config/resolve";
import { ConfigError, RunError, withContext } from "../../errors";
import { removeQuietly, tempPathFor } from "../../fs/atomic";
import { sha256Mismatch } from "../../fs/hash";
import { downloadFile } from "../../http/hashing-sink";
import { Limit } from "../../http/limit";
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

/** The file a local tarball (a path or file:// URL) is at; undefined for an http(s) URL. */
export const localTarball = (tarball: string): string | undefined =>
  /^https?:\/\//.test(tarball) ? undefined : tarball.startsWith("file:") ? Bun.fileURLToPath(tarball) : tarball;

/**
 * A verified local file holding the tarball. `cleanup` removes what this call downloaded.
 * A mismatch removes the download and throws naming both hashes.
 */
export async function fetchTarball(src: TarballSource, goal: Resolved, signal: AbortSignal): Promise<{ file: string; cleanup(): void }> {
  const file = localTarball(src.tarball);
  if (file !== undefined) {
    await verifySnapshot(file, src.sha256, `bootstrap.tarball ${src.tarball}`);
    return { file, cleanup() {} };
  }
  if (goal.offline) throw new RunError(`bootstrap.tarball ${src.tarball}: offline, and the tarball is a URL; give a local path`);
  const dir = join(goal.cacheDir, "rootfs");
  const tmp = tempPathFor(join(dir, "download"));
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // The shared downloader, as the artifacts use it: the same retries, stall and total timeouts, and size cap.
    const got = await downloadFile(src.tarball, tmp, downloadOptions(goal, signal, new Limit(1))).catch((err: unknown) => Promise.reject(withContext("bootstrap.tarball", err)));
    if (got !== src.sha256) throw new RunError(sha256Mismatch(`bootstrap.tarball ${src.tarball}`, src.sha256, got));
  } catch (err) {
    removeQuietly(tmp);
    throw err;
  }
  return { file: tmp, cleanup: () => removeQuietly(tmp) };
}
