// A rootfs tree as comparable lines, one per path: type, mode, owner, and per type the content
// hash, link target or device number; xattrs (getfattr, hex) and hardlink groups included.
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";

function xattrsOf(root: string): Map<string, string> {
  const r = Bun.spawnSync(["getfattr", "--recursive", "--physical", "--no-dereference", "--dump", "--match=-", "--encoding=hex", "--absolute-names", root], { stdout: "pipe", stderr: "pipe" });
  const out = new Map<string, string>();
  for (const block of r.stdout.toString().split("\n\n")) {
    const [head, ...attrs] = block.trim().split("\n");
    if (!head?.startsWith("# file: ")) continue;
    out.set(head.slice("# file: ".length).slice(root.length + 1), attrs.sort().join(","));
  }
  return out;
}

/** path → description; `ignore` lists paths (relative) left out. */
export function describeTree(root: string, ignore: string[] = []): Map<string, string> {
  const xattrs = xattrsOf(root);
  const firstOfInode = new Map<number, string>();
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      if (ignore.includes(path)) continue;
      const host = join(root, path);
      const st = lstatSync(host);
      const head = `${(st.mode & 0o170000).toString(8)} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
      let what = "";
      if (st.isFile()) {
        what = `${st.size} ${new Bun.CryptoHasher("sha256").update(readFileSync(host)).digest("hex")}`;
        if (st.nlink > 1) {
          if (!firstOfInode.has(st.ino)) firstOfInode.set(st.ino, path);
          what += ` link-group=${firstOfInode.get(st.ino)}`;
        }
      } else if (st.isSymbolicLink()) what = `-> ${readlinkSync(host)}`;
      else if (st.isCharacterDevice() || st.isBlockDevice()) what = `dev ${st.rdev}`;
      out.set(path, `${head} ${what} ${xattrs.get(path) ?? ""}`.trim());
      if (st.isDirectory()) walk(path);
    }
  };
  walk("");
  return out;
}

/** The differences between two trees, as readable lines (empty when equal). */
export function treeDiff(a: Map<string, string>, b: Map<string, string>, names = ["ours", "theirs"]): string[] {
  const lines: string[] = [];
  for (const [p, d] of a) if (b.get(p) !== d) lines.push(`${p}: ${names[0]} ${d} | ${names[1]} ${b.get(p) ?? "(missing)"}`);
  for (const [p, d] of b) if (!a.has(p)) lines.push(`${p}: ${names[0]} (missing) | ${names[1]} ${d}`);
  return lines;
}
