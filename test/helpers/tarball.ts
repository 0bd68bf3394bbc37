// Hand-made tar archives for tests of hostile input: entries that well-behaved tar writers
// refuse to produce (../ paths, absolute paths, links out, device nodes).
import { gzipSync } from "bun";

export interface RawEntry {
  path: string;
  type?: "file" | "dir" | "symlink" | "hardlink" | "char" | "fifo";
  body?: string | Uint8Array;
  linkname?: string;
  /** declared size, when it should differ from the body (an entry over a cap) */
  size?: number;
}

const TYPEFLAG = { file: "0", hardlink: "1", symlink: "2", char: "3", dir: "5", fifo: "6" } as const;

function header(e: RawEntry, size: number): Uint8Array {
  const h = new Uint8Array(512);
  const put = (off: number, len: number, s: string) => h.set(new TextEncoder().encode(s).subarray(0, len), off);
  const octal = (off: number, len: number, n: number) => put(off, len, n.toString(8).padStart(len - 1, "0") + "\0");
  put(0, 100, e.path);
  octal(100, 8, e.type === "dir" ? 0o755 : 0o755);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, size);
  octal(136, 12, 1_700_000_000);
  put(148, 8, "        ");
  put(156, 1, TYPEFLAG[e.type ?? "file"]);
  put(157, 100, e.linkname ?? "");
  put(257, 6, "ustar\0");
  put(263, 2, "00");
  const sum = h.reduce((a, b) => a + b, 0);
  put(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

/** An uncompressed tar of the entries, in order, with the two zero blocks at the end. */
export function tar(entries: RawEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const body = typeof e.body === "string" ? new TextEncoder().encode(e.body) : (e.body ?? new Uint8Array());
    parts.push(header(e, e.size ?? body.length));
    const padded = new Uint8Array(Math.ceil(body.length / 512) * 512);
    padded.set(body);
    parts.push(padded);
  }
  parts.push(new Uint8Array(1024));
  return Buffer.concat(parts);
}

export const tgz = (entries: RawEntry[]) => gzipSync(Uint8Array.from(tar(entries)));
