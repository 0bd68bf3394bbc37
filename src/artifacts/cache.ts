// The download cache, in upstream layout (<cache>/<dir>/v<version>/<asset> plus its
// checksum file), so a cache is also a mirror. Partial downloads live beside their asset as
// <asset>.part-<pid>; a part left by a dead process is adopted and resumed, never trusted:
// its bytes are hashed with the rest.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { isAlive } from "../fs/pid";
import { ioError, writeFileAtomic } from "../fs/atomic";
import { parseChecksum } from "./checksum";
import type { ArtifactPlan } from "./plan";

export class Cache {
  constructor(readonly dir: string) {}

  path(rel: string): string {
    return join(this.dir, rel);
  }

  has(rel: string): boolean {
    return existsSync(this.path(rel));
  }

  readText(rel: string): string | undefined {
    try {
      return readFileSync(this.path(rel), "utf8");
    } catch {
      return undefined;
    }
  }

  /** The sha256 the cache holds for a plan's asset; both are stored together, after verification. */
  checksum(plan: ArtifactPlan): string | undefined {
    const text = this.readText(plan.cacheChecksum);
    if (text === undefined) return undefined;
    try {
      return parseChecksum(text, plan.entry, plan.assetName, this.path(plan.cacheChecksum));
    } catch {
      return undefined; // a damaged cached checksum file: the asset is fetched again
    }
  }

  async writeText(rel: string, text: string): Promise<void> {
    try {
      await writeFileAtomic(this.path(rel), text);
    } catch (err) {
      throw ioError(`write cache ${this.path(rel)}`, err);
    }
  }

  /**
   * This process's part file for `rel`, adopting one a dead process left behind (the rename
   * is atomic, so two runs never adopt the same part). Returns its path and size.
   */
  part(rel: string): { path: string; size: number } {
    const asset = this.path(rel);
    const dir = dirname(asset);
    const mine = `${asset}.part-${process.pid}`;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
    } catch (err) {
      throw ioError(`create cache dir ${dir}`, err);
    }
    const prefix = `${basename(asset)}.part-`;
    for (const name of readdirSync(dir)) {
      const pid = Number(name.slice(prefix.length));
      if (!name.startsWith(prefix) || !Number.isInteger(pid) || pid === process.pid || isAlive(pid)) continue;
      try {
        renameSync(join(dir, name), mine);
        break;
      } catch {
        // another run adopted it first
      }
    }
    try {
      return { path: mine, size: statSync(mine).size };
    } catch {
      return { path: mine, size: 0 };
    }
  }

  /** A verified part becomes the cached asset. */
  commit(partPath: string, rel: string) {
    try {
      renameSync(partPath, this.path(rel));
    } catch (err) {
      throw ioError(`store ${this.path(rel)} in the cache`, err);
    }
  }
}
