// A directory tree as comparable data, file by file: type, mode, owner, content hash, link
// target, device number, and which paths are hardlinks of one another. Two trees are the same
// rootfs when their lists are equal.
import { lstatSync, readdirSync, readFileSync, readlinkSync, type Stats } from "node:fs";
import { join } from "node:path";

export interface TreeEntry {
  path: string;
  type: "file" | "dir" | "symlink" | "char" | "block" | "fifo" | "socket";
  mode: string;
  uid: number;
  gid: number;
  /** sha256 of a file, target of a symlink, rdev of a device */
  content?: string;
  /** for a file with several links: the first path (sorted) of its inode */
  linkOf?: string;
}

function typeOf(s: Stats): TreeEntry["type"] {
  if (s.isSymbolicLink()) return "symlink";
  if (s.isDirectory()) return "dir";
  if (s.isFile()) return "file";
  if (s.isCharacterDevice()) return "char";
  if (s.isBlockDevice()) return "block";
  if (s.isFIFO()) return "fifo";
  return "socket";
}

/** Every entry below `root` (not root itself), sorted by path. */
export function treeOf(root: string): TreeEntry[] {
  const entries: TreeEntry[] = [];
  const firstPathOfInode = new Map<number, string>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const full = join(root, path);
      const s = lstatSync(full);
      const type = typeOf(s);
      const entry: TreeEntry = { path, type, mode: (s.mode & 0o7777).toString(8), uid: s.uid, gid: s.gid };
      if (type === "file") entry.content = new Bun.CryptoHasher("sha256").update(readFileSync(full)).digest("hex");
      if (type === "symlink") entry.content = readlinkSync(full);
      if (type === "char" || type === "block") entry.content = String(s.rdev);
      if (type === "file" && s.nlink > 1) {
        const first = firstPathOfInode.get(s.ino);
        if (first) entry.linkOf = first;
        else firstPathOfInode.set(s.ino, path);
      }
      entries.push(entry);
      if (type === "dir") walk(path);
    }
  };
  walk("");
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
