// Where tasks write: a directory tree (the rootfs, or "/" for host files), every path resolved
// inside it, every write atomic and skipped when already right. In a dry run it only reports.
import { FILE_MODE, fsyncDir, ioError, needsWrite, symlinkAtomic, writeFileAtomic, type WriteResult } from "./atomic";
import { resolveInside } from "./inside";
import { lstatSync, readlinkSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";

/** Where a Target reports each path it wrote, would write, or left alone (a task's log). */
export interface WriteReport {
  info(msg: string, fields: Record<string, unknown>): void;
  debug(msg: string, fields: Record<string, unknown>): void;
}

export class Target {
  constructor(
    readonly root: string,
    private readonly opts: { dryRun: boolean; log: WriteReport },
  ) {}

  /** Host path of a path inside this tree (see resolveInside). */
  path(rel: string): string {
    return resolveInside(this.root, rel);
  }

  async writeFile(rel: string, content: string | Uint8Array, mode = FILE_MODE): Promise<WriteResult> {
    const path = this.path(rel);
    if (this.opts.dryRun) return this.report(path, needsWrite(path, content, mode));
    return this.report(path, (await writeFileAtomic(path, content, mode)) === "written", true);
  }

  async symlink(rel: string, target: string): Promise<WriteResult> {
    const path = this.path(rel);
    if (this.opts.dryRun) return this.report(path, !linkMatches(path, target), false, target);
    return this.report(path, (await symlinkAtomic(path, target)) === "written", true, target);
  }

  /** Remove a file an earlier run wrote and the goal no longer has. */
  async remove(rel: string): Promise<WriteResult> {
    const path = this.path(rel);
    if (!lstatSync(path, { throwIfNoEntry: false })) return "unchanged";
    if (!this.opts.dryRun) {
      try {
        unlinkSync(path);
        await fsyncDir(dirname(path));
      } catch (err) {
        throw ioError(`remove ${path}`, err);
      }
    }
    this.opts.log.info(this.opts.dryRun ? "would remove" : "removed", { path });
    return "written";
  }

  private report(path: string, changes: boolean, done = false, link?: string): WriteResult {
    const fields = link ? { path, target: link } : { path };
    // A dry run is a plan: it shows what it would leave alone too.
    if (!changes) (this.opts.dryRun ? this.opts.log.info : this.opts.log.debug)("unchanged", fields);
    else this.opts.log.info(done ? "wrote" : "would write", fields);
    return changes ? "written" : "unchanged";
  }
}

/** `path` is a symlink to exactly `target`. */
export function linkMatches(path: string, target: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink() && readlinkSync(path) === target;
  } catch {
    return false;
  }
}

/** A Target for absolute host paths, e.g. /etc/systemd/nspawn/kube1.nspawn. */
export const hostRel = (abs: string) => abs.replace(/^\/+/, "");
