// The node's identity, carried from the slot that was the node into the one that becomes it, so
// that kubelet keeps its name and its credentials and the API server sees the same node come
// back, not a new one. Nothing else is copied: the new slot is what its goal provisioned.
import { chmodSync, copyFileSync, lchownSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, utimesSync, chownSync, type Stats } from "node:fs";
import { dirname, join } from "node:path";
import { ioError } from "../fs/atomic";
import { resolveInside } from "../fs/inside";

export interface Carried {
  /** inside the rootfs */
  path: string;
  why: string;
  /** only when the new slot has none: its own goal's join material wins */
  unlessPresent?: boolean;
}

export const CARRIED: readonly Carried[] = [
  { path: "var/lib/kubelet/pki", why: "kubelet's client certificate and key from its TLS bootstrap (and their rotations) and its serving certificate: the node's credentials" },
  { path: "etc/kubernetes/kubelet.conf", why: "the kubeconfig kubelet uses with those certificates; without it kubelet would bootstrap again as a new client" },
  { path: "etc/machine-id", why: "the node's machine ID, which kubelet reports as the node's systemUUID source and journald keys its logs by" },
  { path: "etc/kubernetes/bootstrap-kubelet.conf", why: "the join material, for a node that has not finished joining", unlessPresent: true },
  { path: "etc/kubernetes/pki/ca.crt", why: "the cluster CA kubelet checks the API server and its clients with", unlessPresent: true },
];

const exists = (p: string): Stats | undefined => lstatSync(p, { throwIfNoEntry: false });

/** An empty or "uninitialized" machine-id means "make one at boot": carrying it would carry nothing. */
const worthCarrying = (rel: string, abs: string) => rel !== "etc/machine-id" || /^[0-9a-f]{32}\s*$/.test(readFileSync(abs, "utf8"));

/** Copy a file, symlink or tree as it is: modes, owners, times and link targets. */
function copyAsIs(from: string, to: string): void {
  const st = lstatSync(from);
  if (st.isSymbolicLink()) {
    symlinkSync(readlinkSync(from), to);
    lchownSync(to, st.uid, st.gid);
    return;
  }
  if (st.isDirectory()) {
    mkdirSync(to);
    for (const name of readdirSync(from)) copyAsIs(join(from, name), join(to, name));
  } else {
    copyFileSync(from, to);
  }
  chownSync(to, st.uid, st.gid);
  chmodSync(to, st.mode & 0o7777);
  utimesSync(to, st.atime, st.mtime);
}

/** Put a copy of `from` at `to` in one rename: the path is the old one or the new one, never half. */
function replaceWithCopy(from: string, to: string): void {
  const tmp = `${to}.carry-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(dirname(to), { recursive: true, mode: 0o755 });
  copyAsIs(from, tmp);
  const old = exists(to);
  if (old?.isDirectory() && !old.isSymbolicLink()) {
    const aside = `${to}.old-${process.pid}`;
    renameSync(to, aside);
    renameSync(tmp, to);
    rmSync(aside, { recursive: true, force: true });
  } else {
    renameSync(tmp, to);
  }
}

/** Carry the identity from one rootfs into another; the paths carried, inside the rootfs. */
export function carryIdentity(fromDir: string, toDir: string): string[] {
  const carried: string[] = [];
  for (const c of CARRIED) {
    const from = resolveInside(fromDir, c.path);
    const to = resolveInside(toDir, c.path);
    if (!exists(from) || !worthCarrying(c.path, from)) continue;
    if (c.unlessPresent && exists(to)) continue;
    try {
      replaceWithCopy(from, to);
    } catch (err) {
      throw ioError(`carry ${c.path} from ${fromDir} to ${toDir}`, err);
    }
    carried.push(c.path);
  }
  return carried;
}
