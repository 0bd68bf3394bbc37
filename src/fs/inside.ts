// The one way to turn a path inside a rootfs into a host path. Symlinks in parent
// directories are followed the way the machine itself would see them (an absolute target is
// taken relative to the rootfs), and anything that would leave the rootfs is refused.
import { lstatSync, readlinkSync } from "node:fs";
import { dirname, join, posix, relative } from "node:path";
import { RunError } from "../errors";

const MAX_LINKS = 40;

export class OutsideRootError extends RunError {
  override name = "OutsideRootError";
}

/** Split a rootfs-relative path, refusing absolute paths and `..`. */
export function splitInside(rel: string): string[] {
  if (rel.startsWith("/")) throw new OutsideRootError(`${rel}: absolute path where a path inside the rootfs was expected`);
  const parts = rel.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new OutsideRootError(`${rel}: path leaves the rootfs (..)`);
  return parts;
}

/**
 * The host path of `rel` inside `root`, with every parent directory's symlinks resolved
 * inside the rootfs. The last component is not followed: writes replace it, never its target.
 * Components that do not exist yet are kept as named (they will be created as directories).
 */
export function resolveInside(root: string, rel: string): string {
  const want = splitInside(rel);
  const last = want.pop();
  const done: string[] = [];
  const queue = [...want];
  let links = 0;
  while (queue.length) {
    const part = queue.shift()!;
    if (part === "..") {
      if (!done.length) throw new OutsideRootError(`${rel}: a symlink in its parents leads out of the rootfs ${root}`);
      done.pop();
      continue;
    }
    const here = join(root, ...done, part);
    let st;
    try {
      st = lstatSync(here);
    } catch {
      // Missing from here on: mkdir will create plain directories (a symlink's `..` can't be taken through one).
      if (queue.includes("..")) throw new OutsideRootError(`${rel}: a symlink in its parents goes through missing ${here}`);
      done.push(part, ...queue.splice(0));
      break;
    }
    if (st.isSymbolicLink()) {
      const target = readlinkSync(here);
      if (++links > MAX_LINKS) {
        throw new OutsideRootError(`${rel}: symlink ${here} -> ${target} loops or leads out of the rootfs ${root}`);
      }
      if (target.startsWith("/")) {
        // Inside the machine an absolute link is relative to the rootfs; on the host it would
        // point at the host's own files (etc -> /etc): resolve it as the machine would.
        done.length = 0;
      }
      queue.unshift(...target.split("/").filter((p) => p !== "" && p !== "."));
      continue;
    }
    if (!st.isDirectory()) throw new OutsideRootError(`${join(root, ...done, part)}: not a directory (on the way to ${rel})`);
    done.push(part);
  }
  return last === undefined ? join(root, ...done) : join(root, ...done, last);
}

/**
 * The host path of the file `rel` names inside `root`, for reading: like resolveInside, and the
 * last component's symlinks followed too, inside the rootfs (kubelet's
 * kubelet-client-current.pem is an absolute link to the rotated certificate).
 */
export function readableInside(root: string, rel: string): string {
  let path = resolveInside(root, rel);
  for (let links = 0; ; links++) {
    let target: string;
    try {
      if (!lstatSync(path).isSymbolicLink()) return path;
      target = readlinkSync(path);
    } catch {
      return path; // missing: the reader says so, naming the path
    }
    if (links >= MAX_LINKS) throw new OutsideRootError(`${rel}: symlink ${path} -> ${target} loops`);
    const next = posix.normalize(target.startsWith("/") ? target.slice(1) : join(dirname(relative(root, path)), target));
    if (next === ".." || next.startsWith("../")) throw new OutsideRootError(`${rel}: symlink ${path} -> ${target} leads out of the rootfs ${root}`);
    path = resolveInside(root, next);
  }
}
